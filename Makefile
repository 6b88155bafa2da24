# HMS - Hospital Management System REST API.
#
#   make          build build/hms (master + workers) and build/hmsctl
#   make run      the whole stack in the foreground (installs what is missing)
#   make start    the same stack in the background; make stop ends it
#   make test     every test, on a throwaway stack, under ASan + UBSan
#   make faults   only the fault stages of make test (C fault tests, failover,
#                 faults under load, two application hosts)
#   make bench    load benchmark through nginx (wrk)
#   make erd      docs/erd.dot and docs/erd.svg from a freshly migrated schema
#   make docs/permissions.md   the role table, from the code's own tables
#   make install  PREFIX=/usr/local DESTDIR= (binaries, schema, man pages, the web
#                 server sites in PREFIX/share/hms/deploy/ (nginx, apache), and the
#                 /api/docs/ page in PREFIX/share/hms/docs-ui, which both sites name)
#   make deb      build/hms_<version>+deb<N>_<arch>.deb for this Debian release (deploy/deb/)
#
# pkg-config is read when a recipe runs (recursive '='), so a target that
# first installs the packages can build in the same invocation.

VERSION  = 0.5.0
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS     = fcgi libpq json-c libcrypto libargon2 libmagic libseccomp
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
TEST_PKGS  = criterion libcurl

CFLAGS  ?= -O2 -g
# The release build is hardened: fortified libc calls, stack canaries, a
# position-independent executable, and relocations read-only before main().
# (The sanitizer build below does without: ASan does not combine with
# _FORTIFY_SOURCE.) Check with: readelf -lhd build/hms, or hardening-check.
HARDEN_CFLAGS  = -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS = -pie -Wl,-z,relro,-z,now
# Declaration tables (fields, columns, statements, routes) name only what
# differs from the zero default, so omitted members are intended.
WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla \
	   -Wno-missing-field-initializers
DEFS     = -D_GNU_SOURCE -DHMS_SCHEMA_DIR='"$(PREFIX)/share/hms/schema"'
ALL_CFLAGS = $(WARN) $(DEFS) -Iinclude $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
SAN      = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC  := $(shell find src -name '*.c' ! -name main.c ! -name hmsctl.c | sort)
UNIT_SRC := $(wildcard tests/unit/*.c)
INTEG_SRC := $(filter-out tests/integration/test_faults.c tests/integration/test_races.c tests/integration/test_billing_races.c tests/integration/test_idempotency_races.c tests/integration/test_timezone.c,$(wildcard tests/integration/*.c))
FAULT_SRC := tests/integration/test_faults.c tests/integration/test_timezone.c tests/integration/test_races.c \
	     tests/integration/test_billing_races.c tests/integration/test_idempotency_races.c \
	     tests/integration/client.c

OBJ      := $(LIB_SRC:%.c=build/obj/%.o)
TOBJ     := $(LIB_SRC:%.c=build/test/obj/%.o)

.PHONY: all deps run start stop test check faults unit bench install deb format lint clean erd docs/permissions.md
all: build/hms build/hmsctl

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) $(HARDEN_CFLAGS) -c $< -o $@

build/test/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	@$(CC) $(ALL_CFLAGS) $(SAN) $(shell pkg-config --cflags $(TEST_PKGS)) -c $< -o $@

build/hms: build/obj/src/main.o $(OBJ)
	$(CC) $(CFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(PKG_LIBS)

build/hmsctl: build/obj/src/hmsctl.o $(OBJ)
	$(CC) $(CFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The sanitizer build that every test runs against.
build/test/hms: build/test/obj/src/main.o $(TOBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

build/test/hmsctl: build/test/obj/src/hmsctl.o $(TOBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

build/test/unit_tests: $(UNIT_SRC:%.c=build/test/obj/%.o) $(TOBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs $(TEST_PKGS))

build/test/integration_tests: $(INTEG_SRC:%.c=build/test/obj/%.o) $(TOBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs $(TEST_PKGS))

build/test/fault_tests: $(FAULT_SRC:%.c=build/test/obj/%.o) $(TOBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs $(TEST_PKGS))

# The API document is compiled in (src/api/docs.c, .incbin). Its page,
# /api/docs/, is Swagger UI served by nginx (deploy/docs-ui.sh).
build/obj/src/api/docs.o build/test/obj/src/api/docs.o: docs/openapi.yaml

TEST_BINS = build/test/hms build/test/hmsctl build/test/unit_tests \
	    build/test/integration_tests build/test/fault_tests

# Debian packages, then the pinned npm packages (deploy/npm/) into build/npm.
deps:
	@deploy/install-deps.sh
	@deploy/install-npm.sh

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/stack.sh run

start: deps
	@$(MAKE) --no-print-directory all
	@deploy/stack.sh start

stop:
	@deploy/stack.sh stop

test: deps
	@$(MAKE) --no-print-directory check

check: $(TEST_BINS)
	@tests/run.sh

# The fault stages of make test, and only them (tests/run.sh faults): the
# C fault tests on the sanitizer test stack, tests/deploy/failover.sh,
# tests/deploy/load_faults.sh and tests/deploy/multihost.sh, each stack with
# the sanitizer build.
faults: deps
	@$(MAKE) --no-print-directory build/test/hms build/test/hmsctl build/test/fault_tests
	@tests/run.sh faults

unit: build/test/unit_tests
	@build/test/unit_tests

# Generated documents, committed; tests fail when they are stale
# (tests/docs/walkthrough.sh for the ERD, tests/unit/test_permissions_doc.c).
erd: build/hmsctl
	@docs/erd.sh

docs/permissions.md: build/test/unit_tests
	@HMS_WRITE_DOCS=1 build/test/unit_tests --filter 'permissions_doc/*'

build/bench/jwt_bench: build/obj/tests/bench/jwt_bench.o $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARDEN_LDFLAGS) -o $@ $^ $(PKG_LIBS)

build/bench/hello: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) $(shell pkg-config --cflags fcgi) -o $@ $< \
		$(shell pkg-config --libs fcgi)

bench: deps
	@$(MAKE) --no-print-directory all build/bench/jwt_bench build/bench/hello
	@tests/bench/bench.sh

# A Debian package of this build for the release it runs on:
# build/hms_$(VERSION)+deb<N>_<arch>.deb (deploy/deb/build.sh).
deb:
	deploy/deb/build.sh $(VERSION) build

install: all
	deploy/install-npm.sh
	deploy/docs-ui.sh $(DESTDIR)$(PREFIX)/share/hms/docs-ui --require
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/hms/schema \
		$(DESTDIR)$(PREFIX)/share/hms/deploy $(DESTDIR)$(PREFIX)/share/doc/hms \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 build/hms build/hmsctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/man/hms.8 docs/man/hmsctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 schema/*.sql $(DESTDIR)$(PREFIX)/share/hms/schema/
	install -m 0644 conf/hms.conf.example docs/openapi.yaml $(DESTDIR)$(PREFIX)/share/doc/hms/
	cp -R deploy/nginx deploy/apache deploy/systemd $(DESTDIR)$(PREFIX)/share/hms/deploy/

format:
	clang-format -i $$(find src include tests -name '*.[ch]')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--std=c11 --inline-suppr -Iinclude -D_GNU_SOURCE src

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
include tests/fuzz/fuzz.mk
