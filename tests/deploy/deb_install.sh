#!/usr/bin/env bash
# deb_install.sh - `make deb`, then what a sysadmin does with it on a fresh
# Debian 12: the package installed with apt into a new root (debootstrap),
# its users, groups, directories and keys checked, nothing started by the
# install; then PostgreSQL's roles and the peer maps of deploy/README.md,
# the migrations as hms-admin through hms-migrate's configuration, hms as
# hms, the installed nginx site with a certificate, and /api/health/ and a
# login through it. Everything runs chrooted on free loopback ports and is
# stopped by PID; the root is removed. Prints "N passed, M failed" after a
# Criterion-style synthesis line that tests/run.sh counts. About 75 s, most
# of it debootstrap and apt.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=deb_install
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "needs root (debootstrap and chroot); CI runs as root"
	finish_checks
fi
for tool in debootstrap dpkg-deb; do
	command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
	command -v "$tool" >/dev/null || {
		fail "$tool is missing (deploy/install-deps.sh installs it)"
		finish_checks
	}
done

# The mirror this machine's apt uses, so the new root needs nothing else.
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

CH=$(mktemp -d /var/tmp/hms-deb-root.XXXXXX)
chmod 0755 "$CH" # the root of a system: everyone traverses it
LOG=$CH.log
HMS_PID=""
in_root() { chroot "$CH" "$@"; }

cleanup() {
	if [ -f "$CH/run/nginx.pid" ]; then
		kill "$(cat "$CH/run/nginx.pid")" 2>/dev/null
	fi
	if [ -n "$HMS_PID" ]; then
		kill "$HMS_PID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$HMS_PID" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$HMS_PID" 2>/dev/null
	fi
	in_root pg_ctlcluster 15 main stop -m fast >/dev/null 2>&1
	for m in dev/pts dev proc sys; do
		mountpoint -q "$CH/$m" && umount -l "$CH/$m"
	done
	rm -rf "$CH" "$LOG"
}
trap cleanup EXIT

# --- the package ---------------------------------------------------------------
DEB=$(make -C "$ROOT" --no-print-directory -s deb 2>>"$LOG" | tail -n 1)
if [ -f "$DEB" ] && dpkg-deb --info "$DEB" >/dev/null 2>&1; then
	ok "make deb builds $(basename "$DEB")"
else
	fail "make deb did not build a package"
	tail -n 20 "$LOG"
	finish_checks
fi

# --- a fresh Debian 12 ---------------------------------------------------------
if debootstrap --variant=minbase bookworm "$CH" "$MIRROR" >>"$LOG" 2>&1; then
	ok "a fresh Debian 12 root (debootstrap minbase from $MIRROR)"
else
	fail "debootstrap failed"
	tail -n 20 "$LOG"
	finish_checks
fi
mount -t proc proc "$CH/proc"
mount --bind /dev "$CH/dev"
mount --bind /dev/pts "$CH/dev/pts"
mount -t sysfs sysfs "$CH/sys"
cp /etc/resolv.conf "$CH/etc/resolv.conf"
# A chroot has no init: packages must not try to start their services.
printf '#!/bin/sh\nexit 101\n' >"$CH/usr/sbin/policy-rc.d"
chmod 0755 "$CH/usr/sbin/policy-rc.d"
cp "$DEB" "$CH/tmp/hms.deb"
if in_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update >>"$LOG" 2>&1 &&
	in_root env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends \
		/tmp/hms.deb postgresql nginx curl ca-certificates >>"$LOG" 2>&1; then
	ok "apt installs the package and its dependencies"
else
	fail "apt could not install the package"
	tail -n 30 "$LOG"
	finish_checks
fi

# --- what the package laid out -------------------------------------------------
if in_root id hms >/dev/null 2>&1 && in_root id hms-admin >/dev/null 2>&1 &&
	in_root id -nG hms | grep -qw hms-web && in_root id -nG www-data | grep -qw hms-web; then
	ok "system users hms and hms-admin; hms and www-data in hms-web"
else
	fail "system users and groups"
fi
layout=$(in_root stat -c '%n %a %U %G' /var/lib/hms /var/lib/hms/attachments /etc/hms \
	/etc/hms/hms.conf /etc/hms/hmsctl.conf /etc/hms/jwt.keys /etc/hms/audit-seal.keys \
	/etc/hms/download.keys 2>&1 | tr '\n' ';')
want="/var/lib/hms 751 hms hms;/var/lib/hms/attachments 2750 hms hms-web;/etc/hms 751 root hms;"
want+="/etc/hms/hms.conf 640 root hms;/etc/hms/hmsctl.conf 640 root hms-admin;"
want+="/etc/hms/jwt.keys 640 root hms;/etc/hms/audit-seal.keys 640 root hms;"
want+="/etc/hms/download.keys 640 root hms;"
if [ "$layout" = "$want" ]; then
	ok "directories, configuration and the three keys with their owners and modes"
else
	fail "layout: $layout"
fi
if [ -f "$CH/lib/systemd/system/hms.service" ] && [ -f "$CH/lib/systemd/system/hms-migrate.service" ] &&
	grep -q '^ExecStart=/usr/bin/hms$' "$CH/lib/systemd/system/hms.service" &&
	[ -f "$CH/etc/nginx/sites-available/hms" ] && [ ! -e "$CH/etc/nginx/sites-enabled/hms" ]; then
	ok "units name /usr/bin; the nginx site is available, not enabled"
else
	fail "units and site"
fi
if [ ! -e "$CH/run/hms/hms.sock" ] && ! pgrep -f '^/usr/bin/hms' >/dev/null; then
	ok "the install started nothing"
else
	fail "something was started by the install"
fi
if in_root hms --config /etc/hms/hms.conf --check-config >/dev/null 2>&1; then
	ok "the shipped configuration is valid as installed"
else
	fail "hms --check-config refuses the installed configuration: $(in_root hms --config /etc/hms/hms.conf --check-config 2>&1 | tail -n 1)"
fi

# --- what the sysadmin does (deploy/README.md) ---------------------------------
PG_PORT=$(free_port)
HTTPS_PORT=$(free_port)
HTTP_PORT=$(free_port)
sed -i "s/^#\?port = .*/port = $PG_PORT/" "$CH/etc/postgresql/15/main/postgresql.conf"
# Peer authentication with the maps of deploy/README.md: the OS user hms is
# the role hms_app, hms-admin the owner hms.
printf 'hms hms hms_app\nhms hms-admin hms\n' >>"$CH/etc/postgresql/15/main/pg_ident.conf"
sed -i "1i local hms hms,hms_app peer map=hms" "$CH/etc/postgresql/15/main/pg_hba.conf"
in_root pg_ctlcluster 15 main start >>"$LOG" 2>&1
as_pg() { in_root runuser -u postgres -- "$@" >>"$LOG" 2>&1; }
as_pg createuser -p "$PG_PORT" hms && as_pg createuser -p "$PG_PORT" hms_app &&
	as_pg createdb -p "$PG_PORT" -O hms hms
sed -i "s|^database_url = .*|database_url = host=/run/postgresql port=$PG_PORT dbname=hms user=hms_app|" \
	"$CH/etc/hms/hms.conf"
sed -i "s|^public_origin = .*|public_origin = https://localhost:$HTTPS_PORT|" "$CH/etc/hms/hms.conf"
sed -i "s|^database_url = .*|database_url = host=/run/postgresql port=$PG_PORT dbname=hms user=hms|" \
	"$CH/etc/hms/hmsctl.conf"
if in_root runuser -u hms-admin -- env HMS_CONFIG=/etc/hms/hmsctl.conf hmsctl migrate >>"$LOG" 2>&1; then
	ok "hmsctl migrate as hms-admin (the owner) through /etc/hms/hmsctl.conf"
else
	fail "migrations as hms-admin"
	tail -n 20 "$LOG"
fi
in_root runuser -u hms-admin -- env HMS_CONFIG=/etc/hms/hmsctl.conf \
	HMS_ADMIN_PASSWORD=deb-admin-password-1 hmsctl create-admin --username admin >>"$LOG" 2>&1

# hms as systemd would run it: user hms, its runtime directory.
install -d -m 0755 -o "$(in_root id -u hms)" -g "$(in_root id -g hms)" "$CH/run/hms"
# setpriv execs (runuser would fork a watching parent), so $! is hms.
chroot "$CH" setpriv --reuid=hms --regid=hms --init-groups /usr/bin/hms --config /etc/hms/hms.conf \
	>>"$LOG" 2>&1 &
HMS_PID=$!

# The site with a certificate, on free loopback ports.
in_root openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-keyout /etc/ssl/hms.key -out /etc/ssl/hms.crt >>"$LOG" 2>&1
install -d "$CH/etc/ssl/hms"
mv "$CH/etc/ssl/hms.key" "$CH/etc/ssl/hms/hms.key"
mv "$CH/etc/ssl/hms.crt" "$CH/etc/ssl/hms/hms.crt"
cp "$CH/etc/ssl/hms/hms.crt" "$CH/etc/ssl/hms/chain.pem"
in_root openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 \
	-out /etc/ssl/hms/ffdhe2048.pem >>"$LOG" 2>&1
sed -i -e "s|listen 443 ssl http2;|listen 127.0.0.1:$HTTPS_PORT ssl http2;|" \
	-e "s|listen \[::\]:443 ssl http2;.*||" -e "s|listen 80;|listen 127.0.0.1:$HTTP_PORT;|" \
	-e "s|listen \[::\]:80;||" -e "s|server_name hms.example.org;|server_name localhost;|" \
	"$CH/etc/nginx/sites-available/hms"
rm -f "$CH/etc/nginx/sites-enabled/default"
ln -s ../sites-available/hms "$CH/etc/nginx/sites-enabled/hms"
if in_root nginx -t >>"$LOG" 2>&1 && in_root nginx >>"$LOG" 2>&1; then
	ok "the installed site passes nginx -t and starts"
else
	fail "nginx refused the installed site"
	tail -n 20 "$LOG"
fi

health=""
for _ in $(seq 1 50); do
	health=$(curl -sk --max-time 2 --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
		"https://localhost:$HTTPS_PORT/api/health/")
	[ "$health" = '{"status":"ok","database":"ok"}' ] && break
	sleep 0.2
done
if [ "$health" = '{"status":"ok","database":"ok"}' ]; then
	ok "GET /api/health/ through the installed nginx site: $health"
else
	fail "GET /api/health/ answered '$health'"
	tail -n 30 "$LOG"
fi
access=$(curl -sk --max-time 5 --resolve "localhost:$HTTPS_PORT:127.0.0.1" -X POST \
	-H 'Content-Type: application/json' -d '{"username":"admin","password":"deb-admin-password-1"}' \
	"https://localhost:$HTTPS_PORT/api/auth/token/" | sed -n 's/.*"access":"\([^"]*\)".*/\1/p')
status=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
	-H "Authorization: Bearer $access" "https://localhost:$HTTPS_PORT/api/patients/")
if [ -n "$access" ] && [ "$status" = 200 ]; then
	ok "the admin logs in and lists patients through it"
else
	fail "login and GET /api/patients/ (status $status)"
fi
docs=$(curl -sk --max-time 5 --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
	"https://localhost:$HTTPS_PORT/api/docs/")
if grep -q '<html' <<<"$docs" && [ -f "$CH/usr/share/man/man8/hmsctl.8" ]; then
	ok "the docs page is served from the package's files; the man pages are installed"
else
	fail "the docs page (/api/docs/) or the man pages"
fi
roles=$(in_root runuser -u postgres -- psql -XtA -p "$PG_PORT" -d hms -c \
	"SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'hms' AND backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>&1)
if [ "$roles" = hms_app ]; then
	ok "the workers are connected as hms_app, not the owner"
else
	fail "the workers' database roles: $roles"
fi

finish_checks
