#!/usr/bin/env bash
# bench.sh - `make bench`: wrk (keep-alive, loopback) through nginx's plain
# HTTP listener on a throwaway stack of the release build, seeded with
# BENCH_PATIENTS patients. Reference points in the same nginx and the same
# run: a static `return 200` and a bare pre-forked FastCGI "hello". Also: one
# login's time, JWT sign/verify cost, and each worker's RSS before and after
# the load (flat = no leak). Figures are ratios within one run: the machine
# is shared and noisy.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${BENCH_DURATION:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
PATIENTS=${BENCH_PATIENTS:-10000}

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
export HMS_ADMIN_USERNAME=bench HMS_ADMIN_PASSWORD=bench-password-1 HMS_TOKEN_RATE=600000r/m
export HMS_TOKEN_BURST=100000
unset HMS_DATABASE_URL HMS_CONFIG
HELLO_PID=
cleanup() {
	[ -n "$HELLO_PID" ] && kill "$HELLO_PID" 2>/dev/null
	"$ROOT/deploy/stack.sh" stop >/dev/null 2>&1
	rm -rf "$STATE"
}
trap cleanup EXIT
"$ROOT/deploy/stack.sh" start >/dev/null 2>&1
WORKERS=$(pgrep -c -x hms -P "$(cat "$STATE/run/hms.pid")")
"$ROOT/build/bench/hello" "$STATE/run/hello.sock" "$WORKERS" &
HELLO_PID=$!
"$ROOT/build/hmsctl" --config "$STATE/hms.conf" seed --patients "$PATIENTS" --doctors 20 >/dev/null

API=http://127.0.0.1:$HMS_HTTP_PORT
PSQL=(psql -h "$STATE/pg/run" -p "$HMS_PG_PORT" -U postgres -d hms -X -q)
[ "$(id -u)" -eq 0 ] && PSQL=(runuser -u postgres -- "${PSQL[@]}")
REF=http://127.0.0.1:$HMS_BENCH_PORT

worker_pids() { pgrep -x hms -P "$(cat "$STATE/run/hms.pid")" | sort -n; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
login() {
	curl -s -X POST -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$API/api/auth/token/"
}
ACCESS=$(login | sed 's/.*"access":"\([^"]*\)".*/\1/')

cat >"$STATE/patient.lua" <<LUA
local n = $PATIENTS
request = function()
  return wrk.format("GET", "/api/patients/" .. math.random(1, n) .. "/")
end
LUA
cat >"$STATE/search.lua" <<'LUA'
local words = {"kin", "oke", "mar", "jos", "nak", "mue", "gar", "ach", "kam", "ban", "phi", "owi"}
request = function()
  return wrk.format("GET", "/api/patients/?search=" .. words[math.random(1, #words)])
end
LUA
# POST /api/appointments/: walks free future slots so most requests book.
# Request i takes doctor (i mod 20) + 1, patient (i mod N) + 1 (a patient
# comes back only 500 slots later, so never twice at one time) and the next
# 30-minute slot of that doctor, Monday to
# Thursday 08:00-16:00 Kampala time (the seeded schedules), from 2027-01-04.
cat >"$STATE/book.lua" <<LUA
local patients = $PATIENTS
LUA
cat >>"$STATE/book.lua" <<'LUA'
local counter = 0
function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end
function init(args)
  counter = first
end
request = function()
  local i = counter
  counter = counter + 2
  local doctor = i % 20 + 1
  local n = math.floor(i / 20)
  local day = math.floor(n / 17)
  local slot = n % 17
  local week, weekday = math.floor(day / 4), day % 4
  local t = os.time({year = 2027, month = 1, day = 4 + week * 7 + weekday, hour = 12})
  local date = os.date("!%Y-%m-%d", t)
  local minutes = 8 * 60 + slot * 30
  local start = string.format("%sT%02d:%02d:00+03:00", date, math.floor(minutes / 60), minutes % 60)
  local body = string.format('{"patient": %d, "doctor": %d, "start_time": "%s"}',
    i % patients + 1, doctor, start)
  -- wrk.format takes these headers instead of wrk.headers (-H), not besides.
  local headers = {["Content-Type"] = "application/json"}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", "/api/appointments/", headers, body)
end
LUA
cat >"$STATE/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"username":"bench","password":"bench-password-1"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# One wrk run: prints "requests rps p50 p99 non2xx". Extra wrk args follow.
measure() {
	local url=$1
	shift
	local out
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
	echo "$(echo "$out" | awk '/requests in/ {print $1}')" \
		"$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" \
		"$(echo "$out" | awk '$1 == "50%" {print $2}')" \
		"$(echo "$out" | awk '$1 == "99%" {print $2}')" \
		"$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
}
AUTH=(-H "Authorization: Bearer $ACCESS")

# Warm every code path in every worker, then take the first RSS reading.
wrk -t1 -c4 -d2s "$API/api/health/" >/dev/null
wrk -t1 -c4 -d2s "${AUTH[@]}" -s "$STATE/patient.lua" "$API" >/dev/null
wrk -t1 -c4 -d2s "${AUTH[@]}" -s "$STATE/search.lua" "$API" >/dev/null
declare -A before
for p in $(worker_pids); do before[$p]=$(rss_kib "$p"); done

declare -a rows
row() {
	local name=$1
	shift
	local r
	r=$(measure "$@")
	rows+=("$name|$r")
}
row "nginx static return 200" "$REF/static"
row "bare FastCGI hello" "$REF/hello"
row "GET /api/health/" "$API/api/health/"
row "GET /api/auth/me/" "$API/api/auth/me/" "${AUTH[@]}"
row "GET /api/patients/{id}/" "$API" "${AUTH[@]}" -s "$STATE/patient.lua"
row "GET /api/patients/?search=<3 letters>" "$API" "${AUTH[@]}" -s "$STATE/search.lua"
row "GET /api/patients/?page=50" "$API/api/patients/?page=50" "${AUTH[@]}"
row "GET /api/patients/?ordering=last_name&page=500" "$API/api/patients/?ordering=last_name&page=500" "${AUTH[@]}"
row "POST /api/auth/token/ (argon2id)" "$API/api/auth/token/" -s "$STATE/login.lua"
row "POST /api/appointments/ (walking free slots)" "$API" "${AUTH[@]}" -s "$STATE/book.lua"
booked=$( (cd / && "${PSQL[@]}" -tAc "SELECT count(*) FROM appointments") )
# A doctor's own upcoming appointments: link a doctor account to doctor 1.
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $ACCESS" \
	-d '{"username":"benchdoc","password":"bench-password-2","role":"doctor"}' "$API/api/auth/register/"
DOC_USER=$( (cd / && "${PSQL[@]}" -tAc "SELECT id FROM users WHERE username = 'benchdoc'") )
curl -s -o /dev/null -X PATCH -H 'Content-Type: application/json' -H "Authorization: Bearer $ACCESS" \
	-d "{\"user\": $DOC_USER}" "$API/api/doctors/1/"
DOC_ACCESS=$(curl -s -X POST -H 'Content-Type: application/json' \
	-d '{"username":"benchdoc","password":"bench-password-2"}' "$API/api/auth/token/" |
	sed 's/.*"access":"\([^"]*\)".*/\1/')
row "GET /api/appointments/upcoming/ (doctor)" "$API/api/appointments/upcoming/" \
	-H "Authorization: Bearer $DOC_ACCESS"

printf '\n%d patients seeded; %d hms workers; wrk -t%d -c%d -d%ds\n\n' "$PATIENTS" "$WORKERS" \
	"$THREADS" "$CONNECTIONS" "$DURATION"
printf '%-48s %10s %10s %10s %10s %8s\n' endpoint requests req/s p50 p99 non-2xx
for r in "${rows[@]}"; do
	IFS='|' read -r name vals <<<"$r"
	read -r reqs rps p50 p99 bad <<<"$vals"
	printf '%-48s %10s %10s %10s %10s %8s\n' "$name" "$reqs" "$rps" "$p50" "$p99" "${bad:-0}"
	case "$name" in
	"bare FastCGI hello") hello_rps=$rps ;;
	"GET /api/patients/{id}/") patient_rps=$rps ;;
	"nginx static return 200") static_rps=$rps ;;
	"GET /api/health/") health_rps=$rps ;;
	"POST /api/appointments/ (walking free slots)") book_reqs=$reqs ;;
	esac
done
echo
awk -v a="$patient_rps" -v b="$hello_rps" \
	'BEGIN {printf "GET /api/patients/{id}/ (JWT + role + audit insert) / bare FastCGI hello: %.1f%% (bar: >= 30%%)\n", 100 * a / b}'
awk -v a="$health_rps" -v b="$static_rps" 'BEGIN {printf "GET /api/health/ / nginx static: %.1f%%\n", 100 * a / b}'
awk -v ok="$booked" -v all="$book_reqs" \
	'BEGIN {printf "POST /api/appointments/: %d of %d requests booked (%.1f%% success)\n", ok, all, 100 * ok / all}'

login_ms=$( (for _ in $(seq 1 20); do
	curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$API/api/auth/token/"
done) | awk '{s += $1} END {printf "%.1f", 1000 * s / NR}')
echo "one login (argon2id m=19 MiB t=2 p=1, tokens, audit row), mean of 20 sequential: ${login_ms} ms"
"$ROOT/build/bench/jwt_bench"

echo
printf '%-10s %14s %14s\n' worker "RSS before KiB" "RSS after KiB"
for p in $(worker_pids); do
	printf '%-10s %14s %14s\n' "$p" "${before[$p]:-?}" "$(rss_kib "$p")"
done
echo "(after warm-up vs after every run above)"

# BENCH_EXPLAIN=1: the plans of the list and detail queries, as hms sends
# them, on this data (docs/performance.md keeps a copy at 1,000,000).
if [ -n "${BENCH_EXPLAIN:-}" ]; then
	COLS="id, medical_record_number, first_name, last_name, to_char(date_of_birth, 'YYYY-MM-DD'), gender"
	SEARCH="((search_vector @@ hms_prefix_query('kin') OR medical_record_number = upper('kin') OR (contact_email <> '' AND lower(contact_email) = lower('kin')))) OR (contact_phone <> '' AND contact_phone = 'kin')"
	explain() {
		echo
		echo "-- $1"
		(cd / && "${PSQL[@]}" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $2")
	}
	explain "GET /api/patients/?search=kin" \
		"WITH hits AS MATERIALIZED (SELECT id, last_name, first_name, date_of_birth, created_at FROM patients WHERE (NOT is_deleted) AND ($SEARCH)), page AS (SELECT id FROM hits ORDER BY last_name ASC, first_name ASC, id LIMIT 20 OFFSET 0) SELECT $COLS, (SELECT count(*) FROM hits) FROM patients WHERE id IN (SELECT id FROM page) ORDER BY last_name ASC, first_name ASC, id"
	explain "GET /api/patients/?search=k (one letter: no fence, the planner picks)" \
		"SELECT $COLS, (SELECT count(*) FROM patients WHERE (NOT is_deleted) AND (search_vector @@ hms_prefix_query('k'))) FROM patients WHERE (NOT is_deleted) AND (search_vector @@ hms_prefix_query('k')) ORDER BY last_name ASC, first_name ASC, id LIMIT 20 OFFSET 0"
	explain "GET /api/patients/?ordering=last_name&page=500" \
		"SELECT $COLS, (SELECT live FROM patient_counts) FROM patients WHERE (NOT is_deleted) ORDER BY last_name ASC, id LIMIT 20 OFFSET 9980"
	explain "GET /api/patients/{id}/" \
		"SELECT $COLS FROM patients WHERE id = 4242 AND (NOT is_deleted OR false)"
fi
