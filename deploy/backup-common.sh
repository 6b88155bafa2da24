# backup-common.sh - what deploy/backup.sh and deploy/restore.sh share
# (sourced by them, with NAME set): messages, the [--config FILE] DIR
# arguments, and where the data is. Sets DIR, db (the schema owner's
# connection: admin_database_url, else database_url), files (attachment_dir),
# PGBIN, PSQL; HMS_ADMIN_DATABASE_URL, HMS_DATABASE_URL and
# HMS_ATTACHMENT_DIR override the file, as for hms. Default config:
# $HMS_CONFIG, else /etc/hms/hmsctl.conf.
# shellcheck shell=bash

say() { echo "$NAME: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

config=${HMS_CONFIG:-/etc/hms/hmsctl.conf}
if [ "${1:-}" = --config ]; then
	config=$2
	shift 2
fi
[ $# -eq 1 ] || {
	echo "usage: $0 [--config FILE] DIR" >&2
	exit 2
}
# shellcheck disable=SC2034 # read by the script that sources this
DIR=$1
# The last "key = value" line of the config file.
conf_get() {
	[ -r "$config" ] || return 0
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$config" | tail -n 1 | sed 's/[[:space:]]*$//'
}
db=${HMS_ADMIN_DATABASE_URL:-$(conf_get admin_database_url)}
[ -n "$db" ] || db=${HMS_DATABASE_URL:-$(conf_get database_url)}
files=${HMS_ATTACHMENT_DIR:-$(conf_get attachment_dir)}
[ -n "$db" ] || die "no database: set admin_database_url in $config (or HMS_ADMIN_DATABASE_URL)"
[ -n "$files" ] && [ -d "$files" ] || die "no attachment directory: attachment_dir in $config (or HMS_ATTACHMENT_DIR)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PSQL=${PSQL:-${PGBIN:+$PGBIN/}psql}
