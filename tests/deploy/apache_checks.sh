#!/usr/bin/env bash
# apache_checks.sh - what only a stack behind Apache (HMS_WEB_SERVER=apache)
# shows, beyond the suites tests/run.sh runs through it.
#
# The bytes of a download come from Apache, not from a worker: while a large attachment
# (OFFLOAD_MIB, default 100 MiB) downloads through its signed URL, every
# process of the hms pool keeps its memory and burns next to no CPU. A
# worker that read the file and wrote it down the FastCGI socket would
# copy every byte: seconds of CPU and, buffered, its size in RSS.
#
# Run by tests/run.sh's apache stage on its stack (HMS_TEST_BASE_URL,
# HMS_TEST_CA, HMS_TEST_STATE, HMS_ADMIN_PASSWORD), started with
# HMS_MAX_UPLOAD_BYTES above the file's size and the production limits on
# the login and password routes (mod_qos: 15 and 9 requests a minute per
# address, the 15th and 9th refused with 429 JSON and Retry-After: 60, checked last from an
# address of their own). Prints the figures (VmRSS from
# /proc/PID/status, utime + stime from /proc/PID/stat, before, at the peak
# and after), one line per check, and the Criterion-style synthesis line.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
NAME=apache
MIB=${OFFLOAD_MIB:-100}
# A flat process: its RSS grows by less than this, and the whole pool
# spends less CPU than this, during the download. CPU is the telling one:
# a worker streaming the file would not grow much, but copying 100 MiB
# through FastCGI costs tens of ticks (the upload, which a worker does
# read, costs the release build about 17 and the sanitizer build more;
# printed for scale). The check itself and an audit row cost well under one.
RSS_GROWTH_MAX_KIB=2048
CPU_MAX_TICKS=5 # 1/100 s each (USER_HZ)

BASE=$HMS_TEST_BASE_URL
STATE=$HMS_TEST_STATE
WORK=$(mktemp -d /tmp/hms-offload.XXXXXX)
SAMPLER=
cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

api() { curl -s --cacert "$HMS_TEST_CA" --max-time 300 "$@"; }
json() { json_get "$1"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# utime + stime, after the command name (which is in parentheses).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }

# --- the production site as shipped ---------------------------------------------
# The stack's site drops the prod-only lines (the port-80 redirect, OCSP
# stapling, the DH parameters): the shipped file, with only its paths
# changed, must pass Apache's own check with the stack's modules.
prod=$WORK/prod
mkdir -p "$prod/logs"
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$prod/ffdhe2048.pem" 2>/dev/null
sed -e "s|/etc/ssl/hms/ffdhe2048.pem|$prod/ffdhe2048.pem|" -e "s|/etc/ssl/hms/hms|$STATE/tls/hms|g" \
	-e "s|/var/log/apache2/|$prod/logs/|g" -e "s|\${APACHE_RUN_DIR}|$prod|" \
	"$ROOT/deploy/apache/hms.conf" >"$prod/site.conf"
sed -e "s|^Include .*hms-site.conf.*|Include \"$prod/site.conf\"|" -e 's|^Listen .*||' \
	-e "s|^PidFile .*|PidFile \"$prod/pid\"|" "$STATE/apache/httpd.conf" >"$prod/httpd.conf"
check "deploy/apache/hms.conf as shipped passes apache2 -t" \
	bash -c 'apache2 -t -f "$1" >"$2" 2>&1 || { cat "$2"; false; }' _ "$prod/httpd.conf" "$prod/t.log"
# TRACE would echo the request back, Authorization included.
check "TRACE is refused (405)" test "$(api -o /dev/null -w '%{http_code}' -X TRACE \
	-H 'Authorization: Bearer secret-token' "$BASE/api/health/")" = 405

# A request Apache itself refuses (a header line without a colon) is a 400
# in the API's JSON, with the security headers and a request id.
raw=$(printf 'GET /api/health/ HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n' |
	timeout 10 openssl s_client -quiet -connect "127.0.0.1:${BASE##*:}" 2>/dev/null | tr -d '\r')
check "a malformed header line is Apache's 400 as {\"detail\"} JSON with nosniff and a request id" \
	bash -c 'grep -q "^HTTP/1.1 400" <<<"$1" && grep -q -i "^Content-Type: application/json" <<<"$1" &&
		grep -q -F "{\"detail\":\"Bad request.\"}" <<<"$1" && grep -q -i "^X-Content-Type-Options: nosniff" <<<"$1" &&
		grep -q -i "^X-Request-ID: [0-9a-f]\{32\}$" <<<"$1"' _ "$raw"

# --- a nurse, a record, and the file attached to it ---------------------------
api_nurse_record "$BASE" --cacert "$HMS_TEST_CA" || true
auth=("${NURSE_AUTH[@]}")
record=${RECORD_ID:-}
head -c $((MIB * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$WORK/big.txt"
# For scale: the pool's CPU over the upload, which a worker does read
# (hashes, writes, has its type judged).
master=$(cat "$STATE/run/hms.pid")
mapfile -t pool < <(pgrep -P "$master" | sort -n)
pool_ticks() {
	local p t=0
	for p in "${pool[@]}"; do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
upload_ticks=$(pool_ticks)
id=$(api "${auth[@]}" -F "record=$record" -F "file=@$WORK/big.txt;type=text/plain" \
	"$BASE/api/attachments/" | json id)
upload_ticks=$(($(pool_ticks) - upload_ticks))
url=$(api "${auth[@]}" "$BASE/api/attachments/$id/" | json download_url)
if [ -z "$id" ] || [ -z "$url" ]; then
	fail "a $MIB MiB attachment is uploaded (to record '$record')"
	finish_checks 1
fi
ok "a $MIB MiB attachment is uploaded (id $id; the pool spent $upload_ticks ticks of CPU on it)"

# --- the download, the pool watched ------------------------------------------
declare -A rss0 cpu0
for p in "${pool[@]}"; do
	rss0[$p]=$(rss_kib "$p")
	cpu0[$p]=$(cpu_ticks "$p")
done
# Every 20 ms, each process's RSS, while the download runs: the peak.
(
	while :; do
		for p in "${pool[@]}"; do echo "$p $(rss_kib "$p")"; done
		sleep 0.02
	done
) >"$WORK/samples" &
SAMPLER=$!
got=$(curl -s --cacert "$HMS_TEST_CA" --max-time 300 -o "$WORK/got" \
	-w '%{http_code} %{size_download} %{time_total}' "$url")
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
SAMPLER=
read -r code bytes secs <<<"$got"
check "the download answers 200 with the file byte for byte ($bytes bytes in $secs s)" \
	test "$code" = 200 -a "$bytes" = $((MIB * 1024 * 1024))
check "the downloaded file is the uploaded one" cmp -s "$WORK/big.txt" "$WORK/got"

printf '%-8s %12s %12s %12s %10s\n' pid "RSS0 KiB" "peak KiB" "after KiB" "CPU ticks"
cpu_total=0 rss_worst=0
for p in "${pool[@]}"; do
	peak=$(awk -v p="$p" '$1 == p && $2 > m {m = $2} END {print m + 0}' "$WORK/samples")
	after=$(rss_kib "$p")
	[ "$after" -gt "$peak" ] && peak=$after
	cpu=$(($(cpu_ticks "$p") - cpu0[$p]))
	cpu_total=$((cpu_total + cpu))
	growth=$((peak - rss0[$p]))
	[ "$growth" -gt "$rss_worst" ] && rss_worst=$growth
	printf '%-8s %12s %12s %12s %10s\n' "$p" "${rss0[$p]}" "$peak" "$after" "$cpu"
done
check "no process of the pool grew by $RSS_GROWTH_MAX_KIB KiB or more during the download (largest growth: $rss_worst KiB)" \
	test "$rss_worst" -lt "$RSS_GROWTH_MAX_KIB"
check "the pool spent under $CPU_MAX_TICKS ticks of CPU on the download (spent: $cpu_total)" \
	test "$cpu_total" -lt "$CPU_MAX_TICKS"
# And Apache logged it as a 200 of the whole file: it sent the bytes.
check "Apache's access log has the download, $bytes bytes, by path only" \
	grep -q -F "\"path\":\"/api/attachments/$id/download/\",\"status\":200,\"bytes\":$bytes," \
	"$STATE/apache/logs/access.log"
# Neither the signature of any download URL nor any query string of the
# whole stage (searches, filters) is in any of Apache's logs.
check "no query string in Apache's logs (access and error)" \
	bash -c '! grep -q -E "(signature|expires|search|born_before)=" "$1"/apache/logs/*.log' _ "$STATE"

# --- the login and password routes' own limits --------------------------------
# From an address of loopback's of its own (its own mod_qos client, whom no
# earlier run has counted): a route's count, then 429s.
SOURCE=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))
throttle_check() { # PATH COUNT
	local i code first=0 answers=$WORK/throttle
	for i in $(seq 1 $(($2 + 3))); do
		code=$(curl -s --cacert "$HMS_TEST_CA" --max-time 30 --interface "$SOURCE" \
			--resolve "localhost:${BASE##*:}:127.0.0.1" -D "$WORK/headers" -o "$WORK/body" \
			-w '%{http_code}' -H 'Content-Type: application/json' -d '{}' "$BASE$1")
		if [ "$code" = 429 ] && [ "$first" = 0 ]; then
			first=$i
			grep -i '^Retry-After:' "$WORK/headers" | tr -d '\r' >"$answers"
			json detail <"$WORK/body" >>"$answers"
			grep -i '^X-Request-ID:' "$WORK/headers" >>"$answers"
		fi
	done
	# The first 429 is the request that reaches the count (mod_qos refuses
	# it), says when to come back, in the API's JSON, with a request id.
	[ "$first" -eq "$2" ] && grep -q -x -i 'Retry-After: 60' "$answers" &&
		grep -q 'throttled' "$answers" && grep -q -i '^X-Request-ID: [0-9a-f]\{32\}' "$answers"
}
check "POST /api/auth/token/ from one address: 14 answered, then 429 JSON with Retry-After: 60" \
	throttle_check /api/auth/token/ 15
check "POST /api/auth/password/ from one address: 8 answered, then 429 JSON with Retry-After: 60" \
	throttle_check /api/auth/password/ 9
# The login limit covers logins only (nginx's zones do the same): the
# address that used it up still reaches the rest of the API.
check "an address out of logins still gets GET /api/health/ (200)" test "$(curl -s \
	--cacert "$HMS_TEST_CA" --max-time 30 --interface "$SOURCE" \
	--resolve "localhost:${BASE##*:}:127.0.0.1" -o /dev/null -w '%{http_code}' \
	"$BASE/api/health/")" = 200
finish_checks 0
