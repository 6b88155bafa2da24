/*
 * db.c - the worker's one PostgreSQL connection.
 *
 * Why one connection per worker: a worker serves one request at a time, so
 * a pool inside it would only add locking; N workers hold N connections,
 * which PostgreSQL handles well for the worker counts a VM runs.
 *
 * The connection opens on first use. Before each statement outside a
 * transaction we notice a connection the server has closed (restart,
 * failover) with PQconsumeInput and reconnect, so the first request after a
 * PostgreSQL restart succeeds instead of failing. Prepared statements are
 * tracked per connection and re-prepared after a reconnect.
 */
#include "hms/db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hms/arena.h"
#include "hms/columns.h"
#include "hms/log.h"

#define DB_MAX_PREPARED 256

struct db {
	char *conninfo;
	PGconn *conn;
	char listen_channel[64];
	/* libpq "options": durable commits, no JIT, time zone, statement timeout */
	char options[192];
	char time_zone[64];
	long statement_timeout_ms; /* 0: none */
	db_notify_fn notify;
	void *notify_arg;
	bool in_transaction;
	bool checked; /* check_idle() ran for this request */
	const struct db_stmt *prepared[DB_MAX_PREPARED];
	size_t prepared_count;
};

struct db *db_new(const char *conninfo)
{
	struct db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->conninfo = strdup(conninfo);
	if (db->conninfo == NULL) {
		free(db);
		return NULL;
	}
	db_set_time_zone(db, "UTC");
	return db;
}

static void drop_connection(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->prepared_count = 0;
	db->in_transaction = false;
}

void db_free(struct db *db)
{
	if (db == NULL)
		return;
	drop_connection(db);
	free(db->conninfo);
	free(db);
}

PGconn *db_conn(struct db *db)
{
	return db_ensure(db) == HMS_OK ? db->conn : NULL;
}

/* The session settings travel in the startup packet ("options"), so they
 * hold from the first statement of every connection, reconnections
 * included, at no extra round trip. */
static void make_options(struct db *db)
{
	int n;

	/* The zone was validated at start-up (letters, digits, / _ + -), so it
	 * needs no escaping inside the options string. A commit returns only
	 * once it is durable, whatever the server's default: no answer (and no
	 * audited read) is acknowledged before its audit row is on disk. No JIT:
	 * every statement is short, and compiling one (tens of milliseconds) is
	 * decided by cost estimates that count branches a statement may never
	 * run (a search's fallback count, src/db/list.c). */
	n = snprintf(db->options, sizeof(db->options), "-c synchronous_commit=on -c jit=off ");
	if (db->time_zone[0] != '\0' && n >= 0 && (size_t)n < sizeof(db->options))
		n += snprintf(db->options + n, sizeof(db->options) - (size_t)n, "-c TimeZone=%s ",
		              db->time_zone);
	if (n >= 0 && (size_t)n < sizeof(db->options))
		snprintf(db->options + n, sizeof(db->options) - (size_t)n,
		         "-c statement_timeout=%ld", db->statement_timeout_ms);
}

void db_set_time_zone(struct db *db, const char *zone)
{
	snprintf(db->time_zone, sizeof(db->time_zone), "%s", zone);
	make_options(db);
}

void db_set_statement_timeout(struct db *db, long milliseconds)
{
	db->statement_timeout_ms = milliseconds;
	make_options(db);
}

void db_listen(struct db *db, const char *channel, db_notify_fn fn, void *arg)
{
	snprintf(db->listen_channel, sizeof(db->listen_channel), "%s", channel);
	db->notify = fn;
	db->notify_arg = arg;
}

static void dispatch_notifications(struct db *db)
{
	PGnotify *n;

	if (db->conn == NULL)
		return;
	while ((n = PQnotifies(db->conn)) != NULL) {
		if (db->notify != NULL)
			db->notify(n->relname, n->extra, db->notify_arg);
		PQfreemem(n);
	}
}

/* True when the server has closed its end. A server that shuts down sends
 * its goodbye (FATAL 57P01) and then closes: PQconsumeInput reads the
 * message and still reports success, so look for the hang-up as well. */
static bool peer_closed(PGconn *conn)
{
	struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN | POLLRDHUP};

	if (pfd.fd < 0 || poll(&pfd, 1, 0) < 0)
		return false;
	return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Once per request, before the first use of an idle connection: read what
 * the server sent meanwhile (notifications, or its goodbye) so a closed
 * connection is replaced here rather than failing mid-query. Later
 * statements of the same request skip the two system calls. */
static void check_idle(struct db *db)
{
	if (db->checked || db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK ||
	    db->in_transaction)
		return;
	db->checked = true;
	if (PQconsumeInput(db->conn) == 0 || PQstatus(db->conn) != CONNECTION_OK ||
	    peer_closed(db->conn)) {
		log_event(LOG_WARN, "db_connection_lost", LOG_END);
		drop_connection(db);
		return;
	}
	dispatch_notifications(db);
}

void db_poll(struct db *db)
{
	check_idle(db);
}

void db_end_request(struct db *db)
{
	/* A handler that returned inside a transaction must not leak it into
	 * the next request. */
	if (db->in_transaction)
		db_rollback(db);
	db->checked = false;
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* notices may quote data; never log them */
}

static enum hms_err connect_now(struct db *db)
{
	/* connect_timeout comes first so the operator's conninfo can override
	 * it; expand_dbname makes "dbname" accept a whole conninfo or URI. */
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "options",
	                            "dbname", NULL};
	const char *const values[] = {"5", "hms", db->options, db->conninfo, NULL};

	drop_connection(db);
	db->conn = PQconnectdbParams(keys, values, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		/* The libpq message can name hosts and users, so log only the fact. */
		log_event(LOG_WARN, "db_connect_failed", LOG_END);
		drop_connection(db);
		return HMS_ERR_UNAVAILABLE;
	}
	PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
	if (db->listen_channel[0] != '\0') {
		char *channel =
		    PQescapeIdentifier(db->conn, db->listen_channel, strlen(db->listen_channel));
		char sql[128];
		PGresult *res;

		snprintf(sql, sizeof(sql), "LISTEN %s", channel != NULL ? channel : "\"\"");
		PQfreemem(channel);
		res = PQexec(db->conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQclear(res);
			log_event(LOG_WARN, "db_listen_failed", LOG_END);
			drop_connection(db);
			return HMS_ERR_UNAVAILABLE;
		}
		PQclear(res);
		db->notify(NULL, NULL, db->notify_arg);
	}
	log_event(LOG_INFO, "db_connected", LOG_END);
	return HMS_OK;
}

enum hms_err db_ensure(struct db *db)
{
	check_idle(db);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return connect_now(db);
	return HMS_OK;
}

static void clear_result(void *res)
{
	PQclear(res);
}

/* Keeps a result in the arena, or reports the error it carries. */
static enum hms_err finish_result(struct db *db, struct arena *arena, PGresult *res, PGresult **out)
{
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	enum hms_err err;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		dispatch_notifications(db);
		if (arena_defer(arena, clear_result, res) != 0)
			return HMS_ERR_NOMEM;
		*out = res;
		return HMS_OK;
	}
	err = db_error_from_result(res);
	if (err == HMS_ERR_INTERNAL || err == HMS_ERR_UNAVAILABLE || err == HMS_ERR_TIMEOUT ||
	    err == HMS_ERR_READ_ONLY) {
		const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		log_event(LOG_ERROR, "db_error", "s:sqlstate", state != NULL ? state : "none",
		          "s:error", hms_err_name(err), LOG_END);
	}
	if (db->conn != NULL && PQstatus(db->conn) != CONNECTION_OK) {
		drop_connection(db);
		err = HMS_ERR_UNAVAILABLE;
	}
	if (arena_defer(arena, clear_result, res) != 0)
		return HMS_ERR_NOMEM;
	*out = res;
	return err;
}

/* stmt->sql with "{columns}" replaced by the SELECT list of stmt->columns. */
static const char *with_columns(struct arena *arena, const struct db_stmt *stmt)
{
	const char *select = columns_select(stmt->columns);
	const char *mark = strstr(stmt->sql, DB_COLUMNS);

	if (select == NULL || mark == NULL)
		return NULL;
	return arena_printf(arena, "%.*s%s%s", (int)(mark - stmt->sql), stmt->sql, select,
	                    mark + strlen(DB_COLUMNS));
}

static bool is_prepared(const struct db *db, const struct db_stmt *stmt)
{
	for (size_t i = 0; i < db->prepared_count; i++)
		if (db->prepared[i] == stmt)
			return true;
	return false;
}

enum hms_err db_exec(struct db *db, struct arena *arena, const struct db_stmt *stmt,
                     const char *const *params, PGresult **out)
{
	enum hms_err err = db_ensure(db);

	*out = NULL;
	if (err != HMS_OK)
		return err;
	if (!is_prepared(db, stmt)) {
		PGresult *res;

		const char *sql = stmt->columns != NULL ? with_columns(arena, stmt) : stmt->sql;

		if (db->prepared_count == DB_MAX_PREPARED)
			return HMS_ERR_INTERNAL;
		if (sql == NULL)
			return HMS_ERR_NOMEM;
		res = PQprepare(db->conn, stmt->name, sql, stmt->param_count, NULL);
		err = finish_result(db, arena, res, out);
		*out = NULL;
		if (err != HMS_OK)
			return err;
		db->prepared[db->prepared_count++] = stmt;
	}
	return finish_result(
	    db, arena,
	    PQexecPrepared(db->conn, stmt->name, stmt->param_count, params, NULL, NULL, 0), out);
}

long db_exec_in_batches(struct db *db, struct arena *arena, const struct db_stmt *stmt, long batch)
{
	long total = 0, n;

	do {
		PGresult *res;

		if (db_exec(db, arena, stmt, NULL, &res) != HMS_OK)
			return -1;
		n = atol(PQcmdTuples(res));
		total += n;
	} while (n == batch);
	return total;
}

enum hms_err db_exec_sql(struct db *db, struct arena *arena, const char *sql, int param_count,
                         const char *const *params, PGresult **out)
{
	enum hms_err err = db_ensure(db);

	*out = NULL;
	if (err != HMS_OK)
		return err;
	return finish_result(
	    db, arena, PQexecParams(db->conn, sql, param_count, NULL, params, NULL, NULL, 0), out);
}

static enum hms_err simple_command(struct db *db, const char *sql)
{
	PGresult *res = PQexec(db->conn, sql);
	enum hms_err err = HMS_OK;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		err = db_error_from_result(res);
	PQclear(res);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		drop_connection(db);
		err = HMS_ERR_UNAVAILABLE;
	}
	return err;
}

enum hms_err db_begin(struct db *db)
{
	enum hms_err err;

	if (db->in_transaction)
		return HMS_ERR_INTERNAL;
	err = db_ensure(db);
	if (err != HMS_OK)
		return err;
	err = simple_command(db, "BEGIN");
	if (err == HMS_OK)
		db->in_transaction = true;
	return err;
}

enum hms_err db_commit(struct db *db)
{
	enum hms_err err;

	if (!db->in_transaction || db->conn == NULL)
		return HMS_ERR_INTERNAL;
	err = simple_command(db, "COMMIT");
	db->in_transaction = false;
	return err;
}

void db_rollback(struct db *db)
{
	if (!db->in_transaction || db->conn == NULL) {
		db->in_transaction = false;
		return;
	}
	simple_command(db, "ROLLBACK");
	db->in_transaction = false;
}

enum hms_err db_error_from_sqlstate(const char *state)
{
	if (state == NULL || strlen(state) != 5)
		return HMS_ERR_UNAVAILABLE;
	/* Integrity: the client sent something the schema refuses. */
	if (strcmp(state, "23P01") == 0) /* exclusion: overlapping booking */
		return HMS_ERR_CONFLICT;
	if (strncmp(state, "23", 2) == 0) /* unique, foreign key, check, not null */
		return HMS_ERR_BAD_REQUEST;
	if (strncmp(state, "22", 2) == 0) /* data exception: bad value for a type */
		return HMS_ERR_BAD_REQUEST;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0) /* serialization, deadlock, lock timeout */
		return HMS_ERR_CONFLICT;
	if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout */
		return HMS_ERR_TIMEOUT;
	if (strncmp(state, "08", 2) == 0 || /* connection exception */
	    strncmp(state, "53", 2) == 0 || /* insufficient resources: disk full, memory */
	    strncmp(state, "57", 2) == 0)   /* operator intervention: shutdown, cancel */
		return HMS_ERR_UNAVAILABLE;
	/* read_only_sql_transaction: a standby, or default_transaction_read_only
	 * set for maintenance. Nothing was written (an audited read is refused
	 * too: its audit row could not be), and it heals when writes return. */
	if (strcmp(state, "25006") == 0)
		return HMS_ERR_READ_ONLY;
	return HMS_ERR_INTERNAL;
}

enum hms_err db_error_from_result(const PGresult *res)
{
	if (res == NULL)
		return HMS_ERR_UNAVAILABLE;
	return db_error_from_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

bool db_result_is(const PGresult *res, const char *sqlstate)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && strcmp(state, sqlstate) == 0;
}

const char *db_result_constraint(const PGresult *res)
{
	const char *name = res != NULL ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

	return name != NULL ? name : "";
}

struct json_object *db_json_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
	           ? NULL
	           : json_object_new_int64(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

struct json_object *db_json_text(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
	                                  : json_object_new_string(PQgetvalue(res, row, col));
}

struct json_object *db_json_bool(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
	           ? NULL
	           : json_object_new_boolean(PQgetvalue(res, row, col)[0] == 't');
}
