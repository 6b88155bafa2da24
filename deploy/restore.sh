#!/usr/bin/env bash
# restore.sh - brings back a copy made by deploy/backup.sh: checks every
# file against the manifest, restores the database into an EMPTY database
# and the attachment files into an EMPTY attachment_dir.
#
#   deploy/restore.sh [--config FILE] DIR
#
# Connection and directory as for backup.sh (admin_database_url, the schema
# owner; attachment_dir; HMS_* variables override). Create the database and
# the roles first, as for a new installation (deploy/README.md, "Database
# roles": the owner `hms` and `hms_app` must exist, the database owned by
# `hms` and empty), with hms stopped. Then:
#   put the same audit-seal.keys (and jwt.keys, download.keys) in place,
#   run `hmsctl migrate` (a newer release applies its new migrations),
#   start hms, and check with `hmsctl audit-verify`.
set -euo pipefail

NAME=restore
# shellcheck source=deploy/backup-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/backup-common.sh"
in=$DIR
[ -f "$in/MANIFEST.sha256" ] && [ -d "$in/database" ] || die "$in is not a backup made by deploy/backup.sh"
PG_RESTORE=${PG_RESTORE:-${PGBIN:+$PGBIN/}pg_restore}

say "checking $in against its manifest ..."
(cd "$in" && sha256sum --quiet --strict --check MANIFEST.sha256) || die "the backup is damaged (above: the files that differ)"
listed=$(wc -l <"$in/MANIFEST.sha256")
present=$(cd "$in" && find . -type f ! -name MANIFEST.sha256 | wc -l)
[ "$listed" = "$present" ] || die "the backup has $present files, its manifest lists $listed"

tables=$("$PSQL" "$db" -XAtq -v ON_ERROR_STOP=1 \
	-c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$tables" = 0 ] || die "the database is not empty ($tables tables); restore into a new database"
[ -z "$(find "$files" -mindepth 1 -maxdepth 1 -print -quit)" ] || die "$files is not empty"

# The audit trail's seals cover ranges of transaction ids (xid8). A new
# cluster starts counting low again, so its new audit rows would fall into
# old seals' ranges and `hmsctl audit-verify` would report them as inserted.
# The target must already be past the backup's transaction ids: on a new
# cluster, stop it and raise the xid epoch with pg_resetwal (harmless there).
want=$(sed -n 's/^txid = //p' "$in/backup.info")
now=$("$PSQL" "$db" -XAtq -c "SELECT pg_current_xact_id()::text::bigint")
if [ -n "$want" ] && [ "$now" -le "$want" ]; then
	die "this cluster's transaction ids ($now) are behind the backup's ($want), which would break \
the audit seals. On the new, stopped cluster, as its owner: \
pg_resetwal -e $((want / 4294967296 + 1)) -D DATADIR; start it and restore again."
fi
say "database ..."
# pg_dump empties search_path for the restore, but the schema's SQL functions
# behind generated columns (hms_doctor_search_text -> hms_unaccent, ...) name
# other functions unqualified, so CREATE TABLE could not resolve them: the
# script is restored with search_path = public instead (every object in it is
# qualified anyway), in one transaction.
"$PG_RESTORE" --no-owner --file=- "$in/database" |
	sed "s/^SELECT pg_catalog.set_config('search_path', '', false);\$/SET search_path = public, pg_catalog;/" |
	"$PSQL" "$db" -Xq -v ON_ERROR_STOP=1 --single-transaction >/dev/null
say "attachment files ..."
# Copied without their old owner; mode 0640 and the directory's group (the
# group nginx reads them through), as uploads are.
find "$in/attachments" -maxdepth 1 -type f -print0 |
	xargs -0 -r cp --preserve=timestamps --target-directory="$files"
find "$files" -maxdepth 1 -type f -exec chmod 0640 {} + -exec chgrp --reference="$files" {} +
level=$("$PSQL" "$db" -XAtq -c "SELECT max(version) FROM schema_migrations")
say "done: migration $level, $(find "$files" -maxdepth 1 -type f | wc -l) attachment files."
say "next: the same audit-seal.keys in place, hmsctl migrate, start hms, hmsctl audit-verify"
