# lib.sh - shell helpers shared by the test and benchmark scripts (sourced).
# shellcheck shell=bash

# A TCP port on 127.0.0.1 that nothing listens on now, below the kernel's
# ephemeral range: a port in that range may be taken at any moment as the
# local end of an outgoing connection (the tests make thousands), and a
# server's bind() then fails.
free_port() {
	local p low
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	[ "$low" -gt 21024 ] 2>/dev/null || low=32768
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % (low - 20000)))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return 0
		}
	done
	return 1
}

# Whether process $1 is alive and not a zombie waiting to be reaped.
pid_running() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# Runs a PostgreSQL tool as the user that owns the test clusters (root
# runs them as 'postgres': PostgreSQL refuses root), from a directory that
# user can read.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# Every pid of the process tree under $1, itself first.
tree_pids() {
	local p
	echo "$1"
	for p in $(pgrep -P "$1" || true); do tree_pids "$p"; done
}

# record_pids PIDFILE...: the process of each pid file that exists, and
# everything under it, appended to the array PIDS, so that a cleanup can
# end by PID whatever a stop script left running.
record_pids() {
	local f p
	for f in "$@"; do
		[ -f "$f" ] || continue
		p=$(head -n 1 "$f")
		[[ $p =~ ^[0-9]+$ ]] || continue
		mapfile -t -O "${#PIDS[@]}" PIDS < <(tree_pids "$p")
	done
}

# SIGKILL to every recorded process still alive.
kill_recorded() {
	local p
	for p in "${PIDS[@]}"; do
		pid_running "$p" && kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# deploy/stack.sh start for a deploy test (ROOT, LOG, HMS_BIN_DIR and its
# record_stack_pids set): the binaries built first if HMS_BIN_DIR has none;
# a failed start is one failed check and the end of the script.
start_stack() {
	[ -x "$HMS_BIN_DIR/hms" ] || make -C "$ROOT" --no-print-directory all >>"$LOG" 2>&1
	"$ROOT/deploy/stack.sh" start >>"$LOG" 2>&1 || {
		record_stack_pids
		fail "the stack starts"
		exit 1
	}
	record_stack_pids
}

# --- the API from a script ----------------------------------------------------
# json_get KEY: the value of KEY in the JSON object on stdin (empty if none).
json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" 2>/dev/null; }

# api_nurse_record BASE [CURL_OPTION...]: as the first admin
# (HMS_ADMIN_USERNAME, default admin; HMS_ADMIN_PASSWORD), registers a
# nurse, who creates a patient (named with letters beyond ASCII, as real
# patients are) and a record to attach files to. Sets
# NURSE_AUTH (curl's -H arguments for the nurse) and RECORD_ID; returns 1
# when a step failed.
api_nurse_record() {
	local base=$1 admin password user patient
	shift
	local -a c=(curl -s --max-time 60 "$@")
	admin=$("${c[@]}" -H 'Content-Type: application/json' -d "{\"username\":\"${HMS_ADMIN_USERNAME:-admin}\",\"password\":\"$HMS_ADMIN_PASSWORD\"}" \
		"$base/api/auth/token/" | json_get access)
	password=$(openssl rand -hex 12)
	user="nurse.script.$$.$RANDOM"
	"${c[@]}" -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
		-d "{\"username\":\"$user\",\"password\":\"$password\",\"email\":\"$user@example.org\",
		\"first_name\":\"Nia\",\"last_name\":\"Script\",\"role\":\"nurse\"}" "$base/api/auth/register/"
	NURSE_AUTH=(-H "Authorization: Bearer $("${c[@]}" -H 'Content-Type: application/json' \
		-d "{\"username\":\"$user\",\"password\":\"$password\"}" "$base/api/auth/token/" | json_get access)")
	patient=$("${c[@]}" "${NURSE_AUTH[@]}" -H 'Content-Type: application/json' \
		-d '{"first_name":"Jérôme","last_name":"Økello","date_of_birth":"1980-01-01","gender":"unknown"}' \
		"$base/api/patients/" | json_get id)
	RECORD_ID=$("${c[@]}" "${NURSE_AUTH[@]}" -H 'Content-Type: application/json' \
		-d '{"record_type":"note","title":"Scan"}' "$base/api/patients/$patient/records/" | json_get id)
	[ -n "$RECORD_ID" ]
}

# --- a test script's checks ------------------------------------------------
# One line per check under the script's NAME, and at the end the
# Criterion-style synthesis line that tests/run.sh sums, then
# "N passed, M failed".
PIDS=()
passed=0
failed=0
ok() {
	echo "$NAME: ok - $*"
	passed=$((passed + 1))
}
fail() {
	echo "$NAME: FAIL - $*"
	failed=$((failed + 1))
}
check() { # DESCRIPTION COMMAND...: ok when the command succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
# show_logs_if_failed RC SCRIPT_LOG SERVER_LOG...: after a failed check or
# an error, the tail of the script's own log and of each server log.
show_logs_if_failed() {
	local rc=$1 log=$2
	shift 2
	[ "$failed" -gt 0 ] || [ "$rc" -ne 0 ] || return 0
	echo "$NAME: output of the scripts and the logs:"
	tail -n 40 "$log" 2>/dev/null
	tail -n 20 "$@" 2>/dev/null
	return 0
}
# finish_checks RC: the closing lines, and the script's exit status: 1 when
# a check failed, else RC (a script stopped by an error it did not check
# counts as one failure).
finish_checks() {
	local rc=${1:-0}
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
	echo "[====] Synthesis: Tested: $((passed + failed)) | Passing: $passed | Failing: $failed | Crashing: 0"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] || exit 1
	exit "$rc"
}
