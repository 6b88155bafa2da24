/*
 * audit.h - the one call that writes the audit trail.
 *
 * A row records who (actor id and role), what (action, entity type and id),
 * the request id, the client address and the outcome - never a name, a note
 * or any other value of the record. Call it inside the transaction of the
 * change it describes, so the change and its row commit or vanish together.
 */
#ifndef HMS_AUDIT_H
#define HMS_AUDIT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hms/err.h"

struct http_request;
struct http_response;

enum audit_outcome { AUDIT_SUCCESS, AUDIT_FAILURE, AUDIT_DENIED };

/* Records an action by the request's authenticated user (or an anonymous
 * caller). entity_type may be NULL; entity_id 0 means none. */
enum hms_err audit_record(struct http_request *req, const char *action, const char *entity_type,
                          int64_t entity_id, enum audit_outcome outcome);

/* The same with an explicit actor (a login, before there is a session). */
enum hms_err audit_record_as(struct http_request *req, int64_t actor, const char *actor_role,
                             const char *action, const char *entity_type, int64_t entity_id,
                             enum audit_outcome outcome);

/* Walks the whole chain in id order, recomputing each row's hash from its
 * columns and checking each row links to the one before. Returns 0 when
 * intact (rows and head hash filled), 1 when broken (message in err), -1
 * when the database could not be read. */
int audit_verify_chain(PGconn *conn, long long *rows, char head[65], char *err, size_t errlen);

#endif
