/*
 * audit.h - the one write path of the audit trail.
 *
 * A row records who (actor id and role), what (action, entity type and id),
 * the request id, the client address and the outcome - never a name, a note
 * or any other value of the record. Write it inside the transaction of the
 * change it describes, so the change and its row commit or vanish together.
 *
 * audit_write() takes exactly those values, so a caller without a request
 * (hmsctl) writes the same row as a handler; audit_record() and
 * audit_record_as() fill them from the request. A list answer is one row:
 * the entity type, how many records it returned and their ids (never the
 * search terms or filter values that found them).
 *
 * Appends never wait on each other: the sealer (audit_seal.h) makes the
 * trail tamper-evident afterwards. The checks that read it back are in
 * audit_verify.h and audit_seal.h.
 */
#ifndef HMS_AUDIT_H
#define HMS_AUDIT_H

#include <stdint.h>

#include "hms/err.h"

struct arena;
struct db;
struct http_request;
struct http_response;

enum audit_outcome { AUDIT_SUCCESS, AUDIT_FAILURE, AUDIT_DENIED };

/* One row of the trail. The id, the time and the writing transaction are
 * set by the database, never by a caller. */
struct audit_entry {
	int64_t actor;           /* 0 = anonymous */
	const char *actor_role;  /* NULL or "" = none */
	const char *action;      /* required */
	const char *entity_type; /* NULL = none */
	int64_t entity_id;       /* 0 = none */
	const char *request_id;  /* NULL or "" = none */
	const char *ip;          /* the client address; NULL = unknown */
	enum audit_outcome outcome;
	/* A list answer: its records' ids as a PostgreSQL array text "{1,2,3}"
	 * and how many (NULL: not a list; row_count is then not written). */
	int row_count;
	const char *entity_ids;
};

/* Inserts e's row through db (statement memory from arena). An entry
 * without an action or with an unknown outcome is refused with
 * HMS_ERR_INTERNAL before the database is touched. Failures are logged. */
enum hms_err audit_write(struct db *db, struct arena *arena, const struct audit_entry *e);

/* Records that the request's user read a list of entity_type: count
 * records, ids as "{1,2,3}". */
enum hms_err audit_record_list(struct http_request *req, const char *entity_type, int count,
                               const char *ids);

/* A statement that reads one record and writes its "read" row at once (one
 * round trip, committed with the statement) binds these four request values
 * into AUDIT_READ_COLUMNS, in this order. */
#define AUDIT_REQUEST_COLUMNS "actor, actor_role, request_id, ip"
void audit_request_values(struct http_request *req, const char *values[4]);

/* Records an action by the request's authenticated user (or an anonymous
 * caller). entity_type may be NULL; entity_id 0 means none. */
enum hms_err audit_record(struct http_request *req, const char *action, const char *entity_type,
                          int64_t entity_id, enum audit_outcome outcome);

/* The same with an explicit actor (a login, before there is a session). */
enum hms_err audit_record_as(struct http_request *req, int64_t actor, const char *actor_role,
                             const char *action, const char *entity_type, int64_t entity_id,
                             enum audit_outcome outcome);

#endif
