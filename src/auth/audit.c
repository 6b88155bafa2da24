/*
 * audit.c - writes and lists the audit trail (schema/002_identity.sql).
 *
 * The chain fields (id, at, prev_hash, hash) are set by the database's
 * trigger, so no caller can forge them; this file passes only who, what and
 * how it ended. audit_write() is the one INSERT; audit_record() and
 * audit_record_as() only fill an entry from the request.
 */
#include "hms/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/db.h"
#include "hms/http.h"
#include "hms/log.h"
#include "hms/permissions.h"

static const struct db_stmt insert_audit = {
    "audit_insert",
    "INSERT INTO audit_log (actor, actor_role, action, entity_type, entity_id, request_id, "
    "ip, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8)",
    8};

static const char *const outcome_names[] = {"success", "failure", "denied"};

enum hms_err audit_write(struct db *db, struct arena *arena, const struct audit_entry *e)
{
	char actor_text[24], entity_text[24];
	const char *params[8];
	PGresult *res;
	enum hms_err err;

	if (e->action == NULL ||
	    (unsigned)e->outcome >= sizeof(outcome_names) / sizeof(outcome_names[0])) {
		log_event(LOG_ERROR, "audit_write_refused", "s:action", e->action, "s:request_id",
		          e->request_id, LOG_END);
		return HMS_ERR_INTERNAL;
	}
	snprintf(actor_text, sizeof(actor_text), "%lld", (long long)e->actor);
	snprintf(entity_text, sizeof(entity_text), "%lld", (long long)e->entity_id);
	params[0] = e->actor > 0 ? actor_text : NULL;
	params[1] = e->actor_role != NULL && *e->actor_role != '\0' ? e->actor_role : NULL;
	params[2] = e->action;
	params[3] = e->entity_type;
	params[4] = e->entity_id > 0 ? entity_text : NULL;
	params[5] = e->request_id != NULL && *e->request_id != '\0' ? e->request_id : NULL;
	params[6] = e->ip;
	params[7] = outcome_names[e->outcome];
	err = db_exec(db, arena, &insert_audit, params, &res);
	if (err != HMS_OK)
		log_event(LOG_ERROR, "audit_write_failed", "s:action", e->action, "s:error",
		          hms_err_name(err), "s:request_id", e->request_id, LOG_END);
	return err;
}

enum hms_err audit_record_as(struct http_request *req, int64_t actor, const char *actor_role,
                             const char *action, const char *entity_type, int64_t entity_id,
                             enum audit_outcome outcome)
{
	struct audit_entry e = {
	    .actor = actor,
	    .actor_role = actor_role,
	    .action = action,
	    .entity_type = entity_type,
	    .entity_id = entity_id,
	    .request_id = req->request_id,
	    .ip = req->client_ip,
	    .outcome = outcome,
	};

	return audit_write(req->db, req->arena, &e);
}

enum hms_err audit_record(struct http_request *req, const char *action, const char *entity_type,
                          int64_t entity_id, enum audit_outcome outcome)
{
	return audit_record_as(req, req->user.authenticated ? req->user.id : 0,
	                       req->user.authenticated ? role_name((enum role)req->user.role)
	                                               : NULL,
	                       action, entity_type, entity_id, outcome);
}

