#!/usr/bin/env bash
# backup_restore.sh - deploy/backup.sh of the running (populated) test stack,
# deploy/restore.sh into a second, empty stack (its own cluster, state
# directory and ports, the same audit-seal.keys), then: the same API
# answers (a set of GETs as admin), every attachment file with its recorded
# SHA-256 and downloadable through a signed URL, the audit trail row for
# row, and `hmsctl audit-verify` passing on the restored copy. Also: a
# restore refuses a non-empty database and a damaged backup.
#
# Needs the test stack's variables (tests/run.sh): HMS_TEST_STATE,
# HMS_TEST_BASE_URL, HMS_TEST_CA, HMS_ADMIN_PASSWORD, HMS_BIN_DIR. Prints
# one line per check and a Criterion-style synthesis line.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=backup_restore
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
check_logged() { # DESCRIPTION COMMAND...: check, the command's output in $LOG
	local what=$1
	shift
	if "$@" >>"$LOG" 2>&1; then ok "$what"; else fail "$what (log: above)"; tail -n 15 "$LOG"; fi
}

: "${HMS_TEST_STATE:?}" "${HMS_TEST_BASE_URL:?}" "${HMS_TEST_CA:?}" "${HMS_ADMIN_PASSWORD:?}"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
HMSCTL=${HMS_TEST_HMSCTL_BIN:-${HMS_BIN_DIR:-$ROOT/build}/hmsctl}
WORK=$(mktemp -d /tmp/hms-backup-test.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/log
S1=$HMS_TEST_STATE
S2=$WORK/restored
P2=$(free_port)
G2=$(free_port)
conf1=$S1/hms.conf
db1=$(sed -n 's/^admin_database_url = //p' "$conf1")
db2="host=$S2/pg/run port=$G2 dbname=hms user=hms"
stack2() { env HMS_STATE_DIR="$S2" HMS_HTTPS_PORT="$P2" HMS_PG_PORT="$G2" "$ROOT/deploy/stack.sh" "$@"; }
cleanup() {
	local rc=$?
	stack2 stop >/dev/null 2>&1
	[ "$failed" -gt 0 ] && tail -n 20 "$S2/log/hms.log" 2>/dev/null
	rm -rf "$WORK"
	finish_checks "$rc"
}
trap cleanup EXIT

sql() { "$PGBIN/psql" "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
record_patients() { sql "$1" "SELECT DISTINCT patient_id FROM medical_records ORDER BY 1"; }
# The audit trail up to row $2, as one digest (every column of every row).
audit_digest() { sql "$1" "SELECT count(*) || ' ' || md5(string_agg(a::text, E'\n' ORDER BY id)) FROM audit_log a WHERE id <= $2"; }

# --- the populated stack, then its backup ---------------------------------------
# shellcheck disable=SC2046
check_logged "API answers of the populated stack" python3 "$ROOT/tests/deploy/api_snapshot.py" \
	"$HMS_TEST_BASE_URL" "$HMS_TEST_CA" "$HMS_ADMIN_PASSWORD" "$WORK/before.json" $(record_patients "$db1")
last_audit=$(sql "$db1" "SELECT max(id) FROM audit_log")
digest1=$(audit_digest "$db1" "$last_audit")
files1=$(sql "$db1" "SELECT count(*) FROM attachments")
check_logged "deploy/backup.sh of the running stack ($files1 attachments, $last_audit audit rows)" \
	"$ROOT/deploy/backup.sh" --config "$conf1" "$WORK/backup"

# --- an empty second stack, the restore, its start --------------------------------
mkdir -p "$S2/secrets" "$S2/attachments"
chmod 700 "$S2/secrets"
cp -p "$S1/secrets/audit-seal.keys" "$S2/secrets/"
check_logged "a second cluster starts empty" stack2 pg-start
# As deploy/restore.sh asks of a new cluster: its transaction ids past the
# backup's (the audit seals cover xid ranges), by raising the xid epoch.
epoch=$(($(sed -n 's/^txid = //p' "$WORK/backup/backup.info") / 4294967296 + 1))
stack2 pg-stop >>"$LOG" 2>&1
if as_pg "$PGBIN/pg_resetwal" -e "$epoch" -D "$S2/pg/data" >>"$LOG" 2>&1 && stack2 pg-start >>"$LOG" 2>&1; then
	ok "its xid epoch raised to $epoch (pg_resetwal), past the backup's transaction ids"
else
	fail "its xid epoch raised to $epoch (pg_resetwal)"
fi
# The attachment directory as the unit or stack.sh makes it: nginx's group.
if [ "$(id -u)" -eq 0 ] && getent group www-data >/dev/null; then
	chgrp www-data "$S2/attachments"
	chmod 2750 "$S2/attachments"
fi
check_logged "deploy/restore.sh into it" env HMS_ADMIN_DATABASE_URL="$db2" HMS_ATTACHMENT_DIR="$S2/attachments" \
	"$ROOT/deploy/restore.sh" --config /dev/null "$WORK/backup"
if env HMS_ADMIN_DATABASE_URL="$db2" HMS_ATTACHMENT_DIR="$WORK" \
	"$ROOT/deploy/restore.sh" --config /dev/null "$WORK/backup" >>"$LOG" 2>&1; then
	fail "a second restore over the restored database is refused"
else
	ok "a second restore over the restored database is refused"
fi
cp -a "$WORK/backup" "$WORK/damaged"
victim=$(find "$WORK/damaged/attachments" -type f | head -n 1)
if [ -n "$victim" ]; then
	printf 'x' >>"$victim"
	mkdir "$WORK/empty-files"
	out=$(env HMS_ADMIN_DATABASE_URL="$db2" HMS_ATTACHMENT_DIR="$WORK/empty-files" \
		"$ROOT/deploy/restore.sh" --config /dev/null "$WORK/damaged" 2>&1)
	printf '%s\n' "$out" >>"$LOG"
	if printf '%s\n' "$out" | grep -q 'the backup is damaged'; then
		ok "a damaged backup is refused (manifest)"
	else
		fail "a damaged backup is refused (manifest)"
	fi
fi
check_logged "the restored stack starts (migrate, hms, nginx)" stack2 start

# --- the same data ------------------------------------------------------------------
db2_admin="host=$S2/pg/run port=$G2 dbname=hms user=hms"
# shellcheck disable=SC2046
check_logged "API answers of the restored stack" python3 "$ROOT/tests/deploy/api_snapshot.py" \
	"https://localhost:$P2" "$S2/tls/hms.crt" "$HMS_ADMIN_PASSWORD" "$WORK/after.json" $(record_patients "$db2_admin")
if python3 - "$WORK/before.json" "$WORK/after.json" >>"$LOG" 2>&1 <<'PY'; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = [k for k in sorted(set(a["answers"]) | set(b["answers"])) if a["answers"].get(k) != b["answers"].get(k)]
for k in bad[:10]:
    print("differs:", k)
sys.exit(1 if bad or not a["answers"] else 0)
PY
	ok "every GET answers the same on both stacks ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["answers"]))' "$WORK/after.json") answers)"
else
	fail "every GET answers the same on both stacks"; tail -n 10 "$LOG"
fi
if python3 - "$WORK/before.json" "$WORK/after.json" >>"$LOG" 2>&1 <<'PY'; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ok = a["downloads"] == b["downloads"] and all(d["claimed"] == d["downloaded"] for d in b["downloads"].values())
print(len(b["downloads"]), "downloads")
sys.exit(0 if ok else 1)
PY
	ok "every attachment downloads with its SHA-256 through a signed URL of the restored stack"
else
	fail "every attachment downloads with its SHA-256 through a signed URL of the restored stack"
fi
bad_files=0
while IFS='|' read -r name sum; do
	[ "$(sha256sum <"$S2/attachments/$name" 2>/dev/null | cut -d ' ' -f 1)" = "$sum" ] || bad_files=$((bad_files + 1))
done < <(sql "$db2_admin" "SELECT storage_name, sha256 FROM attachments ORDER BY id")
files2=$(sql "$db2_admin" "SELECT count(*) FROM attachments")
if [ "$bad_files" = 0 ] && [ "$files2" = "$files1" ]; then
	ok "every attachment file ($files2) is there with the SHA-256 its row records"
else
	fail "every attachment file is there with its SHA-256 ($bad_files wrong or missing, $files2 of $files1 rows)"
fi
digest2=$(audit_digest "$db2_admin" "$last_audit")
count2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["audit_count"])' "$WORK/after.json" 2>/dev/null)
# (The API's count is capped at list_count_cap, 1000: it only shows the list answers.)
if [ -n "$digest1" ] && [ "$digest1" = "$digest2" ] && [ "${count2:-0}" -gt 0 ]; then
	ok "the audit trail is the same row for row ($last_audit rows; the API lists $count2 or more)"
else
	fail "the audit trail is the same row for row ($digest1 / $digest2, API count $count2)"
fi
check_logged "hmsctl audit-verify passes on the restored copy" "$HMSCTL" --config "$S2/hms.conf" audit-verify
