/*
 * db.h - the worker's PostgreSQL connection.
 *
 * One connection per worker, opened on first use and reopened after a
 * failure (PostgreSQL restarted, network cut) without restarting the worker;
 * while the server is unreachable calls return HMS_ERR_UNAVAILABLE (503).
 * Statements are prepared once per connection. Results are owned by the
 * request arena. db_error_from_result() is the one place that maps SQLSTATEs
 * to HMS errors.
 */
#ifndef HMS_DB_H
#define HMS_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "hms/err.h"

struct arena;
struct column;
struct db;
struct json_object;

/* A timestamptz column as the API writes times: UTC, "2025-12-06T12:00:00Z". */
#define SQL_UTC(column) "to_char((" column ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* In a statement's SQL, where the SELECT list of its columns goes. */
#define DB_COLUMNS "{columns}"

/* A statement prepared on first use under name. With columns set, the
 * text DB_COLUMNS in sql stands for their SELECT list (columns.h), so a
 * statement returns a row exactly as the row's column table declares it. */
struct db_stmt {
	const char *name;
	const char *sql;
	int param_count;
	const struct column *columns;
};

/* Called for each notification on the channel the worker listens to, and
 * with channel NULL after every (re)connection: notifications sent while
 * the connection was down are lost, so anything cached may be stale. */
typedef void (*db_notify_fn)(const char *channel, const char *payload, void *arg);

struct db *db_new(const char *conninfo);

/* Sessions run in this IANA time zone (the hospital's), so a date compared
 * with a timestamptz means that local day. Set before the first use. */
void db_set_time_zone(struct db *db, const char *zone);

/* Every statement of every session is cancelled after this long (SQLSTATE
 * 57014, answered as HMS_ERR_TIMEOUT: a 503 that says so); 0: no limit.
 * Set before the first use. */
void db_set_statement_timeout(struct db *db, long milliseconds);

/* LISTENs on channel on every connection; fn receives what arrives. */
void db_listen(struct db *db, const char *channel, db_notify_fn fn, void *arg);

/* Delivers notifications that have arrived, without waiting or
 * connecting. Cheap: one non-blocking read, once per request. */
void db_poll(struct db *db);

/* Ends a request: rolls back a transaction a handler left open and arms
 * the once-per-request check of the idle connection. */
void db_end_request(struct db *db);
void db_free(struct db *db);

/* Connects when there is no usable connection; detects a connection the
 * server closed since the last request. */
enum hms_err db_ensure(struct db *db);

/* Runs a prepared statement; NULL params are SQL NULL. On HMS_OK *out is a
 * result (tuples or command) owned by arena. */
enum hms_err db_exec(struct db *db, struct arena *arena, const struct db_stmt *stmt,
                     const char *const *params, PGresult **out);

/* Runs a statement without parameters that changes at most batch rows
 * (a DELETE of a LIMITed subquery) until it changes fewer: housekeeping
 * that never holds many row locks at once. The rows changed, or -1. */
long db_exec_in_batches(struct db *db, struct arena *arena, const struct db_stmt *stmt, long batch);

/* Runs dynamic, parameterised SQL (for the list builder). */
enum hms_err db_exec_sql(struct db *db, struct arena *arena, const char *sql, int param_count,
                         const char *const *params, PGresult **out);

enum hms_err db_begin(struct db *db);
enum hms_err db_commit(struct db *db);
/* Safe to call when no transaction is open. */
void db_rollback(struct db *db);

/* Maps a failed result to an error (NULL result -> unavailable). */
enum hms_err db_error_from_result(const PGresult *res);

/* Maps a SQLSTATE ("23505") to an error. */
enum hms_err db_error_from_sqlstate(const char *sqlstate);

/* True when res failed with this SQLSTATE ("23505"). NULL res is false. */
bool db_result_is(const PGresult *res, const char *sqlstate);

/* The constraint a failed result names, or "" (maps errors to fields). */
const char *db_result_constraint(const PGresult *res);

/* A column of a result as a JSON value, or JSON null for SQL NULL: the
 * integer, the text, or the boolean ("t"/"f") the column holds. */
struct json_object *db_json_int(const PGresult *res, int row, int col);
struct json_object *db_json_text(const PGresult *res, int row, int col);
struct json_object *db_json_bool(const PGresult *res, int row, int col);

/* The raw connection, for hmsctl (migrations, COPY). */
PGconn *db_conn(struct db *db);

#endif
