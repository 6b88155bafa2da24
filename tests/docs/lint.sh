#!/usr/bin/env bash
# lint.sh - docs/openapi.yaml through `redocly lint` (@redocly/cli, pinned in
# deploy/npm/, installed by deploy/install-npm.sh), with the rules of
# deploy/npm/redocly.yaml. Prints redocly's findings and a Criterion-style
# synthesis line that tests/run.sh counts; exits non-zero on any error or
# warning.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REDOCLY=${HMS_NPM_DIR:-$ROOT/build/npm}/node_modules/.bin/redocly
synthesis() { echo "[====] Synthesis: Tested: 1 | Passing: $1 | Failing: $2 | Crashing: 0"; }

if [ ! -x "$REDOCLY" ]; then
	echo "openapi_lint: FAIL - @redocly/cli is not installed in ${REDOCLY%/node_modules/*}:" \
		"deploy/install-npm.sh (make deps) could not install the npm packages; see its message"
	synthesis 0 1
	exit 1
fi
# No usage reports, no update check: the test talks to nobody.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
out=$(cd "$ROOT" && "$REDOCLY" lint --config deploy/npm/redocly.yaml --format stylish --max-problems 100 \
	docs/openapi.yaml 2>&1)
rc=$?
# The findings, without the banner about Node.js versions.
printf '%s\n' "$out" | grep -v -e '[║╔╚]' -e '^ *$'
if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q -E "(warning|error) +[a-z0-9-]+ |You have [0-9]+ warning"; then
	echo "openapi_lint: ok - docs/openapi.yaml passes redocly lint"
	synthesis 1 0
else
	echo "openapi_lint: FAIL - redocly lint reports problems in docs/openapi.yaml (exit status $rc)"
	synthesis 0 1
	exit 1
fi
