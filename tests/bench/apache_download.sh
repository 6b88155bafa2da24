#!/usr/bin/env bash
# apache_download.sh - `make bench`'s Apache rows (tests/bench/bench.sh runs
# it after nginx's): a 10 MiB attachment downloaded through its signed URL
# behind Apache (the worker checks, mod_xsendfile streams the file), beside
# the same Apache serving the same stored file as a plain static file,
# BENCH_APACHE_ROUNDS (10) sequential transfers each over loopback plain
# HTTP, alternating.
# Bar (issue 21): the signed download within 80% of the static file.
#
# Its own throwaway stack (HMS_WEB_SERVER=apache, the release build, its
# own cluster and ports), stopped by PID at the end whatever happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

STATE=$(mktemp -d /tmp/hms-bench-apache.XXXXXX)
chmod 755 "$STATE"
export HMS_STATE_DIR=$STATE HMS_BIN_DIR=${HMS_BIN_DIR:-$ROOT/build} HMS_WEB_SERVER=apache
export HMS_HTTPS_PORT=$(free_port) HMS_HTTP_PORT=$(free_port) HMS_BENCH_PORT=$(free_port)
export HMS_PG_PORT=$(free_port) HMS_LOG_LEVEL=warn HMS_NGINX_ACCESS_LOG=off
export HMS_ADMIN_USERNAME=${HMS_ADMIN_USERNAME:-bench} HMS_ADMIN_PASSWORD=${HMS_ADMIN_PASSWORD:-bench-password-1}
export HMS_API_RATE=1000000r/s HMS_API_BURST=1000000
unset HMS_DATABASE_URL HMS_CONFIG HMS_APP_HOSTS
cleanup() {
	"$ROOT/deploy/stack.sh" stop >/dev/null 2>&1 || true
	rm -rf "$STATE"
}
trap cleanup EXIT
"$ROOT/deploy/stack.sh" start >"$STATE/start.log" 2>&1 || {
	tail -n 20 "$STATE/start.log" >&2
	echo "apache_download: the Apache stack did not start" >&2
	exit 1
}
API=http://127.0.0.1:$HMS_HTTP_PORT
REF=http://127.0.0.1:$HMS_BENCH_PORT
api_nurse_record "$API" || {
	echo "apache_download: no nurse or record on the Apache stack" >&2
	exit 1
}
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$STATE/ten.txt"
id=$(curl -s "${NURSE_AUTH[@]}" -F "record=$RECORD_ID" -F "file=@$STATE/ten.txt;type=text/plain" \
	"$API/api/attachments/" | json_get id)
# The signed URL names the public origin (https); the same path over the
# plain listener.
path=$(curl -s "${NURSE_AUTH[@]}" "$API/api/attachments/$id/" | json_get download_url |
	sed 's|^https://[^/]*||')
stored=$(as_pg psql -h "$STATE/pg/run" -p "$HMS_PG_PORT" -U postgres -d hms -XtAc \
	"SELECT storage_name FROM attachments WHERE id = $id")
# Each URL answers the whole file before anything is timed.
for url in "$API$path" "$REF/files/$stored"; do
	got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url")
	[ "$got" = "200 $((10 * 1024 * 1024))" ] || {
		echo "apache_download: $url answered '$got'" >&2
		exit 1
	}
done
# Rounds alternate the two, so that the machine's drift (it is shared)
# weighs on both alike; each transfer's time to first byte is summed too
# (for the signed URL: the worker's check, its audit row committed).
rounds=${BENCH_APACHE_ROUNDS:-10}
down_secs=0 static_secs=0 down_first=0
for _ in $(seq 1 "$rounds"); do
	read -r first total < <(curl -s -o /dev/null -w '%{time_starttransfer} %{time_total}\n' "$API$path")
	down_secs=$(awk -v a="$down_secs" -v b="$total" 'BEGIN {print a + b}')
	down_first=$(awk -v a="$down_first" -v b="$first" 'BEGIN {print a + b}')
	total=$(curl -s -o /dev/null -w '%{time_total}' "$REF/files/$stored")
	static_secs=$(awk -v a="$static_secs" -v b="$total" 'BEGIN {print a + b}')
done
mbps() { awk -v bytes="$1" -v secs="$2" 'BEGIN {printf "%.0f", bytes / secs / 1e6}'; }
bytes=$((rounds * 10 * 1024 * 1024))
printf '%-52s %10s\n' "10 MiB file behind Apache, $rounds transfers each" "MB/s"
printf '%-52s %10s\n' "GET download_url behind Apache (signed, X-Sendfile)" "$(mbps $bytes "$down_secs")"
printf '%-52s %10s\n' "Apache static file (the same stored file)" "$(mbps $bytes "$static_secs")"
awk -v d="$down_secs" -v s="$static_secs" -v f="$down_first" -v n="$rounds" \
	'BEGIN {printf "signed download behind Apache / Apache static: %.1f%% (bar: >= 80%%); the signed URL'"'"'s mean time to first byte (the worker'"'"'s check): %.1f ms\n", 100 * s / d, 1000 * f / n}'
