# fuzz.mk - libFuzzer targets for every parser, included by the Makefile.
#
#   make fuzz                      build build/fuzz/fuzz_<name> for each tests/fuzz/fuzz_<name>.c
#   make fuzz-run FUZZ_SECONDS=N   run each for N seconds (default 20); fails on any crash
#
# One target runs by hand with tests/fuzz/fuzz.sh fuzz_<name> SECONDS, which
# fuzzes a scratch copy of tests/fuzz/corpus/fuzz_<name>/ (the repository's
# seeds are never written to) and keeps crashing inputs in build/fuzz/crashes/.
# To replay one: build/fuzz/fuzz_<name> FILE.
#
# The project's sources are compiled again with clang, coverage
# instrumentation and ASan + UBSan into build/fuzz/obj/, and linked through
# an archive so each target pulls in only what its parser needs.

CC_FUZZ      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_OPT     ?= -O1 -g
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The Makefile's warnings, less two that clang reads more strictly than gcc
# and that house idioms trip: -Wformat=2 flags the vprintf inside
# arena_vprintf(), and -Wextra flags the {NULL} sentinel and the partly
# designated rows of declarative tables (STYLE.md, "Validation").
FUZZ_WARN     = $(WARN) -Wno-format-nonliteral -Wno-missing-field-initializers
FUZZ_CFLAGS   = $(FUZZ_WARN) $(DEFS) -Iinclude $(PKG_CFLAGS) $(FUZZ_OPT) $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link -MMD -MP

FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_BINS    := $(FUZZ_TARGETS:%=build/fuzz/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_BINS)

fuzz-run: fuzz
	@rc=0; for t in $(FUZZ_TARGETS); do \
		tests/fuzz/fuzz.sh "$$t" "$(FUZZ_SECONDS)" || rc=1; \
	done; exit $$rc

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC_FUZZ) $(FUZZ_CFLAGS) -c $< -o $@

build/fuzz/obj/src/api/docs.o: docs/openapi.yaml

build/fuzz/libhms.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o build/fuzz/libhms.a
	$(CC_FUZZ) $(FUZZ_OPT) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
