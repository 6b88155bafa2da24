#!/usr/bin/env bash
# multihost.sh - two application hosts behind one nginx upstream: one dies
# under load (kill -9 of its whole process tree, as if its VM died) and
# nginx moves to the other, failing only what was in flight there and
# never sending a write twice; an attachment uploaded through either host
# is downloaded through the other; throughput of one host vs two printed.
#
# Its own stack (deploy/stack.sh with HMS_APP_HOSTS=2: host A on
# 127.0.0.2, host B on 127.0.0.3, FastCGI over TCP, one shared attachment
# directory; a state directory under /tmp, free ports) and its own copy of
# the binaries (the upgrade step installs one over it). In order:
#   - both hosts listen on TCP, and a peer not on fastcgi_allowed_peers is
#     closed without an answer;
#   - mixed load (tests/deploy/load.py: POST a patient, GET it) for
#     LOAD_SECONDS; KILL_AT seconds in, host A's master, workers and sealer
#     get SIGKILL at once. Checked: 2xx again within RECOVER_LIMIT s of the
#     kill (printed), the only failures were sent before the kill and
#     answered after it, all POSTs (a GET in flight is retried on B), all
#     JSON 502s (nginx's, as when no host answers); every acknowledged
#     patient is in the database with its audit row; the client sends each
#     POST with an Idempotency-Key and again after a 502, and every patient
#     it meant to create is there exactly once;
#   - a PUT or DELETE whose connection dead host A refused went to B;
#   - A restarted takes requests again;
#   - a PUT and a DELETE in flight on A when it dies (held there by a row
#     lock) are answered 502 and never reach B: nginx does not resend a
#     write that reached a host (deploy/nginx/hms.conf, /_hms_write);
#   - B alone, under load, SIGHUP with a new binary installed: the upgrade
#     re-exec keeps the TCP socket open (no request fails); a reload that
#     would drop listen_address is refused;
#   - a file uploaded through A while only A runs is downloaded (signed
#     URL, streamed by nginx) byte for byte while only B runs, and the
#     other way round;
#   - wrk on nginx's plain-HTTP listener, GET /api/patients/{id}/ for
#     BENCH_SECONDS with one host, then with two: printed, not asserted
#     (the machine is shared and noisy).
# About a minute with a built tree. One line per check and a
# Criterion-style synthesis line; everything it started is stopped by PID
# and its directory removed, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=multihost
LOAD_SECONDS=${LOAD_SECONDS:-8}
KILL_AT=${KILL_AT:-3}
RECOVER_LIMIT=${RECOVER_LIMIT:-2}
CLIENTS=${CLIENTS:-4}
FAIL_TIMEOUT=${FAIL_TIMEOUT:-1} # nginx's fail_timeout here, seconds
# How long until nginx tries a host it left out again: fail_timeout is
# compared in whole seconds, so up to one more.
RETRY_AFTER=$((FAIL_TIMEOUT + 1)).1
BENCH_SECONDS=${BENCH_SECONDS:-3}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

# Only the variables this test sets.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^HMS_' || true)
SOURCE_BIN=${MULTIHOST_BIN_DIR:-$ROOT/build}
WORK=$(mktemp -d /tmp/hms-multihost.XXXXXX)
chmod 755 "$WORK" # the postgres user reaches its cluster under it
export HMS_BIN_DIR=$WORK/bin
export HMS_STATE_DIR=$WORK/state
export HMS_HTTPS_PORT HMS_HTTP_PORT HMS_PG_PORT
HMS_HTTPS_PORT=$(free_port)
HMS_HTTP_PORT=$(free_port)
HMS_PG_PORT=$(free_port)
export HMS_APP_HOSTS=2 HMS_WORKERS=2 HMS_NGINX_WORKERS=1 HMS_API_LIMIT_EXEMPT=127.0.0.1
export HMS_UPSTREAM_FAIL_TIMEOUT=${FAIL_TIMEOUT}s
# A request held by a row lock waits for the kill, not for this.
export HMS_STATEMENT_TIMEOUT_MS=30000
export HMS_ADMIN_PASSWORD
HMS_ADMIN_PASSWORD=$(openssl rand -hex 16)
STATE=$HMS_STATE_DIR
LOG=$WORK/out.log
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
BG=() # this script's own background jobs: load clients, curls, the locker

host_master() { cat "$STATE/host$1/run/hms.pid"; }
record_stack_pids() { record_pids "$STATE"/host*/run/hms.pid "$STATE/nginx/nginx.pid" "$STATE/pg/data/postmaster.pid"; }

cleanup() {
	local rc=$? p
	set +e
	for p in "${BG[@]}"; do pid_running "$p" && kill -KILL "$p" 2>/dev/null; done
	timeout 60 "$ROOT/deploy/stack.sh" stop >>"$LOG" 2>&1
	kill_recorded
	show_logs_if_failed "$rc" "$LOG" "$STATE"/host*/log/hms.log "$STATE/nginx/logs/error.log"
	rm -rf "$WORK"
	finish_checks "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_begin=$(date +%s)
[ -x "$SOURCE_BIN/hms" ] || make -C "$ROOT" --no-print-directory all >>"$LOG" 2>&1
mkdir -p "$HMS_BIN_DIR"
cp "$SOURCE_BIN/hms" "$SOURCE_BIN/hmsctl" "$HMS_BIN_DIR/"

stack() { "$ROOT/deploy/stack.sh" "$@" >>"$LOG" 2>&1; }
# After a host has failed and come back: nginx tries it again once its
# fail_timeout has passed, with one request at a time until one succeeds
# (while that one runs, a request finding the other host down too gets
# "no live upstreams"). Sequential requests clear that state.
settle() {
	sleep "$RETRY_AFTER"
	for _ in 1 2 3 4; do
		curl -s --cacert "$CA" --max-time 5 -o /dev/null "$base/api/health/" || true
	done
}
host_start() {
	stack host-start "$1"
	record_stack_pids
}
# SIGKILL to a host's master, workers and sealer at once (its VM died);
# returns once all are gone.
kill_host() {
	local pids
	mapfile -t pids < <(tree_pids "$(host_master "$1")")
	kill -KILL "${pids[@]}" 2>/dev/null || true
	for _ in $(seq 1 50); do
		for p in "${pids[@]}"; do pid_running "$p" && continue 2; done
		KILLED=${#pids[@]}
		return 0
	done
	return 1
}

# --- the stack: two hosts on TCP -------------------------------------------------
stack start || {
	record_stack_pids
	fail "the stack starts with HMS_APP_HOSTS=2"
	exit 1
}
record_stack_pids
APP_PORT=$(cat "$STATE/app-port")
A=127.0.0.2:$APP_PORT
B=127.0.0.3:$APP_PORT
ok "the stack starts with two application hosts: A on $A, B on $B (state in $STATE)"
listening() { # ADDR PORT
	ss -Htln "src $1 and sport = :$2" | grep -q LISTEN
}
if grep -q "\"socket\":\"$A\",\"transport\":\"tcp\",\"instance\":\"host1\"" "$STATE/host1/log/hms.log" &&
	grep -q "\"socket\":\"$B\",\"transport\":\"tcp\",\"instance\":\"host2\"" "$STATE/host2/log/hms.log" &&
	listening 127.0.0.2 "$APP_PORT" && listening 127.0.0.3 "$APP_PORT"; then
	ok "each host's own master listens on TCP (listen_address), with its own instance_name"
else
	fail "each host's own master listens on TCP (listen_address), with its own instance_name"
fi
# A FastCGI BEGIN_REQUEST from an address nginx does not use.
stranger=$(python3 - "$APP_PORT" <<'PY'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.9", 0))
s.settimeout(5)
s.connect(("127.0.0.2", int(sys.argv[1])))
try:
    s.sendall(bytes([1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]) + bytes([1, 4, 0, 1, 0, 0, 0, 0]))
    print(len(s.recv(100)))
except ConnectionResetError:  # closed with our bytes unread
    print(0)
PY
) || stranger=error
if [ "$stranger" = 0 ] && grep -q '"event":"fastcgi_peer_refused","peer":"127.0.0.9:' "$STATE/host1/log/hms.log"; then
	ok "a FastCGI client at 127.0.0.9 (not in fastcgi_allowed_peers) is closed without an answer, and logged"
else
	fail "a FastCGI client at 127.0.0.9 is closed without an answer, and logged (read $stranger bytes)"
fi

base="https://127.0.0.1:$HMS_HTTPS_PORT"
CA=$STATE/tls/hms.crt
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
login() {
	curl -s --cacert "$CA" --max-time 10 -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"password\":\"$2\"}" "$base/api/auth/token/" | json_field access
}
token=$(login admin "$HMS_ADMIN_PASSWORD") || {
	fail "the admin logs in"
	exit 1
}
ACCESS=$STATE/nginx/logs/access.log
ERRLOG=$STATE/nginx/logs/error.log
# The upstream_addr of the access log's line for request id ID.
upstream_of() {
	grep -F "\"request_id\":\"$1\"" "$ACCESS" | sed -n 's/.*"upstream_addr":"\([^"]*\)".*/\1/p' | tail -n 1
}
psql_hms() { # SQL on stdin
	as_pg "$PGBIN/psql" -h "$STATE/pg/run" -p "$HMS_PG_PORT" -U postgres -d hms -XqAt -v ON_ERROR_STOP=1
}

# --- load, and host A dies -------------------------------------------------------
access_before=$(wc -l <"$ACCESS")
python3 "$ROOT/tests/deploy/load.py" run --port "$HMS_HTTPS_PORT" --ca "$CA" --token "$token" \
	--seconds "$LOAD_SECONDS" --clients "$CLIENTS" --mix mixed --idempotent --out "$WORK/answers" &
CLIENT_PID=$!
BG+=("$CLIENT_PID")
sleep "$KILL_AT"
t_kill=$(date +%s.%N)
kill_host 1 && killed=1 || killed=0
t_killed=$(date +%s.%N)
wait "$CLIENT_PID" || fail "the load client exits cleanly"
if [ "$killed" = 1 ]; then
	ok "host A's whole tree ($KILLED processes: master, workers, sealer) killed with SIGKILL $KILL_AT s into the load"
else
	fail "host A's whole tree killed with SIGKILL"
fi
declare -A fig
while IFS='=' read -r key value; do fig[$key]=$value; done < <(
	python3 "$ROOT/tests/deploy/load.py" report "$WORK/answers" --fault "$t_kill" \
		--healed "$t_killed" --acked-ids "$WORK/acked")
n_acked=${fig[acked]}
# What nginx saw of A (its access log: the error log names no request):
# requests A failed after the kill, by method, and where they went next.
tail -n +"$((access_before + 1))" "$ACCESS" | grep -F "\"upstream_addr\":\"$A" |
	grep -E '"upstream_status":"50[24]' >"$WORK/failed-on-a" || true
failed_on_a=$(python3 -c '
import json, sys
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = "%s %s" % (r["method"], "resent" if "," in r["upstream_addr"] or " : " in r["upstream_addr"] else "not resent")
    seen[key] = seen.get(key, 0) + 1
print(", ".join("%s: %d" % kv for kv in sorted(seen.items())) or "none")' "$WORK/failed-on-a")
echo "$NAME: ${fig[answers]} answers, $n_acked 2xx (${fig[acked_before]} before the kill, ${fig[acked_after]} to requests sent after it); failed: ${fig[failed]} (POST ${fig[failed_posts]}, GET ${fig[failed_gets]}; statuses ${fig[failed_statuses]})"
echo "$NAME: nginx: requests A failed from the kill on (cut, or refused), by method: $failed_on_a"
echo "$NAME: recovery: first 2xx to a request sent after the kill ${fig[recover_s]} s after it; longest time without a 2xx ${fig[gap_s]} s"
if [ "${fig[acked_after]}" -gt 0 ] && [ "${fig[recover_s]}" != -1 ] &&
	python3 -c "import sys; sys.exit(not ${fig[recover_s]} <= $RECOVER_LIMIT)"; then
	ok "nginx moved to host B: 2xx again ${fig[recover_s]} s after the kill (limit $RECOVER_LIMIT s), ${fig[acked_after]} after it"
else
	fail "nginx moved to host B within $RECOVER_LIMIT s (first 2xx: ${fig[recover_s]} s, ${fig[acked_after]} after the kill)"
fi
check "the only failures were in flight at the kill: sent before it, answered after (${fig[failed]}; outside: ${fig[failed_outside]})" \
	[ "${fig[failed_outside]}" = 0 ]
check "no GET failed: a GET cut by the kill went on to B (POSTs failed: ${fig[failed_posts]})" \
	[ "${fig[failed_gets]}" = 0 ]
if [ "${fig[nonjson]}" = 0 ] && [[ ${fig[failed_statuses]} =~ ^(-|502:[0-9]+)$ ]]; then
	ok "every failure was nginx's JSON 502 (${fig[failed_statuses]})"
else
	fail "every failure was nginx's JSON 502 (got ${fig[failed_statuses]}, ${fig[nonjson]} not JSON)"
fi
ids=$(cat "$WORK/acked")
rows=$(echo "SELECT count(*) FROM patients WHERE id = ANY('{$ids}'::bigint[])" | psql_hms)
audits=$(echo "SELECT count(DISTINCT entity_id) FROM audit_log WHERE action = 'create'
	AND entity_type = 'patient' AND entity_id = ANY('{$ids}'::bigint[])" | psql_hms)
acked_creates=$(tr ',' '\n' <"$WORK/acked" | grep -c . || true)
extra=$(echo "SELECT count(*) FROM patients WHERE last_name LIKE 'Fault%'
	AND NOT (id = ANY('{$ids}'::bigint[]))" | psql_hms)
if [ "$acked_creates" -gt 0 ] && [ "$rows" = "$acked_creates" ] && [ "$audits" = "$acked_creates" ]; then
	ok "every acknowledged create is in the database with its audit row ($rows and $audits of $acked_creates; $extra more rows from POSTs answered 502)"
else
	fail "every acknowledged create is in the database with its audit row ($rows rows, $audits audit rows of $acked_creates)"
fi
# The client sent each create with an Idempotency-Key and sent it again,
# same key and body, after a 502: every create it meant is there once.
read -r meant retried replayed < <(python3 -c '
import sys
posts = [l.split() for l in open(sys.argv[1]) if l.split()[2] == "POST"]
meant = {p[5].split(".")[0] for p in posts}
print(len(meant), sum(1 for p in posts if "." in p[5]), sum(1 for p in posts if "P" in p[6]))' "$WORK/answers")
twice=$(echo "SELECT count(*) - count(DISTINCT (first_name, last_name)) FROM patients
	WHERE last_name LIKE 'Fault%'" | psql_hms)
if [ "$meant" = "$acked_creates" ] && [ "$extra" = 0 ] && [ "$twice" = 0 ]; then
	ok "with an Idempotency-Key and a retry after each 502, every create the client meant is in the database exactly once ($meant; $retried sent again, $replayed answered as replays)"
else
	fail "every create the client meant is in the database exactly once (meant $meant, acknowledged $acked_creates, rows not acknowledged $extra, duplicates $twice)"
fi
IFS=, read -r -a acked_ids <"$WORK/acked" || true

# --- writes that host A refused go to B ---------------------------------------------
# A is still dead. Once nginx tries it again (fail_timeout), one of the
# next few requests goes to A first: round robin, with a weight that nginx
# lowered when A failed and raises again request by request.
sleep "$RETRY_AFTER"
patient='{"first_name":"Moved","last_name":"Fault0","date_of_birth":"1980-01-01","gender":"female"}'
refused_write=""
statuses=""
for i in 0 1 2 3 4 5 6 7 8 9; do
	if [ $((i % 2)) = 0 ]; then
		method=PUT body=(-H 'Content-Type: application/json' -d "$patient") want=200
	else
		method=DELETE body=() want=204
	fi
	got=$(curl -s --cacert "$CA" --max-time 30 -X "$method" -H "Authorization: Bearer $token" \
		-H "X-Request-ID: multihost-refused-$i" "${body[@]}" -o /dev/null -w '%{http_code}' \
		"$base/api/patients/${acked_ids[i]}/")
	statuses="$statuses $method:$got"
	[ "$got" = "$want" ] || break
	if [ "$(upstream_of "multihost-refused-$i")" = "$A : $B" ]; then
		refused_write="$method (via '$A : $B')"
		break
	fi
done
if [ -n "$refused_write" ] && [ "$got" = "$want" ]; then
	ok "a write whose connection dead host A refused was sent to B: $refused_write; answers:$statuses"
else
	fail "a write whose connection dead host A refused was sent to B (answers:$statuses)"
fi

# --- A comes back ----------------------------------------------------------------
t_restart=$(date +%s.%N)
host_start 1
served_by_a() { grep -c "\"upstream_addr\":\"$A\"," "$ACCESS" || true; }
before=$(served_by_a)
back=none
for _ in $(seq 1 $((FAIL_TIMEOUT * 10 + 50))); do
	curl -s --cacert "$CA" --max-time 5 -o /dev/null "$base/api/health/"
	if [ "$(served_by_a)" -gt "$before" ]; then
		back=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $t_restart))")
		break
	fi
	sleep 0.1
done
check "host A, restarted, takes requests again ($back s after host-start; nginx's fail_timeout is $FAIL_TIMEOUT s)" \
	[ "$back" != none ]

# --- a write in flight on a host that dies is not resent ------------------------------
# B is stopped, so both requests go to A; a row lock holds them there.
# B is started again and nginx waits for it (fail_timeout), then A dies:
# nginx could send both to B, and must not.
stack host-stop 2
victim=${acked_ids[10]}
version_before=$(echo "SELECT version FROM patients WHERE id = $victim" | psql_hms)
writes_before=$(echo "SELECT count(*) FROM audit_log WHERE entity_type = 'patient'
	AND entity_id = $victim AND action IN ('update', 'delete')" | psql_hms)
echo "BEGIN; SELECT id FROM patients WHERE id = $victim FOR UPDATE; SELECT pg_sleep(60);" |
	as_pg "$PGBIN/psql" -h "$STATE/pg/run" -p "$HMS_PG_PORT" -U postgres -XqAt \
		-d "dbname=hms application_name=multihost-lock" >/dev/null 2>&1 &
BG+=($!)
for _ in $(seq 1 50); do # until the row is locked
	[ "$(echo "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'multihost-lock'
		AND query LIKE '%pg_sleep%'" | psql_hms)" = 1 ] && break
	sleep 0.1
done
curl -s --cacert "$CA" --max-time 30 -X PUT -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' -H 'X-Request-ID: multihost-put-inflight' -d "$patient" \
	-o "$WORK/put.body" -w '%{http_code}' "$base/api/patients/$victim/" >"$WORK/put.status" &
BG+=($!)
PUT_PID=$!
curl -s --cacert "$CA" --max-time 30 -X DELETE -H "Authorization: Bearer $token" \
	-H 'X-Request-ID: multihost-delete-inflight' \
	-o "$WORK/delete.body" -w '%{http_code}' "$base/api/patients/$victim/" >"$WORK/delete.status" &
BG+=($!)
DELETE_PID=$!
waiting=0
for _ in $(seq 1 100); do
	waiting=$(echo "SELECT count(*) FROM pg_stat_activity WHERE usename = 'hms_app'
		AND wait_event_type = 'Lock'" | psql_hms)
	[ "$waiting" -ge 2 ] && break
	sleep 0.1
done
host_start 2
sleep "$RETRY_AFTER"
t_kill2=$(date +%s.%N)
kill_host 1 || fail "host A's tree killed again"
wait "$PUT_PID" "$DELETE_PID" || true
answered=$(python3 -c "print('%.2f' % ($(date +%s.%N) - $t_kill2))")
# Release the lock; the dead worker's transactions roll back.
echo "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'multihost-lock'" |
	psql_hms >/dev/null
for _ in $(seq 1 50); do
	[ "$(echo "SELECT count(*) FROM pg_stat_activity WHERE usename = 'hms_app'
		AND wait_event_type = 'Lock'" | psql_hms)" = 0 ] && break
	sleep 0.1
done
version_after=$(echo "SELECT version || ' ' || is_deleted FROM patients WHERE id = $victim" | psql_hms)
writes_after=$(echo "SELECT count(*) FROM audit_log WHERE entity_type = 'patient'
	AND entity_id = $victim AND action IN ('update', 'delete')" | psql_hms)
put_up=$(upstream_of multihost-put-inflight)
del_up=$(upstream_of multihost-delete-inflight)
json502() { [ "$(cat "$WORK/$1.status")" = 502 ] && python3 -c 'import json, sys; json.load(open(sys.argv[1]))["detail"]' "$WORK/$1.body"; }
# Each went to A (after B refused it, while B was stopped) and no further.
if [ "$waiting" -ge 2 ] && json502 put && json502 delete &&
	[ "${put_up##*: }" = "$A" ] && [ "${del_up##*: }" = "$A" ]; then
	ok "a PUT and a DELETE held on A when it died were answered a JSON 502 ${answered} s later and not resent (PUT via '$put_up', DELETE via '$del_up')"
else
	fail "a PUT and a DELETE held on A when it died: 502 and not resent (waiting $waiting; PUT $(cat "$WORK/put.status") via '$put_up', DELETE $(cat "$WORK/delete.status") via '$del_up')"
fi
if [ "$version_after" = "$version_before false" ] && [ "$writes_after" = "$writes_before" ]; then
	ok "and neither was applied anywhere (version and is_deleted '$version_after', audited writes $writes_after)"
else
	fail "and neither was applied anywhere (version $version_before -> '$version_after'; audited writes $writes_before -> $writes_after)"
fi

# --- B alone: an upgrade (SIGHUP with a new binary) keeps the TCP socket ----------------
settle
master_b=$(host_master 2)
python3 "$ROOT/tests/deploy/load.py" run --port "$HMS_HTTPS_PORT" --ca "$CA" --token "$token" \
	--seconds 4 --clients 2 --mix mixed --out "$WORK/answers-upgrade" &
CLIENT_PID=$!
BG+=("$CLIENT_PID")
sleep 1.5
cp "$HMS_BIN_DIR/hms" "$HMS_BIN_DIR/hms.new"
mv -f "$HMS_BIN_DIR/hms.new" "$HMS_BIN_DIR/hms"
kill -HUP "$master_b"
wait "$CLIENT_PID" || fail "the load client exits cleanly"
record_stack_pids
declare -A upg
while IFS='=' read -r key value; do upg[$key]=$value; done < <(
	python3 "$ROOT/tests/deploy/load.py" report "$WORK/answers-upgrade" --fault 0)
if grep -q '"event":"upgraded"' "$STATE/host2/log/hms.log" && [ "$(host_master 2)" = "$master_b" ] &&
	pid_running "$master_b" && [ "${upg[failed]}" = 0 ] && [ "${upg[acked]}" -gt 0 ]; then
	ok "host B alone under load: SIGHUP with a new binary installed re-execs the master (same pid), the TCP socket stays open: ${upg[acked]} of ${upg[answers]} requests 2xx"
else
	fail "host B alone under load, upgraded by SIGHUP: ${upg[failed]} of ${upg[answers]} failed (${upg[failed_statuses]})"
fi
# A reload that would move B from TCP to the unix socket is refused: the
# open socket and the running workers stay.
conf_b=$STATE/host2/hms.conf
cp "$conf_b" "$WORK/host2.conf"
sed -i '/^listen_address/d' "$conf_b"
kill -HUP "$master_b"
refused_reload=0
for _ in $(seq 1 30); do
	grep -q '"event":"reload_failed","reason":"listen_address was removed' "$STATE/host2/log/hms.log" &&
		refused_reload=1 && break
	sleep 0.1
done
cp "$WORK/host2.conf" "$conf_b"
health=$(curl -s --cacert "$CA" --max-time 10 -o /dev/null -w '%{http_code}' "$base/api/health/")
if [ "$refused_reload" = 1 ] && [ "$health" = 200 ]; then
	ok "a reload of B without listen_address is refused (TCP to unix needs a restart); B still answers"
else
	fail "a reload of B without listen_address is refused, and B still answers (refused: $refused_reload, health $health)"
fi
host_start 1

# --- one attachment directory: uploaded through one host, downloaded through the other --
nurse_password=$(openssl rand -hex 12)
reg=$(curl -s --cacert "$CA" --max-time 30 -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
	-d "{\"username\":\"nurse.multihost\",\"password\":\"$nurse_password\",
	\"email\":\"nurse@example.org\",\"first_name\":\"Nora\",\"last_name\":\"Multihost\",\"role\":\"nurse\"}" \
	"$base/api/auth/register/")
nurse=$(login nurse.multihost "$nurse_password") || nurse=""
record=$(curl -s --cacert "$CA" --max-time 30 -H "Authorization: Bearer $nurse" \
	-H 'Content-Type: application/json' -d '{"record_type":"note","title":"Scan"}' \
	"$base/api/patients/${acked_ids[11]}/records/" | json_field id) || record=""
if [ -z "$nurse" ] || [ -z "$record" ]; then
	fail "a nurse (register: $reg) writes a record to attach files to"
fi
# UP DOWN: upload through host UP alone, download through host DOWN alone.
cross_host() {
	local up=$1 down=$2 file=$WORK/scan-$1.txt id url got rid
	openssl rand -base64 150000 >"$file"
	settle
	stack host-stop "$down"
	rid=multihost-upload-$up
	id=$(curl -s --cacert "$CA" --max-time 30 -H "Authorization: Bearer $nurse" -H "X-Request-ID: $rid" \
		-F record="$record" -F file=@"$file" "$base/api/attachments/" | json_field id) || return 1
	host_start "$down"
	settle
	stack host-stop "$up"
	url=$(curl -s --cacert "$CA" --max-time 30 -H "Authorization: Bearer $nurse" \
		-H "X-Request-ID: multihost-meta-$down" "$base/api/attachments/$id/" | json_field download_url) || return 1
	got=$(curl -s --cacert "$CA" --max-time 30 --resolve "localhost:$HMS_HTTPS_PORT:127.0.0.1" \
		-H "X-Request-ID: multihost-download-$down" -o "$WORK/got-$up" -w '%{http_code}' "$url")
	host_start "$up"
	UP_VIA=$(upstream_of "$rid")
	DOWN_VIA=$(upstream_of "multihost-download-$down")
	# Served by (the last host tried being) UP, then DOWN.
	[ "$got" = 200 ] && cmp -s "$file" "$WORK/got-$up" &&
		[ "${UP_VIA##* }" = "127.0.0.$((up + 1)):$APP_PORT" ] &&
		[ "${DOWN_VIA##* }" = "127.0.0.$((down + 1)):$APP_PORT" ]
}
if cross_host 1 2; then
	ok "a file uploaded through A alone ($(wc -c <"$WORK/scan-1.txt") bytes, via '$UP_VIA') is downloaded byte for byte through B alone (signed URL via '$DOWN_VIA', streamed by nginx)"
else
	fail "a file uploaded through A alone is downloaded byte for byte through B alone (upload via '${UP_VIA:-}', download via '${DOWN_VIA:-}')"
fi
if cross_host 2 1; then
	ok "and one uploaded through B alone through A alone (upload via '$UP_VIA', download via '$DOWN_VIA')"
else
	fail "and one uploaded through B alone through A alone (upload via '${UP_VIA:-}', download via '${DOWN_VIA:-}')"
fi
leftover=$(find "$STATE/attachments" -name '.upload-*' | wc -l)
check "no temporary upload file left in the shared directory ($leftover)" [ "$leftover" = 0 ]

# --- throughput: one host, then two (printed only) -----------------------------------------
bench() { # prints "req/s non2xx"
	wrk -t2 -c16 -d"${BENCH_SECONDS}s" --timeout 5s -H "Authorization: Bearer $token" \
		"http://127.0.0.1:$HMS_HTTP_PORT/api/patients/${acked_ids[12]}/" 2>&1 |
		awk '/Requests\/sec/ {rps = $2} /Non-2xx/ {bad = $5} END {printf "%s %s\n", rps, bad + 0}'
}
if command -v wrk >/dev/null; then
	settle
	stack host-stop 2
	read -r one_rps one_bad < <(bench)
	host_start 2
	settle
	lines=$(wc -l <"$ACCESS")
	read -r two_rps two_bad < <(bench)
	share=$(tail -n +"$((lines + 1))" "$ACCESS" | grep -o '"upstream_addr":"[^"]*"' | sort | uniq -c |
		awk -v a="$A" -v b="$B" '$2 ~ a {x = $1} $2 ~ b {y = $1} END {printf "A %d, B %d", x, y}')
	echo "$NAME: throughput, wrk -t2 -c16 -d${BENCH_SECONDS}s GET /api/patients/{id}/ through nginx (plain HTTP), $HMS_WORKERS workers per host, $(nproc) CPUs shared by everything:"
	echo "$NAME:   one host: $one_rps req/s ($one_bad non-2xx); two hosts: $two_rps req/s ($two_bad non-2xx; requests per host: $share)"
else
	echo "$NAME: throughput not measured: wrk is not installed"
fi

# --- the logs ------------------------------------------------------------------------------
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/host*/log/*.log ||
	grep -q -E '\[(emerg|alert|crit)\]' "$ERRLOG"; then
	fail "no sanitizer report or nginx failure in the logs"
else
	ok "no sanitizer report or nginx failure in the logs"
fi
echo "$NAME: took $(($(date +%s) - t_begin)) s"
