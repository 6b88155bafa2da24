#!/usr/bin/env bash
# backup.sh - a consistent copy of HMS's data: the database (pg_dump,
# directory format) and the attachment files, with a manifest of every
# file's SHA-256. deploy/restore.sh brings a copy back.
#
#   deploy/backup.sh [--config FILE] DIR
#
# DIR must not exist yet. The connection is the config's admin_database_url
# (the schema owner, as hmsctl uses it; else database_url) and the files are
# its attachment_dir; HMS_ADMIN_DATABASE_URL, HMS_DATABASE_URL and
# HMS_ATTACHMENT_DIR override, as for hms. Default config: $HMS_CONFIG,
# else /etc/hms/hmsctl.conf. Run it as a user that may read both
# (e.g. `sudo -u hms-admin` with read access to the attachments through
# the group hms-web, or root).
#
# Why it is consistent while HMS serves: pg_dump reads one snapshot, and the
# files are copied after it. An attachment's file is written (and fsynced)
# before its row commits, and neither is ever changed or removed, so every
# row in the dump has its file in the copy; files of uploads that committed
# after the snapshot are copied too and are harmless (no row names them).
# Upload temporaries (.upload-*) are skipped.
#
# Not in the copy: the key files (jwt.keys, audit-seal.keys,
# download.keys) and the configuration. Back them up separately and keep
# them apart from this copy: the audit trail's seals are only as good as the
# sealing key's secrecy, and `hmsctl audit-verify` on a restored copy needs
# the same audit-seal.keys.
set -euo pipefail

NAME=backup
# shellcheck source=deploy/backup-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-common.sh"
out=$DIR
[ -e "$out" ] && die "$out exists; name a new directory"
PG_DUMP=${PG_DUMP:-${PGBIN:+$PGBIN/}pg_dump}

mkdir -m 700 "$out"
trap 'say "failed; removing the incomplete $out"; rm -rf "$out"' ERR

level=$("$PSQL" "$db" -XAtq -v ON_ERROR_STOP=1 -c "SELECT max(version) FROM schema_migrations")
# The audit seals cover ranges of transaction ids (xid8): a restored copy
# must hand out higher ones (deploy/restore.sh checks; see there).
txid=$("$PSQL" "$db" -XAtq -v ON_ERROR_STOP=1 -c \
	"SELECT pg_current_xact_id()::text::bigint")
say "database (migration $level) ..."
"$PG_DUMP" --dbname="$db" --format=directory --jobs=2 --no-owner --file="$out/database"

say "attachment files ..."
mkdir -m 700 "$out/attachments"
# -print0 and cp: names are generated hex, but no name is trusted.
(cd "$files" && find . -maxdepth 1 -type f ! -name '.*' -print0) |
	(cd "$files" && xargs -0 -r cp -p --target-directory="$out/attachments")
count=$(find "$out/attachments" -type f | wc -l)

cat >"$out/backup.info" <<INFO
created_at = $(date -u +%Y-%m-%dT%H:%M:%SZ)
host = $(hostname)
migration = $level
txid = $txid
attachments = $count
pg_dump = $("$PG_DUMP" --version)
INFO
(cd "$out" && find . -type f ! -name MANIFEST.sha256 -print0 | sort -z | xargs -0 sha256sum) \
	>"$out/MANIFEST.sha256"
trap - ERR
say "done: $out (migration $level, $count attachment files; MANIFEST.sha256 lists every file)"
