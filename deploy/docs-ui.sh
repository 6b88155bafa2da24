#!/usr/bin/env bash
# docs-ui.sh DEST [--require] - assemble the /api/docs/ page in DEST: the
# files of npm's swagger-ui-dist (installed by deploy/install-npm.sh under
# build/npm/) that the page loads, and our docs/swagger/ (the page and its
# initializer). nginx serves DEST as static files (deploy/nginx/hms.conf).
#
# deploy/stack.sh runs it at every start (DEST in the state or runtime
# directory, where nginx's workers can read); `make install` runs it with
# --require into $(PREFIX)/share/hms/docs-ui. Without swagger-ui-dist (the
# npm registry was unreachable), DEST gets a page that says so, and
# --require fails instead.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:?usage: docs-ui.sh DEST [--require]}
REQUIRE=${2:-}
DIST=${HMS_NPM_DIR:-$ROOT/build/npm}/node_modules/swagger-ui-dist
FILES=(swagger-ui-bundle.js swagger-ui.css favicon-32x32.png favicon-16x16.png LICENSE NOTICE)

mkdir -p "$DEST"
if [ -f "$DIST/swagger-ui-bundle.js" ]; then
	for f in "${FILES[@]}"; do
		install -m 0644 "$DIST/$f" "$DEST/$f"
	done
	install -m 0644 "$ROOT/docs/swagger/index.html" "$ROOT/docs/swagger/hms-docs.js" "$DEST/"
else
	msg="swagger-ui-dist is not installed in ${DIST%/node_modules/*} (deploy/install-npm.sh could not reach the npm registry?)"
	if [ "$REQUIRE" = --require ]; then
		echo "docs-ui: $msg; run deploy/install-npm.sh first" >&2
		exit 1
	fi
	echo "docs-ui: $msg; /api/docs/ says so, /api/schema/ works" >&2
	rm -f "$DEST/swagger-ui-bundle.js" "$DEST/hms-docs.js"
	cat >"$DEST/index.html" <<'HTML'
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HMS API</title></head>
<body><h1>HMS API</h1>
<p>The interactive documentation (Swagger UI) is not installed on this server:
its files come from the npm registry at build time (deploy/install-npm.sh),
which could not be reached. Run <code>make deps</code> where the registry is
reachable.</p>
<p>The API document itself is here: <a href="/api/schema/">/api/schema/</a> (OpenAPI 3, JSON).</p>
</body></html>
HTML
	chmod 0644 "$DEST/index.html"
fi
chmod 0755 "$DEST"
