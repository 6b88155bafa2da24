#!/usr/bin/env bash
# stack.sh - the local HMS stack: a project-local PostgreSQL cluster, nginx
# with a self-signed certificate, and the hms master with its workers.
#
#   deploy/stack.sh run        start everything, stay in the foreground;
#                              Ctrl-C stops what this run started
#   deploy/stack.sh start      start everything in the background, return
#                              once /api/health/ answers
#   deploy/stack.sh stop       stop everything (by recorded PID)
#   deploy/stack.sh pg-start | pg-stop | status
#   deploy/stack.sh host-stop K | host-start K
#                              stop (SIGTERM) or start application host K
#                              of HMS_APP_HOSTS, as if its VM went down or
#                              came back
#
# Environment: HMS_STATE_DIR (default var/), HMS_BIN_DIR (default build/),
# HMS_HTTPS_PORT (8443), HMS_HTTP_PORT (plain loopback listener, off unless
# set; for benchmarks), HMS_PG_PORT (5432; the cluster listens only on a unix
# socket under the state dir, so this never clashes with a system
# PostgreSQL), HMS_DATABASE_URL (use that database instead of a local
# cluster), HMS_ADMIN_USERNAME / HMS_ADMIN_PASSWORD (first admin),
# HMS_TOKEN_RATE / HMS_TOKEN_BURST, HMS_API_RATE / HMS_API_BURST and
# HMS_API_LIMIT_EXEMPT (nginx's limit_req; README.md).
#
# HMS_WEB_SERVER=apache: Apache httpd instead of nginx in front, its
# configuration generated from deploy/apache/hms.conf the same way (own
# ServerRoot, pid file and logs in STATE/apache/), and hms told so
# (web_server = apache). The rate limits come from the same HMS_*_RATE and
# _BURST variables, as mod_qos counts per window (see apache_limit). One
# application host only.
#
# HMS_APP_HOSTS=N (default 1): N >= 2 application hosts, as if on N VMs:
# host K has its own configuration, pid file, log and process tree in
# STATE/hostK/, listens for FastCGI on TCP 127.0.0.(K+1):PORT (PORT free at
# the first start, kept in STATE/app-port; HMS_APP_PORT sets it), takes
# only nginx (fastcgi_allowed_peers = 127.0.0.1) and has instance_name
# hostK; all share the database, the keys and one attachment directory,
# and nginx's upstream hms_app lists every host (HMS_UPSTREAM_FAIL_TIMEOUT,
# default 10s, is how long nginx leaves out a host that failed). With 1,
# hms listens on the unix socket, as always.
#
# As root, PostgreSQL runs as the 'postgres' system user (initdb refuses
# root) and nginx's workers as www-data; the FastCGI socket is group
# www-data so they can reach it.
#
# Where things live: config, secrets, TLS, logs and pids always in the state
# directory. What the postgres user or nginx's workers must reach (the
# cluster, the unix sockets, attachments, nginx's temp files) lives there
# too, unless (as root) one of them cannot reach the state directory (a
# checkout in a 0700 home), or a unix socket path under it would pass the
# 107-byte sun_path limit. Then it goes to a directory of its own for this
# state directory, named by a hash of its path: /var/lib/hms-dev/HASH as
# root, /var/tmp/hms-dev-UID-HASH otherwise (see resolve_runtime).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$(mkdir -p "${HMS_STATE_DIR:-$ROOT/var}" && cd "${HMS_STATE_DIR:-$ROOT/var}" && pwd)
BIN=${HMS_BIN_DIR:-$ROOT/build}
HTTPS_PORT=${HMS_HTTPS_PORT:-8443}
# One value for hms's max_upload_bytes and nginx's client_max_body_size on
# the upload location (that plus 64 KiB of multipart framing).
MAX_UPLOAD=${HMS_MAX_UPLOAD_BYTES:-10485760}
case $MAX_UPLOAD in '' | *[!0-9]*) echo "HMS_MAX_UPLOAD_BYTES must be a number of bytes" >&2; exit 2 ;; esac
HTTP_PORT=${HMS_HTTP_PORT:-}
PG_PORT=${HMS_PG_PORT:-5432}
APP_HOSTS=${HMS_APP_HOSTS:-1}
case $APP_HOSTS in [1-9] | 1[0-6]) ;; *) echo "HMS_APP_HOSTS must be 1 to 16" >&2; exit 2 ;; esac
FAIL_TIMEOUT=${HMS_UPSTREAM_FAIL_TIMEOUT:-10s}
[[ $FAIL_TIMEOUT =~ ^[1-9][0-9]{0,4}(ms|s)$ ]] || {
	echo "HMS_UPSTREAM_FAIL_TIMEOUT is like 10s or 500ms" >&2
	exit 2
}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
NGX=$STATE/nginx
APA=$STATE/apache
WEB_SERVER=${HMS_WEB_SERVER:-nginx}
case $WEB_SERVER in nginx | apache) ;; *) echo "HMS_WEB_SERVER must be nginx or apache" >&2; exit 2 ;; esac
if [ "$WEB_SERVER" = apache ] && [ "$APP_HOSTS" -ne 1 ]; then
	echo "HMS_APP_HOSTS >= 2 is for nginx only (deploy/apache/hms.conf shows the balancer)" >&2
	exit 2
fi
PG_STARTED_HERE=0

say() { echo "stack: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

# Paths go into postgresql.conf, libpq conninfo, hms.conf and nginx's
# configuration, quoted (spaces are fine); these characters cannot be
# quoted in all of them.
case "$STATE" in
*[\"\\\$]* | *$'\n'*) die "the state directory path may not contain \", \\, \$ or a newline: $STATE" ;;
esac
case "$ROOT" in
*$'\n'*) die "the checkout path may not contain a newline" ;;
esac

# --- where the cluster, sockets and attachments live ------------------------

external_runtime_dir() {
	local hash
	hash=$(printf '%s' "$STATE" | sha256sum | cut -c 1-16)
	if is_root; then
		echo "/var/lib/hms-dev/$hash"
	else
		echo "/var/tmp/hms-dev-$(id -u)-$hash"
	fi
}
# Whether USER (if it exists) can pass through every directory down to the
# state directory.
reachable_by() {
	id -u "$1" >/dev/null 2>&1 || return 0
	(cd / && runuser -u "$1" -- test -x "$STATE")
}
# The longest unix socket path under DIR (PostgreSQL's, with a 5-digit
# port) fits in sun_path (107 bytes and a NUL).
sockets_fit_under() { [ "$(printf '%s/pg/run/.s.PGSQL.65535' "$1" | wc -c)" -le 107 ]; }

# Sets RT. Deterministic for a given state directory: a cluster already in
# the state directory stays there; an existing per-checkout directory is
# used again; otherwise the rule above decides.
resolve_runtime() {
	local ext
	ext=$(external_runtime_dir)
	if [ -f "$STATE/pg/data/PG_VERSION" ]; then
		RT=$STATE
	elif [ -d "$ext" ] || [ -L "$ext" ]; then
		RT=$ext
	elif ! sockets_fit_under "$STATE"; then
		RT=$ext
	elif is_root && ! { reachable_by postgres && reachable_by www-data; }; then
		RT=$ext
	else
		RT=$STATE
	fi
}

# Creates the per-checkout directory (start only): root-owned 0711 under a
# root-owned 0711 /var/lib/hms-dev as root (postgres and www-data may pass
# through, not list), 0700 otherwise. An existing one must be ours and no
# symlink (/var/tmp is shared).
prepare_runtime() {
	[ "$RT" = "$STATE" ] && return 0
	local mode=700
	if is_root; then
		mode=711
		if [ ! -d /var/lib/hms-dev ]; then
			mkdir -m 711 /var/lib/hms-dev
		fi
		if [ -L /var/lib/hms-dev ] || [ "$(stat -c %u /var/lib/hms-dev)" != 0 ]; then
			die "/var/lib/hms-dev is not a root-owned directory"
		fi
	fi
	if [ ! -e "$RT" ] && [ ! -L "$RT" ]; then
		mkdir -m "$mode" "$RT"
	fi
	if [ -L "$RT" ] || [ ! -d "$RT" ] || [ ! -O "$RT" ] || [ "$(stat -c %a "$RT")" != "$mode" ]; then
		die "$RT is not a directory of mode $mode owned by $(id -un); remove it"
	fi
	printf '%s\n' "$STATE" >"$RT/state-dir" # which checkout it belongs to
	say "cluster, sockets and attachments in $RT (kept out of $STATE, see README)"
}

resolve_runtime
PGROOT=$RT/pg
PGDATA_DIR=$PGROOT/data
PGSOCK=$PGROOT/run
RUNDIR=$RT/run # hms.sock; hms.pid stays in $STATE/run
ATTACH=$RT/attachments
NGX_TMP=$RT/nginx/tmp
DOCS_UI=$RT/docs-ui # the /api/docs/ page (deploy/docs-ui.sh)
# The cluster's logs: beside it when it is in the state directory, else in
# $STATE/log (written through a descriptor opened by this script).
if [ "$RT" = "$STATE" ]; then PGLOG=$PGROOT; else PGLOG=$STATE/log; fi

# Quoting for each format a path goes into.
pq_quote() { # libpq conninfo value
	local v=${1//\\/\\\\}
	v=${v//\'/\\\'}
	printf "'%s'" "$v"
}
pgconf_dirs_quote() { # unix_socket_directories: one "entry" in a '' string
	printf "'\"%s\"'" "${1//\'/\'\'}"
}
ngx_quote() { printf '"%s"' "$1"; }
sed_escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# Runs a PostgreSQL tool as the user that owns the cluster, from a directory
# that user can read.
as_pg() {
	if is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}
port_in_use() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

local_db() { [ -z "${HMS_DATABASE_URL:-}" ]; }
database_url() {
	if local_db; then
		echo "host=$(pq_quote "$PGSOCK") port=$PG_PORT dbname=hms user=hms_app"
	else
		echo "$HMS_DATABASE_URL"
	fi
}
admin_database_url() {
	if local_db; then
		echo "host=$(pq_quote "$PGSOCK") port=$PG_PORT dbname=hms user=hms"
	else
		echo "${HMS_ADMIN_DATABASE_URL:-$HMS_DATABASE_URL}"
	fi
}

# --- PostgreSQL -------------------------------------------------------------

pg_init() {
	[ -n "$PGBIN" ] || die "PostgreSQL is not installed (run deploy/install-deps.sh)"
	[ -f "$PGDATA_DIR/PG_VERSION" ] && return 0
	say "creating a PostgreSQL cluster in $PGROOT"
	mkdir -p "$PGSOCK" "$PGLOG"
	is_root && chown -R postgres:postgres "$PGROOT"
	chmod 700 "$PGROOT"
	as_pg test -w "$PGROOT" ||
		die "the postgres user cannot write $PGROOT (a parent directory is closed to it)"
	as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
		>"$PGLOG/initdb.log" 2>&1 || die "initdb failed; see $PGLOG/initdb.log"
	echo "include_if_exists = 'hms-local.conf'" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
}

pg_running() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

psql_admin() {
	as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -d postgres -XqAt -v ON_ERROR_STOP=1 "$@"
}

pg_start() {
	pg_init
	# Written at every start so HMS_PG_PORT may change between runs. No TCP:
	# only the unix socket in a directory closed to other users.
	as_pg tee "$PGDATA_DIR/hms-local.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = $(pgconf_dirs_quote "$PGSOCK")
port = $PG_PORT
max_connections = 200
log_min_messages = warning
# No DETAIL lines: a failed CHECK logs "Failing row contains (...)", the
# whole row with its patient data; statements are logged without their
# parameters (PostgreSQL's default), so they hold none.
log_error_verbosity = terse
${HMS_PG_EXTRA_CONF:-}
CONF
	if pg_running; then
		return 0
	fi
	# The server's output goes to a descriptor this script opens, so the log
	# may be where the postgres user cannot reach.
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 start >>"$PGLOG/postgres.log" 2>&1 </dev/null ||
		die "PostgreSQL did not start; see $PGLOG/postgres.log"
	PG_STARTED_HERE=1
	# hms owns the schema and runs migrations; hms_app is what the workers
	# use, with DML but no right to rewrite the audit trail.
	[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'hms'")" = 1 ] ||
		psql_admin -c "CREATE ROLE hms LOGIN"
	[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'hms_app'")" = 1 ] ||
		psql_admin -c "CREATE ROLE hms_app LOGIN"
	[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'hms'")" = 1 ] ||
		psql_admin -c "CREATE DATABASE hms OWNER hms ENCODING 'UTF8' TEMPLATE template0"
}

pg_stop() {
	[ -f "$PGDATA_DIR/PG_VERSION" ] || return 0
	if pg_running; then
		as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
	fi
}

# --- hms ----------------------------------------------------------------------

write_config() {
	mkdir -p "$STATE/run" "$STATE/log" "$STATE/secrets" "$RUNDIR" "$ATTACH"
	chmod 700 "$STATE/secrets"
	if [ "$RT" = "$STATE" ]; then
		chmod 755 "$STATE" "$STATE/run"
	elif is_root && getent group www-data >/dev/null; then
		# Only nginx's workers (group www-data) need the FastCGI socket.
		chgrp www-data "$RUNDIR"
		chmod 750 "$RUNDIR"
	else
		chmod 700 "$RUNDIR"
	fi
	# Fresh random keys per state directory; never built-in ones. The audit
	# sealing key stays here, outside the database it protects.
	if [ ! -s "$STATE/secrets/jwt.keys" ]; then
		(umask 077 && echo "dev1:$(openssl rand -base64 48 | tr -d '\n')" >"$STATE/secrets/jwt.keys")
	fi
	if [ ! -s "$STATE/secrets/audit-seal.keys" ]; then
		(umask 077 && echo "seal1:$(openssl rand -base64 48 | tr -d '\n')" \
			>"$STATE/secrets/audit-seal.keys")
	fi
	if [ ! -s "$STATE/secrets/download.keys" ]; then
		(umask 077 && echo "dl1:$(openssl rand -base64 48 | tr -d '\n')" \
			>"$STATE/secrets/download.keys")
	fi
	local mode=0600
	GROUP_LINE=""
	if is_root && getent group www-data >/dev/null; then
		GROUP_LINE="socket_group = www-data"
		mode=0660
		# setgid: stored files get group www-data, so nginx can stream
		# them (mode 0640) and nobody else can.
		chgrp www-data "$ATTACH"
		chmod 2750 "$ATTACH"
	else
		# nginx runs as this user: nobody else needs in (hmsctl check).
		chmod 700 "$ATTACH"
	fi
	# The configuration hmsctl reads, and the single host's.
	config_text "socket_path = $RUNDIR/hms.sock
socket_mode = $mode" >"$STATE/hms.conf"
	local k
	if [ "$APP_HOSTS" -ge 2 ]; then
		app_port
		for k in $(seq 1 "$APP_HOSTS"); do
			mkdir -p "$(host_dir "$k")/run" "$(host_dir "$k")/log"
			config_text "# Host $k of $APP_HOSTS: FastCGI on TCP, from nginx only.
listen_address = $(host_addr "$k"):$APP_PORT
fastcgi_allowed_peers = 127.0.0.1
instance_name = host$k" >"$(host_conf "$k")"
		done
	fi
}

# The configuration, with LISTENER (the socket lines) in it.
config_text() {
	cat <<CONF
# Generated by deploy/stack.sh at every start; edit conf/hms.conf.example
# for the documentation of each key. HMS_* variables still override.
database_url = $(database_url)
admin_database_url = $(admin_database_url)
jwt_keys_file = $STATE/secrets/jwt.keys
audit_seal_keys_file = $STATE/secrets/audit-seal.keys
download_keys_file = $STATE/secrets/download.keys
public_origin = https://localhost:$HTTPS_PORT
attachment_dir = $ATTACH
web_server = $WEB_SERVER
max_upload_bytes = $MAX_UPLOAD
$1
$GROUP_LINE
time_zone = ${HMS_TIME_ZONE:-Africa/Kampala}
log_level = ${HMS_LOG_LEVEL:-info}
schema_dir = $ROOT/schema
workers = ${HMS_WORKERS:-0}
CONF
}

hms_migrate() {
	"$BIN/hmsctl" --config "$STATE/hms.conf" migrate >"$STATE/log/migrate.log" 2>&1 || {
		cat "$STATE/log/migrate.log" >&2
		die "migrations failed"
	}
}

# Application host K (HMS_APP_HOSTS >= 2) lives in STATE/hostK; the single
# host in STATE itself.
host_dir() { if [ "$APP_HOSTS" -ge 2 ]; then echo "$STATE/host$1"; else echo "$STATE"; fi; }
host_conf() { if [ "$APP_HOSTS" -ge 2 ]; then echo "$STATE/host$1/hms.conf"; else echo "$STATE/hms.conf"; fi; }
host_pidfile() { echo "$(host_dir "$1")/run/hms.pid"; }
host_log() { echo "$(host_dir "$1")/log/hms.log"; }
host_addr() { echo "127.0.0.$(($1 + 1))"; }
# Every pid file of a host, whatever HMS_APP_HOSTS says now (stop must
# find what an earlier start began).
all_host_pidfiles() {
	local f
	for f in "$STATE/run/hms.pid" "$STATE"/host*/run/hms.pid; do
		[ -f "$f" ] && echo "$f"
	done
	return 0
}

# Sets APP_PORT: the one TCP port of every host (each on its own address):
# HMS_APP_PORT, else the one of an earlier start, else a free one.
app_port() {
	local k p
	APP_PORT=${HMS_APP_PORT:-$(cat "$STATE/app-port" 2>/dev/null || true)}
	if [ -z "$APP_PORT" ]; then
		for _ in $(seq 1 50); do
			p=$((20000 + RANDOM % 40000))
			for k in $(seq 1 "$APP_HOSTS"); do
				port_in_use "$p" "$(host_addr "$k")" && continue 2
			done
			APP_PORT=$p
			break
		done
		[ -n "$APP_PORT" ] || die "no free port for the application hosts (set HMS_APP_PORT)"
	fi
	case $APP_PORT in '' | *[!0-9]*) die "HMS_APP_PORT must be a port number" ;; esac
	echo "$APP_PORT" >"$STATE/app-port"
}

hms_start() { # [foreground [K]]
	local k=${2:-1} pidfile conf log
	pidfile=$(host_pidfile "$k")
	conf=$(host_conf "$k")
	log=$(host_log "$k")
	if pid_alive "$pidfile"; then
		say "hms${2:+ host $k} already running (pid $(cat "$pidfile"))"
		return 0
	fi
	"$BIN/hms" --config "$conf" --check-config >/dev/null
	if [ "${1:-}" = foreground ] && [ "$APP_HOSTS" -eq 1 ]; then
		"$BIN/hms" --config "$conf" 2> >(tee -a "$log" >&2) &
	else
		# setsid: the pool must not get the terminal's SIGHUP (that means reload).
		setsid "$BIN/hms" --config "$conf" >>"$log" 2>&1 </dev/null &
	fi
	echo $! >"$pidfile"
}

hms_start_all() { # [foreground]
	local k
	for k in $(seq 1 "$APP_HOSTS"); do
		hms_start "${1:-background}" "$k"
	done
}

hms_stop() { # [PIDFILE]
	local pidfile=${1:-$STATE/run/hms.pid}
	pid_alive "$pidfile" || {
		rm -f "$pidfile"
		return 0
	}
	local pid
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

hms_stop_all() {
	local f
	while read -r f; do hms_stop "$f"; done < <(all_host_pidfiles)
}

# Whether some host's master runs.
any_host_alive() {
	local f
	while read -r f; do pid_alive "$f" && return 0; done < <(all_host_pidfiles)
	return 1
}

# Waits (10 s) until host K's master listens (TCP) or has died.
wait_host_listening() {
	local k=$1
	for _ in $(seq 1 100); do
		port_in_use "$APP_PORT" "$(host_addr "$k")" && return 0
		pid_alive "$(host_pidfile "$k")" || break
		sleep 0.1
	done
	tail -n 20 "$(host_log "$k")" >&2 || true
	die "host $k does not listen on $(host_addr "$k"):$APP_PORT"
}

# --- nginx ------------------------------------------------------------------

make_certificate() {
	[ -s "$STATE/tls/hms.crt" ] && return 0
	mkdir -p "$STATE/tls"
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 825 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		-keyout "$STATE/tls/hms.key" -out "$STATE/tls/hms.crt" 2>/dev/null)
	chmod 644 "$STATE/tls/hms.crt"
}

# The server lines of upstream hms_app, for sed (lines joined by \n).
upstream_servers() {
	local k out=""
	if [ "$APP_HOSTS" -eq 1 ]; then
		out="\tserver $(sed_escape "$(ngx_quote "unix:$RUNDIR/hms.sock")") max_fails=1 fail_timeout=$FAIL_TIMEOUT;"
	else
		for k in $(seq 1 "$APP_HOSTS"); do
			out="$out${out:+\n}\tserver $(host_addr "$k"):$APP_PORT max_fails=1 fail_timeout=$FAIL_TIMEOUT;"
		done
	fi
	printf '%s' "$out"
}

nginx_config() {
	mkdir -p "$NGX_TMP" "$NGX/logs"
	make_certificate
	# The /api/docs/ page, copied fresh at every start where nginx's
	# workers can read it (not build/, which may be in a closed checkout).
	"$ROOT/deploy/docs-ui.sh" "$DOCS_UI"
	local user_line="" plain=""
	if is_root; then
		user_line="user www-data;"
		chown -R www-data "$NGX_TMP"
	fi
	if [ "$RT" != "$STATE" ]; then
		chmod 711 "$RT/nginx"
		chmod 700 "$NGX_TMP"
	fi
	[ -n "$HTTP_PORT" ] && plain="listen 127.0.0.1:$HTTP_PORT;"
	local access_log=${HMS_NGINX_ACCESS_LOG:-$NGX/logs/access.log} access_line="access_log off;"
	# Addresses (or CIDR ranges) that /api/'s limit_req leaves alone.
	local exempt="" addr
	for addr in ${HMS_API_LIMIT_EXEMPT:-}; do
		case $addr in *[!0-9a-fA-F.:/]*) die "HMS_API_LIMIT_EXEMPT: not an address: $addr" ;; esac
		exempt="$exempt $addr 1;"
	done
	case "${HMS_API_RATE:-50r/s}${HMS_API_BURST:-500}" in
	*[!0-9rsm/]*) die "HMS_API_RATE is like 50r/s or 600r/m, HMS_API_BURST a number" ;;
	esac
	[ "$access_log" != off ] &&
		access_line="access_log $(sed_escape "$(ngx_quote "$access_log")") hms_json;"
	# The site is the production file with local paths, ports and the
	# prod-only lines removed.
	sed -e '/# prod-only-begin/,/# prod-only-end/d' -e '/# prod-only$/d' \
		-e "s|listen 443 ssl http2;|listen 127.0.0.1:$HTTPS_PORT ssl http2; $plain|" \
		-e "s|server_name hms.example.org;|server_name localhost;|" \
		-e "s|^\tserver unix:/run/hms/hms.sock max_fails=1 fail_timeout=10s;|$(upstream_servers)|" \
		-e "s|/etc/ssl/hms/\([a-z.]*\)|\"$(sed_escape "$STATE/tls/")\1\"|g" \
		-e "s|/var/lib/hms/attachments/|$(sed_escape "$(ngx_quote "$ATTACH/")")|g" \
		-e "s|alias /usr/local/share/hms/docs-ui/;|alias $(sed_escape "$(ngx_quote "$DOCS_UI/")");|" \
		-e "s|include fastcgi_params;|include /etc/nginx/fastcgi_params;|g" \
		-e "s|access_log /var/log/nginx/hms-access.log hms_json;|$access_line|" \
		-e "s|error_log /var/log/nginx/hms-error.log crit;|error_log $(sed_escape "$(ngx_quote "$NGX/logs/error.log")") crit;|" \
		-e "s|zone=hms_token:10m rate=10r/m|zone=hms_token:10m rate=${HMS_TOKEN_RATE:-10r/m}|" \
		-e "s|zone=hms_password:10m rate=6r/m|zone=hms_password:10m rate=${HMS_PASSWORD_RATE:-6r/m}|" \
		-e "s|client_max_body_size 10551296;|client_max_body_size $((MAX_UPLOAD + 65536));|" \
		-e "s|zone=hms_token burst=5 nodelay|zone=hms_token burst=${HMS_TOKEN_BURST:-5} nodelay|g" \
		-e "s|zone=hms_password burst=3 nodelay|zone=hms_password burst=${HMS_PASSWORD_BURST:-3} nodelay|g" \
		-e "s|zone=hms_api:10m rate=50r/s|zone=hms_api:10m rate=${HMS_API_RATE:-50r/s}|" \
		-e "s|zone=hms_api burst=500 nodelay|zone=hms_api burst=${HMS_API_BURST:-500} nodelay|g" \
		-e "s|default 0; # hms_api_exempt|default 0;$exempt|" \
		"$ROOT/deploy/nginx/hms.conf" >"$NGX/hms-site.conf"
	local bench=""
	if [ -n "${HMS_BENCH_PORT:-}" ]; then
		# Reference points for benchmarks, in the same nginx: a static
		# answer and (when running) a bare FastCGI hello.
		bench="server {
		listen 127.0.0.1:$HMS_BENCH_PORT;
		access_log off;
		location = /static { default_type application/json; return 200 '{\"status\":\"ok\"}'; }
		location = /hello { include /etc/nginx/fastcgi_params; fastcgi_pass $(ngx_quote "unix:$RUNDIR/hello.sock"); }
		location /files/ { alias $(ngx_quote "$ATTACH/"); sendfile on; tcp_nopush on; }
	}"
	fi
	cat >"$NGX/nginx.conf" <<CONF
# Generated by deploy/stack.sh; the site is deploy/nginx/hms.conf.
$user_line
worker_processes ${HMS_NGINX_WORKERS:-auto};
pid $(ngx_quote "$NGX/nginx.pid");
error_log $(ngx_quote "$NGX/logs/error.log") warn;
events { worker_connections 2048; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log $(ngx_quote "${HMS_NGINX_ACCESS_LOG:-$NGX/logs/access.log}");
	sendfile on;
	keepalive_requests 100000;
	client_body_temp_path $(ngx_quote "$NGX_TMP/body");
	fastcgi_temp_path $(ngx_quote "$NGX_TMP/fastcgi");
	proxy_temp_path $(ngx_quote "$NGX_TMP/proxy");
	uwsgi_temp_path $(ngx_quote "$NGX_TMP/uwsgi");
	scgi_temp_path $(ngx_quote "$NGX_TMP/scgi");
	include $(ngx_quote "$NGX/hms-site.conf");
	$bench
}
CONF
	nginx -t -q -p "$NGX" -c "$NGX/nginx.conf" 2>"$NGX/logs/config-test.log" || {
		cat "$NGX/logs/config-test.log" >&2
		die "the generated nginx configuration is invalid"
	}
}

nginx_start() {
	if pid_alive "$NGX/nginx.pid"; then
		nginx -p "$NGX" -c "$NGX/nginx.conf" -s reload
		sleep 0.5 # the new workers take over asynchronously
		return 0
	fi
	port_in_use "$HTTPS_PORT" && die "port $HTTPS_PORT is in use; set HMS_HTTPS_PORT"
	nginx -p "$NGX" -c "$NGX/nginx.conf" 2>>"$NGX/logs/error.log" || {
		tail -n 5 "$NGX/logs/error.log" >&2
		die "nginx did not start; see $NGX/logs/error.log"
	}
}

# Signals the process of PIDFILE (the web server's master) and waits 10 s
# for it to end, then kills it.
stop_pidfile() { # PIDFILE SIGNAL
	pid_alive "$1" || return 0
	local pid
	pid=$(cat "$1")
	kill -"$2" "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# QUIT: nginx finishes the requests it holds.
nginx_stop() { stop_pidfile "$NGX/nginx.pid" QUIT; }


# --- Apache httpd (HMS_WEB_SERVER=apache) -------------------------------------

APACHE_MODULES=/usr/lib/apache2/modules
# mod_qos's count and window for nginx's RATE (Nr/s or Nr/m) and BURST:
# a per-minute rate counts over 60 s, a per-second one over 10 s, and the
# burst is added to the count (deploy/apache/hms.conf says the same).
apache_limit() {
	local rate=$1 burst=$2 n window
	case $burst in '' | *[!0-9]*) die "a burst must be a number, not $burst" ;; esac
	n=${rate%r/*}
	case $n in '' | *[!0-9]*) die "a rate is like 50r/s or 600r/m, not $rate" ;; esac
	case $rate in
	*r/s) n=$((n * 10 + burst)) window=10 ;;
	*r/m) n=$((n + burst)) window=60 ;;
	*) die "a rate is like 50r/s or 600r/m, not $rate" ;;
	esac
	# mod_qos behaves as if a count were 16 signed bits (65000 refused
	# every request at once). 32767 in a window is "no limit" for a test.
	[ "$n" -gt 32767 ] && n=32767
	echo "$n $window"
}
apache_quote() { printf '"%s"' "$1"; }

apache_config() {
	mkdir -p "$APA/logs" "$APA/run" "$RT/apache"
	make_certificate
	"$ROOT/deploy/docs-ui.sh" "$DOCS_UI"
	# The error pages, where Apache's workers can read them (not the
	# checkout, which may be closed).
	rm -rf "$RT/apache/errors"
	cp -R "$ROOT/deploy/apache/errors" "$RT/apache/errors"
	chmod -R a+rX "$RT/apache"
	[ "$RT" != "$STATE" ] && chmod 711 "$RT/apache"
	case "$STATE$RUNDIR$ATTACH" in *[\ \'\|]*)
		die "with Apache, the state and runtime paths may not contain spaces, ' or |" ;;
	esac
	local user_lines="" pcre_line="" access_line exempt="" addr
	if is_root; then
		user_lines="User www-data
Group www-data"
		chown www-data "$APA/run"
	fi
	# Debian 12's mod_qos uses libpcre3 without linking it (its Apache
	# links PCRE2 only): load the library first. Debian 13's links PCRE2.
	local pcre3=/usr/lib/x86_64-linux-gnu/libpcre.so.3
	if [ -e "$pcre3" ] && ! ldd "$APACHE_MODULES/mod_qos.so" 2>/dev/null | grep -q 'libpcre\.so\.3' &&
		grep -qa pcre_exec "$APACHE_MODULES/mod_qos.so"; then
		pcre_line="LoadFile $pcre3"
	fi
	for addr in ${HMS_API_LIMIT_EXEMPT:-}; do
		case $addr in *[!0-9a-fA-F.:/]*) die "HMS_API_LIMIT_EXEMPT: not an address: $addr" ;; esac
		exempt="${exempt:+$exempt\n}SetEnvIfExpr \"-R '$addr'\" !HMS_LIMIT_API"
	done
	local access_log=${HMS_NGINX_ACCESS_LOG:-$APA/logs/access.log}
	access_line="CustomLog $(sed_escape "$(apache_quote "$access_log")") hms_json"
	[ "$access_log" = off ] && access_line="# no access log (HMS_NGINX_ACCESS_LOG=off)"
	local api token password download
	api=$(apache_limit "${HMS_API_RATE:-50r/s}" "${HMS_API_BURST:-500}")
	token=$(apache_limit "${HMS_TOKEN_RATE:-10r/m}" "${HMS_TOKEN_BURST:-5}")
	password=$(apache_limit "${HMS_PASSWORD_RATE:-6r/m}" "${HMS_PASSWORD_BURST:-3}")
	download=$(apache_limit 20r/s 100)
	sed -e '/# prod-only-begin/,/# prod-only-end/d' \
		-e "s|^<VirtualHost \*:443>|<VirtualHost 127.0.0.1:$HTTPS_PORT>|" \
		-e "s|ServerName hms.example.org|ServerName localhost|" \
		-e "s|unix:/run/hms/hms.sock|unix:$(sed_escape "$RUNDIR/hms.sock")|g" \
		-e "s|/etc/ssl/hms/\([a-z.]*\)|$(sed_escape "$STATE/tls/")\1|g" \
		-e "s|XSendFilePath /var/lib/hms/attachments|XSendFilePath $(sed_escape "$ATTACH")|" \
		-e "s|/usr/local/share/hms/docs-ui/|$(sed_escape "$DOCS_UI/")|g" \
		-e "s|/usr/local/share/hms/deploy/apache/errors/|$(sed_escape "$RT/apache/errors/")|g" \
		-e "s|CustomLog /var/log/apache2/hms-access.log hms_json|$access_line|" \
		-e "s|ErrorLog /var/log/apache2/hms-error.log|ErrorLog $(sed_escape "$APA/logs/error.log")|" \
		-e "s|QS_CondClientEventLimitCount 1000 10 HMS_LIMIT_API|QS_CondClientEventLimitCount $api HMS_LIMIT_API|" \
		-e "s|QS_CondClientEventLimitCount 15 60 HMS_LIMIT_TOKEN|QS_CondClientEventLimitCount $token HMS_LIMIT_TOKEN|" \
		-e "s|QS_CondClientEventLimitCount 9 60 HMS_LIMIT_PASSWORD|QS_CondClientEventLimitCount $password HMS_LIMIT_PASSWORD|" \
		-e "s|QS_CondClientEventLimitCount 300 10 HMS_LIMIT_DOWNLOAD|QS_CondClientEventLimitCount $download HMS_LIMIT_DOWNLOAD|" \
		-e "s|^# hms_api_exempt\$|$exempt|" \
		-e "s|LimitRequestBody 10551296|LimitRequestBody $((MAX_UPLOAD + 65536))|" \
		-e "s|Content-Length') -gt 10551296|Content-Length') -gt $((MAX_UPLOAD + 65536))|" \
		"$ROOT/deploy/apache/hms.conf" >"$APA/hms-site.conf"
	local plain="" bench=""
	if [ -n "$HTTP_PORT" ]; then
		# A plain-HTTP listener for benchmarks: the same site without TLS.
		plain="Listen 127.0.0.1:$HTTP_PORT"
		awk -v port="$HTTP_PORT" '
			/^<VirtualHost 127\.0\.0\.1:/ { on = 1; print "<VirtualHost 127.0.0.1:" port ">"; next }
			on && /^\tSSL|^\tProtocols/ { next }
			on { print }
			on && /^<\/VirtualHost>/ { on = 0 }' "$APA/hms-site.conf" >>"$APA/hms-site.conf.plain"
		cat "$APA/hms-site.conf.plain" >>"$APA/hms-site.conf"
		rm -f "$APA/hms-site.conf.plain"
	fi
	if [ -n "${HMS_BENCH_PORT:-}" ]; then
		# Reference point for benchmarks, in the same Apache: the
		# attachment directory served as static files.
		bench="Listen 127.0.0.1:$HMS_BENCH_PORT
<VirtualHost 127.0.0.1:$HMS_BENCH_PORT>
	Alias /files/ $(apache_quote "$ATTACH/")
	<Directory $(apache_quote "$ATTACH/")>
		Require all granted
	</Directory>
</VirtualHost>"
	fi
	cat >"$APA/httpd.conf" <<CONF
# Generated by deploy/stack.sh; the site is deploy/apache/hms.conf.
ServerRoot $(apache_quote "$APA")
DefaultRuntimeDir $(apache_quote "$APA/run")
PidFile $(apache_quote "$APA/httpd.pid")
ServerName localhost
$user_lines
ErrorLog $(apache_quote "$APA/logs/error.log")
LogLevel warn
$pcre_line
LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
LoadModule alias_module $APACHE_MODULES/mod_alias.so
LoadModule dir_module $APACHE_MODULES/mod_dir.so
LoadModule mime_module $APACHE_MODULES/mod_mime.so
LoadModule headers_module $APACHE_MODULES/mod_headers.so
LoadModule setenvif_module $APACHE_MODULES/mod_setenvif.so
LoadModule unique_id_module $APACHE_MODULES/mod_unique_id.so
LoadModule reqtimeout_module $APACHE_MODULES/mod_reqtimeout.so
LoadModule socache_shmcb_module $APACHE_MODULES/mod_socache_shmcb.so
LoadModule ssl_module $APACHE_MODULES/mod_ssl.so
LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $APACHE_MODULES/mod_proxy_fcgi.so
LoadModule xsendfile_module $APACHE_MODULES/mod_xsendfile.so
LoadModule qos_module $APACHE_MODULES/mod_qos.so
# mod_qos's shared memory and semaphores: this stack's own (not /var/tmp).
QS_SemMemFile $(apache_quote "$APA/run/")
StartServers 2
ServerLimit ${HMS_APACHE_PROCESSES:-4}
ThreadsPerChild 32
MaxRequestWorkers $((${HMS_APACHE_PROCESSES:-4} * 32))
KeepAliveTimeout 5
MaxKeepAliveRequests 100000
EnableSendfile On
# This server types nothing by file extension (the site types the docs page).
TypesConfig /dev/null
SSLSessionCache $(apache_quote "shmcb:$APA/run/ssl_scache(512000)")
SSLSessionCacheTimeout 86400
<Directory />
	Require all denied
	AllowOverride None
	Options None
</Directory>
Listen 127.0.0.1:$HTTPS_PORT
$plain
Include $(apache_quote "$APA/hms-site.conf")
$bench
CONF
	apache2 -t -f "$APA/httpd.conf" >"$APA/logs/config-test.log" 2>&1 || {
		cat "$APA/logs/config-test.log" >&2
		die "the generated Apache configuration is invalid"
	}
}

apache_start() {
	if pid_alive "$APA/httpd.pid"; then
		apache2 -f "$APA/httpd.conf" -k graceful
		sleep 0.5
		return 0
	fi
	port_in_use "$HTTPS_PORT" && die "port $HTTPS_PORT is in use; set HMS_HTTPS_PORT"
	apache2 -f "$APA/httpd.conf" -k start 2>>"$APA/logs/error.log" || {
		tail -n 5 "$APA/logs/error.log" >&2
		die "Apache did not start; see $APA/logs/error.log"
	}
	for _ in $(seq 1 50); do
		pid_alive "$APA/httpd.pid" && return 0
		sleep 0.1
	done
	tail -n 5 "$APA/logs/error.log" >&2
	die "Apache did not start; see $APA/logs/error.log"
}

apache_stop() { stop_pidfile "$APA/httpd.pid" TERM; }

# The web server in front: nginx, or Apache with HMS_WEB_SERVER=apache.
# stop ends whichever has a live pid file (a start may have used the other).
web_config() { if [ "$WEB_SERVER" = apache ]; then apache_config; else nginx_config; fi; }
web_start() { if [ "$WEB_SERVER" = apache ]; then apache_start; else nginx_start; fi; }
web_stop() {
	nginx_stop
	apache_stop
}

# --- the whole stack -----------------------------------------------------------

wait_health() {
	local url="https://127.0.0.1:$HTTPS_PORT/api/health/"
	for _ in $(seq 1 300); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$STATE/tls/hms.crt" \
			--resolve "localhost:$HTTPS_PORT:127.0.0.1" --max-time 2 \
			"https://localhost:$HTTPS_PORT/api/health/")" = 200 ]; then
			return 0
		fi
		if ! any_host_alive; then
			tail -n 20 "$(host_log 1)" >&2 || true
			die "hms exited during start-up"
		fi
		sleep 0.2
	done
	die "no healthy answer from $url after 60 s; see $(host_log 1)"
}

create_first_admin() {
	# Only when there is no admin yet: the password from HMS_ADMIN_PASSWORD,
	# else generated and printed once.
	"$BIN/hmsctl" --config "$STATE/hms.conf" create-admin --if-none --generate-password \
		--username "${HMS_ADMIN_USERNAME:-admin}" </dev/null >"$STATE/log/admin.log" 2>&1 || {
		cat "$STATE/log/admin.log" >&2
		die "could not create the first admin account"
	}
	grep -q 'nothing to do' "$STATE/log/admin.log" || sed 's/^/stack: /' "$STATE/log/admin.log" >&2
}

bring_up() {
	[ -x "$BIN/hms" ] || die "$BIN/hms is not built (run make)"
	mkdir -p "$STATE/log"
	prepare_runtime
	local_db && pg_start
	write_config
	hms_migrate
	create_first_admin
	web_config
	hms_start_all "${1:-}"
	if [ "$APP_HOSTS" -ge 2 ]; then
		local k
		for k in $(seq 1 "$APP_HOSTS"); do wait_host_listening "$k"; done
		say "$APP_HOSTS application hosts on $(host_addr 1)..$(host_addr "$APP_HOSTS") port $APP_PORT (state in $STATE/host1..$APP_HOSTS)"
	fi
	web_start
	wait_health
}

stop_all() {
	hms_stop_all
	web_stop
	local_db && pg_stop
	return 0
}

case "${1:-}" in
run)
	any_host_alive && die "the stack is already running in the background (make stop first)"
	# Ctrl-C stops what this run started; a PostgreSQL that was already
	# running (another user of the same cluster) is left alone.
	stop_run() {
		hms_stop_all
		web_stop
		if [ "$PG_STARTED_HERE" = 1 ]; then pg_stop; fi
	}
	trap 'echo; say "stopping"; stop_run; exit 0' INT TERM
	bring_up foreground
	say "HMS is up: https://localhost:$HTTPS_PORT/api/health/ (Ctrl-C stops it)"
	while any_host_alive; do
		sleep 1 &
		wait $! || true
	done
	say "hms exited"
	stop_run
	;;
start)
	bring_up
	say "HMS is up: https://localhost:$HTTPS_PORT/api/health/ (make stop ends it)"
	;;
stop) stop_all ;;
pg-start)
	prepare_runtime
	pg_start
	;;
pg-stop) pg_stop ;;
host-stop | host-start)
	case ${2:-} in [1-9] | 1[0-6]) ;; *) die "usage: $0 $1 K (1 to HMS_APP_HOSTS)" ;; esac
	if [ "$APP_HOSTS" -lt 2 ] || [ "$2" -gt "$APP_HOSTS" ]; then
		die "host $2: set HMS_APP_HOSTS (2 or more) as at start"
	fi
	if [ "$1" = host-stop ]; then
		hms_stop "$(host_pidfile "$2")"
	else
		[ -f "$(host_conf "$2")" ] || die "host $2 has no configuration (start the stack first)"
		app_port
		hms_start background "$2"
		wait_host_listening "$2"
	fi
	;;
status)
	if [ -z "$(all_host_pidfiles)" ]; then echo "hms: stopped"; fi
	while read -r f; do
		name=hms
		if [ "$f" != "$STATE/run/hms.pid" ]; then
			name=${f%/run/hms.pid}
			name="hms host ${name##*/host}"
		fi
		pid_alive "$f" && echo "$name: running (pid $(cat "$f"))" || echo "$name: stopped"
	done < <(all_host_pidfiles)
	pid_alive "$NGX/nginx.pid" && echo "nginx: running" || echo "nginx: stopped"
	pid_alive "$APA/httpd.pid" && echo "apache: running"
	local_db && { pg_running && echo "postgresql: running" || echo "postgresql: stopped"; }
	echo "state: $STATE"
	[ "$RT" = "$STATE" ] || echo "cluster, sockets, attachments: $RT"
	;;
*)
	echo "usage: $0 run|start|stop|status|pg-start|pg-stop|host-stop K|host-start K" >&2
	exit 2
	;;
esac
