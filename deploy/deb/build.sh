#!/usr/bin/env bash
# build.sh - `make deb`: build/hms_<version>+<release>_<arch>.deb from the
# release build, with dpkg-deb (no debhelper: the package is small and its
# maintainer scripts are ours, below).
#
# It installs: /usr/bin/hms and hmsctl; the schema in /usr/share/hms/schema;
# the man pages when the tree has them; the systemd units in
# /lib/systemd/system (paths set to /usr/bin); the nginx site in
# /etc/nginx/sites-available/hms and the Apache site in
# /etc/apache2/sites-available/hms.conf (neither enabled); /etc/hms/hms.conf
# and /etc/hms/hmsctl.conf as conffiles. postinst creates the users and
# groups, the directories with their owners and modes and the three key
# files, and starts nothing: the database connection and public_origin must
# be set first (it says so).
#
# The package is for the release it is built on: its Depends are computed
# from the binaries by dpkg-shlibdeps (a build on Debian 13 needs libc6 >=
# 2.38, which apt on Debian 12 cannot satisfy, so it refuses the package),
# and its version says the release: 0.5.0+deb12, 0.5.0+deb13 (elsewhere
# +<ID><VERSION_ID> of /etc/os-release).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=${1:?usage: build.sh VERSION [OUTDIR]}
OUT=${2:-$ROOT/build}
ARCH=$(dpkg --print-architecture)
command -v dpkg-shlibdeps >/dev/null || {
	echo "build.sh: dpkg-shlibdeps is missing (package dpkg-dev; deploy/install-deps.sh installs it)" >&2
	exit 1
}
release=$(
	# shellcheck disable=SC1091
	. /etc/os-release 2>/dev/null || exit 0
	case "${ID:-}" in debian) id=deb ;; *) id=${ID:-} ;; esac
	[ -n "${VERSION_ID:-}" ] && echo "$id$VERSION_ID"
)
[ -z "$release" ] || VERSION=$VERSION+$release
# WORK/debian/control is the bare minimum dpkg-shlibdeps reads; WORK/root is
# the package's tree.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hms-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/root
install -d -m 0755 "$STAGE" "$WORK/debian"

make -C "$ROOT" --no-print-directory -s all
make -C "$ROOT" --no-print-directory -s install DESTDIR="$STAGE" PREFIX=/usr >/dev/null
# The units and site name the installed paths.
install -d "$STAGE/lib/systemd/system" "$STAGE/etc/nginx/sites-available" "$STAGE/etc/hms"
for unit in "$ROOT"/deploy/systemd/*.service; do
	sed -e 's|/usr/local/bin/|/usr/bin/|g' -e 's|/usr/local/share/hms/|/usr/share/hms/|g' \
		"$unit" >"$STAGE/lib/systemd/system/$(basename "$unit")"
done
sed -e 's|/usr/local/share/hms/|/usr/share/hms/|g' "$ROOT/deploy/nginx/hms.conf" \
	>"$STAGE/etc/nginx/sites-available/hms"
chmod 0644 "$STAGE/etc/nginx/sites-available/hms"
install -d "$STAGE/etc/apache2/sites-available"
sed -e 's|/usr/local/share/hms/|/usr/share/hms/|g' "$ROOT/deploy/apache/hms.conf" \
	>"$STAGE/etc/apache2/sites-available/hms.conf"
chmod 0644 "$STAGE/etc/apache2/sites-available/hms.conf"
# The configuration, as the package lays things out; an administrator sets
# the database connection and the public origin (postinst says so).
sed -e 's|^schema_dir = .*||' "$ROOT/conf/hms.conf.example" >"$STAGE/etc/hms/hms.conf"
cat >>"$STAGE/etc/hms/hms.conf" <<'CONF'

# --- Set by the Debian package -----------------------------------------------
schema_dir = /usr/share/hms/schema
CONF
printf '%s\n' '# hmsctl as the schema owner (hms-migrate.service, user hms-admin).' \
	'database_url = host=/run/postgresql dbname=hms user=hms' \
	'schema_dir = /usr/share/hms/schema' >"$STAGE/etc/hms/hmsctl.conf"
chmod 0640 "$STAGE/etc/hms/hms.conf" "$STAGE/etc/hms/hmsctl.conf"
# make install copies the sites and units to /usr/share/hms/deploy/; the
# package installs them in /etc and /lib instead (above), so those copies
# go. Anything else there stays: a site may name files by that path (the
# Apache site's error documents, deploy/apache/errors/).
rm -rf "$STAGE/usr/share/hms/deploy/nginx" "$STAGE/usr/share/hms/deploy/systemd" \
	"$STAGE/usr/share/hms/deploy/apache/hms.conf"
[ ! -d "$STAGE/usr/share/hms/deploy" ] || find "$STAGE/usr/share/hms/deploy" -depth -type d -empty -delete
install -m 0644 "$ROOT/deploy/README.md" "$STAGE/usr/share/doc/hms/README.deploy.md"

install -d "$STAGE/DEBIAN"
# The shared libraries the binaries link, with the minimum versions of the
# symbols they use (from each library's symbols file), as this release names
# them. (STAGE/DEBIAN exists first: that is how dpkg-shlibdeps knows the
# package's tree.)
printf 'Source: hms\n\nPackage: hms\nArchitecture: any\n' >"$WORK/debian/control"
shlibs=$(cd "$WORK" && dpkg-shlibdeps -O root/usr/bin/hms root/usr/bin/hmsctl) || {
	echo "build.sh: dpkg-shlibdeps failed" >&2
	exit 1
}
shlibs=${shlibs#shlibs:Depends=}
[[ $shlibs == *libc6* ]] || {
	echo "build.sh: dpkg-shlibdeps gave no libc6 dependency: '$shlibs'" >&2
	exit 1
}
installed_kib=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: hms
Version: $VERSION
Architecture: $ARCH
Maintainer: HMS developers <hms@example.org>
Installed-Size: $installed_kib
Depends: adduser, openssl, $shlibs
Recommends: nginx | apache2, postgresql (>= 15)
Section: web
Priority: optional
Description: Hospital Management System REST API (FastCGI workers behind nginx or Apache)
 HMS serves patients, doctors, appointments, medical records with
 attachments, billing and an audit trail over a JSON REST API. A master
 process pre-forks C workers behind nginx or Apache httpd; all state is in
 PostgreSQL.
CONTROL
printf '%s\n' /etc/hms/hms.conf /etc/hms/hmsctl.conf /etc/nginx/sites-available/hms \
	/etc/apache2/sites-available/hms.conf >"$STAGE/DEBIAN/conffiles"
install -m 0755 "$ROOT/deploy/deb/postinst" "$ROOT/deploy/deb/postrm" "$STAGE/DEBIAN/"

mkdir -p "$OUT"
dpkg-deb --root-owner-group --build "$STAGE" "$OUT/hms_${VERSION}_${ARCH}.deb" >/dev/null
echo "$OUT/hms_${VERSION}_${ARCH}.deb"
