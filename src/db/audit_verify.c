/*
 * audit_verify.c - hmsctl audit-verify: recomputes the audit trail's hash
 * chain (see include/hms/audit_verify.h).
 *
 * It sits in the database layer beside migrate.c and seed.c: like them it
 * is an operator's pass over one table through a bare PGconn, with no
 * request, session or permission involved. The hash text is rebuilt here,
 * independently of the trigger that wrote it, so a trigger that was changed
 * or bypassed shows up as a broken chain.
 */
#include "hms/audit_verify.h"

#include <stdio.h>
#include <string.h>

#include "hms/sha256.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The columns as audit_log_canonical() (schema/002_identity.sql) renders
 * them; the text is rebuilt and hashed here, independently of the trigger. */
static const char verify_sql[] =
    "SELECT id::text, prev_hash, hash, "
    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "coalesce(actor::text, ''), coalesce(actor_role, ''), action, coalesce(entity_type, ''), "
    "coalesce(entity_id::text, ''), coalesce(request_id, ''), coalesce(host(ip), ''), outcome "
    "FROM audit_log WHERE txid IS NULL ORDER BY audit_log.id"; /* the column, not the text id */

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
