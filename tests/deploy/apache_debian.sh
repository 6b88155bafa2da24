#!/usr/bin/env bash
# apache_debian.sh - deploy/apache/hms.conf as docs/deploy.md installs it:
# in a copy of this machine's Debian /etc/apache2 (its default modules and
# confs: deflate, status, alias with /icons/, the other-vhosts access log,
# security.conf), the modules enabled with a2enmod as the document says
# (with its Debian 12 mod_qos fix where needed), Debian's default site off,
# the site with every prod-only line kept (the port-80 redirect, OCSP
# stapling, the DH parameters), started with Debian's own apache2ctl
# reading a private envvars. Then the web-tier suites run through it
# against the apache stage's hms, and what only this layout can get wrong
# is checked: nothing logged in Debian's own access logs, Debian's
# /icons/ and /server-status not served, no compression.
#
# Run by tests/run.sh's apache stage while its stack runs (HMS_TEST_* set,
# web_server = apache): it takes the place of the stack's Apache, on the
# same port (stopping it; the stage restarts the stack afterwards). The
# copy lives in $HMS_TEST_STATE/apache-debian, so that the suites' log
# checks see its logs too. Stopped by PID.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
NAME=apache-debian
STATE=$HMS_TEST_STATE
CONF=$STATE/apache-debian
P80=$(free_port)
# The stack's own port: download URLs name the public origin. The stack's
# Apache gives way to this one (stopped by its pid; the stage restarts the
# stack after).
P443=${HMS_TEST_BASE_URL##*:}
CA=$HMS_TEST_CA
if [ -f "$STATE/apache/httpd.pid" ]; then
	stack_apache=$(cat "$STATE/apache/httpd.pid")
	kill -TERM "$stack_apache" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$stack_apache" 2>/dev/null || break
		sleep 0.1
	done
fi
cleanup() {
	[ -f "$CONF/run/apache2.pid" ] && kill "$(cat "$CONF/run/apache2.pid")" 2>/dev/null
	return 0
}
trap cleanup EXIT

rm -rf "$CONF"
cp -a /etc/apache2 "$CONF"
mkdir -p "$CONF/run" "$CONF/lock" "$CONF/log/site"
chmod 755 "$CONF"
[ "$(id -u)" -eq 0 ] && chown www-data "$CONF/run" "$CONF/lock"
# Debian's envvars, with every place of its own here.
cat >"$CONF/envvars" <<VARS
unset HOME
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=$CONF/run/apache2.pid
export APACHE_RUN_DIR=$CONF/run
export APACHE_LOCK_DIR=$CONF/lock
export APACHE_LOG_DIR=$CONF/log
export LANG=C
VARS
export APACHE_CONFDIR=$CONF
printf 'Listen 127.0.0.1:%s\n<IfModule ssl_module>\n\tListen 127.0.0.1:%s\n</IfModule>\n' \
	"$P80" "$P443" >"$CONF/ports.conf"

# The modules, as docs/deploy.md says (and its Debian 12 fix: bookworm's
# mod_qos needs the old PCRE loaded first).
if [ -e /usr/lib/x86_64-linux-gnu/libpcre.so.3 ] &&
	! ldd /usr/lib/apache2/modules/mod_qos.so | grep -q 'libpcre\.so\.3'; then
	echo 'LoadFile /usr/lib/x86_64-linux-gnu/libpcre.so.3' >"$CONF/mods-available/pcre3.load"
	a2enmod -q pcre3 >>"$CONF/log/a2.log" 2>&1
fi
a2enmod -q ssl headers setenvif unique_id reqtimeout proxy proxy_fcgi xsendfile qos \
	>>"$CONF/log/a2.log" 2>&1
a2dissite -q 000-default >>"$CONF/log/a2.log" 2>&1

# The site as shipped, its paths and ports this stack's; the limits on
# logins as the test stack has them (its suites log in in parallel from
# loopback), and loopback exempt from /api/'s, as tests/run.sh does.
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$CONF/ffdhe2048.pem" 2>/dev/null
RT=$(sed -n 's|^attachment_dir = \(.*\)/attachments$|\1|p' "$STATE/hms.conf")
SOCK=$(sed -n 's|^socket_path = ||p' "$STATE/hms.conf")
sed -e "s|<VirtualHost \*:80>|<VirtualHost *:$P80>|" -e "s|<VirtualHost \*:443>|<VirtualHost *:$P443>|" \
	-e "s|ServerName hms.example.org|ServerName localhost|" \
	-e "s|Redirect permanent / https://hms.example.org/|Redirect permanent / https://localhost:$P443/|" \
	-e "s|/etc/ssl/hms/ffdhe2048.pem|$CONF/ffdhe2048.pem|" -e "s|/etc/ssl/hms/hms|$STATE/tls/hms|g" \
	-e "s|unix:/run/hms/hms.sock|unix:$SOCK|g" \
	-e "s|XSendFilePath /var/lib/hms/attachments|XSendFilePath $RT/attachments|" \
	-e "s|/usr/local/share/hms/docs-ui/|$RT/docs-ui/|g" \
	-e "s|/usr/local/share/hms/deploy/apache/errors/|$RT/apache/errors/|g" \
	-e "s|/var/log/apache2/hms-|$CONF/log/site/|g" \
	-e "s|QS_CondClientEventLimitCount 15 60 HMS_LIMIT_TOKEN|QS_CondClientEventLimitCount 32767 60 HMS_LIMIT_TOKEN|" \
	-e "s|QS_CondClientEventLimitCount 9 60 HMS_LIMIT_PASSWORD|QS_CondClientEventLimitCount 32767 60 HMS_LIMIT_PASSWORD|" \
	-e "s|^# hms_api_exempt\$|SetEnvIfExpr \"-R '127.0.0.1'\" !HMS_LIMIT_API|" \
	"$ROOT/deploy/apache/hms.conf" >"$CONF/sites-available/hms.conf"
a2ensite -q hms >>"$CONF/log/a2.log" 2>&1
check "apache2ctl configtest passes with the modules of docs/deploy.md" \
	bash -c 'apache2ctl configtest >"$1" 2>&1 || { cat "$1"; false; }' _ "$CONF/log/configtest.log"
if ! apache2ctl start >>"$CONF/log/start.log" 2>&1; then
	cat "$CONF/log/start.log"
	tail -n 20 "$CONF/log/error.log" "$CONF/log/site/error.log" 2>/dev/null
	fail "Debian's apache2ctl starts the site"
	finish_checks 1
fi
for _ in $(seq 1 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$P443") 2>/dev/null && break
	sleep 0.1
done
ok "Debian's apache2ctl starts the site (ports $P80 and $P443)"

BASE=https://localhost:$P443
get() { curl -s --cacert "$CA" --max-time 30 "$@"; }
check "port $P80 answers 301 to https" test "$(get -o /dev/null -w '%{http_code} %{redirect_url}' \
	"http://localhost:$P80/api/health/")" = "301 https://localhost:$P443/api/health/"
check "the health check answers 200 through it" \
	test "$(get -o /dev/null -w '%{http_code}' "$BASE/api/health/")" = 200
for path in /icons/ /icons/apache_pb.png /server-status /cgi-bin/x /index.html; do
	check "Debian's $path is a 404 JSON" bash -c \
		'test "$(curl -s --cacert "$1" -w " %{http_code}" "$2")" = "{\"detail\":\"Not found.\"}
 404"' _ "$CA" "$BASE$path"
done
check "no compression, even when asked for" test -z "$(get -o /dev/null -D - -H 'Accept-Encoding: gzip, br' \
	"$BASE/api/schema/" | grep -i '^Content-Encoding')"

# The web-tier suites through this Apache.
"$HMS_TEST_ROOT/build/test/integration_tests" \
	--filter '@(attachments|limits|routing|health|request_id|decoding|patients)/*' >"$CONF/log/suites.log" 2>&1
rc=$?
# (Their counts are reported in words: the check below is what run.sh sums.)
sed -n 's/.*Tested: \([0-9]*\) | Passing: \([0-9]*\) | Failing: \([0-9]*\).*/\1 tests, \2 passed, \3 failed/p' \
	"$CONF/log/suites.log" | sed "s/^/$NAME: the suites through it: /"
check "the attachments, limits, routing, health, request id, decoding and patients suites pass through it" \
	test "$rc" = 0
[ "$rc" = 0 ] || grep -B2 -A8 'FAIL' "$CONF/log/suites.log" | head -n 60

check "nothing in Debian's other access logs (the site logs only to its own)" \
	bash -c '! grep -q -r "/api/" "$1"/log/other_vhosts_access.log "$1"/log/access.log 2>/dev/null' _ "$CONF"
check "the site's access log has JSON path lines, no query string" bash -c \
	'grep -q "\"path\":\"/api/health/\"" "$1" && ! grep -q -E "(signature|search|born_before)=" "$1"' \
	_ "$CONF/log/site/access.log"
kill "$(cat "$CONF/run/apache2.pid")" 2>/dev/null
finish_checks 0
