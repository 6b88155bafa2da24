/*
 * resource.c - ETag / If-Match and the INSERT/UPDATE builders shared by the
 * editable resources (see include/hms/resource.h). Column names and SQL
 * expressions come only from the resources' field tables; client values
 * are always bound parameters.
 */
#include "hms/resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/validate.h"

#define MAX_PARAMS 32

void resource_set_etag(struct http_request *req, struct http_response *res, int64_t id,
                       const char *version)
{
	http_response_header(res, "ETag",
	                     arena_printf(req->arena, "\"%lld-%s\"", (long long)id, version));
}

enum hms_err resource_expected_version(const struct http_request *req, int64_t id,
                                       const char **version)
{
	const char *p = req->if_match;
	char prefix[32];
	size_t plen;

	*version = NULL;
	if (p == NULL)
		return HMS_OK;
	while (*p == ' ')
		p++;
	if (strcmp(p, "*") == 0)
		return HMS_OK;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "\"%lld-", (long long)id);
	/* A list of entity tags: the first one for this object counts. Weak
	 * tags (W/"...") never match in If-Match (RFC 9110 section 13.1.1). */
	while (*p != '\0') {
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		if (*p == '"') {
			end = strchr(p + 1, '"');
			if (end == NULL)
				break;
			end++;
			if (strncmp(p, prefix, plen) == 0 && (size_t)(end - p) > plen + 1) {
				size_t n = (size_t)(end - p) - plen - 1;
				char *v = arena_strndup(req->arena, p + plen, n);

				if (v != NULL && strspn(v, "0123456789") == n && n <= 18) {
					*version = v;
					return HMS_OK;
				}
			}
		} else {
			end = p + strcspn(p, ",");
		}
		p = end;
	}
	return HMS_ERR_PRECONDITION;
}

static const char *default_expression(const struct field *f)
{
	switch (f->type) {
	case FIELD_BOOL:
		return "$?::boolean";
	case FIELD_INT:
		return "$?::integer";
	case FIELD_ID:
		return "$?::bigint";
	case FIELD_DATE:
		return "$?::date";
	case FIELD_DATETIME:
		return "$?::timestamptz";
	case FIELD_JSON:
		return "$?::jsonb";
	default:
		return "$?";
	}
}

/* The field's value expression with "$?" replaced by $n. */
static char *expression(struct arena *arena, const struct field *f, int n)
{
	const char *tmpl = f->sql != NULL ? f->sql : default_expression(f);
	const char *mark = strstr(tmpl, "$?");
	char *out;

	if (mark == NULL)
		return arena_strdup(arena, tmpl);
	out = arena_printf(arena, "%.*s$%d%s", (int)(mark - tmpl), tmpl, n, mark + 2);
	return out;
}

static const char *column_of(const struct field *f)
{
	return f->column != NULL ? f->column : f->name;
}

char *resource_insert_sql(struct http_request *req, const char *table, const struct field *fields,
                          const struct validated *v, const char *returning, const char **params,
                          int *param_count)
{
	char *cols = arena_strdup(req->arena, "");
	char *vals = arena_strdup(req->arena, "");
	int n = 0;

	for (size_t i = 0; i < v->count && cols != NULL && vals != NULL; i++) {
		if (!v->present[i] || fields[i].read_only || n == MAX_PARAMS)
			continue;
		params[n++] = v->values[i];
		cols = arena_printf(req->arena, "%s%s%s", cols, *cols ? ", " : "",
		                    column_of(&fields[i]));
		vals = arena_printf(req->arena, "%s%s%s", vals, *vals ? ", " : "",
		                    expression(req->arena, &fields[i], n));
	}
	*param_count = n;
	if (cols == NULL || vals == NULL)
		return NULL;
	if (n == 0)
		return arena_printf(req->arena, "INSERT INTO %s DEFAULT VALUES RETURNING %s", table,
		                    returning);
	return arena_printf(req->arena, "INSERT INTO %s (%s) VALUES (%s) RETURNING %s", table, cols,
	                    vals, returning);
}

char *resource_update_sql(struct http_request *req, const char *table, const struct field *fields,
                          const struct validated *v, const char *expected_version,
                          const char *where, const char *returning, const char **params,
                          int *param_count)
{
	char *sql = arena_printf(req->arena,
	                         "UPDATE %s SET version = version + 1, updated_at = now()", table);
	char *id = arena_printf(req->arena, "%lld", (long long)req->ids[0]);
	int n = 0;

	params[n++] = id;
	for (size_t i = 0; i < v->count && sql != NULL; i++) {
		if (!v->present[i] || fields[i].read_only || n == MAX_PARAMS - 1)
			continue;
		params[n++] = v->values[i];
		sql = arena_printf(req->arena, "%s, %s = %s", sql, column_of(&fields[i]),
		                   expression(req->arena, &fields[i], n));
	}
	if (sql == NULL || id == NULL)
		return NULL;
	sql = arena_printf(req->arena, "%s WHERE id = $1", sql);
	if (expected_version != NULL) {
		params[n++] = expected_version;
		sql = arena_printf(req->arena, "%s AND version = $%d::bigint", sql, n);
	}
	if (where != NULL)
		sql = arena_printf(req->arena, "%s AND (%s)", sql, where);
	*param_count = n;
	return sql != NULL ? arena_printf(req->arena, "%s RETURNING %s", sql, returning) : NULL;
}

enum hms_err resource_missing_or_changed(struct http_request *req, const char *exists_sql)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *res;
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_exec_sql(req->db, req->arena, exists_sql, 1, params, &res);
	if (err != HMS_OK)
		return err;
	return PQntuples(res) > 0 ? HMS_ERR_PRECONDITION : HMS_ERR_NOT_FOUND;
}

bool resource_commit(struct http_request *req, struct http_response *res, enum hms_err err,
                     const char *action, const char *entity_type, int64_t entity_id)
{
	if (err == HMS_OK)
		err = audit_record(req, action, entity_type, entity_id, AUDIT_SUCCESS);
	if (err == HMS_OK)
		err = db_commit(req->db);
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return false;
	}
	return true;
}

enum hms_err resource_fetch(struct http_request *req, const struct db_stmt *stmt, PGresult **row)
{
	char id[24];
	const char *params[1] = {id};
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_exec(req->db, req->arena, stmt, params, row);
	if (err == HMS_OK && PQntuples(*row) != 1)
		err = HMS_ERR_NOT_FOUND;
	return err;
}
