#!/usr/bin/env bash
# checkout_anywhere.sh - `make start` / `make stop` from a checkout nobody
# else can reach: a copy of this repository (a git clone with the working
# tree's files laid over it, so uncommitted edits are tested) in a fresh 0700
# directory whose path has a space, with no HMS_* variable set but the
# ports. As root that is the case of a checkout in /root: the cluster,
# sockets and attachments must go to the per-checkout directory stack.sh
# names (/var/lib/hms-dev/HASH), nothing may be chmod-ed open, and a second
# start must reuse the same cluster.
#
# Prints one line per check and a Criterion-style synthesis line
# ("Passing: N" / "Failing: N | Crashing: 0") that tests/run.sh counts;
# exits non-zero if any check fails. Everything it started is stopped by PID
# and its directories removed, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=checkout_anywhere

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A user's shell: none of the stack's variables, only free ports.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^HMS_' || true)
unset MAKELEVEL MAKEFLAGS MFLAGS
MAKEFLAGS=-j$(nproc)
export MAKEFLAGS
export HMS_HTTPS_PORT HMS_PG_PORT
HMS_HTTPS_PORT=$(free_port)
HMS_PG_PORT=$(free_port)
# Lighter than the defaults on a shared CI machine; they change no path.
export HMS_WORKERS=2 HMS_NGINX_WORKERS=1

WORK=$(mktemp -d /tmp/hms-anywhere.XXXXXX)
chmod 700 "$WORK"
COPY="$WORK/my hms"
STATE="$COPY/var"
LOG="$WORK/out.log"
hms_dev_existed=0
[ -d /var/lib/hms-dev ] && hms_dev_existed=1
RT=""

record_stack_pids() { record_pids "$STATE/run/hms.pid" "$STATE/nginx/nginx.pid" "$RT/pg/data/postmaster.pid"; }

cleanup() {
	local rc=$? p
	set +e
	if [ -d "$COPY" ]; then
		(cd "$COPY" && timeout 120 deploy/stack.sh stop) >>"$LOG" 2>&1
	fi
	kill_recorded
	if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
		echo "$NAME: output of make start/stop and the logs:"
		cat "$LOG" 2>/dev/null
		tail -n 20 "$STATE"/log/*.log "$STATE/nginx/logs/error.log" 2>/dev/null
	fi
	rm -rf "$WORK"
	case "$RT" in
	/var/lib/hms-dev/?* | /var/tmp/hms-dev-?*) rm -rf "$RT" ;;
	esac
	[ "$hms_dev_existed" = 1 ] || rmdir /var/lib/hms-dev 2>/dev/null
	finish_checks "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the copy ------------------------------------------------------------------
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	git clone -q --no-hardlinks "$ROOT" "$COPY" >>"$LOG" 2>&1
	# The working tree over the clone: tracked files as they are now (deleted
	# ones removed) and new files git does not ignore.
	while IFS= read -r -d '' f; do
		if [ -e "$ROOT/$f" ] || [ -L "$ROOT/$f" ]; then
			mkdir -p "$COPY/$(dirname "$f")"
			cp -a "$ROOT/$f" "$COPY/$f"
		else
			rm -f "$COPY/$f"
		fi
	done < <(git -C "$ROOT" ls-files -z --cached --others --exclude-standard)
else
	mkdir "$COPY"
	tar -C "$ROOT" --exclude=./build --exclude=./var -cf - . | tar -C "$COPY" -xf -
fi
if [ -f "$COPY/deploy/stack.sh" ]; then
	ok "copy in a 0700 directory whose path has a space"
else
	fail "copy in a 0700 directory whose path has a space"
fi

# --- first start -----------------------------------------------------------------
echo "== make start (first)" >>"$LOG"
out1=$( (cd "$COPY" && timeout 900 make --no-print-directory start) 2>&1) && started=1 || started=0
printf '%s\n' "$out1" >>"$LOG"
line=$(printf '%s\n' "$out1" | sed -n 's/^stack: cluster, sockets and attachments in \(.*\) (kept out of .*/\1/p')
RT=${line:-$STATE}
record_stack_pids
if [ "$started" = 1 ]; then
	ok "make start succeeds with nothing set"
else
	fail "make start succeeds with nothing set"
fi
if [ "$started" = 1 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		if [ -n "$line" ] && [[ $RT == /var/lib/hms-dev/* ]] && [ -f "$RT/pg/data/PG_VERSION" ]; then
			ok "as root the cluster is outside the closed directory, and the start says where"
		else
			fail "as root the cluster is outside the closed directory, and the start says where"
		fi
		if [ "$(stat -c "%U %a" "$RT/pg")" = "postgres 700" ]; then
			ok "the cluster dir belongs to postgres, mode 700"
		else
			fail "the cluster dir belongs to postgres, mode 700"
		fi
		if [ "$(stat -c "%G %a" "$RT/run" "$RT/attachments" | tr "\n" " ")" = "www-data 750 www-data 2750 " ]; then
			ok "the FastCGI socket dir (750) and attachments (2750, setgid) are group www-data"
		else
			fail "the FastCGI socket dir (750) and attachments (2750, setgid) are group www-data"
		fi
	fi
	if [ "$(stat -c %a "$WORK")" = 700 ]; then
		ok "the 0700 directory was not opened up"
	else
		fail "the 0700 directory was not opened up"
	fi
	if [ -f "$STATE/hms.conf" ] && [ -s "$STATE/secrets/jwt.keys" ] && [ -f "$STATE/tls/hms.crt" ] &&
		[ -f "$STATE/log/hms.log" ] && [ -f "$STATE/run/hms.pid" ]; then
		ok "config, secrets, TLS, logs and pids stay in var/"
	else
		fail "config, secrets, TLS, logs and pids stay in var/"
	fi
	health=$(curl -s -w ' %{http_code}' --cacert "$STATE/tls/hms.crt" --max-time 10 \
		"https://localhost:$HMS_HTTPS_PORT/api/health/" || true)
	if [ "$health" = "{\"status\":\"ok\",\"database\":\"ok\"} 200" ]; then
		ok "GET /api/health/ through nginx answers 200 {\"status\":\"ok\",\"database\":\"ok\"}"
	else
		fail "GET /api/health/ through nginx answers 200 {\"status\":\"ok\",\"database\":\"ok\"}"
	fi

	# The first admin's generated password, printed once; its refresh token
	# must survive a restart (same cluster, same database).
	password=$(printf '%s\n' "$out1" | sed -n 's/^stack: its password (shown once, store it now): //p')
	token=$(curl -s --cacert "$STATE/tls/hms.crt" --max-time 10 -H 'Content-Type: application/json' \
		-d "{\"username\":\"admin\",\"password\":\"$password\"}" \
		"https://localhost:$HMS_HTTPS_PORT/api/auth/token/" || true)
	refresh=$(printf '%s' "$token" | sed -n 's/.*"refresh" *: *"\([^"]*\)".*/\1/p')
	if [ -n "$password" ] && [ -n "$refresh" ]; then
		ok "the first admin (generated password) can log in"
	else
		fail "the first admin (generated password) can log in"
	fi
	inode1=$(stat -c %i "$RT/pg/data/PG_VERSION" 2>/dev/null || echo none)

	# --- stop, start again ---------------------------------------------------------
	echo "== make stop; make start (second)" >>"$LOG"
	(cd "$COPY" && timeout 120 make --no-print-directory stop) >>"$LOG" 2>&1 || fail "the first make stop"
	out2=$( (cd "$COPY" && timeout 300 make --no-print-directory start) 2>&1) && started2=1 || started2=0
	printf '%s\n' "$out2" >>"$LOG"
	record_stack_pids
	if [ "$started2" = 1 ]; then
		ok "a second make start succeeds"
	else
		fail "a second make start succeeds"
	fi
	line2=$(printf '%s\n' "$out2" | sed -n 's/^stack: cluster, sockets and attachments in \(.*\) (kept out of .*/\1/p')
	if [ "$line2" = "$line" ]; then
		ok "it finds the same place again"
	else
		fail "it finds the same place again"
	fi
	if [ "$inode1" = "$(stat -c %i "$RT/pg/data/PG_VERSION" 2>/dev/null || echo gone)" ] &&
		! printf "%s\n" "$out2" | grep -q -e "creating a PostgreSQL cluster" -e password; then
		ok "it reuses the cluster (no initdb, no new admin)"
	else
		fail "it reuses the cluster (no initdb, no new admin)"
	fi
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$STATE/tls/hms.crt" --max-time 10 \
		-H 'Content-Type: application/json' -d "{\"refresh\":\"$refresh\"}" \
		"https://localhost:$HMS_HTTPS_PORT/api/auth/token/refresh/" || true)
	if [ "$code" = 200 ]; then
		ok "a refresh token issued before the restart still works (same database)"
	else
		fail "a refresh token issued before the restart still works (same database)"
	fi
fi

# --- stop ----------------------------------------------------------------------------
echo "== make stop (last)" >>"$LOG"
(cd "$COPY" && timeout 120 make --no-print-directory stop) >>"$LOG" 2>&1 && stopped=1 || stopped=0
if [ "$stopped" = 1 ]; then
	ok "make stop succeeds"
else
	fail "make stop succeeds"
fi
left=""
for _ in $(seq 1 50); do
	left=""
	for p in "${PIDS[@]}"; do pid_running "$p" && left="$left $p"; done
	[ -z "$left" ] && break
	sleep 0.1
done
if [ "${#PIDS[@]}" -gt 0 ] && [ -z "$left" ]; then
	ok "nothing it started is still running (${#PIDS[@]} pids)"
else
	fail "nothing it started is still running (${#PIDS[@]} pids)"
fi
if ! port_open "$HMS_HTTPS_PORT" && [ ! -S "$RT/pg/run/.s.PGSQL.$HMS_PG_PORT" ] && [ ! -S "$RT/run/hms.sock" ]; then
	ok "nothing listens on the HTTPS port or the sockets"
else
	fail "nothing listens on the HTTPS port or the sockets"
fi
if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|\[(emerg|alert|crit)\]' \
	"$STATE"/log/*.log "$STATE/nginx/logs/error.log" >/dev/null 2>&1; then
	fail "no sanitizer report or nginx failure in the logs"
	grep -h -A 20 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|\[(emerg|alert|crit)\]' \
		"$STATE"/log/*.log "$STATE/nginx/logs/error.log" 2>/dev/null | head -n 60
else
	ok "no sanitizer report or nginx failure in the logs"
fi
