#!/usr/bin/env bash
# install.sh - the npm packages of tests/fhir/package-lock.json (the FHIR R4
# JSON schema and its validator), installed with `npm ci --ignore-scripts`
# into build/npm-fhir/ (HMS_FHIR_NPM_DIR), as deploy/install-npm.sh does for
# the docs tools on main. Skipped when that directory already holds exactly
# this lock file's packages. Exits non-zero (with the reason) when npm or
# the registry cannot be reached: the schema stage then fails, loudly.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=$ROOT/tests/fhir
DIR=${HMS_FHIR_NPM_DIR:-$ROOT/build/npm-fhir}
want=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d ' ' -f 1)

[ "$(cat "$DIR/.installed" 2>/dev/null)" = "$want" ] && exit 0
command -v npm >/dev/null || {
	echo "fhir schema: npm is not installed (apt-get install nodejs npm)" >&2
	exit 1
}
mkdir -p "$DIR"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
rm -f "$DIR/.installed"
if ! (cd "$DIR" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	--fetch-retries=1 --fetch-timeout=30000 >"$DIR/npm-ci.log" 2>&1); then
	tail -n 5 "$DIR/npm-ci.log" >&2
	echo "fhir schema: npm ci failed (log: $DIR/npm-ci.log)" >&2
	exit 1
fi
echo "$want" >"$DIR/.installed"
