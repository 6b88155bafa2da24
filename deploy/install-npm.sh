#!/usr/bin/env bash
# install-npm.sh - the npm packages of deploy/npm/package-lock.json (Swagger
# UI for /api/docs/, @redocly/cli for make test), installed with
# `npm ci --ignore-scripts` into build/npm/ (HMS_NPM_DIR). Run by `make
# deps` (so by make run and make test) after install-deps.sh. Skipped when
# build/npm/ already holds exactly this lock file's packages.
#
# Never fails the build: when npm or the registry cannot be reached it says
# so and what is missing (the /api/docs/ page shows a notice instead of
# Swagger UI; make test's docs stages fail with the same message).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/deploy/npm
DIR=${HMS_NPM_DIR:-$ROOT/build/npm}
want=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -d ' ' -f 1)

if [ "$(cat "$DIR/.installed" 2>/dev/null)" = "$want" ]; then
	exit 0
fi
warn() {
	echo "install-npm: $*" >&2
	echo "install-npm: without them /api/docs/ shows a notice instead of Swagger UI, and make test's docs stages fail" >&2
	exit 0
}
command -v npm >/dev/null || warn "npm is not installed (deploy/install-deps.sh installs it)"
mkdir -p "$DIR"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
rm -f "$DIR/.installed"
echo "install-npm: npm ci in $DIR (swagger-ui-dist, @redocly/cli; versions in deploy/npm/package-lock.json)"
# --ignore-scripts: no package runs code at install time (swagger-ui-dist's
# dependency @scarf/scarf would otherwise send install analytics).
if ! (cd "$DIR" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
	--fetch-retries=1 --fetch-timeout=30000 >"$DIR/npm-ci.log" 2>&1); then
	tail -n 5 "$DIR/npm-ci.log" >&2
	warn "npm ci failed: the npm registry could not be reached or refused a package (log: $DIR/npm-ci.log)"
fi
echo "$want" >"$DIR/.installed"
