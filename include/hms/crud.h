/*
 * crud.h - one declaration per resource; how CRUD works lives once, here.
 *
 * DRF gets create/retrieve/update/destroy from a ModelViewSet's
 * declaration; a resource here is a `struct resource`: its table, its row
 * (a column table: the SELECT list and the JSON come from it), its body
 * fields (the validator's table), the database constraints that mean a
 * field error or a conflict, its list, its soft delete, and hooks for what
 * is genuinely its own. The generic handlers below take the descriptor from
 * the route (route->arg), so a route table row is all a resource needs to
 * be served.
 *
 * Optimistic concurrency is the same everywhere: a single-object answer
 * carries a strong ETag naming the row and its version,
 * "\"<id>-<version>\""; a PUT/PATCH with If-Match runs as UPDATE ... WHERE
 * id = $1 AND version = <expected>, so of two nurses editing one patient the
 * second gets 412 and nothing changes.
 *
 * Resources whose writes are genuinely different (appointments, bookings,
 * tokens) keep their own write path but use the same column tables,
 * constraint maps and the helpers at the end of this header.
 */
#ifndef HMS_CRUD_H
#define HMS_CRUD_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "hms/err.h"
#include "hms/list.h"
#include "hms/validate.h"

struct column;
struct db_stmt;
struct http_request;
struct http_response;
struct json_object;
struct list_condition;
struct list_page;
struct list_spec;

/* A constraint a write may violate, and what the client is told: a field
 * error (400) when field is set, else a 409 with message as the detail. */
struct constraint_error {
	const char *constraint; /* NULL ends the table */
	const char *field;
	const char *message;
};

enum crud_op { CRUD_CREATE, CRUD_REPLACE, CRUD_UPDATE };

/* One write in progress, handed to the hooks. */
struct crud_write {
	enum crud_op op;
	struct validated v;         /* the body, validated against the fields */
	struct json_object *errors; /* field errors a hook adds (400) */
	PGresult *row;              /* after_write: the row as written */
};

struct resource {
	const char *table;  /* "patients" */
	const char *entity; /* the audit entity type: "patient" */
	/* The row: columns[0] is the id; a COL_HIDDEN column named "version"
	 * gives the ETag. */
	const struct column *columns;
	const struct field *fields; /* NULL: not writable through crud */
	const struct constraint_error *constraints;
	const struct list_spec *list;
	/* Rows the API serves (a soft-deleted row is 404), e.g.
	 * "NOT is_deleted"; NULL: every row. */
	const char *live;
	/* The permission (a key of src/auth/permissions.c) that may see rows
	 * outside `live` with ?include_deleted=true. */
	const char *deleted_permission;
	/* DELETE as an UPDATE: "is_deleted = true, deleted_at = now()". */
	const char *delete_set;
	/* POST .../restore/: the SET clause that brings a row back. */
	const char *restore_set;
	/* Rows a PUT/PATCH may change, e.g. "status = 'draft'" (NULL: every
	 * row served). A write to another row changes nothing and is a 409
	 * with not_editable as its detail (a 412 first when If-Match names an
	 * older version). The condition is part of the UPDATE, so a row that
	 * stops being editable meanwhile is never written. */
	const char *editable;
	const char *not_editable;
	/* A single GET writes a "read" audit row before the answer leaves. */
	bool audit_reads;
	/* Before any SQL, with the body validated: may add field errors to
	 * w->errors, or answer itself (a 403) and return false. */
	bool (*before_write)(struct http_request *req, struct http_response *res,
	                     struct crud_write *w);
	/* Inside the write's transaction, after the row was written. */
	enum hms_err (*after_write)(struct http_request *req, struct crud_write *w);
};

/* The generic handlers; the route's arg is the struct resource. */
void crud_list(struct http_request *req, struct http_response *res);
void crud_get(struct http_request *req, struct http_response *res);
void crud_create(struct http_request *req, struct http_response *res);
void crud_replace(struct http_request *req, struct http_response *res);
void crud_update(struct http_request *req, struct http_response *res);
void crud_delete(struct http_request *req, struct http_response *res);
void crud_restore(struct http_request *req, struct http_response *res);

/* --- shared by every resource, generic or not ------------------------------ */

/* Answers one page of spec (list.h), narrowed by extra[0..count). */
void crud_respond_list(struct http_request *req, struct http_response *res,
                       const struct list_spec *spec, const struct list_condition *extra,
                       size_t extra_count);

/* "{1,2,3}": the ids of the rows a page shows, in its order, for the audit
 * row of a list answer (audit_record_list). */
const char *crud_page_ids(struct http_request *req, const struct list_page *page);

/* Answers what list_plan() refused (400 with the field errors, 404 for a
 * page that cannot exist, 500); true, answering nothing, when it planned. */
bool crud_list_planned(struct http_response *res, enum list_problem problem,
                       struct json_object *errors);

/* Answers row 0 of result with status, as columns describe it, with its
 * ETag when the columns have a version. */
void crud_respond_row(struct http_request *req, struct http_response *res, int status,
                      const struct column *columns, const PGresult *result);

/* Answers the single object with this id of r (200, ETag); audited when r
 * says so. */
void crud_respond_object(struct http_request *req, struct http_response *res,
                         const struct resource *r, int64_t id);

/* The row with this id of r (outside r->live too when include_deleted),
 * through the same statement as crud_get: when r audits reads, its "read"
 * audit row is written by that statement and committed as it returns.
 * HMS_ERR_NOT_FOUND when there is no such row. */
enum hms_err crud_read(struct http_request *req, const struct resource *r, int64_t id,
                       bool include_deleted, PGresult **row);

/* Whether r has a row with this id at all, live or not (nothing of it is
 * read, so nothing is audited). */
enum hms_err crud_exists(struct http_request *req, const struct resource *r, int64_t id,
                         bool *exists);

/* Whether the caller's role holds r's deleted_permission. */
bool crud_may_see_deleted(const struct http_request *req, const struct resource *r);

/* Reads If-Match for the object id: *version is the version it requires,
 * or NULL when the write is unconditional (no header, or "*"). An If-Match
 * that cannot match this object at all is HMS_ERR_PRECONDITION. */
enum hms_err crud_expected_version(const struct http_request *req, int64_t id,
                                   const char **version);

/* ?include_deleted=true: only for r's deleted_permission; anyone else
 * asking is refused (403, audited), an invalid value is a 400. Returns false
 * when it has answered; *wanted says whether rows outside r->live are
 * asked for. */
bool crud_include_deleted(struct http_request *req, struct http_response *res,
                          const struct resource *r, bool *wanted);

/* INSERT INTO table (cols) VALUES (...) RETURNING <columns> from the fields
 * present in v; *params receives the values. NULL when out of memory.
 * A read-only field is never taken from the client, but a before_write
 * hook may make it present (a parent's id from the path, the author from
 * the token) and it is then written. A FIELD_OBJECT is bound once and
 * stored member by member in its members' columns. */
const char *crud_insert_sql(struct http_request *req, const char *table, const struct field *fields,
                            const struct validated *v, const struct column *columns,
                            const char ***params, int *param_count);

/* UPDATE table SET version = version + 1, updated_at = now(), <fields>
 * WHERE id = $1 [AND version = $n] [AND (where)] RETURNING <columns>. */
const char *crud_update_sql(struct http_request *req, const char *table, const struct field *fields,
                            const struct validated *v, const char *expected_version,
                            const char *where, const struct column *columns, const char ***params,
                            int *param_count);

/* Runs stmt with the path's id as $1: HMS_ERR_NOT_FOUND unless it returns
 * exactly one row. */
enum hms_err crud_fetch(struct http_request *req, const struct db_stmt *stmt, PGresult **row);

/* Ends a write transaction begun by the caller. On success (err HMS_OK)
 * writes the change's audit row and commits, returning true: the caller
 * then answers. Otherwise rolls back and answers: a violated constraint of
 * `constraints` as its field error or 409, anything else as err. */
bool crud_commit(struct http_request *req, struct http_response *res, enum hms_err err,
                 const PGresult *result, const struct constraint_error *constraints,
                 const char *action, const char *entity_type, int64_t entity_id);

#endif
