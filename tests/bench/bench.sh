#!/usr/bin/env bash
# bench.sh - `make bench`: load through nginx with wrk (keep-alive, loopback,
# plain HTTP listener of the same nginx) on a throwaway stack of the release
# build. Reference point in the same run: a static nginx `return 200`. Also
# reports each worker's RSS before and after the load (flat = no leak).
# Figures are ratios within one run; the machine is shared and noisy.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${BENCH_DURATION:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return 0
		}
	done
	return 1
}

STATE=$(mktemp -d /tmp/hms-bench.XXXXXX)
chmod 755 "$STATE"
export HMS_STATE_DIR=$STATE HMS_BIN_DIR=$ROOT/build
export HMS_HTTPS_PORT=$(free_port) HMS_HTTP_PORT=$(free_port) HMS_BENCH_PORT=$(free_port)
export HMS_PG_PORT=$(free_port) HMS_LOG_LEVEL=warn HMS_NGINX_ACCESS_LOG=off
export HMS_ADMIN_USERNAME=bench HMS_ADMIN_PASSWORD=bench-password-1 HMS_TOKEN_RATE=60000r/m
unset HMS_DATABASE_URL HMS_CONFIG
trap '"$ROOT/deploy/stack.sh" stop >/dev/null 2>&1; rm -rf "$STATE"' EXIT
"$ROOT/deploy/stack.sh" start >/dev/null 2>&1

API=http://127.0.0.1:$HMS_HTTP_PORT
REF=http://127.0.0.1:$HMS_BENCH_PORT

worker_pids() { pgrep -P "$(cat "$STATE/run/hms.pid")" | sort -n; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# One wrk run; prints "requests rps p50 p99".
measure() {
	local out
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")
	local reqs rps p50 p99 non2xx
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
	echo "$reqs $rps $p50 $p99 ${non2xx:-0}"
}


login() {
	curl -s -X POST -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$API/api/auth/token/"
}
# Time of one login (argon2id verification + tokens + audit row), mean of 20.
login_ms=$( (for _ in $(seq 1 20); do
	curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$API/api/auth/token/"
done) | awk '{s += $1} END {printf "%.1f", 1000 * s / NR}')
ACCESS=$(login | sed 's/.*"access":"\([^"]*\)".*/\1/')

# Warm every code path in every worker (connection, prepared statements,
# crypto), then take the first RSS reading: growth after this is a leak.
wrk -t1 -c4 -d2s "$API/api/health/" >/dev/null
wrk -t1 -c4 -d2s -H "Authorization: Bearer $ACCESS" "$API/api/auth/me/" >/dev/null
declare -A before
for p in $(worker_pids); do before[$p]=$(rss_kib "$p"); done

read -r s_reqs s_rps s_p50 s_p99 s_bad < <(measure "$REF/static")
read -r h_reqs h_rps h_p50 h_p99 h_bad < <(measure "$API/api/health/")
AUTH_HEADER="Authorization: Bearer $ACCESS"
measure_auth() {
	local out
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "$AUTH_HEADER" "$1")
	echo "$(echo "$out" | awk '/requests in/ {print $1}') $(echo "$out" | awk '/^Requests\/sec/ {print $2}') $(echo "$out" | awk '$1 == "50%" {print $2}') $(echo "$out" | awk '$1 == "99%" {print $2}') $(echo "$out" | awk '/Non-2xx/ {print $NF}')"
}
read -r m_reqs m_rps m_p50 m_p99 m_bad < <(measure_auth "$API/api/auth/me/")

printf '\n%-34s %12s %10s %10s %10s %8s\n' endpoint requests req/s p50 p99 non-2xx
printf '%-34s %12s %10s %10s %10s %8s\n' "nginx static return 200" "$s_reqs" "$s_rps" "$s_p50" "$s_p99" "$s_bad"
printf '%-34s %12s %10s %10s %10s %8s\n' "GET /api/health/ (hms + SELECT 1)" "$h_reqs" "$h_rps" "$h_p50" "$h_p99" "$h_bad"
printf '%-34s %12s %10s %10s %10s %8s\n' "GET /api/auth/me/ (JWT + account)" "$m_reqs" "$m_rps" "$m_p50" "$m_p99" "${m_bad:-0}"
awk -v a="$h_rps" -v b="$s_rps" 'BEGIN {printf "\nhealth / static throughput: %.1f%%\n", 100 * a / b}'
awk -v a="$m_rps" -v b="$h_rps" 'BEGIN {printf "me / health throughput:     %.1f%%\n", 100 * a / b}'
echo "one login (argon2id m=19 MiB t=2 p=1, tokens, audit row), mean of 20: ${login_ms} ms"
"$ROOT/build/bench/jwt_bench"

echo
printf '%-10s %14s %14s\n' worker "RSS before KiB" "RSS after KiB"
for p in $(worker_pids); do
	printf '%-10s %14s %14s\n' "$p" "${before[$p]:-?}" "$(rss_kib "$p")"
done
echo "(between the two readings the workers served $h_reqs health and $m_reqs /api/auth/me/ requests, plus logins)"
