#!/usr/bin/env bash
# load_faults.sh - the faults of one hms host, each while a load client
# (tests/deploy/load.py, CLIENTS clients on loopback) keeps it busy; the
# client's own log of what was acknowledged is the evidence.
#
# One stack (deploy/stack.sh: a state directory under /tmp, free ports,
# the binaries of LOAD_FAULTS_BIN_DIR, default build/). In turn:
#   1. kill -9 one worker, then 2. every worker at once: at most one
#      failed request per killed worker (the one it held), each a JSON
#      5xx; the master replaces them and the load goes on;
#   3. SIGHUP: every worker replaced, not one failed request;
#   (after each: every acknowledged create is a row with its audit row,
#   and the creations applied though their client got no 2xx are counted)
#   4. PostgreSQL restarted (pg_ctl restart -m fast), then 5. crashed
#      (pg_ctl stop -m immediate, started OUTAGE s later): only JSON 503s
#      with Retry-After, 2xx again within RECOVER_LIMIT s of PostgreSQL
#      being back, the same master and workers (no restart), every
#      acknowledged create with its row and audit row, every acknowledged
#      (audited) read with its audit row;
#   6. the attachment disk full under an upload load (a tmpfs over the
#      attachment directory, filled by another file, which is then removed;
#      needs root): JSON 507s, no file left behind, every acknowledged
#      upload with its row and file, uploads succeed again by themselves,
#      reads meanwhile all succeed;
#   7. the database read-only (ALTER SYSTEM SET default_transaction_read_only,
#      then RESET, each with pg_reload_conf()): writes and audited reads are
#      JSON 503s with Retry-After (no record served without its audit row),
#      2xx again once writes are back, without restarting hms.
# Then hmsctl audit-verify, and no sanitizer report in the stack's logs.
# Each fault prints a SUMMARY line: its time to recover and the requests
# it cost. (The same faults one request at a time are in
# tests/integration/test_faults.c.)
#
# About a minute with a built tree. One line per check and a
# Criterion-style synthesis line; everything it started is stopped by PID
# and its directory removed, also on failure.
# shellcheck disable=SC2016 # check_that's conditions are quoted to be eval'd there
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=load_faults
CLIENTS=${CLIENTS:-4}
FAULT_AT=${FAULT_AT:-1.5}   # seconds of load before each fault
HEAL_AFTER=${HEAL_AFTER:-2} # seconds a healing fault (disk, read-only) lasts
OUTAGE=${OUTAGE:-1}         # seconds PostgreSQL stays down after the crash
RECOVER_LIMIT=${RECOVER_LIMIT:-5}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
check_that() { # DESCRIPTION CONDITION: ok when the condition (shell, eval'd now) holds
	if eval "$2"; then ok "$1"; else fail "$1"; fi
}

# Only the variables this test sets: a HMS_DATABASE_URL from the caller's
# shell would point the stack elsewhere.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^HMS_' || true)
export HMS_BIN_DIR=${LOAD_FAULTS_BIN_DIR:-$ROOT/build}
export HMS_HTTPS_PORT HMS_PG_PORT
HMS_HTTPS_PORT=$(free_port)
HMS_PG_PORT=$(free_port)
export HMS_WORKERS=2 HMS_NGINX_WORKERS=1 HMS_API_LIMIT_EXEMPT=127.0.0.1
export HMS_ADMIN_PASSWORD
HMS_ADMIN_PASSWORD=$(openssl rand -hex 16)

WORK=$(mktemp -d /tmp/hms-load-faults.XXXXXX)
chmod 755 "$WORK" # the postgres user reaches its cluster under it
export HMS_STATE_DIR=$WORK/state
STATE=$HMS_STATE_DIR
LOG=$WORK/out.log
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
CLIENT_PIDS=()
MOUNTED=""
SUMMARY=()

record_stack_pids() { record_pids "$STATE/run/hms.pid" "$STATE/nginx/nginx.pid" "$STATE/pg/data/postmaster.pid"; }

cleanup() {
	local rc=$? p
	set +e
	for p in "${CLIENT_PIDS[@]}"; do
		pid_running "$p" && kill -KILL "$p" 2>/dev/null
	done
	timeout 60 "$ROOT/deploy/stack.sh" stop >>"$LOG" 2>&1
	if [ -n "$MOUNTED" ]; then
		umount "$MOUNTED" 2>>"$LOG" || umount -l "$MOUNTED" 2>>"$LOG"
	fi
	kill_recorded
	show_logs_if_failed "$rc" "$LOG" "$STATE"/log/*.log "$STATE/pg/postgres.log" "$STATE/nginx/logs/error.log"
	rm -rf "$WORK"
	finish_checks "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
# Arithmetic and comparisons on decimal seconds.
calc() { python3 -c "print('%.2f' % ($1))"; }
is_true() { python3 -c "import sys; sys.exit(not ($1))"; }

t_begin=$(date +%s)

# --- the stack, its users and data -------------------------------------------------
start_stack
[ -f "$STATE/pg/data/PG_VERSION" ] || {
	fail "the cluster is in the state directory ($STATE/pg)"
	exit 1
}
ok "the stack starts (state in $STATE, binaries from $HMS_BIN_DIR)"
PGDATA_DIR=$STATE/pg/data
PGLOG=$STATE/pg/postgres.log
base="https://127.0.0.1:$HMS_HTTPS_PORT"
CA=$STATE/tls/hms.crt
master=$(cat "$STATE/run/hms.pid")

psql_su() { # SQL on stdin (or -c ...), as the superuser, in the hms database
	as_pg "$PGBIN/psql" -h "$STATE/pg/run" -p "$HMS_PG_PORT" -U postgres -d hms -XqAt \
		-v ON_ERROR_STOP=1 "$@"
}
api() { # METHOD PATH TOKEN [JSON]: the answer's body
	curl -s --cacert "$CA" --max-time 10 -X "$1" -H "Authorization: Bearer $3" \
		-H 'Content-Type: application/json' ${4:+-d "$4"} "$base$2"
}
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin).get('$1', ''))"; }
login() { # USER PASSWORD: an access token
	curl -s --cacert "$CA" --max-time 10 -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"password\":\"$2\"}" "$base/api/auth/token/" | json_field access
}
# The master's live workers (comm "hms"; the sealer is "hms-sealer"), sorted.
workers() { pgrep -P "$master" -x hms | sort -n | tr '\n' ' '; }
# Waits (10 s at most) until the master has N workers, none of them in
# GONE (a space-separated list); prints how long it took.
wait_workers() { # N GONE T0
	local now_list p stale
	for _ in $(seq 1 200); do
		now_list=$(workers)
		stale=0
		for p in $2; do [[ " $now_list " == *" $p "* ]] && stale=1; done
		if [ "$(wc -w <<<"$now_list")" -eq "$1" ] && [ "$stale" = 0 ]; then
			calc "$(now) - $3"
			return 0
		fi
		sleep 0.05
	done
	echo none
	return 1
}

admin=$(login admin "$HMS_ADMIN_PASSWORD")
[ -n "$admin" ] || {
	fail "the admin logs in"
	exit 1
}
doctor_password=$(openssl rand -hex 12)
api POST /api/auth/register/ "$admin" "{\"username\":\"loaddoctor\",\"password\":\"$doctor_password\",
	\"email\":\"doctor@example.org\",\"first_name\":\"Load\",\"last_name\":\"Doctor\",\"role\":\"doctor\"}" >>"$LOG"
doctor=$(login loaddoctor "$doctor_password")
patient=$(api POST /api/patients/ "$admin" '{"first_name":"Disk","last_name":"Full",
	"date_of_birth":"1970-01-01","gender":"male"}' | json_field id)
record=$(api POST "/api/patients/$patient/records/" "$doctor" \
	'{"record_type":"note","title":"Load"}' | json_field id)
if [ -n "$doctor" ] && [ -n "$patient" ] && [ -n "$record" ]; then
	ok "a doctor, a patient and a medical record to load the stack with"
else
	fail "a doctor, a patient and a medical record to load the stack with"
	exit 1
fi

# --- load and its figures ---------------------------------------------------------------
# load NAME SECONDS MIX TOKEN [load.py options]: the load in the background,
# its answers in $WORK/NAME.answers, request ids NAME-client-n.
load() {
	local name=$1 seconds=$2 mix=$3 token=$4
	shift 4
	python3 "$ROOT/tests/deploy/load.py" run --port "$HMS_HTTPS_PORT" --ca "$CA" --token "$token" \
		--seconds "$seconds" --clients "$CLIENTS" --mix "$mix" --request-ids "$name" \
		--out "$WORK/$name.answers" "$@" &
	CLIENT_PIDS+=($!)
}
# Waits for every load client; fails the check when one did not exit cleanly.
wait_load() {
	local p rc=0
	for p in "${CLIENT_PIDS[@]}"; do wait "$p" || rc=1; done
	CLIENT_PIDS=()
	[ "$rc" = 0 ] || fail "the load client exits cleanly"
}
declare -A fig
# figures NAME T0 T1 [report options]: load.py report's figures into fig[],
# the acknowledged created ids in $WORK/NAME.ids, read request ids in
# $WORK/NAME.reads.
figures() {
	local name=$1 t0=$2 t1=$3 key value
	shift 3
	fig=()
	while IFS='=' read -r key value; do fig[$key]=$value; done < <(
		python3 "$ROOT/tests/deploy/load.py" report "$WORK/$name.answers" --fault "$t0" \
			--healed "$t1" --acked-ids "$WORK/$name.ids" --acked-reads "$WORK/$name.reads" "$@")
	echo "$NAME: $name: ${fig[answers]} answers, ${fig[acked]} 2xx, failed: ${fig[failed_statuses]}" \
		"(POST ${fig[failed_posts]}, GET ${fig[failed_gets]}; ${fig[retry_after]} with Retry-After," \
		"${fig[nonjson]} not JSON), first 2xx after the fault ${fig[recover_s]} s, after the heal" \
		"${fig[healed_s]} s, longest time without a 2xx ${fig[gap_s]} s"
}
# summary FAULT RECOVERY: one line for the closing table.
summary() {
	local lost="${fig[failed]} of ${fig[answers]}"
	[ "${fig[failed]}" = 0 ] || lost="$lost (${fig[failed_statuses]}; POST ${fig[failed_posts]}, GET ${fig[failed_gets]})"
	SUMMARY+=("$(printf '%-40s | %-52s | %s' "$1" "$2" "$lost")")
}
statuses_are() { # REGEX: every failure's status matches (e.g. 503)
	[[ ${fig[failed_statuses]} =~ ^(-|(($1):[0-9]+,?)+)$ ]] && [ "${fig[nonjson]}" = 0 ]
}
# Every acknowledged patient of a load has its row and its audit row
# (create), every acknowledged read its audit row (read, by request id).
# Also counted: creations that were applied though their client got no
# 2xx (the connection or the worker went after COMMIT).
check_acknowledged() { # NAME
	local ids reads n_ids n_reads rows audits read_audits applied
	ids=$(cat "$WORK/$1.ids")
	reads=$(cat "$WORK/$1.reads")
	n_ids=$(tr ',' '\n' <<<"$ids" | grep -c . || true)
	n_reads=$(tr ',' '\n' <<<"$reads" | grep -c . || true)
	rows=$(psql_su <<<"SELECT count(*) FROM patients WHERE id = ANY('{$ids}'::bigint[])")
	audits=$(psql_su <<<"SELECT count(DISTINCT entity_id) FROM audit_log WHERE action = 'create'
		AND entity_type = 'patient' AND outcome = 'success' AND entity_id = ANY('{$ids}'::bigint[])")
	read_audits=$(psql_su <<<"SELECT count(DISTINCT request_id) FROM audit_log WHERE action = 'read'
		AND entity_type = 'patient' AND request_id = ANY(string_to_array('$reads', ','))")
	applied=$(psql_su <<<"SELECT count(*) FROM audit_log WHERE action = 'create' AND entity_type = 'patient'
		AND request_id LIKE '$1-%' AND NOT (entity_id = ANY('{$ids}'::bigint[]))")
	if [ "$n_ids" -gt 0 ] && [ "$rows" = "$n_ids" ] && [ "$audits" = "$n_ids" ]; then
		ok "$1: every acknowledged create is a row with its audit row ($rows, $audits of $n_ids; $applied more applied without a 2xx)"
	else
		fail "$1: every acknowledged create is a row with its audit row ($rows, $audits of $n_ids)"
	fi
	if [ "$n_reads" -gt 0 ] && [ "$read_audits" = "$n_reads" ]; then
		ok "$1: every acknowledged read has its audit row ($read_audits of $n_reads)"
	else
		fail "$1: every acknowledged read has its audit row ($read_audits of $n_reads)"
	fi
}
same_processes() { # NAME WORKERS_BEFORE: the same master and the same workers
	local after
	after=$(workers)
	if [ "$(cat "$STATE/run/hms.pid")" = "$master" ] && pid_running "$master" && [ "$after" = "$2" ]; then
		ok "$1: the same master and the same workers throughout (no restart): $after"
	else
		fail "$1: the same master and the same workers throughout (before: $2, after: $after)"
	fi
}

# --- 1, 2. kill -9 workers ------------------------------------------------------------
kill_workers() { # NAME one|all DESCRIPTION
	local name=$1 before victims n t0 replaced
	before=$(workers)
	n=$(wc -w <<<"$before")
	if [ "$2" = one ]; then victims=${before%% *}; else victims=$before; fi
	load "$name" 4 mixed "$admin"
	sleep "$FAULT_AT"
	t0=$(now)
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL $victims
	replaced=$(wait_workers "$n" "$victims" "$t0") || true
	wait_load
	record_stack_pids
	figures "$name" "$t0" "$t0"
	local killed
	killed=$(wc -w <<<"$victims")
	check_that "$name: at most one failed request per killed worker (${fig[failed]} failed, $killed killed)" \
		'[ "${fig[failed]}" -le "$killed" ]'
	check_that "$name: every failure a JSON 5xx (${fig[failed_statuses]})" "statuses_are '5[0-9][0-9]'"
	check_that "$name: the load goes on: 2xx ${fig[recover_s]} s after the kill, ${fig[acked_after]} in all" \
		'[ "${fig[acked_after]}" -gt 0 ]'
	if [ "$replaced" != none ] && [ "$(cat "$STATE/run/hms.pid")" = "$master" ]; then
		ok "$name: the master ($master) replaced the killed workers in $replaced s: $(workers)"
	else
		fail "$name: the master ($master) replaced the killed workers (now: $(workers))"
	fi
	check_acknowledged "$name"
	summary "kill -9 $3" "2xx after ${fig[recover_s]} s; replaced in $replaced s"
}
kill_workers kill_one_worker one "one worker"
kill_workers kill_all_workers all "every worker at once ($HMS_WORKERS)"

# --- 3. SIGHUP --------------------------------------------------------------------------
before=$(workers)
load sighup 4 mixed "$admin"
sleep "$FAULT_AT"
t0=$(now)
kill -HUP "$master"
replaced=$(wait_workers "$(wc -w <<<"$before")" "$before" "$t0") || true
wait_load
record_stack_pids
figures sighup "$t0" "$t0"
check_that "sighup: not one failed request (${fig[answers]} answers, ${fig[acked_after]} 2xx sent after the signal)" \
	'[ "${fig[failed]}" = 0 ] && [ "${fig[acked_after]}" -gt 0 ]'
if [ "$replaced" != none ] && [ "$(cat "$STATE/run/hms.pid")" = "$master" ]; then
	ok "sighup: every worker replaced in $replaced s ($before -> $(workers)), the same master"
else
	fail "sighup: every worker replaced, the same master (before: $before, now: $(workers))"
fi
check_acknowledged sighup
summary "SIGHUP reload" "workers replaced in $replaced s; longest gap ${fig[gap_s]} s"

# --- 4, 5. PostgreSQL restarted, crashed -------------------------------------------------
# pg_fault NAME: the fault itself is the function pg_NAME, which sets t1,
# the time PostgreSQL accepts connections again.
pg_restart() {
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 restart >>"$PGLOG" 2>&1 </dev/null
	t1=$(now)
}
pg_crash() {
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 60 stop >>"$PGLOG" 2>&1 </dev/null
	sleep "$OUTAGE"
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 start >>"$PGLOG" 2>&1 </dev/null
	t1=$(now)
}
pg_fault() { # NAME FUNCTION DESCRIPTION
	local name=$1 before t0
	before=$(workers)
	load "$name" 6 mixed "$admin"
	sleep "$FAULT_AT"
	t0=$(now)
	if "$2"; then
		ok "$name: $3 ($(calc "$t1 - $t0") s until it accepted connections again)"
	else
		t1=$(now)
		fail "$name: $3"
	fi
	wait_load
	record_stack_pids
	figures "$name" "$t0" "$t1"
	check_that "$name: only JSON 503s, each with Retry-After (${fig[failed_statuses]}, ${fig[retry_after]} with Retry-After)" \
		'statuses_are 503 && [ "${fig[retry_after]}" = "${fig[failed]}" ]'
	check_that "$name: none of them to a request sent after PostgreSQL was back or answered before it went (${fig[failed_outside]})" \
		'[ "${fig[failed_outside]}" = 0 ]'
	if [ "${fig[healed_s]}" != -1 ] && is_true "${fig[healed_s]} <= $RECOVER_LIMIT"; then
		ok "$name: 2xx again ${fig[healed_s]} s after PostgreSQL was back (limit $RECOVER_LIMIT s)"
	else
		fail "$name: 2xx again within $RECOVER_LIMIT s after PostgreSQL was back (${fig[healed_s]})"
	fi
	same_processes "$name" "$before"
	check_acknowledged "$name"
	summary "$3" "2xx ${fig[healed_s]} s after PostgreSQL is back (down $(calc "$t1 - $t0") s)"
}
pg_fault pg_restart pg_restart "PostgreSQL restart -m fast"
pg_fault pg_crash pg_crash "PostgreSQL crash (-m immediate) + start"

# --- 6. the attachment disk full ------------------------------------------------------------
attach=$(sed -n 's/^attachment_dir = //p' "$STATE/hms.conf")
if [ "$(id -u)" -ne 0 ]; then
	echo "$NAME: skip - a full attachment disk (mounting a tmpfs needs root; CI runs as root)"
else
	# A 32 MiB file system over the directory, owned and moded like it:
	# room enough for the uploads after the filler has gone.
	if mount -t tmpfs -o "size=32m,uid=$(stat -c %u "$attach"),gid=$(stat -c %g "$attach"),mode=$(stat -c %a "$attach")" \
		tmpfs "$attach" 2>>"$LOG"; then
		MOUNTED=$attach
	else
		fail "a tmpfs mounted over the attachment directory"
		exit 1
	fi
	rows_before=$(psql_su <<<"SELECT count(*) FROM attachments")
	# Half the clients upload (as the doctor), half read (as the admin).
	half=$(((CLIENTS + 1) / 2))
	load disk_uploads 6 upload "$doctor" --record "$record" --upload-bytes 16384 --clients "$half"
	load disk_reads 6 read "$admin" --read-ids "$patient" --clients "$half"
	sleep "$FAULT_AT"
	t0=$(now)
	# Something else fills the disk (dd stops at ENOSPC); room freed by a
	# failing upload is taken by a second pass.
	dd if=/dev/zero of="$attach/.filler" bs=64k 2>"$WORK/dd.err" || true
	sleep 0.2
	dd if=/dev/zero of="$attach/.filler2" bs=4k 2>/dev/null || true
	filled=$(du -sk "$attach/.filler" | cut -f 1)
	sleep "$HEAL_AFTER"
	rm -f "$attach/.filler" "$attach/.filler2"
	t1=$(now)
	wait_load
	figures disk_reads "$t0" "$t1"
	reads_failed=${fig[failed]} reads_answers=${fig[answers]}
	figures disk_uploads "$t0" "$t1" --grace 0.5
	check_that "disk_full: another file filled the disk ($filled KiB, then: $(grep -o 'No space left on device' "$WORK/dd.err" | head -n 1))" \
		'grep -q "No space left on device" "$WORK/dd.err"'
	check_that "disk_full: uploads refused with JSON 507s while it was (${fig[failed_statuses]})" \
		'statuses_are 507 && [ "${fig[failed]}" -gt 0 ]'
	check_that "disk_full: none sent after the space was freed (0.5 s grace: ${fig[failed_outside]})" \
		'[ "${fig[failed_outside]}" = 0 ]'
	if [ "${fig[healed_s]}" != -1 ] && is_true "${fig[healed_s]} <= $RECOVER_LIMIT"; then
		ok "disk_full: uploads succeed again by themselves, ${fig[healed_s]} s after the space was freed (${fig[acked_after]} after)"
	else
		fail "disk_full: uploads succeed again by themselves within $RECOVER_LIMIT s (${fig[healed_s]})"
	fi
	check_that "disk_full: reads unaffected meanwhile ($reads_failed failed of $reads_answers)" \
		'[ "$reads_failed" = 0 ] && [ "$reads_answers" -gt 0 ]'
	ids=$(cat "$WORK/disk_uploads.ids")
	n_acked=${fig[acked]}
	rows_now=$(psql_su <<<"SELECT count(*) FROM attachments")
	psql_su <<<"SELECT storage_name FROM attachments WHERE id = ANY('{$ids}'::bigint[])" | sort >"$WORK/acked_files"
	find "$attach" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort >"$WORK/files"
	temp=$(grep -c '^\.upload-' "$WORK/files" || true)
	check_that "disk_full: every acknowledged upload is a row with its file ($(wc -l <"$WORK/acked_files") rows, $n_acked acknowledged)" \
		'[ "$(wc -l <"$WORK/acked_files")" = "$n_acked" ] && [ -z "$(comm -23 "$WORK/acked_files" "$WORK/files")" ]'
	check_that "disk_full: no file left behind: no temporary file ($temp), no file without its row, no row more than acknowledged ($((rows_now - rows_before)) new rows)" \
		'[ "$temp" = 0 ] && cmp -s "$WORK/acked_files" "$WORK/files" && [ "$((rows_now - rows_before))" = "$n_acked" ]'
	summary "attachment disk full (upload load)" "2xx ${fig[healed_s]} s after space was freed (full $(calc "$t1 - $t0") s)"
	SUMMARY[-1]="${SUMMARY[-1]}; reads: $reads_failed of $reads_answers failed"
	record_stack_pids
	timeout 10 umount "$attach" 2>>"$LOG" || umount -l "$attach" 2>>"$LOG"
	MOUNTED=""
fi

# --- 7. a read-only database ---------------------------------------------------------------
before=$(workers)
load read_only 6 mixed "$admin"
sleep "$FAULT_AT"
t0=$(now)
psql_su -c "ALTER SYSTEM SET default_transaction_read_only = on" -c "SELECT pg_reload_conf()" >>"$LOG"
sleep "$HEAL_AFTER"
psql_su -c "ALTER SYSTEM RESET default_transaction_read_only" -c "SELECT pg_reload_conf()" >>"$LOG"
t1=$(now)
wait_load
figures read_only "$t0" "$t1" --grace 0.5
check_that "read_only: only JSON 503s, each with Retry-After (${fig[failed_statuses]}, ${fig[retry_after]} with Retry-After)" \
	'statuses_are 503 && [ "${fig[retry_after]}" = "${fig[failed]}" ]'
check_that "read_only: writes refused (${fig[failed_posts]} POSTs) and audited reads too, failing closed (${fig[failed_gets]} GETs)" \
	'[ "${fig[failed_posts]}" -gt 0 ] && [ "${fig[failed_gets]}" -gt 0 ]'
check_that "read_only: none sent after the reset (0.5 s grace: ${fig[failed_outside]})" '[ "${fig[failed_outside]}" = 0 ]'
if [ "${fig[healed_s]}" != -1 ] && is_true "${fig[healed_s]} <= $RECOVER_LIMIT"; then
	ok "read_only: 2xx again ${fig[healed_s]} s after the reset, without restarting hms"
else
	fail "read_only: 2xx again within $RECOVER_LIMIT s after the reset (${fig[healed_s]})"
fi
same_processes read_only "$before"
check_acknowledged read_only
summary "database read-only" "2xx ${fig[healed_s]} s after the reset (read-only $(calc "$t1 - $t0") s)"

# --- the audit trail and the logs --------------------------------------------------------------
if timeout 60 "$HMS_BIN_DIR/hmsctl" --config "$STATE/hms.conf" audit-verify >>"$LOG" 2>&1; then
	ok "hmsctl audit-verify passes after every fault"
else
	fail "hmsctl audit-verify passes after every fault"
fi
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/log/*.log; then
	fail "no sanitizer report in the stack's logs"
	grep -h -A 30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$STATE"/log/*.log | head -n 80
else
	ok "no sanitizer report in the stack's logs"
fi
if grep -q -E '\[(emerg|alert|crit)\]' "$STATE/nginx/logs/error.log"; then
	fail "no nginx failure in its error log"
else
	ok "no nginx failure in its error log"
fi

echo "$NAME: SUMMARY $(printf '%-40s | %-52s | %s' fault "time to recover" "failed requests (lost)")"
for line in "${SUMMARY[@]}"; do echo "$NAME: SUMMARY $line"; done
echo "$NAME: took $(($(date +%s) - t_begin)) s"
