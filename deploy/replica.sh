#!/usr/bin/env bash
# replica.sh - a synchronous streaming standby for the local stack's
# PostgreSQL cluster (deploy/stack.sh), made with PostgreSQL's own tools: a
# rehearsal on one machine of the two-VM setup in deploy/README.md
# ("A replicated database").
#
#   deploy/replica.sh start     make the standby (pg_basebackup -R) if there is
#                               none, start it, and make the primary wait for
#                               it at every commit (synchronous_standby_names)
#   deploy/replica.sh promote   pg_ctl promote: the standby becomes the primary
#   deploy/replica.sh rejoin    after a promotion: the old primary (stopped)
#                               rewound with pg_rewind and started as the
#                               synchronous standby of the promoted one
#   deploy/replica.sh stop      stop the standby (and a rejoined old primary)
#   deploy/replica.sh conninfo  the multi-host database_url for hms: both
#                               sockets, target_session_attrs=read-write
#   deploy/replica.sh status
#
# Environment: what stack.sh reads to find its cluster (HMS_STATE_DIR,
# HMS_PG_PORT), HMS_STANDBY_PORT (default HMS_PG_PORT + 1) and
# HMS_SYNC_COMMIT (on, the default, or remote_apply: a commit returns once
# the standby has flushed it, or also applied it so that reads there see
# it). This is the server's default; hms's own sessions always ask for on
# (src/db/db.c), which is what no lost write needs.
#
# The standby lives beside the primary, in pg-standby/ of the directory
# `stack.sh status` names, and like it listens only on a unix socket. After
# a promotion the stack's own cluster is the stale old primary: do not
# `stack.sh start` it again as it is (two primaries); `replica.sh rejoin`
# turns it into the new primary's standby. pg_rewind needs the old primary
# to have run with wal_log_hints = on (or data checksums) and to still have
# its WAL back to the last checkpoint before the switch (wal_keep_size, or
# a WAL archive): HMS_PG_EXTRA_CONF gives both to the stack's cluster, and
# the standby made here has them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_PORT=${HMS_PG_PORT:-5432}
STANDBY_PORT=${HMS_STANDBY_PORT:-$((PG_PORT + 1))}
SYNC_COMMIT=${HMS_SYNC_COMMIT:-on}
APP_NAME=hms_standby
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

say() { echo "replica: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }
as_pg() {
	if is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}
case $SYNC_COMMIT in on | remote_apply) ;; *) die "HMS_SYNC_COMMIT is on or remote_apply" ;; esac
[ -n "$PGBIN" ] || die "PostgreSQL is not installed (run deploy/install-deps.sh)"

# Where stack.sh keeps its cluster: the state directory, or the runtime
# directory it names when that differs.
status=$("$ROOT/deploy/stack.sh" status)
STATE=$(printf '%s\n' "$status" | sed -n 's/^state: //p')
RT=$(printf '%s\n' "$status" | sed -n 's/^cluster, sockets, attachments: //p')
RT=${RT:-$STATE}
PDATA=$RT/pg/data
PSOCK=$RT/pg/run
SROOT=$RT/pg-standby
SDATA=$SROOT/data
SSOCK=$SROOT/run
if [ "$RT" = "$STATE" ]; then LOGDIR=$SROOT; else LOGDIR=$STATE/log; fi

psql_at() { # SOCKET PORT SQL...
	local sock=$1 port=$2
	shift 2
	as_pg "$PGBIN/psql" -h "$sock" -p "$port" -U postgres -d postgres -XqAt -v ON_ERROR_STOP=1 "$@"
}
standby_running() { [ -f "$SDATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$SDATA" status >/dev/null 2>&1; }

make_standby() {
	as_pg "$PGBIN/pg_ctl" -D "$PDATA" status >/dev/null 2>&1 ||
		die "the primary in $PDATA is not running (deploy/stack.sh pg-start)"
	say "copying the primary into $SDATA (pg_basebackup -R)"
	mkdir -p "$SROOT" "$SSOCK"
	is_root && chown -R postgres:postgres "$SROOT"
	chmod 700 "$SROOT"
	# -R writes standby.signal and primary_conninfo (with application_name,
	# the name synchronous_standby_names waits for); -X stream copies the
	# WAL written meanwhile; -c fast starts at once.
	as_pg "$PGBIN/pg_basebackup" -D "$SDATA" -R -X stream -c fast \
		-d "host='$PSOCK' port=$PG_PORT user=postgres application_name=$APP_NAME" \
		>>"$LOGDIR/standby.log" 2>&1 || die "pg_basebackup failed; see $LOGDIR/standby.log"
	# The copy carries the primary's settings. A standby that is promoted
	# must not wait for a standby of its own that does not exist yet (every
	# commit would hang): it runs alone until one is made from it.
	as_pg sed -i '/^synchronous_standby_names/d' "$SDATA/postgresql.auto.conf"
	grep -q "application_name=.\?$APP_NAME" "$SDATA/postgresql.auto.conf" ||
		die "pg_basebackup -R wrote no application_name into primary_conninfo"
}

standby_start() {
	[ -f "$SDATA/PG_VERSION" ] || make_standby
	# Its own socket and port (stack.sh writes the primary's at every start).
	as_pg tee "$SDATA/hms-local.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '"$SSOCK"'
port = $STANDBY_PORT
max_connections = 200
hot_standby = on
wal_log_hints = on
wal_keep_size = 256MB
log_min_messages = warning
log_error_verbosity = terse
CONF
	if ! standby_running; then
		as_pg "$PGBIN/pg_ctl" -D "$SDATA" -w -t 60 start >>"$LOGDIR/standby.log" 2>&1 </dev/null ||
			die "the standby did not start; see $LOGDIR/standby.log"
	fi
	[ -f "$SDATA/standby.signal" ] || {
		say "the copy in $SDATA is a primary now (promoted); nothing to wait for"
		return 0
	}
	# The primary waits for it: a commit is acknowledged only once the
	# standby has it. ALTER SYSTEM (postgresql.auto.conf) outlasts the
	# hms-local.conf that stack.sh rewrites.
	psql_at "$PSOCK" "$PG_PORT" -c "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ($APP_NAME)'"
	psql_at "$PSOCK" "$PG_PORT" -c "ALTER SYSTEM SET synchronous_commit = '$SYNC_COMMIT'"
	psql_at "$PSOCK" "$PG_PORT" -c "SELECT pg_reload_conf()" >/dev/null
	for _ in $(seq 1 300); do
		if [ "$(psql_at "$PSOCK" "$PG_PORT" -c \
			"SELECT sync_state FROM pg_stat_replication WHERE application_name = '$APP_NAME'")" = sync ]; then
			say "standby streaming on port $STANDBY_PORT ($SSOCK), synchronous (synchronous_commit = $SYNC_COMMIT)"
			return 0
		fi
		sleep 0.2
	done
	die "the standby is not a synchronous replica after 60 s; see $LOGDIR/standby.log"
}

# The old primary, fenced (stopped), becomes the synchronous standby of the
# promoted one: pg_rewind takes back what it wrote after the standby's
# timeline forked (WAL the standby never had: never acknowledged, since
# every acknowledged commit waited for the standby), then it streams from
# the new primary. Its own hms-local.conf survives the rewind, which copies
# the source's configuration files.
rejoin() {
	local old_name=hms_old_primary keep tli
	standby_running && [ ! -f "$SDATA/standby.signal" ] ||
		die "no promoted standby in $SDATA: promote it first"
	if as_pg "$PGBIN/pg_ctl" -D "$PDATA" status >/dev/null 2>&1; then
		die "the old primary in $PDATA is running: stop it (and keep it fenced) first"
	fi
	keep=$(mktemp)
	cp "$PDATA/hms-local.conf" "$keep"
	# pg_rewind reads the source's timeline from its control file, which a
	# promotion updates only at its first checkpoint: without one it sees
	# the same timeline on both sides and says that no rewind is required.
	psql_at "$SSOCK" "$STANDBY_PORT" -c "CHECKPOINT" >/dev/null
	say "rewinding $PDATA to the promoted standby's timeline (pg_rewind)"
	if ! as_pg "$PGBIN/pg_rewind" --target-pgdata="$PDATA" \
		--source-server="host='$SSOCK' port=$STANDBY_PORT user=postgres dbname=postgres" \
		>>"$LOGDIR/standby.log" 2>&1; then
		rm -f "$keep"
		die "pg_rewind failed; see $LOGDIR/standby.log"
	fi
	as_pg tee "$PDATA/hms-local.conf" <"$keep" >/dev/null
	rm -f "$keep"
	as_pg sed -i '/^synchronous_standby_names/d;/^primary_conninfo/d' "$PDATA/postgresql.auto.conf"
	echo "primary_conninfo = 'host=''$SSOCK'' port=$STANDBY_PORT user=postgres application_name=$old_name'" |
		as_pg tee -a "$PDATA/postgresql.auto.conf" >/dev/null
	as_pg touch "$PDATA/standby.signal"
	as_pg "$PGBIN/pg_ctl" -D "$PDATA" -w -t 60 start >>"$LOGDIR/standby.log" 2>&1 </dev/null ||
		die "the rewound old primary did not start; see $LOGDIR/standby.log"
	psql_at "$SSOCK" "$STANDBY_PORT" -c "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ($old_name)'"
	psql_at "$SSOCK" "$STANDBY_PORT" -c "ALTER SYSTEM SET synchronous_commit = '$SYNC_COMMIT'"
	psql_at "$SSOCK" "$STANDBY_PORT" -c "SELECT pg_reload_conf()" >/dev/null
	# Synchronous, and streaming the new timeline: a standby that could not
	# follow the fork shows as connected (and briefly "sync") all the same.
	tli=$(psql_at "$SSOCK" "$STANDBY_PORT" -c "SELECT timeline_id FROM pg_control_checkpoint()")
	for _ in $(seq 1 300); do
		if [ "$(psql_at "$SSOCK" "$STANDBY_PORT" -c \
			"SELECT sync_state FROM pg_stat_replication WHERE application_name = '$old_name'")" = sync ] &&
			[ "$(psql_at "$PSOCK" "$PG_PORT" -c \
				"SELECT status || ' ' || received_tli FROM pg_stat_wal_receiver" 2>/dev/null)" = "streaming $tli" ]; then
			say "the old primary ($PDATA, port $PG_PORT) is the synchronous standby of $SDATA"
			return 0
		fi
		sleep 0.2
	done
	die "the rewound old primary is not a synchronous standby after 60 s; see $LOGDIR/standby.log"
}

case "${1:-start}" in
start) standby_start ;;
promote)
	standby_running || die "no standby running in $SDATA"
	[ -f "$SDATA/standby.signal" ] || die "$SDATA is already a primary"
	as_pg "$PGBIN/pg_ctl" -D "$SDATA" -w -t 60 promote >>"$LOGDIR/standby.log" 2>&1 ||
		die "pg_ctl promote failed; see $LOGDIR/standby.log"
	say "promoted: $SDATA (port $STANDBY_PORT) is the primary"
	;;
rejoin) rejoin ;;
stop)
	if standby_running; then
		as_pg "$PGBIN/pg_ctl" -D "$SDATA" -m fast -w -t 60 stop >/dev/null
	fi
	# A rejoined old primary is a standby now: stack.sh stop stops it too.
	;;
conninfo)
	# libpq tries the hosts in order and keeps the one that accepts writes.
	echo "host='$PSOCK,$SSOCK' port=$PG_PORT,$STANDBY_PORT dbname=hms user=hms_app target_session_attrs=read-write"
	;;
status)
	if standby_running; then
		if [ -f "$SDATA/standby.signal" ]; then echo "standby: running (port $STANDBY_PORT)"; else echo "standby: promoted, running as a primary (port $STANDBY_PORT)"; fi
	else
		echo "standby: stopped"
	fi
	echo "data: $SDATA"
	;;
*)
	echo "usage: $0 start|promote|rejoin|stop|conninfo|status" >&2
	exit 2
	;;
esac
