#!/usr/bin/env bash
# walkthrough.sh - runs docs/API_DOCUMENTATION.md against a running stack:
# every ```sh block in order, in one bash session (so the ids one step
# stores in shell variables reach the next), in a scratch directory. A
# block whose first line is `# expect: STATUS SHAPE` must answer that HTTP
# status (of its last curl) and a JSON body of that shape (see
# tests/docs/walkthrough.py); every block must end with exit status 0.
# Then docs/erd.dot must be what docs/erd.sh makes of the stack's schema.
#
# Needs HMS_TEST_BASE_URL, HMS_TEST_CA and HMS_ADMIN_PASSWORD (tests/run.sh
# sets them), and HMS_TEST_ADMIN_URL for the ERD check. Prints one line per
# step and a Criterion-style synthesis line that tests/run.sh counts.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DOC=${1:-docs/API_DOCUMENTATION.md}
NAME=walkthrough
WORK=$(mktemp -d /tmp/hms-walkthrough.XXXXXX)
trap '[ -n "${WALK_KEEP:-}" ] || rm -rf "$WORK"' EXIT

cd "$ROOT" || exit 1
python3 tests/docs/walkthrough.py extract "$DOC" >"$WORK/script.sh" || {
	echo "$NAME: FAIL - cannot extract the blocks of $DOC"
	echo "[====] Synthesis: Tested: 1 | Passing: 0 | Failing: 1 | Crashing: 0"
	exit 1
}

cat >"$WORK/lib.sh" <<'LIB'
walk_passed=0
walk_failed=0
# curl as the reader types it, also keeping the answer's headers and body
# for the check after the block.
curl() {
	rm -f "$WALK/headers" "$WALK/body"
	command curl -sS --max-time 30 -D "$WALK/headers" "$@" | tee "$WALK/body"
	return "${PIPESTATUS[0]}"
}
walk_begin() { rm -f "$WALK/headers" "$WALK/body"; }
walk_check() {
	local rc=$1 where=$2 status=$3 shape=$4 got="" problems="" var
	if [ -f "$WALK/headers" ]; then
		got=$(sed -n 's/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$WALK/headers" | tail -n 1)
	fi
	if [ "$rc" -ne 0 ]; then
		problems="the block ended with exit status $rc"
	elif [ -n "$status" ] && [ "$got" != "$status" ]; then
		problems="status ${got:-none}, expected $status"
	elif [ -n "$shape" ]; then
		# $NAME in the shape stands for that shell variable's value.
		for var in $(printf '%s' "$shape" | grep -o '\$[A-Z_][A-Z0-9_]*' | sort -u); do
			var=${var#\$}
			shape=${shape//"\$$var"/${!var-}}
		done
		problems=$(python3 "$WALK_PY" shape "$WALK/body" "$shape")
	fi
	echo # the answer, shown on the reader's terminal, may end without one
	if [ -z "$problems" ]; then
		echo "walkthrough: ok - $where${status:+ $status}"
		walk_passed=$((walk_passed + 1))
	else
		echo "walkthrough: FAIL - $where: $problems"
		[ -s "$WALK/body" ] && echo "  answer: $(head -c 600 "$WALK/body")"
		walk_failed=$((walk_failed + 1))
	fi
	return 0
}
LIB
{
	echo "set -o pipefail"
	echo "source $(printf '%q' "$WORK/lib.sh")"
	cat "$WORK/script.sh"
	echo 'echo "$walk_passed $walk_failed" >"$WALK/counts"'
} >"$WORK/run.sh"

: "${HMS_TEST_BASE_URL:?}" "${HMS_TEST_CA:?}" "${HMS_ADMIN_PASSWORD:?}"
mkdir "$WORK/cwd"
# What the document asks the reader to set: the server, its certificate,
# the admin password.
(cd "$WORK/cwd" && env WALK="$WORK" WALK_PY="$ROOT/tests/docs/walkthrough.py" \
	HMS="$HMS_TEST_BASE_URL" CURL_CA_BUNDLE="$HMS_TEST_CA" ADMIN_PASSWORD="$HMS_ADMIN_PASSWORD" \
	bash "$WORK/run.sh" </dev/null) 2>&1 | grep -E '^(walkthrough: |  answer: )'
read -r passed failed <"$WORK/counts" 2>/dev/null || {
	passed=0
	failed=1
	echo "$NAME: FAIL - the walk-through stopped before its end"
}
blocks=$(grep -c '^walk_begin ' "$WORK/script.sh")
if [ $((passed + failed)) -ne "$blocks" ]; then
	echo "$NAME: FAIL - $((passed + failed)) of the $blocks blocks were checked"
	failed=$((failed + 1))
elif [ "$blocks" -lt 10 ]; then
	echo "$NAME: FAIL - only $blocks blocks in $DOC; did the document lose its steps?"
	failed=$((failed + 1))
fi

# The ERD matches the live schema.
if [ -n "${HMS_TEST_ADMIN_URL:-}" ]; then
	if docs/erd.sh dot "$HMS_TEST_ADMIN_URL dbname=hms" >"$WORK/erd.dot" 2>"$WORK/erd.err" &&
		diff -u docs/erd.dot "$WORK/erd.dot" >"$WORK/erd.diff"; then
		echo "$NAME: ok - docs/erd.dot is the test stack's schema"
		passed=$((passed + 1))
	else
		echo "$NAME: FAIL - docs/erd.dot is stale (run make erd and commit it):"
		head -n 30 "$WORK/erd.err" "$WORK/erd.diff"
		failed=$((failed + 1))
	fi
fi
echo "[====] Synthesis: Tested: $((passed + failed)) | Passing: $passed | Failing: $failed | Crashing: 0"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
