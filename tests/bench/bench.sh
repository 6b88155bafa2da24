#!/usr/bin/env bash
# bench.sh - `make bench`: wrk (keep-alive, loopback) through nginx's plain
# HTTP listener on a throwaway stack of the release build, seeded with
# BENCH_PATIENTS patients. Reference points in the same nginx and the same
# run: a static `return 200` and a bare pre-forked FastCGI "hello". Also: one
# login's time, JWT sign/verify cost, and each worker's RSS before and after
# the load (flat = no leak); a 10 MiB download behind Apache beside Apache's
# static file (tests/bench/apache_download.sh, its own stack). Figures are
# ratios within one run: the machine is shared and noisy. Every row shows
# its req/s as a share of the hello.
#
# When the run completes, the table is also written as data
# ($STATE/bench.dat, tab-separated) and drawn with gnuplot to docs/bench.svg
# (BENCH_CHART=path for another file, BENCH_CHART=none for no chart;
# BENCH_DATA=path keeps a copy of the data).
#
# BENCH_WORKERS_SWEEP=1: instead of the table, the worker-count sweep:
# GET /api/patients/{id}/ and POST /api/appointments/ beside the hello at
# 1x, 2x, 4x and 8x the online CPUs (BENCH_SWEEP="1 2 4 8"), the pool
# resized by SIGHUP on one seeded stack, BENCH_SWEEP_ROUNDS (3) rounds
# that interleave the sizes, then each size's median.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${BENCH_DURATION:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
PATIENTS=${BENCH_PATIENTS:-10000}
CHART=${BENCH_CHART-$ROOT/docs/bench.svg}
SWEEP=${BENCH_WORKERS_SWEEP:-}
CORES=$(nproc)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

STATE=$(mktemp -d /tmp/hms-bench.XXXXXX)
chmod 755 "$STATE"
export HMS_STATE_DIR=$STATE HMS_BIN_DIR=$ROOT/build
export HMS_HTTPS_PORT=$(free_port) HMS_HTTP_PORT=$(free_port) HMS_BENCH_PORT=$(free_port)
export HMS_PG_PORT=$(free_port) HMS_LOG_LEVEL=warn HMS_NGINX_ACCESS_LOG=off
export HMS_ADMIN_USERNAME=bench HMS_ADMIN_PASSWORD=bench-password-1 HMS_TOKEN_RATE=600000r/m
export HMS_TOKEN_BURST=100000
# The per-client limit on /api/: wrk's connections all come from loopback.
export HMS_API_RATE=1000000r/s HMS_API_BURST=1000000
# Room for the 50 MiB upload whose worker RSS is measured.
export HMS_MAX_UPLOAD_BYTES=67108864
unset HMS_DATABASE_URL HMS_CONFIG
# The sweep sets the pool size in hms.conf; the environment would win.
[ -n "$SWEEP" ] && unset HMS_WORKERS
HELLO_PID=
cleanup() {
	[ -n "$HELLO_PID" ] && kill "$HELLO_PID" 2>/dev/null
	"$ROOT/deploy/stack.sh" stop >/dev/null 2>&1
	rm -rf "$STATE"
}
trap cleanup EXIT
"$ROOT/deploy/stack.sh" start >/dev/null 2>&1
MASTER=$(cat "$STATE/run/hms.pid")
# Workers only: the master also forks other helpers (an audit sealer).
worker_pids() { pgrep -x hms -P "$MASTER" | sort -n; }
WORKERS=$(worker_pids | wc -l)
start_hello() {
	"$ROOT/build/bench/hello" "$STATE/run/hello.sock" "$1" &
	HELLO_PID=$!
}
start_hello "$WORKERS"
seed_start=$(date +%s.%N)
"$ROOT/build/hmsctl" --config "$STATE/hms.conf" seed --patients "$PATIENTS" --doctors 20 >/dev/null
SEED_SECONDS=$(echo "$seed_start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')

API=http://127.0.0.1:$HMS_HTTP_PORT
PSQL=(psql -h "$STATE/pg/run" -p "$HMS_PG_PORT" -U postgres -d hms -X -q)
[ "$(id -u)" -eq 0 ] && PSQL=(runuser -u postgres -- "${PSQL[@]}")
REF=http://127.0.0.1:$HMS_BENCH_PORT

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
# The same read through the FHIR interface (src/api/fhir.c): the same
# audited statement, the row written as a FHIR Patient.
cat >"$STATE/fhir_patient.lua" <<LUA
local n = $PATIENTS
request = function()
  return wrk.format("GET", "/fhir/Patient/" .. math.random(1, n))
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
# BOOK_BASE: where the walk starts, so a second run (the sweep) books
# slots the first one left free.
BOOK_BASE=0
write_book_lua() {
	cat >"$STATE/book.lua" <<LUA
local patients = $PATIENTS
local base = $BOOK_BASE
local threads = $THREADS
LUA
	cat >>"$STATE/book.lua" <<'LUA'
local counter = 0
function setup(thread)
  thread:set("first", base + counter)
  counter = counter + 1
end
function init(args)
  counter = first
end
request = function()
  local i = counter
  counter = counter + threads
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
}
write_book_lua
cat >"$STATE/login.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"username":"bench","password":"bench-password-1"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# The cursor walk: GET /api/patients/?ordering=last_name&cursor=... following
# "next" (DRF CursorPagination: {"next","previous","results"}). Each wrk
# thread walks from the second page (the first page's "next", taken here)
# to the end and starts again; a non-200 answer also starts again.
# Empty when the API has no cursor pagination: an error, or a "next" that
# is not a cursor link (an API without cursors ignores ?cursor= and links
# to &page=2).
cursor_start() {
	local body next
	body=$(curl -s -f -H "Authorization: Bearer $ACCESS" \
		"$API/api/patients/?ordering=last_name&cursor=") || return 0
	next=$(printf '%s' "$body" | sed -n 's/^.*"next" *: *"\([^"]*\)".*$/\1/p' | sed 's|\\/|/|g')
	case "$next" in
	*[?\&]page=*) return 0 ;;
	*[?\&]cursor=[!\&]*) printf '%s' "$next" | sed -n 's|^https\{0,1\}://[^/]*\(/.*\)$|\1|p' ;;
	esac
}

# wrk's latency (1.23us, 4.56ms, 1.2s, 1.5m) in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		u = v; sub(/^[0-9.]+/, "", u); n = v + 0
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n
	}'
}

# One wrk run: prints "requests rps p50 p99 non2xx socket-errors kinds"
# (kinds: connect=N,read=N,write=N,timeout=N when there were any). Extra
# wrk args follow.
measure() {
	local url=$1
	shift
	local out
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency "$@" "$url")
	drain
	echo "$(echo "$out" | awk '/requests in/ {print $1}')" \
		"$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" \
		"$(echo "$out" | awk '$1 == "50%" {print $2}')" \
		"$(echo "$out" | awk '$1 == "99%" {print $2}')" \
		"$(echo "$out" | awk '/Non-2xx/ {print $NF}' | grep . || echo 0)" \
		"$(echo "$out" | awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' | grep . || echo 0)" \
		"$(echo "$out" | awk '/Socket errors/ {gsub(/,/, ""); print $3 "=" $4 "," $5 "=" $6 "," $7 "=" $8 "," $9 "=" $10}')"
}
# Waits (up to 30 s) until the pool is idle: requests wrk gave up on at
# the end of a slow row (logins) are still queued at the workers and would
# be served in the next row's time.
drain() {
	local t
	for _ in $(seq 1 60); do
		t=$(curl -s -o /dev/null -w '%{time_total}' "$API/api/health/" || echo 1)
		awk -v t="$t" 'BEGIN {exit !(t < 0.05)}' && return 0
		sleep 0.5
	done
}
AUTH=(-H "Authorization: Bearer $ACCESS")
pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b <= 0) print "-"; else if (100 * a < b) printf "%.2f%%", 100 * a / b; else printf "%.1f%%", 100 * a / b}'; }

# Warm every code path in every worker, then take the first RSS reading.
warm_up() {
	wrk -t1 -c4 -d2s "$API/api/health/" >/dev/null
	wrk -t1 -c4 -d2s "${AUTH[@]}" -s "$STATE/patient.lua" "$API" >/dev/null
	wrk -t1 -c4 -d2s "${AUTH[@]}" -s "$STATE/search.lua" "$API" >/dev/null
}

# --- BENCH_WORKERS_SWEEP=1: the pool size ------------------------------------

# Resizes the pool: workers = N in hms.conf, SIGHUP (a new generation
# starts, the old one finishes its requests and exits), and a hello of the
# same size.
resize_pool() {
	local n=$1
	sed -i "s/^workers = .*/workers = $n/" "$STATE/hms.conf"
	kill -HUP "$MASTER"
	for _ in $(seq 1 300); do
		[ "$(worker_pids | wc -l)" -eq "$n" ] && break
		sleep 0.2
	done
	[ "$(worker_pids | wc -l)" -eq "$n" ] || {
		echo "bench: the pool did not come to $n workers (has $(worker_pids | wc -l))" >&2
		tail -n 5 "$STATE/log/hms.log" >&2
		exit 1
	}
	kill "$HELLO_PID" 2>/dev/null
	wait "$HELLO_PID" 2>/dev/null || true
	rm -f "$STATE/run/hello.sock"
	start_hello "$n"
	for _ in $(seq 1 50); do
		[ -S "$STATE/run/hello.sock" ] && break
		sleep 0.1
	done
	sleep 0.5
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

if [ -n "$SWEEP" ]; then
	ROUNDS=${BENCH_SWEEP_ROUNDS:-3}
	MULTIPLES=${BENCH_SWEEP:-1 2 4 8}
	printf '\nworker sweep: %d patients seeded; %d CPUs; wrk -t%d -c%d -d%ds; %d rounds; load at start %s\n\n' \
		"$PATIENTS" "$CORES" "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS" "$LOAD_START"
	sfmt='%-6s %-9s %10s %9s %10s %9s %8s %8s %10s %9s %8s %6s\n'
	printf "$sfmt" round workers "hello r/s" "hello p99" "{id} r/s" "{id} p99" "% hello" booked \
		"book r/s" "book p99" "% hello" load
	declare -A s_id s_book s_idp s_bookp
	# Rounds interleave the sizes, so a change in the machine's load hits
	# them alike; the summary takes each size's median.
	for round in $(seq 1 "$ROUNDS"); do
		for m in $MULTIPLES; do
			n=$((m * CORES))
			resize_pool "$n"
			warm_up
			read -r _ h_rps _ h_p99 _ _ _ <<<"$(measure "$REF/hello")"
			read -r _ p_rps _ p_p99 p_bad p_err _ <<<"$(measure "$API" "${AUTH[@]}" -s "$STATE/patient.lua")"
			before_booked=$( (cd / && "${PSQL[@]}" -tAc "SELECT count(*) FROM appointments"))
			read -r b_reqs b_rps _ b_p99 b_bad b_err _ <<<"$(measure "$API" "${AUTH[@]}" -s "$STATE/book.lua")"
			booked=$( (cd / && "${PSQL[@]}" -tAc "SELECT count(*) FROM appointments"))
			BOOK_BASE=$((BOOK_BASE + b_reqs + 4 * CONNECTIONS))
			write_book_lua
			[ "$((p_bad + p_err + b_err))" -eq 0 ] ||
				echo "(${m}x: non-2xx $p_bad, socket errors $((p_err + b_err)))"
			printf "$sfmt" "$round" "$n (${m}x)" "$h_rps" "$h_p99" "$p_rps" "$p_p99" "$(pct "$p_rps" "$h_rps")" \
				"$((booked - before_booked))" "$b_rps" "$b_p99" "$(pct "$b_rps" "$h_rps")" \
				"$(cut -d' ' -f1 /proc/loadavg)"
			s_id[$m]+="$p_rps "
			s_book[$m]+="$b_rps "
			s_idp[$m]+="$(to_ms "$p_p99") "
			s_bookp[$m]+="$(to_ms "$b_p99") "
		done
	done
	printf '\nmedians of %d rounds (p99 in ms)\n' "$ROUNDS"
	printf '%-9s %10s %9s %10s %9s\n' workers "{id} r/s" "{id} p99" "book r/s" "book p99"
	for m in $MULTIPLES; do
		printf '%-9s %10s %9s %10s %9s\n' "$((m * CORES)) (${m}x)" "$(median <<<"${s_id[$m]}")" \
			"$(median <<<"${s_idp[$m]}")" "$(median <<<"${s_book[$m]}")" "$(median <<<"${s_bookp[$m]}")"
	done
	printf '\nload at end %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	exit 0
fi

# --- the table ---------------------------------------------------------------

warm_up
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
row "GET /fhir/Patient/{id}" "$API" "${AUTH[@]}" -s "$STATE/fhir_patient.lua"
row "GET /api/patients/?search=<3 letters>" "$API" "${AUTH[@]}" -s "$STATE/search.lua"
row "GET /api/patients/?page=50" "$API/api/patients/?page=50" "${AUTH[@]}"
row "GET /api/patients/?ordering=last_name&page=500" "$API/api/patients/?ordering=last_name&page=500" "${AUTH[@]}"
CURSOR_START=$(cursor_start)
if [ -n "$CURSOR_START" ]; then
	cat >"$STATE/cursor.lua" <<LUA
local start = "$CURSOR_START"
LUA
	cat >>"$STATE/cursor.lua" <<'LUA'
local path = start
request = function()
  return wrk.format("GET", path)
end
response = function(status, headers, body)
  local link = status == 200 and body:match('"next"%s*:%s*"([^"]*)"')
  if not link then
    path = start
    return
  end
  link = link:gsub("\\/", "/")
  path = link:match("^https?://[^/]+(/.*)$") or start
end
LUA
	row "GET /api/patients/?ordering=last_name&cursor= (walk)" "$API" "${AUTH[@]}" -s "$STATE/cursor.lua"
else
	rows+=("GET /api/patients/?ordering=last_name&cursor= (walk)|n/a")
fi
row "POST /api/auth/token/ (argon2id)" "$API/api/auth/token/" -s "$STATE/login.lua"
booked_before=$( (cd / && "${PSQL[@]}" -tAc "SELECT count(*) FROM appointments"))
row "POST /api/appointments/ (walking free slots)" "$API" "${AUTH[@]}" -s "$STATE/book.lua"
booked=$( (cd / && "${PSQL[@]}" -tAc "SELECT count(*) FROM appointments"))
booked=$((booked - booked_before))
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
# A record read (audited): a nurse writes one on patient 1.
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $ACCESS" \
	-d '{"username":"benchnurse","password":"bench-password-3","role":"nurse"}' "$API/api/auth/register/"
NURSE_ACCESS=$(curl -s -X POST -H 'Content-Type: application/json' \
	-d '{"username":"benchnurse","password":"bench-password-3"}' "$API/api/auth/token/" |
	sed 's/.*"access":"\([^"]*\)".*/\1/')
NURSE_AUTH=(-H "Authorization: Bearer $NURSE_ACCESS")
RECORD_ID=$(curl -s -X POST -H 'Content-Type: application/json' "${NURSE_AUTH[@]}" \
	-d '{"record_type":"vitals","title":"Bench vitals","vitals":{"pulse_bpm":72}}' \
	"$API/api/patients/1/records/" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
if [ -n "$RECORD_ID" ]; then
	row "GET /api/records/{id}/" "$API/api/records/$RECORD_ID/" "${NURSE_AUTH[@]}"
else
	rows+=("GET /api/records/{id}/|n/a")
fi
# Billing: 20 issued invoices to list; one large one to take payments of
# 0.01 for the whole run (its total is 1,000,000,000.00).
for i in $(seq 1 20); do
	inv=$(curl -s -X POST -H 'Content-Type: application/json' "${AUTH[@]}" \
		-d "{\"patient\": $i, \"items\": [{\"description\": \"Consultation\", \"quantity\": \"1\", \"unit_price\": \"25.00\"}]}" \
		"$API/api/invoices/" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	[ -n "$inv" ] && curl -s -o /dev/null -X POST "${AUTH[@]}" "$API/api/invoices/$inv/issue/"
done
BIG_INVOICE=$(curl -s -X POST -H 'Content-Type: application/json' "${AUTH[@]}" \
	-d '{"patient": 1, "items": [{"description": "Bench", "quantity": "1000", "unit_price": "1000000.00"}]}' \
	"$API/api/invoices/" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
if [ -n "$BIG_INVOICE" ] &&
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${AUTH[@]}" "$API/api/invoices/$BIG_INVOICE/issue/")" = 200 ]; then
	cat >"$STATE/pay.lua" <<LUA
wrk.method = "POST"
wrk.path = "/api/invoices/$BIG_INVOICE/payments/"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount": "0.01", "method": "cash", "reference": "bench"}'
LUA
	row "GET /api/invoices/?status=issued" "$API/api/invoices/?status=issued" "${AUTH[@]}"
	row "POST /api/invoices/{id}/payments/" "$API" "${AUTH[@]}" -s "$STATE/pay.lua"
else
	rows+=("GET /api/invoices/?status=issued|n/a" "POST /api/invoices/{id}/payments/|n/a")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

for r in "${rows[@]}"; do
	IFS='|' read -r name vals <<<"$r"
	read -r reqs rps _ <<<"$vals"
	case "$name" in
	"bare FastCGI hello") hello_rps=$rps ;;
	"GET /api/patients/{id}/") patient_rps=$rps ;;
	"nginx static return 200") static_rps=$rps ;;
	"GET /api/health/") health_rps=$rps ;;
	"POST /api/appointments/ (walking free slots)") book_reqs=$reqs ;;
	esac
done

SETTINGS=$(printf 'wrk -t%d -c%d -d%ds' "$THREADS" "$CONNECTIONS" "$DURATION")
printf '\n%d patients seeded in %s s; %d hms workers (%d CPUs); %s; load average %s at start, %s at end\n\n' \
	"$PATIENTS" "$SEED_SECONDS" "$WORKERS" "$CORES" "$SETTINGS" "$LOAD_START" "$LOAD_END"
# The data for the chart: one line a row, tab-separated, latencies in ms.
DAT=$STATE/bench.dat
printf '# index\tendpoint\trequests\treq/s\tpercent of hello\tp50 ms\tp99 ms\tnon-2xx\tsocket errors\treference\n' >"$DAT"
fmt='%-52s %10s %10s %8s %10s %10s %8s %7s\n'
printf "$fmt" endpoint requests req/s "% hello" p50 p99 non-2xx errors
i=0
notes=()
for r in "${rows[@]}"; do
	IFS='|' read -r name vals <<<"$r"
	read -r reqs rps p50 p99 bad err kinds <<<"$vals"
	[ "${err:-0}" -gt 0 ] && notes+=("$name: socket errors $kinds")
	case "$name" in "nginx static return 200" | "bare FastCGI hello") ref=1 ;; *) ref=0 ;; esac
	if [ "$reqs" = n/a ]; then
		printf '%-52s %s\n' "$name" "n/a"
		printf '%d\t%s\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\t%d\n' "$i" "$name" "$ref" >>"$DAT"
	else
		share=$(pct "$rps" "$hello_rps")
		printf "$fmt" "$name" "$reqs" "$rps" "$share" "$p50" "$p99" "$bad" "$err"
		printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n' "$i" "$name" "$reqs" "$rps" "${share%\%}" \
			"$(to_ms "$p50")" "$(to_ms "$p99")" "$bad" "$err" "$ref" >>"$DAT"
	fi
	i=$((i + 1))
done
for n in "${notes[@]}"; do echo "$n"; done
echo
awk -v a="$patient_rps" -v b="$hello_rps" \
	'BEGIN {printf "GET /api/patients/{id}/ (JWT + role + audit insert) / bare FastCGI hello: %.1f%% (bar: >= 30%%)\n", 100 * a / b}'
awk -v a="$health_rps" -v b="$static_rps" 'BEGIN {printf "GET /api/health/ / nginx static: %.1f%%\n", 100 * a / b}'
awk -v ok="$booked" -v all="$book_reqs" \
	'BEGIN {printf "POST /api/appointments/: %d of %d requests booked (%s success)\n", ok, all, (all > 0 ? sprintf("%.1f%%", 100 * ok / all) : "-")}'

login_ms=$( (for _ in $(seq 1 20); do
	curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$API/api/auth/token/"
done) | awk '{s += $1} END {printf "%.1f", 1000 * s / NR}')
echo "one login (argon2id m=19 MiB t=2 p=1, tokens, audit row), mean of 20 sequential: ${login_ms} ms"
"$ROOT/build/bench/jwt_bench"

# --- attachments: bytes through the stack ------------------------------------
# Upload and download of a 10 MiB file (MB/s, 5 sequential transfers each)
# beside nginx serving the same stored file as a plain static file; each
# worker's RSS sampled every few milliseconds during a 50 MiB upload.
if [ -n "$RECORD_ID" ]; then
	FILES=$STATE/bench-files
	mkdir -p "$FILES"
	head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$FILES/ten.txt"
	head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' 'b' >"$FILES/fifty.txt"
	upload() {
		curl -s -X POST "${NURSE_AUTH[@]}" -F "record=$RECORD_ID" -F "file=@$1;type=text/plain" \
			-w '\n%{time_total}' "$API/api/attachments/"
	}
	mbps() { awk -v bytes="$1" -v secs="$2" 'BEGIN {printf "%.0f", bytes / secs / 1e6}'; }
	up_secs=0
	for _ in 1 2 3 4 5; do
		out=$(upload "$FILES/ten.txt")
		up_secs=$(echo "$up_secs $(tail -n 1 <<<"$out")" | awk '{print $1 + $2}')
	done
	ATT_ID=$(head -n 1 <<<"$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	DL=$(curl -s "${NURSE_AUTH[@]}" "$API/api/attachments/$ATT_ID/" |
		sed -n 's|.*"download_url":"https://[^/]*\([^"]*\)".*|\1|p')
	STORED=$( (cd / && "${PSQL[@]}" -tAc "SELECT storage_name FROM attachments WHERE id = $ATT_ID"))
	transfer_secs() {
		local total=0
		for _ in 1 2 3 4 5; do
			total=$(echo "$total $(curl -s -o /dev/null -w '%{time_total}' "$1")" | awk '{print $1 + $2}')
		done
		echo "$total"
	}
	down_secs=$(transfer_secs "$API$DL")
	static_secs=$(transfer_secs "$REF/files/$STORED")
	bytes=$((5 * 10 * 1024 * 1024))
	echo
	printf '%-52s %10s\n' "10 MiB file, 5 sequential transfers" "MB/s"
	printf '%-52s %10s\n' "POST /api/attachments/ (upload)" "$(mbps $bytes "$up_secs")"
	printf '%-52s %10s\n' "GET download_url (signed, X-Accel-Redirect)" "$(mbps $bytes "$down_secs")"
	printf '%-52s %10s\n' "nginx static file (the same stored file)" "$(mbps $bytes "$static_secs")"
	# The same hand-off behind Apache (web_server = apache, mod_xsendfile)
	# beside Apache's static file, on a throwaway stack of its own.
	"$ROOT/tests/bench/apache_download.sh" || echo "Apache download rows: failed (see above)"

	# Peak RSS of any worker while one of them takes a 50 MiB upload.
	declare -A base_rss
	for p in $(worker_pids); do base_rss[$p]=$(rss_kib "$p"); done
	PEAK_FILE=$STATE/peak-rss
	(
		peak=0
		while [ ! -e "$STATE/upload-done" ]; do
			for p in $(worker_pids); do
				r=$(rss_kib "$p" 2>/dev/null || echo 0)
				[ "${r:-0}" -gt "$peak" ] && peak=$r
			done
			sleep 0.005
		done
		echo "$peak" >"$PEAK_FILE"
	) &
	sampler=$!
	fifty=$(upload "$FILES/fifty.txt" | head -n 1 | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
	touch "$STATE/upload-done"
	wait "$sampler"
	base_max=0
	for p in "${!base_rss[@]}"; do [ "${base_rss[$p]}" -gt "$base_max" ] && base_max=${base_rss[$p]}; done
	printf '50 MiB upload (%s bytes stored): worker peak RSS %s KiB (largest before it: %s KiB)\n' \
		"${fifty:-failed}" "$(cat "$PEAK_FILE")" "$base_max"
fi

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

# The chart, last: only a run that got this far draws one.
if [ -n "$CHART" ] && [ "$CHART" != none ]; then
	[ -n "${BENCH_DATA:-}" ] && cp "$DAT" "$BENCH_DATA"
	"$ROOT/tests/bench/chart.sh" "$DAT" "$STATE/bench.svg" \
		"HMS make bench, $(date -u '+%Y-%m-%d %H:%M UTC'): $PATIENTS patients, $WORKERS workers on $CORES CPUs, $SETTINGS, load $LOAD_START"
	mkdir -p "$(dirname "$CHART")"
	cp "$STATE/bench.svg" "$CHART"
	echo "chart: $CHART"
elif [ -n "${BENCH_DATA:-}" ]; then
	cp "$DAT" "$BENCH_DATA"
fi
