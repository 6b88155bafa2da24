#!/usr/bin/env bash
# build.sh - `make deb`: build/hms_<version>_<arch>.deb from the release
# build, with dpkg-deb (no debhelper: the package is small and its
# maintainer scripts are ours, below).
#
# It installs: /usr/bin/hms and hmsctl; the schema in /usr/share/hms/schema;
# the man pages when the tree has them; the systemd units in
# /lib/systemd/system (paths set to /usr/bin); the nginx site in
# /etc/nginx/sites-available/hms (not enabled); /etc/hms/hms.conf and
# /etc/hms/hmsctl.conf as conffiles. postinst creates the users and groups,
# the directories with their owners and modes and the three key files, and
# starts nothing: the database connection and public_origin must be set
# first (it says so).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=${1:?usage: build.sh VERSION [OUTDIR]}
OUT=${2:-$ROOT/build}
ARCH=$(dpkg --print-architecture)
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/hms-deb.XXXXXX")
chmod 0755 "$STAGE"
trap 'rm -rf "$STAGE"' EXIT

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
rm -rf "$STAGE/usr/share/hms/deploy"
install -m 0644 "$ROOT/deploy/README.md" "$STAGE/usr/share/doc/hms/README.deploy.md"

install -d "$STAGE/DEBIAN"
installed_kib=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: hms
Version: $VERSION
Architecture: $ARCH
Maintainer: HMS developers <hms@example.org>
Installed-Size: $installed_kib
Depends: adduser, openssl, libfcgi0ldbl, libpq5, libjson-c5, libssl3, libargon2-1, libmagic1, libseccomp2
Recommends: nginx, postgresql (>= 15)
Section: web
Priority: optional
Description: Hospital Management System REST API (FastCGI workers behind nginx)
 HMS serves patients, doctors, appointments, medical records with
 attachments, billing and an audit trail over a JSON REST API. A master
 process pre-forks C workers behind nginx; all state is in PostgreSQL.
CONTROL
printf '%s\n' /etc/hms/hms.conf /etc/hms/hmsctl.conf /etc/nginx/sites-available/hms \
	>"$STAGE/DEBIAN/conffiles"
install -m 0755 "$ROOT/deploy/deb/postinst" "$ROOT/deploy/deb/postrm" "$STAGE/DEBIAN/"

mkdir -p "$OUT"
dpkg-deb --root-owner-group --build "$STAGE" "$OUT/hms_${VERSION}_${ARCH}.deb" >/dev/null
echo "$OUT/hms_${VERSION}_${ARCH}.deb"
