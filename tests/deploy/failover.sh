#!/usr/bin/env bash
# failover.sh - the primary PostgreSQL dies under load and its synchronous
# standby is promoted; hms finds the new primary by itself (a two-host
# database_url with target_session_attrs=read-write, no restart) and no
# acknowledged write is lost.
#
# Its own stack (deploy/stack.sh, a state directory under /tmp, free ports),
# a standby from deploy/replica.sh, hms reloaded (SIGHUP) with the two-host
# URL; then a load client on loopback creates patients as the admin for
# LOAD_SECONDS, logging every answer and the id of every 201. In the middle
# the primary is stopped with `pg_ctl stop -m immediate` (a crash: no
# shutdown checkpoint, sessions cut) and, PROMOTE_DELAY seconds later (the
# time an operator or Patroni takes to decide), the standby is promoted.
# Checked: 2xx answers again within RECOVER_LIMIT seconds of the promotion
# (both times printed), every id acknowledged before, during and after the
# switch is a row on the new primary with its audit row (action 'create',
# entity_type 'patient'), and the answers that were not 201 were clean 503s.
# Then the old primary rejoins (replica.sh rejoin: pg_rewind) as the new
# one's synchronous standby, and a write made after that is on both; with
# that standby stopped a write waits, and is acknowledged once it is back.
#
# About 20 s with a built tree (the stack's start and the 12 s of load). Prints one
# line per check and a Criterion-style synthesis line; everything it
# started is stopped by PID and its directory removed, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=failover
LOAD_SECONDS=${LOAD_SECONDS:-12}
FAULT_AT=${FAULT_AT:-4}
PROMOTE_DELAY=${PROMOTE_DELAY:-1}
RECOVER_LIMIT=${RECOVER_LIMIT:-10}
CLIENTS=${CLIENTS:-4}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

# Only the variables this test sets: a HMS_DATABASE_URL from the caller's
# shell would point the stack elsewhere.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^HMS_' || true)
export HMS_BIN_DIR=${FAILOVER_BIN_DIR:-$ROOT/build}
export HMS_HTTPS_PORT HMS_PG_PORT HMS_STANDBY_PORT
HMS_HTTPS_PORT=$(free_port)
HMS_PG_PORT=$(free_port)
HMS_STANDBY_PORT=$(free_port)
export HMS_WORKERS=2 HMS_NGINX_WORKERS=1 HMS_API_LIMIT_EXEMPT=127.0.0.1
# pg_rewind (replica.sh rejoin) needs them on the primary from the start:
# hint-bit changes in the WAL, and the WAL back to the last checkpoint
# before the switch (the crash recovery pg_rewind runs ends with a
# checkpoint that would otherwise recycle it).
export HMS_PG_EXTRA_CONF=$'wal_log_hints = on\nwal_keep_size = 256MB'
export HMS_ADMIN_PASSWORD
HMS_ADMIN_PASSWORD=$(openssl rand -hex 16)

WORK=$(mktemp -d /tmp/hms-failover.XXXXXX)
chmod 755 "$WORK" # the postgres user reaches its clusters under it
export HMS_STATE_DIR=$WORK/state
STATE=$HMS_STATE_DIR
LOG=$WORK/out.log
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

record_stack_pids() { record_pids "$STATE/run/hms.pid" "$STATE/nginx/nginx.pid" "$STATE/pg/data/postmaster.pid" "$STATE/pg-standby/data/postmaster.pid"; }

cleanup() {
	local rc=$? p
	set +e
	[ -n "${CLIENT_PID:-}" ] && pid_running "$CLIENT_PID" && kill -KILL "$CLIENT_PID" 2>/dev/null
	[ -n "${WAITER:-}" ] && pid_running "$WAITER" && kill -KILL "$WAITER" 2>/dev/null
	timeout 60 "$ROOT/deploy/stack.sh" stop >>"$LOG" 2>&1
	timeout 60 "$ROOT/deploy/replica.sh" stop >>"$LOG" 2>&1
	kill_recorded
	show_logs_if_failed "$rc" "$LOG" "$STATE"/log/*.log "$STATE/pg/postgres.log" "$STATE/pg-standby/standby.log"
	rm -rf "$WORK"
	finish_checks "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_begin=$(date +%s)

# --- the stack, its standby, hms on both hosts ----------------------------------
start_stack
ok "the stack starts (state in $STATE)"
if "$ROOT/deploy/replica.sh" start >>"$LOG" 2>&1; then
	record_stack_pids
	ok "replica.sh makes a standby (pg_basebackup -R) the primary waits for at every commit"
else
	record_stack_pids
	fail "replica.sh makes a standby (pg_basebackup -R) the primary waits for at every commit"
	exit 1
fi
psql_on() { # PORT SOCKETDIR: SQL on stdin, in the hms database
	as_pg "$PGBIN/psql" -h "$2" -p "$1" -U postgres -d hms -XqAt -v ON_ERROR_STOP=1
}
sync=$(echo "SELECT sync_state, current_setting('synchronous_commit') FROM pg_stat_replication" |
	psql_on "$HMS_PG_PORT" "$STATE/pg/run")
if [ "$sync" = "sync|on" ]; then
	ok "pg_stat_replication: the standby is synchronous, synchronous_commit = on"
else
	fail "pg_stat_replication: the standby is synchronous, synchronous_commit = on (got '$sync')"
fi

conninfo=$("$ROOT/deploy/replica.sh" conninfo)
sed -i '/^database_url = /d' "$STATE/hms.conf"
echo "database_url = $conninfo" >>"$STATE/hms.conf"
master=$(cat "$STATE/run/hms.pid")
kill -HUP "$master"
base="https://127.0.0.1:$HMS_HTTPS_PORT"
CA=$STATE/tls/hms.crt
reloaded=0
for _ in $(seq 1 100); do
	if grep -q '"reloaded"' "$STATE/log/hms.log" &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --max-time 5 "$base/api/health/")" = 200 ]; then
		reloaded=1
		break
	fi
	sleep 0.1
done
record_stack_pids
if [ "$reloaded" = 1 ]; then
	ok "hms reloads (SIGHUP) with database_url = $conninfo"
else
	fail "hms reloads (SIGHUP) with the two-host database_url"
fi

token=$(curl -s --cacert "$CA" --max-time 10 -H 'Content-Type: application/json' \
	-d "{\"username\":\"admin\",\"password\":\"$HMS_ADMIN_PASSWORD\"}" "$base/api/auth/token/" |
	sed -n 's/.*"access" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || {
	fail "the admin logs in"
	exit 1
}

# --- load, crash, promote ----------------------------------------------------------
python3 "$ROOT/tests/deploy/load.py" run --port "$HMS_HTTPS_PORT" --ca "$CA" --token "$token" \
	--seconds "$LOAD_SECONDS" --clients "$CLIENTS" --mix create --out "$WORK/answers" &
CLIENT_PID=$!
sleep "$FAULT_AT"
as_pg "$PGBIN/pg_ctl" -D "$STATE/pg/data" -m immediate -w stop >>"$LOG" 2>&1 &&
	crashed=1 || crashed=0
t_crash=$(date +%s.%N) # the primary is gone
sleep "$PROMOTE_DELAY"
t_promote=$(date +%s.%N)
"$ROOT/deploy/replica.sh" promote >>"$LOG" 2>&1 && promoted=1 || promoted=0
t_promoted=$(date +%s.%N) # pg_ctl promote -w has seen it done
wait "$CLIENT_PID" || fail "the load client exits cleanly"
CLIENT_PID=""
if [ "$crashed" = 1 ] && [ "$promoted" = 1 ]; then
	ok "primary stopped (-m immediate) $FAULT_AT s into the load, standby promoted $PROMOTE_DELAY s later"
else
	fail "primary stopped (-m immediate) and standby promoted"
fi

# --- what the client saw, what the new primary has ------------------------------------
declare -A fig
while IFS='=' read -r key value; do fig[$key]=$value; done < <(
	python3 "$ROOT/tests/deploy/load.py" report "$WORK/answers" --fault "$t_crash" \
		--healed "$t_promoted" --acked-ids "$WORK/acked")
n_acked=${fig[acked]} n_before=${fig[acked_before]} n_after=${fig[acked_after]}
n_during=$((n_acked - n_before - n_after))
recover_crash=${fig[recover_s]}
recover_promote=$(python3 -c "r = $recover_crash; print('%.2f' % (r - ($t_promote - $t_crash)) if r >= 0 else 'none')")
echo "$NAME: ${fig[answers]} answers: $n_acked acknowledged (201: $n_before answered before the crash, $n_during answered after it but sent before the promotion was done, $n_after sent after), failed: ${fig[failed_statuses]}"
echo "$NAME: first 201 to a request sent after the crash: ${recover_crash} s after the crash, ${recover_promote} s after replica.sh promote was run (promotion took $(python3 -c "print('%.2f' % ($t_promoted - $t_promote))") s)"
if [ "$n_before" -gt 0 ] && [ "$n_after" -gt 0 ]; then
	ok "acknowledged writes before the crash ($n_before) and after the promotion ($n_after)"
else
	fail "acknowledged writes before the crash ($n_before) and after the promotion ($n_after)"
fi
if [ "$recover_promote" != none ] && python3 -c "import sys; sys.exit(not $recover_promote <= $RECOVER_LIMIT)"; then
	ok "2xx again ${recover_promote} s after the promotion began (limit $RECOVER_LIMIT s; ${recover_crash} s after the crash, $PROMOTE_DELAY s of which waiting to promote)"
else
	fail "2xx again within $RECOVER_LIMIT s of the promotion's start (took: $recover_promote)"
fi
if [[ ${fig[failed_statuses]} =~ ^(-|503:[0-9]+)$ ]]; then
	ok "every answer that was not a 2xx was a JSON 503 (no 5xx page, no dropped connection)"
else
	fail "every answer that was not a 2xx was a JSON 503 (got ${fig[failed_statuses]})"
fi
ids=$(cat "$WORK/acked")
rows=$(echo "SELECT count(*) FROM patients WHERE id = ANY('{$ids}'::bigint[])" |
	psql_on "$HMS_STANDBY_PORT" "$STATE/pg-standby/run")
audits=$(echo "SELECT count(DISTINCT entity_id) FROM audit_log WHERE action = 'create'
	AND entity_type = 'patient' AND entity_id = ANY('{$ids}'::bigint[])" |
	psql_on "$HMS_STANDBY_PORT" "$STATE/pg-standby/run")
extra=$(echo "SELECT count(*) FROM patients WHERE last_name LIKE 'Fault%' AND NOT (id = ANY('{$ids}'::bigint[]))" |
	psql_on "$HMS_STANDBY_PORT" "$STATE/pg-standby/run")
if [ "$n_acked" -gt 0 ] && [ "$rows" = "$n_acked" ]; then
	ok "every acknowledged patient is on the new primary ($rows of $n_acked; $extra more rows from requests cut by the crash)"
else
	fail "every acknowledged patient is on the new primary ($rows of $n_acked)"
fi
if [ "$n_acked" -gt 0 ] && [ "$audits" = "$n_acked" ]; then
	ok "and its audit row (create, patient) too ($audits of $n_acked)"
else
	fail "and its audit row (create, patient) too ($audits of $n_acked)"
fi
# The audit chain across the switch: the sealer (reconnected too) seals
# the rows written on the new primary, and the whole chain verifies there.
sleep 1
both_as_owner=${conninfo/user=hms_app/user=hms}
if HMS_DATABASE_URL=$both_as_owner HMS_ADMIN_DATABASE_URL=$both_as_owner \
	"$HMS_BIN_DIR/hmsctl" --config "$STATE/hms.conf" audit-verify >>"$LOG" 2>&1; then
	ok "hmsctl audit-verify passes on the new primary"
else
	fail "hmsctl audit-verify passes on the new primary"
fi

# --- the old primary rejoins as the new primary's standby --------------------------
if "$ROOT/deploy/replica.sh" rejoin >>"$LOG" 2>&1; then
	record_stack_pids
	ok "replica.sh rejoin: the old primary, rewound (pg_rewind), is the promoted one's synchronous standby"
else
	fail "replica.sh rejoin: the old primary, rewound (pg_rewind), is the promoted one's synchronous standby"
fi
after=$(curl -s --cacert "$CA" --max-time 10 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
	-d '{"first_name":"Re","last_name":"Joined","date_of_birth":"1980-01-01","gender":"male"}' \
	"$base/api/patients/" | sed -n 's/.*"id" *: *\([0-9]*\).*/\1/p' || true)
old_rows=""
for _ in $(seq 1 50); do # a synchronous commit is flushed there, replayed a moment later
	old_rows=$(echo "SELECT count(*) FROM patients WHERE id = ANY('{$ids${after:+,$after}}'::bigint[])" |
		psql_on "$HMS_PG_PORT" "$STATE/pg/run" 2>/dev/null || true)
	[ "$old_rows" = "$((n_acked + 1))" ] && break
	sleep 0.1
done
if [ -n "$after" ] && [ "$old_rows" = "$((n_acked + 1))" ]; then
	ok "a write after the rejoin is acknowledged, and the old primary has it and every acknowledged one ($old_rows)"
else
	fail "a write after the rejoin (id '${after}') and every acknowledged one on the old primary ($old_rows of $((n_acked + 1)))"
fi

# --- the synchronous standby away and back ------------------------------------------
# Every commit waits for it (PostgreSQL does not time that wait out), and
# completes by itself once it is back: the write is acknowledged late, not
# lost and not acknowledged early.
as_pg "$PGBIN/pg_ctl" -D "$STATE/pg/data" -m fast -w stop >>"$LOG" 2>&1
curl -s --cacert "$CA" --max-time 60 -o "$WORK/waited" -w '%{http_code}' -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' \
	-d '{"first_name":"Wait","last_name":"ForStandby","date_of_birth":"1980-01-01","gender":"male"}' \
	"$base/api/patients/" >"$WORK/waited.status" 2>/dev/null &
WAITER=$!
sleep 3
if pid_running "$WAITER"; then waiting=1; else waiting=0; fi
t_back=$(date +%s.%N)
as_pg "$PGBIN/pg_ctl" -D "$STATE/pg/data" -w -t 60 start >>"$LOG" 2>&1 </dev/null
wait "$WAITER" || true
t_done=$(date +%s.%N)
if [ "$waiting" = 1 ] && [ "$(cat "$WORK/waited.status")" = 201 ]; then
	ok "with the standby stopped a write waits (still unanswered after 3 s), and is acknowledged $(python3 -c "print('%.2f' % ($t_done - $t_back))") s after it is back"
else
	fail "with the standby stopped a write waits, then is acknowledged once it is back (waiting after 3 s: $waiting, answer $(cat "$WORK/waited.status"))"
fi

lost=$(grep -c '"db_connection_lost"' "$STATE/log/hms.log" || true)
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/log/*.log ||
	grep -q -E '\[(emerg|alert|crit)\]' "$STATE/nginx/logs/error.log"; then
	fail "no sanitizer report or nginx failure in the logs"
else
	ok "no sanitizer report or nginx failure in the logs ($lost db_connection_lost events)"
fi
if [ "$(cat "$STATE/run/hms.pid")" = "$master" ] && pid_running "$master"; then
	ok "the same hms master throughout: the workers reconnected by themselves"
else
	fail "the same hms master throughout"
fi
echo "$NAME: took $(($(date +%s) - t_begin)) s"
