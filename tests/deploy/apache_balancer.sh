#!/usr/bin/env bash
# apache_balancer.sh - the resend rule of deploy/apache/hms.conf's balancer
# for several application hosts (the commented <Proxy "balancer://hms_app">
# block, taken from the file as shipped): a request is never sent to a
# second host - mod_proxy_fcgi reports a refused connection and a host
# that died with the request alike, so the only safe rule is none - and a
# host that failed a request is left out, so the next requests go to the
# other.
#
# The hosts are stand-ins (tests/deploy/fcgi_fake.py) that log every
# request they received whole, by its X-Request-ID: one that answers, and
# one that is either not listening (the connection is refused) or takes
# each request and closes without answering (a host that died with it).
# Its own Apache on a free loopback port, plain HTTP; everything started is
# stopped by PID. Run by tests/run.sh's apache stage.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
NAME=apache-balancer
MODULES=/usr/lib/apache2/modules
WORK=$(mktemp -d /tmp/hms-balancer.XXXXXX)
PORT=$(free_port)
PORT_A=$(free_port)
PORT_B=$(free_port)
FAKES=()
cleanup() {
	local p
	for p in "${FAKES[@]}"; do kill "$p" 2>/dev/null; done
	[ -f "$WORK/httpd.pid" ] && kill "$(cat "$WORK/httpd.pid")" 2>/dev/null
	sleep 0.5
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The balancer block as the site ships it, uncommented, its two members on
# the stand-ins' ports.
sed -n '/^\t#\t<Proxy "balancer:\/\/hms_app">/,/^\t#\t<\/Proxy>/p' "$ROOT/deploy/apache/hms.conf" |
	sed -e 's/^\t#//' -e "s|fcgi://10.0.0.5:9000|fcgi://127.0.0.1:$PORT_A|" \
		-e "s|fcgi://10.0.0.6:9000|fcgi://127.0.0.1:$PORT_B|" >"$WORK/balancer.conf"
if ! grep -q "127.0.0.1:$PORT_A" "$WORK/balancer.conf" || ! grep -q "127.0.0.1:$PORT_B" "$WORK/balancer.conf"; then
	fail "the balancer block is found in deploy/apache/hms.conf"
	finish_checks 1
fi
cat >"$WORK/httpd.conf" <<CONF
ServerRoot "$WORK"
DefaultRuntimeDir "$WORK"
PidFile "$WORK/httpd.pid"
ServerName localhost
ErrorLog "$WORK/error.log"
LogLevel warn
$([ "$(id -u)" -eq 0 ] && printf 'User www-data\nGroup www-data')
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule proxy_module $MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $MODULES/mod_proxy_fcgi.so
LoadModule proxy_balancer_module $MODULES/mod_proxy_balancer.so
LoadModule lbmethod_byrequests_module $MODULES/mod_lbmethod_byrequests.so
LoadModule slotmem_shm_module $MODULES/mod_slotmem_shm.so
Listen 127.0.0.1:$PORT
Include "$WORK/balancer.conf"
<Location /api/>
	SetHandler "proxy:balancer://hms_app/"
	ProxyFCGIBackendType GENERIC
</Location>
CONF
[ "$(id -u)" -eq 0 ] && chown www-data "$WORK"

apache_up() {
	rm -f "$WORK/httpd.pid"
	apache2 -f "$WORK/httpd.conf" -k start 2>>"$WORK/error.log" || return 1
	for _ in $(seq 1 50); do
		[ -s "$WORK/httpd.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
apache_down() {
	local pid
	pid=$(cat "$WORK/httpd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$WORK/httpd.pid"
}
fake() { # PORT MODE LOG
	: >"$3"
	python3 "$ROOT/tests/deploy/fcgi_fake.py" "$@" &
	FAKES+=($!)
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# send KIND N: N requests cycling through POST, PUT, DELETE, PATCH, GET,
# each with its own id; "ID STATUS" lines in $WORK/KIND.answers.
send() {
	local methods=(POST PUT DELETE PATCH GET) i m
	: >"$WORK/$1.answers"
	for i in $(seq 1 "$2"); do
		m=${methods[$((i % 5))]}
		echo "$1-$i $(curl -s -o /dev/null --max-time 30 -X "$m" -H "X-Request-ID: $1-$i" \
			-H 'Content-Type: application/json' --data-binary '{}' -w '%{http_code}' \
			"http://127.0.0.1:$PORT/api/patients/")" >>"$WORK/$1.answers"
	done
}
ids_in() { awk '{print $2}' "$1" | sort; }

# --- the first host refuses the connection --------------------------------------
fake "$PORT_B" answer "$WORK/b.log" || fail "the answering stand-in listens"
apache_up || fail "Apache starts with the balancer block"
send refused 10
# At most the first request meets the dead host (a 503); from then on the
# balancer leaves it out.
lost=$(grep -v -c ' 200$' "$WORK/refused.answers")
check "with one host refusing connections, at most one request fails ($lost, 503) and the rest are answered 200 by the other" \
	test "$lost" -le 1 -a "$(grep -c ' 503$' "$WORK/refused.answers")" = "$lost"
check "... each received once" test "$(ids_in "$WORK/b.log" | uniq | wc -l)" = $((10 - lost)) -a \
	"$(wc -l <"$WORK/b.log")" = $((10 - lost))
apache_down

# --- the first host takes requests and dies with them ---------------------------
fake "$PORT_A" drop "$WORK/a.log" || fail "the dropping stand-in listens"
: >"$WORK/b.log"
apache_up || fail "Apache starts again"
send dropped 20
comm -12 <(ids_in "$WORK/a.log") <(ids_in "$WORK/b.log") >"$WORK/both"
check "no request reached both hosts (in A: $(wc -l <"$WORK/a.log"), in B: $(wc -l <"$WORK/b.log"))" \
	test ! -s "$WORK/both"
check "some requests reached the host that dies with them (else this proves nothing)" \
	test -s "$WORK/a.log"
# Every request that reached A was answered with a 5xx, none with a 200.
bad=$(awk 'NR == FNR {a[$2] = 1; next} ($1 in a) && $2 !~ /^5/' "$WORK/a.log" "$WORK/dropped.answers")
check "each of them got a 5xx (the client decides), never an answer from another host" test -z "$bad"
check "the others were answered 200 by the other host" \
	test "$(grep -c ' 200$' "$WORK/dropped.answers")" = "$(wc -l <"$WORK/b.log")"
apache_down
finish_checks 0
