#!/usr/bin/env bash
# fuzz.sh - runs one libFuzzer target (build/fuzz/TARGET) for a bounded time
# and prints one line: runs executed, executions per second, result.
#
#   tests/fuzz/fuzz.sh TARGET SECONDS        e.g. tests/fuzz/fuzz.sh fuzz_json 20
#
# Used by `make fuzz-run` and by the fuzz stage of tests/run.sh. The target
# fuzzes a scratch copy of tests/fuzz/corpus/TARGET/ (plus any saved
# crashers in tests/fuzz/crashes/TARGET/), so the repository is never
# written to. On a crash, leak, timeout or failed invariant the sanitizer
# report is printed, the input is kept in build/fuzz/crashes/TARGET/ and
# shown in hex, and the exit status is non-zero.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ $# -ne 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 TARGET SECONDS" >&2
	exit 2
fi
target=$1 seconds=$2
bin=$ROOT/build/fuzz/$target
seeds=$ROOT/tests/fuzz/corpus/$target

# The longest input worth trying: past each parser's own limits, no more.
case $target in
fuzz_percent_decode) max_len=512 ;;
fuzz_query) max_len=1024 ;;
fuzz_request) max_len=10240 ;; # past HTTP_MAX_QUERY_BYTES and the body limit
fuzz_json) max_len=4096 ;;
fuzz_router) max_len=256 ;;
fuzz_base64url) max_len=1024 ;;
fuzz_jwt_verify) max_len=4200 ;; # past JWT_MAX_BYTES
*) max_len=4096 ;;
esac

if [ ! -x "$bin" ]; then
	echo "$target: FAILED, $bin is missing (make fuzz; needs clang and libclang-rt-dev)"
	exit 1
fi

work=$(mktemp -d /tmp/hms-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
[ -d "$seeds" ] && cp -R "$seeds"/. "$work/corpus/"
# Inputs that once crashed (tests/fuzz/crashes/TARGET/) run first like any
# seed, so a bug that comes back fails at once.
[ -d "$ROOT/tests/fuzz/crashes/$target" ] && cp -R "$ROOT/tests/fuzz/crashes/$target"/. "$work/corpus/"
seed_count=$(find "$work/corpus" -type f | wc -l)
dict=()
[ -f "$ROOT/tests/fuzz/$target.dict" ] && dict=("-dict=$ROOT/tests/fuzz/$target.dict")

# LeakSanitizer runs after every input whose mallocs and frees do not
# balance, so an arena that fails to release a json-c tree is a failure.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$SECONDS
"$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" \
	"$work/corpus" >"$work/log" 2>&1
rc=$?
elapsed=$((SECONDS - start))

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
corpus_count=$(find "$work/corpus" -type f | wc -l)
summary="$target: ${runs:-?} runs in $elapsed s (${eps:-?} exec/s), corpus $seed_count -> $corpus_count"

if [ "$rc" -eq 0 ]; then
	echo "$summary: ok"
	exit 0
fi

echo "$summary: FAILED (exit status $rc)"
# The report from its first line, or the end of the log when there is none.
first=$(grep -n -m 1 -E 'ERROR: |runtime error:|invariant failed|deadly signal' "$work/log" |
	cut -d: -f1)
if [ -n "$first" ]; then
	tail -n "+$first" "$work/log" | head -n 80
else
	tail -n 40 "$work/log"
fi
keep=$ROOT/build/fuzz/crashes/$target
mkdir -p "$keep"
for f in "$work"/artifacts/*; do
	[ -f "$f" ] || continue
	cp "$f" "$keep/"
	echo "$target: input kept in ${keep#"$ROOT"/}/$(basename "$f") ($(wc -c <"$f") bytes); replay: $bin $keep/$(basename "$f")"
	od -A d -t x1z -v "$f" | head -n 32
done
exit 1
