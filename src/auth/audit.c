/*
 * audit.c - writes and lists the audit trail (schema/002_identity.sql).
 *
 * The id, the time and the writing transaction are column defaults the
 * application role cannot override (schema/008_audit_seals.sql); this file
 * passes only who, what and how it ended. audit_write() is the one INSERT; audit_record() and
 * audit_record_as() only fill an entry from the request.
 */
#include "hms/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/log.h"
#include "hms/permissions.h"

static const struct db_stmt insert_audit = {
    "audit_insert",
    "INSERT INTO audit_log (actor, actor_role, action, entity_type, entity_id, request_id, "
    "ip, outcome, row_count, entity_ids) VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8, "
    "$9::integer, $10::bigint[])",
    10};

static const char *const outcome_names[] = {"success", "failure", "denied"};

enum hms_err audit_write(struct db *db, struct arena *arena, const struct audit_entry *e)
{
	char actor_text[24], entity_text[24], count_text[16];
	const char *params[10];
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
	snprintf(count_text, sizeof(count_text), "%d", e->row_count);
	params[8] = e->entity_ids != NULL ? count_text : NULL;
	params[9] = e->entity_ids;
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

static int64_t actor_of(const struct http_request *req)
{
	return req->user.authenticated ? req->user.id : 0;
}

static const char *role_of(const struct http_request *req)
{
	return req->user.authenticated ? role_name((enum role)req->user.role) : NULL;
}

enum hms_err audit_record_list(struct http_request *req, const char *entity_type, int count,
                               const char *ids)
{
	struct audit_entry e = {
	    .actor = actor_of(req),
	    .actor_role = role_of(req),
	    .action = "list",
	    .entity_type = entity_type,
	    .request_id = req->request_id,
	    .ip = req->client_ip,
	    .outcome = AUDIT_SUCCESS,
	    .row_count = count,
	    .entity_ids = ids,
	};

	return audit_write(req->db, req->arena, &e);
}

void audit_request_values(struct http_request *req, const char *values[4])
{
	int64_t actor = actor_of(req);

	values[0] = actor > 0 ? arena_printf(req->arena, "%lld", (long long)actor) : NULL;
	values[1] = role_of(req);
	values[2] = req->request_id[0] != '\0' ? req->request_id : NULL;
	values[3] = req->client_ip;
}

enum hms_err audit_record(struct http_request *req, const char *action, const char *entity_type,
                          int64_t entity_id, enum audit_outcome outcome)
{
	return audit_record_as(req, actor_of(req), role_of(req), action, entity_type, entity_id,
	                       outcome);
}
