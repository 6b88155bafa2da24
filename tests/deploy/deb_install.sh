#!/usr/bin/env bash
# deb_install.sh - the Debian package on Debian 12 (bookworm) and Debian 13
# (trixie), as a sysadmin uses it: each release's package installed with apt
# into a fresh root of that release (debootstrap minbase), its users, groups,
# directories and keys checked, nothing started by the install; then
# PostgreSQL's roles and the peer maps of deploy/README.md, the migrations
# as hms-admin through hms-migrate's configuration, hms as hms, the
# installed nginx site with a certificate, and /api/health/, a login, an
# attachment up and down (a patient named Jérôme; the signed download, a
# Range) and the docs page through it; on Debian 13 the same again through
# the installed Apache site (web_server = apache); the workers connected as
# hms_app.
#
# The package of the release this machine runs is `make deb` here. The
# other release's is built in a fresh root of that release (a copy of its
# debootstrap, so the root it is installed into stays fresh): the
# checkout's files copied in (git ls-files: what a clean clone has), the
# build packages from deploy/install-deps.sh --build, build/npm copied from
# here (the same lock file's packages, architecture-independent; Debian 12's
# Node.js is older than @redocly/cli needs, and a second npm ci would be a
# second trip to the registry), then `make deb`. Last, apt in the Debian 12
# root must refuse the package built for Debian 13 (it needs a newer libc6).
#
# Everything runs chrooted on free loopback ports and is stopped by PID; the
# roots are unmounted and removed, also on failure. Prints one check per
# line, each naming its release, then a Criterion-style synthesis line that
# tests/run.sh counts, then "N passed, M failed". About 2 minutes on 2 cores
# (both debootstraps and the other release's build run while the first
# release is checked).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=deb_install
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "needs root (debootstrap and chroot); CI runs as root"
	finish_checks 0
fi
for tool in debootstrap dpkg-deb dpkg-shlibdeps; do
	command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
	command -v "$tool" >/dev/null || {
		fail "$tool is missing (deploy/install-deps.sh installs it)"
		finish_checks 0
	}
done

declare -A NUMBER=([bookworm]=12 [trixie]=13)
# The release whose root also serves the package through its Apache site
# (the apache stage of make test runs Apache on the machine's own release).
APACHE_REL=trixie
HOST_REL=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
case "$HOST_REL" in
bookworm) OTHER_REL=trixie ;;
trixie) OTHER_REL=bookworm ;;
*)
	fail "runs on Debian 12 or 13 (this is '${HOST_REL:-unknown}')"
	finish_checks 0
	;;
esac

# The mirror this machine's apt uses, so the new roots need nothing else.
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

# WORK/bookworm and WORK/trixie: the roots the packages are installed into;
# WORK/build: where the other release's package is built; WORK/*.log.
WORK=$(mktemp -d /var/tmp/hms-deb.XXXXXX)
chmod 0755 "$WORK"
declare -A DEB=() HMS_PID=() BG_PID=()

# --- the roots: made, mounted, and everything in them stopped and removed ----
mount_root() { # DIR
	mount -t proc proc "$1/proc" &&
		mount --bind /dev "$1/dev" &&
		mount --bind /dev/pts "$1/dev/pts" &&
		mount -t sysfs sysfs "$1/sys"
	cp /etc/resolv.conf "$1/etc/resolv.conf"
	# A chroot has no init: packages must not try to start their services.
	printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
	chmod 0755 "$1/usr/sbin/policy-rc.d"
}
# The processes whose root directory is under WORK (each one was started
# here, in a root), by PID.
pids_in_roots() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[[ $r == "$WORK"/* ]] && echo "${p#/proc/}"
	done
}
stop_hms() { # REL
	local rel=$1
	if [ -n "${HMS_PID[$rel]:-}" ]; then
		kill "${HMS_PID[$rel]}" 2>/dev/null
		for _ in $(seq 1 50); do pid_running "${HMS_PID[$rel]}" || break; sleep 0.2; done
		kill -9 "${HMS_PID[$rel]}" 2>/dev/null
		wait "${HMS_PID[$rel]}" 2>/dev/null
		HMS_PID[$rel]=""
	fi
}
stop_web() { # REL: its nginx and Apache, by PID, and waits until they are gone
	local ch=$WORK/$1 p f
	for f in "$ch/run/nginx.pid" "$ch/run/apache2/apache2.pid"; do
		p=$(head -n 1 "$f" 2>/dev/null)
		[[ $p =~ ^[0-9]+$ ]] || continue
		kill "$p" 2>/dev/null
		for _ in $(seq 1 50); do pid_running "$p" || break; sleep 0.1; done
	done
}
stop_root() { # REL: hms, the web servers and PostgreSQL of that root, by PID
	local rel=$1 ch=$WORK/$1 p v c
	stop_hms "$rel"
	stop_web "$rel"
	for f in "$ch"/var/lib/postgresql/*/*/postmaster.pid; do
		[ -f "$f" ] || continue
		p=$(head -n 1 "$f")
		v=${f#"$ch"/var/lib/postgresql/}
		c=${v#*/}
		c=${c%%/*}
		v=${v%%/*}
		chroot "$ch" pg_ctlcluster "$v" "$c" stop -m fast >/dev/null 2>&1
		[[ $p =~ ^[0-9]+$ ]] && pid_running "$p" && kill "$p" 2>/dev/null
	done
}
# shellcheck disable=SC2317 # (run by the EXIT trap)
cleanup() {
	local p q m d
	for p in "${BG_PID[@]}"; do
		pid_running "$p" || continue
		for q in $(tree_pids "$p"); do kill "$q" 2>/dev/null; done
	done
	for d in "$WORK"/bookworm "$WORK"/trixie; do
		[ -d "$d" ] && stop_root "${d##*/}"
	done
	sleep 0.5
	for p in $(pids_in_roots); do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for d in "$WORK"/bookworm "$WORK"/trixie "$WORK"/build; do
		for m in sys dev/pts dev proc; do
			mountpoint -q "$d/$m" 2>/dev/null && { umount "$d/$m" 2>/dev/null || umount -l "$d/$m"; }
		done
	done
	# Never remove a tree that still has /dev or /proc mounted in it.
	if grep -q " $WORK/" /proc/self/mounts; then
		echo "$NAME: still mounted, left in place: $(grep -o " $WORK/[^ ]*" /proc/self/mounts | tr '\n' ' ')"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_root() { chroot "$CH" "$@"; }
as_pg() { in_root runuser -u postgres -- "$@" >>"$LOG" 2>&1; }
curl_site() { # PORT PATH [CURL ARGS...]
	local port=$1 path=$2
	shift 2
	curl -sk --max-time 5 --resolve "localhost:$port:127.0.0.1" "$@" "https://localhost:$port$path"
}

# --- both releases' roots, while the package of this one builds --------------
for rel in bookworm trixie; do
	/usr/sbin/debootstrap --variant=minbase "$rel" "$WORK/$rel" "$MIRROR" >"$WORK/debootstrap-$rel.log" 2>&1 &
	BG_PID[debootstrap-$rel]=$!
done
DEB[$HOST_REL]=$(make -C "$ROOT" --no-print-directory -s deb 2>>"$WORK/make-deb.log" | tail -n 1)
[[ ${DEB[$HOST_REL]} == /* ]] || DEB[$HOST_REL]=$ROOT/${DEB[$HOST_REL]}
if [ -f "${DEB[$HOST_REL]}" ] && dpkg-deb --info "${DEB[$HOST_REL]}" >/dev/null 2>&1; then
	ok "Debian ${NUMBER[$HOST_REL]}: make deb here builds $(basename "${DEB[$HOST_REL]}")"
else
	fail "Debian ${NUMBER[$HOST_REL]}: make deb did not build a package"
	tail -n 20 "$WORK/make-deb.log"
	DEB[$HOST_REL]=""
fi
for rel in bookworm trixie; do
	if wait "${BG_PID[debootstrap-$rel]}"; then
		ok "Debian ${NUMBER[$rel]}: a fresh root (debootstrap minbase $rel from $MIRROR)"
	else
		fail "Debian ${NUMBER[$rel]}: debootstrap $rel failed"
		tail -n 20 "$WORK/debootstrap-$rel.log"
	fi
	unset "BG_PID[debootstrap-$rel]"
done
if [ ! -x "$WORK/bookworm/bin/sh" ] || [ ! -x "$WORK/trixie/bin/sh" ]; then finish_checks 0; fi

# --- the other release's package, built in a copy of its fresh root ----------
# (in the background; its log is WORK/build.log, its package's path
# WORK/build.deb)
build_other() {
	local B=$WORK/build
	set -e
	cp -a "$WORK/$OTHER_REL" "$B"
	mount_root "$B"
	mkdir "$B/src"
	# The checkout's files as a clean clone has them (plus new files not yet
	# committed, not ignored ones), and build/npm.
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
			tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$B/src"
	else
		tar -C "$ROOT" --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$B/src"
	fi
	mkdir -p "$B/src/build"
	cp -a "$ROOT/build/npm" "$B/src/build/npm"
	chroot "$B" /src/deploy/install-deps.sh --build
	chroot "$B" make -C /src --no-print-directory deb | tail -n 1 >"$WORK/build.out"
	deb=$(cat "$WORK/build.out")
	[[ $deb == /* ]] || deb=/src/$deb
	cp "$B$deb" "$WORK/build.deb"
}
build_other >"$WORK/build.log" 2>&1 &
BG_PID[build]=$!

# --- one release: install, layout, database, hms, web server -----------------
install_checks() { # REL: the package installed with apt, and what it laid out
	local rel=$1 R="Debian ${NUMBER[$1]}:" layout want missing apache=()
	mount_root "$CH"
	cp "${DEB[$rel]}" "$CH/tmp/hms.deb"
	[ "$rel" = "$APACHE_REL" ] && apache=(apache2 libapache2-mod-xsendfile libapache2-mod-qos)
	if in_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update >>"$LOG" 2>&1 &&
		in_root env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends \
			/tmp/hms.deb postgresql nginx curl ca-certificates "${apache[@]}" >>"$LOG" 2>&1; then
		ok "$R apt installs $(basename "${DEB[$rel]}") and its dependencies"
	else
		fail "$R apt could not install the package"
		tail -n 30 "$LOG"
		return 1
	fi
	if in_root id hms >/dev/null 2>&1 && in_root id hms-admin >/dev/null 2>&1 &&
		in_root id -nG hms | grep -qw hms-web && in_root id -nG www-data | grep -qw hms-web; then
		ok "$R system users hms and hms-admin; hms and www-data in hms-web"
	else
		fail "$R system users and groups"
	fi
	layout=$(in_root stat -c '%n %a %U %G' /var/lib/hms /var/lib/hms/attachments /etc/hms \
		/etc/hms/hms.conf /etc/hms/hmsctl.conf /etc/hms/jwt.keys /etc/hms/audit-seal.keys \
		/etc/hms/download.keys 2>&1 | tr '\n' ';')
	want="/var/lib/hms 751 hms hms;/var/lib/hms/attachments 2750 hms hms-web;/etc/hms 751 root hms;"
	want+="/etc/hms/hms.conf 640 root hms;/etc/hms/hmsctl.conf 640 root hms-admin;"
	want+="/etc/hms/jwt.keys 640 root hms;/etc/hms/audit-seal.keys 640 root hms;"
	want+="/etc/hms/download.keys 640 root hms;"
	if [ "$layout" = "$want" ]; then
		ok "$R directories, configuration and the three keys with their owners and modes"
	else
		fail "$R layout: $layout"
	fi
	if [ -f "$CH/lib/systemd/system/hms.service" ] && [ -f "$CH/lib/systemd/system/hms-migrate.service" ] &&
		grep -q '^ExecStart=/usr/bin/hms$' "$CH/lib/systemd/system/hms.service" &&
		[ -f "$CH/etc/nginx/sites-available/hms" ] && [ ! -e "$CH/etc/nginx/sites-enabled/hms" ] &&
		[ -f "$CH/etc/apache2/sites-available/hms.conf" ] && [ ! -e "$CH/etc/apache2/sites-enabled/hms.conf" ] &&
		! grep -q /usr/local/share/hms/ "$CH/etc/nginx/sites-available/hms" "$CH/etc/apache2/sites-available/hms.conf"; then
		ok "$R units name /usr/bin; the nginx and Apache sites are available, not enabled, with /usr paths"
	else
		fail "$R units and sites"
	fi
	# What the sites name under /usr/share/hms/ (the docs page, the Apache
	# site's error documents) is in the package.
	missing=$(grep -hv '^[[:space:]]*#' "$CH/etc/nginx/sites-available/hms" \
		"$CH/etc/apache2/sites-available/hms.conf" 2>/dev/null |
		grep -o "/usr/share/hms/[^ ;\"'>]*" | sort -u | while read -r f; do
		[ -e "$CH$f" ] || echo "$f"
	done)
	if [ -z "$missing" ]; then
		ok "$R every file the sites name under /usr/share/hms/ is installed"
	else
		fail "$R the sites name what the package does not install: $(echo "$missing" | tr '\n' ' ')"
	fi
	if [ ! -e "$CH/run/hms/hms.sock" ] && [ -z "$(pids_in_roots | while read -r p; do
		[ "$(readlink "/proc/$p/root")" = "$CH" ] && grep -q '^/usr/bin/hms' "/proc/$p/cmdline" && echo "$p"
	done)" ]; then
		ok "$R the install started nothing"
	else
		fail "$R something was started by the install"
	fi
	if in_root hms --config /etc/hms/hms.conf --check-config >/dev/null 2>&1; then
		ok "$R the shipped configuration is valid as installed"
	else
		fail "$R hms --check-config refuses the installed configuration: $(in_root hms --config /etc/hms/hms.conf --check-config 2>&1 | tail -n 1)"
	fi
}

database_checks() { # REL: deploy/README.md's roles and peer maps, migrate, hms as hms
	local rel=$1 R="Debian ${NUMBER[$1]}:" pgv pgc etc
	# The cluster the postgresql package made, whatever its version.
	read -r pgv pgc _ < <(in_root pg_lsclusters -h 2>>"$LOG" | head -n 1)
	etc=/etc/postgresql/$pgv/$pgc
	if [ -z "$pgv" ] || [ ! -f "$CH$etc/postgresql.conf" ]; then
		fail "$R no PostgreSQL cluster after the install (pg_lsclusters)"
		return 1
	fi
	PG_PORT=$(free_port)
	sed -i "s/^#\?port = .*/port = $PG_PORT/" "$CH$etc/postgresql.conf"
	# Peer authentication with the maps of deploy/README.md: the OS user hms
	# is the role hms_app, hms-admin the owner hms.
	printf 'hms hms hms_app\nhms hms-admin hms\n' >>"$CH$etc/pg_ident.conf"
	sed -i "1i local hms hms,hms_app peer map=hms" "$CH$etc/pg_hba.conf"
	if in_root pg_ctlcluster "$pgv" "$pgc" start >>"$LOG" 2>&1 &&
		as_pg createuser -p "$PG_PORT" hms && as_pg createuser -p "$PG_PORT" hms_app &&
		as_pg createdb -p "$PG_PORT" -O hms hms; then
		ok "$R PostgreSQL $pgv (cluster $pgc): the roles hms and hms_app, the database, the peer maps"
	else
		fail "$R PostgreSQL $pgv/$pgc: start, roles or database"
		tail -n 20 "$LOG"
		return 1
	fi
	HTTPS_PORT=$(free_port)
	HTTP_PORT=$(free_port)
	sed -i "s|^database_url = .*|database_url = host=/run/postgresql port=$PG_PORT dbname=hms user=hms_app|" \
		"$CH/etc/hms/hms.conf"
	sed -i "s|^public_origin = .*|public_origin = https://localhost:$HTTPS_PORT|" "$CH/etc/hms/hms.conf"
	sed -i "s|^database_url = .*|database_url = host=/run/postgresql port=$PG_PORT dbname=hms user=hms|" \
		"$CH/etc/hms/hmsctl.conf"
	if in_root runuser -u hms-admin -- env HMS_CONFIG=/etc/hms/hmsctl.conf hmsctl migrate >>"$LOG" 2>&1; then
		ok "$R hmsctl migrate as hms-admin (the owner) through /etc/hms/hmsctl.conf"
	else
		fail "$R migrations as hms-admin"
		tail -n 20 "$LOG"
	fi
	in_root runuser -u hms-admin -- env HMS_CONFIG=/etc/hms/hmsctl.conf \
		HMS_ADMIN_PASSWORD=deb-admin-password-1 hmsctl create-admin --username admin >>"$LOG" 2>&1

	start_hms "$rel"
}

# hms as systemd would run it: user hms, its runtime directory.
start_hms() { # REL
	install -d -m 0755 -o "$(in_root id -u hms)" -g "$(in_root id -g hms)" "$CH/run/hms"
	# setpriv execs (runuser would fork a watching parent), so $! is hms.
	chroot "$CH" setpriv --reuid=hms --regid=hms --init-groups /usr/bin/hms --config /etc/hms/hms.conf \
		>>"$LOG" 2>&1 &
	HMS_PID[$1]=$!
}

# The certificate of the web server's site, in /etc/ssl/hms.
site_certificate() {
	install -d "$CH/etc/ssl/hms"
	in_root openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-keyout /etc/ssl/hms/hms.key -out /etc/ssl/hms/hms.crt >>"$LOG" 2>&1
	cp "$CH/etc/ssl/hms/hms.crt" "$CH/etc/ssl/hms/chain.pem"
	in_root openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 \
		-out /etc/ssl/hms/ffdhe2048.pem >>"$LOG" 2>&1
}

# The installed nginx site on HTTPS_PORT and HTTP_PORT, started.
site_nginx() { # REL
	local R="Debian ${NUMBER[$1]}:"
	sed -i -e "s|listen 443 ssl http2;|listen 127.0.0.1:$HTTPS_PORT ssl http2;|" \
		-e "s|listen \[::\]:443 ssl http2;.*||" -e "s|listen 80;|listen 127.0.0.1:$HTTP_PORT;|" \
		-e "s|listen \[::\]:80;||" -e "s|server_name hms.example.org;|server_name localhost;|" \
		"$CH/etc/nginx/sites-available/hms"
	rm -f "$CH/etc/nginx/sites-enabled/default"
	ln -sf ../sites-available/hms "$CH/etc/nginx/sites-enabled/hms"
	if in_root nginx -t >>"$LOG" 2>&1 && in_root nginx >>"$LOG" 2>&1; then
		ok "$R the installed nginx site passes nginx -t and starts"
	else
		fail "$R nginx refused the installed site"
		tail -n 20 "$LOG"
		return 1
	fi
}

# The installed Apache site on HTTPS_PORT and HTTP_PORT, as docs/deploy.md
# says: the modules enabled, Debian's default site off, the site enabled,
# hms told (web_server = apache) and restarted.
site_apache() { # REL
	local rel=$1 R="Debian ${NUMBER[$1]}:" conf=$CH/etc/apache2
	printf 'Listen 127.0.0.1:%s\nListen 127.0.0.1:%s\n' "$HTTP_PORT" "$HTTPS_PORT" >"$conf/ports.conf"
	# Debian 12's mod_qos needs libpcre3 loaded before it (docs/deploy.md).
	if [ -e "$CH/usr/lib/x86_64-linux-gnu/libpcre.so.3" ] &&
		! in_root ldd /usr/lib/apache2/modules/mod_qos.so | grep -q 'libpcre\.so\.3'; then
		echo 'LoadFile /usr/lib/x86_64-linux-gnu/libpcre.so.3' >"$conf/mods-available/pcre3.load"
		in_root a2enmod -q pcre3 >>"$LOG" 2>&1
	fi
	sed -i -e "s|<VirtualHost \*:80>|<VirtualHost *:$HTTP_PORT>|" \
		-e "s|<VirtualHost \*:443>|<VirtualHost *:$HTTPS_PORT>|" \
		-e "s|ServerName hms.example.org|ServerName localhost|" \
		-e "s|Redirect permanent / https://hms.example.org/|Redirect permanent / https://localhost:$HTTPS_PORT/|" \
		"$conf/sites-available/hms.conf"
	echo "web_server = apache" >>"$CH/etc/hms/hms.conf"
	stop_hms "$rel"
	start_hms "$rel"
	if in_root a2enmod -q ssl headers setenvif unique_id reqtimeout proxy proxy_fcgi xsendfile qos \
		>>"$LOG" 2>&1 && in_root a2dissite -q 000-default >>"$LOG" 2>&1 &&
		in_root a2ensite -q hms >>"$LOG" 2>&1 && in_root apache2ctl configtest >>"$LOG" 2>&1 &&
		in_root apache2ctl start >>"$LOG" 2>&1; then
		ok "$R the installed Apache site, with the modules of docs/deploy.md, passes configtest and starts"
	else
		fail "$R Apache refused the installed site"
		tail -n 20 "$LOG"
		return 1
	fi
}

# What a client sees through a web server's HTTPS port: health, a login and
# a list, an attachment up and down, the docs page. (The same checks serve
# any front end.)
api_checks() { # REL FRONT-END PORT
	local R="Debian ${NUMBER[$1]}:" via=$2 port=$3 health="" access status docs
	for _ in $(seq 1 50); do
		health=$(curl_site "$port" /api/health/)
		[ "$health" = '{"status":"ok","database":"ok"}' ] && break
		sleep 0.2
	done
	if [ "$health" = '{"status":"ok","database":"ok"}' ]; then
		ok "$R GET /api/health/ through $via: $health"
	else
		fail "$R GET /api/health/ through $via answered '$health'"
		tail -n 30 "$LOG"
	fi
	access=$(curl_site "$port" /api/auth/token/ -X POST -H 'Content-Type: application/json' \
		-d '{"username":"admin","password":"deb-admin-password-1"}' | sed -n 's/.*"access":"\([^"]*\)".*/\1/p')
	status=$(curl_site "$port" /api/patients/ -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer $access")
	if [ -n "$access" ] && [ "$status" = 200 ]; then
		ok "$R the admin logs in and lists patients through $via"
	else
		fail "$R login and GET /api/patients/ through $via (status $status)"
	fi
	download_checks "$1" "$via" "$port"
	docs=$(curl_site "$port" /api/docs/)
	if grep -q 'swagger-ui-bundle.js' <<<"$docs" &&
		[ "$(curl_site "$port" /api/docs/swagger-ui-bundle.js -o /dev/null -w '%{http_code}')" = 200 ] &&
		[ -f "$CH/usr/share/man/man8/hmsctl.8" ]; then
		ok "$R the docs page (Swagger UI) is served from the package's files through $via; the man pages are installed"
	else
		fail "$R the docs page (/api/docs/) through $via or the man pages"
	fi
}

# An attachment up and down through a front end: a nurse (records need one),
# a patient with an accented name and a record (api_nurse_record), a text
# file; its signed
# download_url streamed by the front end byte for byte, a Range request
# answered 206, and no signature in the front end's logs.
download_checks() { # REL FRONT-END PORT
	local R="Debian ${NUMBER[$1]}:" via=$2 port=$3 attachment="" url=""
	local site=(-k --resolve "localhost:$3:127.0.0.1") file=$WORK/upload-$1-$2.txt
	seq 1 30000 >"$file"
	if HMS_ADMIN_USERNAME=admin HMS_ADMIN_PASSWORD=deb-admin-password-1 \
		api_nurse_record "https://localhost:$port" "${site[@]}"; then
		attachment=$(curl -s "${site[@]}" "${NURSE_AUTH[@]}" -F "record=$RECORD_ID" \
			-F "file=@$file;filename=check.txt" "https://localhost:$port/api/attachments/" | json_get id)
		url=$(curl -s "${site[@]}" "${NURSE_AUTH[@]}" "https://localhost:$port/api/attachments/$attachment/" |
			json_get download_url)
	fi
	if [ -n "$url" ] &&
		curl -sk --max-time 10 --resolve "localhost:$port:127.0.0.1" -o "$file.down" "$url" &&
		cmp -s "$file" "$file.down" &&
		[ "$(curl -sk --max-time 10 --resolve "localhost:$port:127.0.0.1" -r 0-9 -o /dev/null \
			-w '%{http_code} %{size_download}' "$url")" = "206 10" ]; then
		ok "$R a patient named Jérôme, a record and an attachment; its signed download streamed by $via, byte for byte, and a Range answered 206"
	else
		fail "$R the attachment through $via (record '${RECORD_ID:-}', attachment '$attachment', url '${url%%\?*}')"
		tail -n 20 "$LOG"
	fi
	if ! grep -rqs 'signature=' "$CH/var/log/nginx" "$CH/var/log/apache2"; then
		ok "$R no download signature in the front ends' logs"
	else
		fail "$R a download signature in $(grep -rls 'signature=' "$CH/var/log/nginx" "$CH/var/log/apache2" | tr '\n' ' ')"
	fi
}

# The web tier: the certificate, then one pass per front end over the same
# running hms. A front end is a site_* function that configures and starts
# it on HTTPS_PORT (public_origin names that port) and an api_checks pass;
# another front end in the same root takes the ports after the previous
# one is stopped.
web_checks() { # REL
	site_certificate
	site_nginx "$1" && api_checks "$1" nginx "$HTTPS_PORT"
	if [ "$1" = "$APACHE_REL" ]; then
		stop_web "$1"
		site_apache "$1" && api_checks "$1" Apache "$HTTPS_PORT"
	fi
}

workers_role_check() { # REL
	local R="Debian ${NUMBER[$1]}:" roles
	roles=$(in_root runuser -u postgres -- psql -XtA -p "$PG_PORT" -d hms -c \
		"SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'hms' AND backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>&1)
	if [ "$roles" = hms_app ]; then
		ok "$R the workers are connected as hms_app, not the owner"
	else
		fail "$R the workers' database roles: $roles"
	fi
}

check_release() { # REL
	CH=$WORK/$1
	LOG=$WORK/$1.log
	[ -n "${DEB[$1]:-}" ] || return 1
	install_checks "$1" || return 1
	database_checks "$1" || return 1
	web_checks "$1"
	workers_role_check "$1"
	stop_root "$1"
}

check_release "$HOST_REL"

# --- the other release ---------------------------------------------------------
R="Debian ${NUMBER[$OTHER_REL]}:"
if wait "${BG_PID[build]}" && [ -f "$WORK/build.deb" ]; then
	DEB[$OTHER_REL]=$WORK/$(basename "$(cat "$WORK/build.out")")
	mv "$WORK/build.deb" "${DEB[$OTHER_REL]}"
	ok "$R make deb in a fresh $OTHER_REL root builds $(basename "${DEB[$OTHER_REL]}")"
else
	fail "$R the package could not be built in a $OTHER_REL root"
	tail -n 30 "$WORK/build.log"
fi
unset "BG_PID[build]"
for rel in bookworm trixie; do
	[ -n "${DEB[$rel]:-}" ] &&
		echo "$NAME: Debian ${NUMBER[$rel]}: $(dpkg-deb -f "${DEB[$rel]}" Depends)"
done
check_release "$OTHER_REL"

# --- a package built for Debian 13 on Debian 12 --------------------------------
# apt must refuse it (its libc6 is too old) rather than install a program
# that cannot start.
if [ -n "${DEB[trixie]:-}" ] && [ -x "$WORK/bookworm/usr/bin/apt-get" ]; then
	cp "${DEB[trixie]}" "$WORK/bookworm/tmp/hms-trixie.deb"
	refusal=$(chroot "$WORK/bookworm" apt-get install --simulate -y /tmp/hms-trixie.deb 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'Depends: libc6 (>= 2\.' <<<"$refusal"; then
		ok "Debian 12: apt refuses the package built for Debian 13: $(grep -o 'Depends: libc6 ([^)]*) but [^ ]* is to be installed' <<<"$refusal" | head -n 1)"
	else
		fail "Debian 12: apt did not refuse the package built for Debian 13 (exit $rc)"
		tail -n 15 <<<"$refusal"
	fi
else
	fail "Debian 12: no package built for Debian 13 to try"
fi

finish_checks 0
