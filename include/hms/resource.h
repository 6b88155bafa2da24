/*
 * resource.h - what every editable resource shares: optimistic concurrency
 * (ETag on a single-object GET, If-Match on PUT/PATCH -> 412) and the
 * INSERT/UPDATE statements built from the resource's field table.
 *
 * ETags are strong and name the row and its version: "\"<id>-<version>\"".
 * Each update bumps the row's version; an update with If-Match runs as
 * UPDATE ... WHERE id = $1 AND version = <expected>, so two nurses editing
 * one patient cannot both win: the second gets 412 and nothing changes.
 */
#ifndef HMS_RESOURCE_H
#define HMS_RESOURCE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "hms/err.h"

struct http_request;
struct http_response;
struct field;
struct validated;
struct db_stmt;

/* Sets the ETag header of a single object. */
void resource_set_etag(struct http_request *req, struct http_response *res, int64_t id,
                       const char *version);

/* Reads If-Match for the object id: *version is the version it requires,
 * or NULL when the write is unconditional (no header, or "*"). An If-Match
 * that cannot match this object at all is HMS_ERR_PRECONDITION. */
enum hms_err resource_expected_version(const struct http_request *req, int64_t id,
                                       const char **version);

/* The SQL a field is written with: its column (field->column, else its
 * name) and value expression (field->sql, else "$?" with a cast by type).
 * Builds
 *   INSERT INTO table (cols) VALUES (...) RETURNING returning
 * from the fields present in v. params receives the values (up to 32). */
char *resource_insert_sql(struct http_request *req, const char *table, const struct field *fields,
                          const struct validated *v, const char *returning, const char **params,
                          int *param_count);

/* UPDATE table SET version = version + 1, updated_at = now(), <fields>
 * WHERE id = $1 [AND version = $n] [AND <where>] RETURNING returning.
 * params[0] is the id. */
char *resource_update_sql(struct http_request *req, const char *table, const struct field *fields,
                          const struct validated *v, const char *expected_version,
                          const char *where, const char *returning, const char **params,
                          int *param_count);

/* Runs stmt with the path's id as $1: HMS_ERR_NOT_FOUND unless it returns
 * exactly one row. */
enum hms_err resource_fetch(struct http_request *req, const struct db_stmt *stmt, PGresult **row);

/* Ends a write transaction begun by the caller: unless err is already an
 * error, writes the change's audit row (action on entity_type entity_id)
 * and commits. On any error it rolls back and answers the error. Returns
 * true when committed; the caller then answers. */
bool resource_commit(struct http_request *req, struct http_response *res, enum hms_err err,
                     const char *action, const char *entity_type, int64_t entity_id);

/* After an UPDATE matched no row: 412 when the row exists (its version
 * moved on), else 404. exists_sql selects 1 for $1 = id. */
enum hms_err resource_missing_or_changed(struct http_request *req, const char *exists_sql);

#endif
