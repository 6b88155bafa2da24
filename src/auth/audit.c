/*
 * audit.c - writes and lists the audit trail (schema/002_identity.sql).
 *
 * The chain fields (id, at, prev_hash, hash) are set by the database's
 * trigger, so no caller can forge them; this file passes only who, what and
 * how it ended.
 */
#include "hms/audit.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/db.h"
#include "hms/http.h"
#include "hms/log.h"
#include "hms/permissions.h"
#include "hms/sha256.h"

static const struct db_stmt insert_audit = {
    "audit_insert",
    "INSERT INTO audit_log (actor, actor_role, action, entity_type, entity_id, request_id, "
    "ip, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8)",
    8};

static const char *const outcome_names[] = {"success", "failure", "denied"};

enum hms_err audit_record_as(struct http_request *req, int64_t actor, const char *actor_role,
                             const char *action, const char *entity_type, int64_t entity_id,
                             enum audit_outcome outcome)
{
	char actor_text[24], entity_text[24];
	const char *params[8];
	PGresult *res;
	enum hms_err err;

	snprintf(actor_text, sizeof(actor_text), "%lld", (long long)actor);
	snprintf(entity_text, sizeof(entity_text), "%lld", (long long)entity_id);
	params[0] = actor > 0 ? actor_text : NULL;
	params[1] = actor_role != NULL && *actor_role != '\0' ? actor_role : NULL;
	params[2] = action;
	params[3] = entity_type;
	params[4] = entity_id > 0 ? entity_text : NULL;
	params[5] = req->request_id[0] != '\0' ? req->request_id : NULL;
	params[6] = req->client_ip;
	params[7] = outcome_names[outcome];
	err = db_exec(req->db, req->arena, &insert_audit, params, &res);
	if (err != HMS_OK)
		log_event(LOG_ERROR, "audit_write_failed", "s:action", action, "s:error",
		          hms_err_name(err), "s:request_id", req->request_id, LOG_END);
	return err;
}

enum hms_err audit_record(struct http_request *req, const char *action, const char *entity_type,
                          int64_t entity_id, enum audit_outcome outcome)
{
	return audit_record_as(req, req->user.authenticated ? req->user.id : 0,
	                       req->user.authenticated ? role_name((enum role)req->user.role)
	                                               : NULL,
	                       action, entity_type, entity_id, outcome);
}

/* --- hmsctl audit-verify ---------------------------------------------------- */

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The columns as audit_log_canonical() (schema/002_identity.sql) renders
 * them; the text is rebuilt and hashed here, independently of the trigger. */
static const char verify_sql[] =
    "SELECT id::text, prev_hash, hash, "
    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "coalesce(actor::text, ''), coalesce(actor_role, ''), action, coalesce(entity_type, ''), "
    "coalesce(entity_id::text, ''), coalesce(request_id, ''), coalesce(host(ip), ''), outcome "
    "FROM audit_log ORDER BY audit_log.id"; /* the column, not the text id in the list */

int audit_verify_chain(PGconn *conn, long long *rows, char head[65], char *err, size_t errlen)
{
	char previous[65] = ZERO_HASH;
	PGresult *res;
	int rc = 0;

	*rows = 0;
	strcpy(head, ZERO_HASH);
	if (!PQsendQuery(conn, verify_sql) || !PQsetSingleRowMode(conn)) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		return -1;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && rc == 0) {
			char text[2048];
			char sum[SHA256_HEX_LEN + 1];
			int n;

			n = snprintf(
			    text, sizeof(text), "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s",
			    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 3),
			    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6),
			    PQgetvalue(res, 0, 7), PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 9),
			    PQgetvalue(res, 0, 10), PQgetvalue(res, 0, 11));
			sha256_hex(text, n > 0 && (size_t)n < sizeof(text) ? (size_t)n : 0, sum);
			if (strcmp(PQgetvalue(res, 0, 1), previous) != 0) {
				snprintf(err, errlen,
				         "row %s does not link to the row before it (a row was "
				         "removed, inserted or reordered)",
				         PQgetvalue(res, 0, 0));
				rc = 1;
			} else if (strcmp(sum, PQgetvalue(res, 0, 2)) != 0) {
				snprintf(err, errlen,
				         "row %s does not match its hash (its content was changed)",
				         PQgetvalue(res, 0, 0));
				rc = 1;
			} else {
				snprintf(previous, sizeof(previous), "%s", PQgetvalue(res, 0, 2));
				(*rows)++;
			}
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "%s", PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
	}
	strcpy(head, previous);
	return rc;
}
