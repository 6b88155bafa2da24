/*
 * crud.c - the generic handlers and the shared write path of every resource
 * (see include/hms/crud.h). Column names and SQL expressions come only from
 * the resources' declarations; client values are always bound parameters.
 */
#include "hms/crud.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/columns.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/idempotency.h"
#include "hms/list.h"
#include "hms/permissions.h"
#include "hms/strbuf.h"

#define MAX_RESOURCES 16

/* --- the statements of a resource, made once per process ------------------- */

struct statements {
	const struct resource *resource;
	/* $1 id, $2 include rows outside live [, when reads are audited: $3-$6
	 * the request (audit.h), $7 the entity type] */
	struct db_stmt by_id;
	struct db_stmt exists_any;  /* $1 id, any row */
	struct db_stmt state;       /* $1 id, among live rows: version, editable */
	struct db_stmt delete_row;  /* $1 id */
	struct db_stmt restore_row; /* $1 id */
	const char *update_where;   /* live and editable */
};

static struct statements prepared[MAX_RESOURCES];

static char *text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Process-lifetime text (statements keep pointing at it). */
static char *text_printf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;

	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) < 0)
		out = NULL;
	va_end(ap);
	return out;
}

static bool make_statements(struct statements *st, const struct resource *r)
{
	const char *cols = columns_select(r->columns);
	const char *live = r->live != NULL ? r->live : "true";

	if (cols == NULL)
		return false;
	/* An audited read is one statement: the row and its audit row, which
	 * commits with it (outside a transaction) before the answer leaves. */
	st->by_id = (struct db_stmt){
	    text_printf("crud_%s_by_id", r->table),
	    r->audit_reads
	        ? text_printf("WITH audit AS (INSERT INTO audit_log (" AUDIT_REQUEST_COLUMNS
	                      ", action, entity_type, entity_id, outcome) SELECT $3::bigint, $4, "
	                      "$5, $6::inet, 'read', $7, id, 'success' FROM %s WHERE id = $1 AND "
	                      "((%s) OR $2::boolean)) SELECT %s FROM %s WHERE id = $1 AND ((%s) OR "
	                      "$2::boolean)",
	                      r->table, live, cols, r->table, live)
	        : text_printf("SELECT %s FROM %s WHERE id = $1 AND ((%s) OR $2::boolean)", cols,
	                      r->table, live),
	    r->audit_reads ? 7 : 2};
	st->exists_any =
	    (struct db_stmt){text_printf("crud_%s_exists_any", r->table),
	                     text_printf("SELECT 1 FROM %s WHERE id = $1", r->table), 1};
	st->state = (struct db_stmt){
	    text_printf("crud_%s_state", r->table),
	    text_printf("SELECT version::text, (%s) FROM %s WHERE id = $1 AND (%s)",
	                r->editable != NULL ? r->editable : "true", r->table, live),
	    1};
	st->update_where =
	    r->editable != NULL ? text_printf("(%s) AND (%s)", live, r->editable) : r->live;
	st->delete_row = (struct db_stmt){
	    text_printf("crud_%s_delete", r->table),
	    text_printf("UPDATE %s SET %s, version = version + 1, updated_at = now() "
	                "WHERE id = $1 AND (%s) RETURNING %s",
	                r->table, r->delete_set != NULL ? r->delete_set : "version = version", live,
	                cols),
	    1};
	st->restore_row = (struct db_stmt){
	    text_printf("crud_%s_restore", r->table),
	    text_printf("UPDATE %s SET %s, version = version + 1, updated_at = now() "
	                "WHERE id = $1 AND NOT (%s) RETURNING %s",
	                r->table, r->restore_set != NULL ? r->restore_set : "version = version",
	                live, cols),
	    1};
	return st->by_id.name != NULL && st->by_id.sql != NULL && st->exists_any.name != NULL &&
	       st->state.name != NULL && st->state.sql != NULL &&
	       (r->editable == NULL || st->update_where != NULL) && st->exists_any.sql != NULL &&
	       st->delete_row.name != NULL && st->delete_row.sql != NULL &&
	       st->restore_row.name != NULL && st->restore_row.sql != NULL;
}

/* The statements of r, or NULL when they cannot be made (out of memory). */
static const struct statements *statements_of(const struct resource *r)
{
	size_t i;

	for (i = 0; i < MAX_RESOURCES && prepared[i].resource != NULL; i++)
		if (prepared[i].resource == r)
			return &prepared[i];
	if (i == MAX_RESOURCES || !make_statements(&prepared[i], r))
		return NULL;
	prepared[i].resource = r;
	return &prepared[i];
}

/* --- answers ----------------------------------------------------------------- */

void crud_respond_row(struct http_request *req, struct http_response *res, int status,
                      const struct column *columns, const PGresult *result)
{
	int version = columns_index(columns, "version");

	if (version >= 0)
		http_response_header(res, "ETag",
		                     arena_printf(req->arena, "\"%s-%s\"", PQgetvalue(result, 0, 0),
		                                  PQgetvalue(result, 0, version)));
	http_respond_json(res, status, columns_row_json(columns, result, 0));
}

static const char *query_param(const void *req, const char *name)
{
	return http_request_param(req, name);
}

/* The absolute URL of this list with its other parameters and key=value
 * instead of page and cursor (key NULL: the first page). */
static struct json_object *list_url(struct http_request *req, const char *key, const char *value)
{
	const struct http_param **kept =
	    arena_calloc(req->arena, req->param_count + 1, sizeof(*kept));
	const char *url;
	size_t n = 0;

	if (kept == NULL)
		return NULL;
	for (size_t i = 0; i < req->param_count; i++)
		if (strcmp(req->params[i].key, "page") != 0 &&
		    strcmp(req->params[i].key, "cursor") != 0)
			kept[n++] = &req->params[i];
	url = http_link(req, kept, n, key, value);
	return url != NULL ? json_object_new_string(url) : NULL;
}

static struct json_object *page_url(struct http_request *req, long page)
{
	return page > 1 ? list_url(req, "page", arena_printf(req->arena, "%ld", page))
	                : list_url(req, NULL, NULL);
}

/* A cursor link from answer row i (i < 0: the plan's own position). */
static struct json_object *cursor_url(struct http_request *req, const struct list_plan *plan,
                                      const struct list_page *page, int i, bool backward)
{
	return list_url(req, "cursor", list_cursor(req->arena, plan, page, i, backward));
}

/* next and previous of an offset page. The page after the deepest one
 * ?page= may reach is offered as a cursor, so following "next" never
 * runs into the offset cap. */
static void add_page_links(struct http_request *req, struct json_object *body,
                           const struct list_plan *plan, const struct list_page *page)
{
	struct json_object *next = NULL;

	if (page->has_more)
		next = plan->page > plan->max_offset / plan->page_size
		           ? cursor_url(req, plan, page, page->count_shown - 1, false)
		           : page_url(req, plan->page + 1);
	json_object_object_add(body, "next", next);
	json_object_object_add(body, "previous",
	                       plan->page > 1 ? page_url(req, plan->page - 1) : NULL);
}

/* next and previous of a cursor page, as DRF's CursorPagination gives
 * them: a walk's first page has no previous; an empty page links back to
 * where it was asked from. */
static void add_cursor_links(struct http_request *req, struct json_object *body,
                             const struct list_plan *plan, const struct list_page *page)
{
	int last = page->count_shown - 1;
	bool more_after = plan->is_backward ? plan->position != NULL : page->has_more;
	bool more_before = plan->is_backward ? page->has_more : plan->position != NULL;

	json_object_object_add(
	    body, "next",
	    more_after ? cursor_url(req, plan, page, last >= 0 ? last : -1, false) : NULL);
	json_object_object_add(body, "previous",
	                       more_before ? cursor_url(req, plan, page, last >= 0 ? 0 : -1, true)
	                                   : NULL);
}

/* "{1,2,3}": the ids (column 0) of the rows a page shows, in its order,
 * for the audit row of a list (not the extra row that only says whether
 * there is more). */
const char *crud_page_ids(struct http_request *req, const struct list_page *page)
{
	struct strbuf ids;

	strbuf_init(&ids, req->arena);
	strbuf_append(&ids, "{");
	for (int i = 0; i < page->count_shown; i++) {
		if (i > 0)
			strbuf_append(&ids, ",");
		strbuf_append(&ids, PQgetvalue(page->rows, list_page_row(page, i), 0));
	}
	strbuf_append(&ids, "}");
	return strbuf_text(&ids);
}

void crud_respond_list(struct http_request *req, struct http_response *res,
                       const struct list_spec *spec, const struct list_condition *extra,
                       size_t extra_count)
{
	struct list_limits limits = {req->config->list_count_cap, req->config->list_max_offset};
	struct list_plan plan;
	struct list_page page;
	struct json_object *errors, *body, *results;
	enum list_problem problem;
	enum hms_err err;

	/* list_plan() fills errors: call it before errors is read. */
	problem = list_plan(req->arena, spec, &limits, query_param, req, extra, extra_count, &plan,
	                    &errors);
	if (!crud_list_planned(res, problem, errors))
		return;
	err = list_fetch(req->db, req->arena, &plan, &page);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (page.count_shown == 0 && !plan.is_cursor && plan.page > 1) {
		http_respond_error(res, HMS_ERR_NOT_FOUND, "Invalid page.");
		return;
	}
	/* Every list of patient data is audited before it leaves: which
	 * records, never how they were found. */
	if (spec->audit_entity != NULL)
		err = audit_record_list(req, spec->audit_entity, page.count_shown,
		                        crud_page_ids(req, &page));
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	body = json_object_new_object();
	results = json_object_new_array_ext(page.count_shown);
	for (int i = 0; i < page.count_shown; i++)
		json_object_array_add(
		    results, columns_row_json(spec->columns, page.rows, list_page_row(&page, i)));
	if (plan.is_cursor) {
		add_cursor_links(req, body, &plan, &page);
	} else {
		json_object_object_add(body, "count", json_object_new_int64(page.count));
		json_object_object_add(body, "count_is_exact",
		                       json_object_new_boolean(page.count_is_exact));
		add_page_links(req, body, &plan, &page);
	}
	json_object_object_add(body, "results", results);
	http_respond_json(res, 200, body);
}

/* --- If-Match ------------------------------------------------------------------ */

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

enum hms_err crud_expected_version(const struct http_request *req, int64_t id, const char **version)
{
	const char *p = req->if_match;
	char prefix[32];
	size_t plen;

	*version = NULL;
	if (p == NULL)
		return HMS_OK;
	while (is_ows(*p))
		p++;
	if (*p == '*' && p[1 + strspn(p + 1, " \t")] == '\0')
		return HMS_OK;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "\"%lld-", (long long)id);
	/* A list of entity tags: the first one for this object counts. Weak
	 * tags (W/"...") never match in If-Match (RFC 9110 section 13.1.1),
	 * and are skipped whole: their opaque part may hold a comma. The
	 * comparison is strong, character by character, so only a version as
	 * we write it matches (no leading zero). */
	while (*p != '\0') {
		const char *end;
		bool is_weak = false;

		while (is_ows(*p) || *p == ',')
			p++;
		if (strncmp(p, "W/\"", 3) == 0) {
			is_weak = true;
			p += 2;
		}
		end = p;
		if (*p == '"') {
			end = strchr(p + 1, '"');
			if (end == NULL)
				break;
			end++;
			if (!is_weak && strncmp(p, prefix, plen) == 0 &&
			    (size_t)(end - p) > plen + 1 && p[plen] != '0') {
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

/* --- INSERT and UPDATE from a field table -------------------------------------- */

/* The SQL type a field's text is cast to. */
static const char *sql_type(const struct field *f)
{
	switch (f->type) {
	case FIELD_BOOL:
		return "boolean";
	case FIELD_INT:
		return "integer";
	case FIELD_ID:
		return "bigint";
	case FIELD_DATE:
		return "date";
	case FIELD_DATETIME:
		return "timestamptz";
	case FIELD_JSON:
	case FIELD_OBJECT:
	case FIELD_LIST:
		return "jsonb";
	case FIELD_DECIMAL:
		return "numeric";
	default:
		return "text";
	}
}

static const char *default_expression(struct http_request *req, const struct field *f)
{
	if (f->sql != NULL)
		return f->sql;
	if (f->type == FIELD_STRING || f->type == FIELD_EMAIL || f->type == FIELD_CHOICE)
		return "$?";
	return arena_printf(req->arena, "$?::%s", sql_type(f));
}

/* A nested object's member m, from the object bound as "$?". */
static const char *member_expression(struct http_request *req, const struct field *m)
{
	return arena_printf(req->arena, "($?::jsonb ->> '%s')::%s", m->name, sql_type(m));
}

static const char *column_of(const struct field *f)
{
	return f->column != NULL ? f->column : f->name;
}

/* Room for every field's value plus the id and the version. */
static const char **params_for(struct http_request *req, const struct validated *v)
{
	return arena_calloc(req->arena, v->count + 2, sizeof(const char *));
}

const char *crud_insert_sql(struct http_request *req, const char *table, const struct field *fields,
                            const struct validated *v, const struct column *columns,
                            const char ***params, int *param_count)
{
	const char *select = columns_select(columns);
	struct strbuf cols, vals;
	int n = 0;

	*params = params_for(req, v);
	if (*params == NULL || select == NULL)
		return NULL;
	strbuf_init(&cols, req->arena);
	strbuf_init(&vals, req->arena);
	/* Read-only fields are present only when a hook gave them a value (a
	 * parent's id from the path, the author from the token). */
	for (size_t i = 0; i < v->count; i++) {
		if (!v->present[i])
			continue;
		(*params)[n++] = v->values[i];
		if (fields[i].type == FIELD_OBJECT) {
			/* One bound object, a column per member. */
			for (const struct field *m = fields[i].fields; m->name != NULL; m++) {
				if (cols.len > 0) {
					strbuf_append(&cols, ", ");
					strbuf_append(&vals, ", ");
				}
				strbuf_append(&cols, column_of(m));
				strbuf_append_param(&vals, member_expression(req, m), n);
			}
			continue;
		}
		if (cols.len > 0) {
			strbuf_append(&cols, ", ");
			strbuf_append(&vals, ", ");
		}
		strbuf_append(&cols, column_of(&fields[i]));
		strbuf_append_param(&vals, default_expression(req, &fields[i]), n);
	}
	*param_count = n;
	if (strbuf_text(&cols) == NULL || strbuf_text(&vals) == NULL)
		return NULL;
	if (n == 0)
		return arena_printf(req->arena, "INSERT INTO %s DEFAULT VALUES RETURNING %s", table,
		                    select);
	return arena_printf(req->arena, "INSERT INTO %s (%s) VALUES (%s) RETURNING %s", table,
	                    strbuf_text(&cols), strbuf_text(&vals), select);
}

const char *crud_update_sql(struct http_request *req, const char *table, const struct field *fields,
                            const struct validated *v, const char *expected_version,
                            const char *where, const struct column *columns, const char ***params,
                            int *param_count)
{
	const char *select = columns_select(columns);
	struct strbuf sql;
	int n = 0;

	*params = params_for(req, v);
	if (*params == NULL || select == NULL)
		return NULL;
	(*params)[n++] = http_request_id_text(req, 0);
	strbuf_init(&sql, req->arena);
	strbuf_printf(&sql, "UPDATE %s SET version = version + 1, updated_at = now()", table);
	for (size_t i = 0; i < v->count; i++) {
		if (!v->present[i])
			continue;
		(*params)[n++] = v->values[i];
		if (fields[i].type == FIELD_OBJECT) {
			/* PUT writes every member (absent ones become NULL); PATCH
			 * the members given, or all of them when the object is
			 * null. */
			for (const struct field *m = fields[i].fields; m->name != NULL; m++) {
				strbuf_printf(&sql, ", %s = ", column_of(m));
				if (v->mode == VALIDATE_UPDATE) {
					strbuf_append_param(
					    &sql, "CASE WHEN $?::jsonb IS NULL OR $?::jsonb ? ", n);
					strbuf_printf(&sql, "'%s' THEN ", m->name);
				}
				strbuf_append_param(&sql, member_expression(req, m), n);
				if (v->mode == VALIDATE_UPDATE)
					strbuf_printf(&sql, " ELSE %s END", column_of(m));
			}
			continue;
		}
		strbuf_printf(&sql, ", %s = ", column_of(&fields[i]));
		strbuf_append_param(&sql, default_expression(req, &fields[i]), n);
	}
	strbuf_append(&sql, " WHERE id = $1");
	if (expected_version != NULL) {
		(*params)[n++] = expected_version;
		strbuf_printf(&sql, " AND version = $%d::bigint", n);
	}
	if (where != NULL)
		strbuf_printf(&sql, " AND (%s)", where);
	strbuf_printf(&sql, " RETURNING %s", select);
	*param_count = n;
	return (*params)[0] != NULL ? strbuf_text(&sql) : NULL;
}

enum hms_err crud_fetch(struct http_request *req, const struct db_stmt *stmt, PGresult **row)
{
	const char *params[1] = {http_request_id_text(req, 0)};
	enum hms_err err;

	if (params[0] == NULL)
		return HMS_ERR_NOMEM;
	err = db_exec(req->db, req->arena, stmt, params, row);
	if (err == HMS_OK && PQntuples(*row) != 1)
		err = HMS_ERR_NOT_FOUND;
	return err;
}

/* The answer a violated constraint deserves, if the resource names it. */
static bool respond_constraint(struct http_response *res, const PGresult *result,
                               const struct constraint_error *constraints)
{
	const char *name = db_result_constraint(result);

	for (const struct constraint_error *c = constraints; c != NULL && c->constraint != NULL;
	     c++) {
		if (strcmp(c->constraint, name) != 0)
			continue;
		if (c->field != NULL)
			http_respond_field_error(res, c->field, c->message);
		else
			http_respond_error(res, HMS_ERR_CONFLICT, c->message);
		return true;
	}
	return false;
}

bool crud_commit(struct http_request *req, struct http_response *res, enum hms_err err,
                 const PGresult *result, const struct constraint_error *constraints,
                 const char *action, const char *entity_type, int64_t entity_id)
{
	if (err == HMS_OK)
		err = audit_record(req, action, entity_type, entity_id, AUDIT_SUCCESS);
	if (err == HMS_OK)
		err = db_commit(req->db);
	if (err == HMS_OK)
		return true;
	db_rollback(req->db);
	if (!respond_constraint(res, result, constraints))
		http_respond_error(res, err, NULL);
	return false;
}

bool crud_list_planned(struct http_response *res, enum list_problem problem,
                       struct json_object *errors)
{
	switch (problem) {
	case LIST_OK:
		return true;
	case LIST_INVALID:
		http_respond_field_errors(res, errors);
		return false;
	case LIST_BAD_PAGE:
		http_respond_error(res, HMS_ERR_NOT_FOUND, "Invalid page.");
		return false;
	case LIST_NOMEM:
		break;
	}
	http_respond_error(res, HMS_ERR_NOMEM, NULL);
	return false;
}

/* --- the generic handlers ---------------------------------------------------- */

static const struct resource *resource_of(const struct http_request *req)
{
	return req->route->arg;
}

bool crud_include_deleted(struct http_request *req, struct http_response *res,
                          const struct resource *r, bool *wanted)
{
	static const struct field flag = {"include_deleted", FIELD_BOOL};
	const char *raw = http_request_param(req, "include_deleted");
	const char *message = NULL;
	const char *value;
	const struct permission *perm;

	*wanted = false;
	if (raw == NULL || r->live == NULL || r->deleted_permission == NULL)
		return true;
	value = validate_text(req->arena, &flag, raw, &message);
	if (value == NULL) {
		http_respond_field_error(res, "include_deleted", message);
		return false;
	}
	*wanted = strcmp(value, "true") == 0;
	perm = permission_find(r->deleted_permission);
	if (*wanted && (perm == NULL || !permission_allows(perm, (enum role)req->user.role))) {
		audit_record(req, "denied", r->entity, req->id_count > 0 ? req->ids[0] : 0,
		             AUDIT_DENIED);
		http_respond_error(
		    res, HMS_ERR_FORBIDDEN,
		    arena_printf(req->arena, "Your role may not see deleted %s.", r->table));
		return false;
	}
	return true;
}

void crud_list(struct http_request *req, struct http_response *res)
{
	const struct resource *r = resource_of(req);
	struct list_spec spec = *r->list;
	bool include_deleted;

	if (!crud_include_deleted(req, res, r, &include_deleted))
		return;
	if (include_deleted) {
		spec.where = NULL;
		spec.unfiltered_count = NULL; /* a counter counts live rows */
		spec.word_index = NULL;       /* so does the word index */
	}
	crud_respond_list(req, res, &spec, NULL, 0);
}

enum hms_err crud_read(struct http_request *req, const struct resource *r, int64_t id,
                       bool include_deleted, PGresult **row)
{
	const struct statements *st = statements_of(r);
	const char *params[7] = {arena_printf(req->arena, "%lld", (long long)id),
	                         include_deleted ? "true" : "false"};
	enum hms_err err = st == NULL || params[0] == NULL ? HMS_ERR_NOMEM : HMS_OK;

	/* No PHI leaves without its audit row committed: the statement writes
	 * it (outside a transaction, so it commits as it returns). */
	audit_request_values(req, &params[2]);
	params[6] = r->entity;
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &st->by_id, params, row);
	if (err == HMS_OK && PQntuples(*row) != 1)
		err = HMS_ERR_NOT_FOUND;
	return err;
}

enum hms_err crud_exists(struct http_request *req, const struct resource *r, int64_t id,
                         bool *exists)
{
	const struct statements *st = statements_of(r);
	const char *params[1] = {arena_printf(req->arena, "%lld", (long long)id)};
	PGresult *row;
	enum hms_err err = st == NULL || params[0] == NULL ? HMS_ERR_NOMEM : HMS_OK;

	*exists = false;
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &st->exists_any, params, &row);
	if (err == HMS_OK)
		*exists = PQntuples(row) == 1;
	return err;
}

bool crud_may_see_deleted(const struct http_request *req, const struct resource *r)
{
	const struct permission *perm =
	    r->deleted_permission != NULL ? permission_find(r->deleted_permission) : NULL;

	return perm != NULL && permission_allows(perm, (enum role)req->user.role);
}

static void respond_object(struct http_request *req, struct http_response *res,
                           const struct resource *r, int64_t id, bool include_deleted)
{
	PGresult *row;
	enum hms_err err = crud_read(req, r, id, include_deleted, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	crud_respond_row(req, res, 200, r->columns, row);
}

void crud_respond_object(struct http_request *req, struct http_response *res,
                         const struct resource *r, int64_t id)
{
	respond_object(req, res, r, id, false);
}

void crud_get(struct http_request *req, struct http_response *res)
{
	const struct resource *r = resource_of(req);
	bool include_deleted;

	if (crud_include_deleted(req, res, r, &include_deleted))
		respond_object(req, res, r, req->ids[0], include_deleted);
}

static enum validate_mode mode_of(enum crud_op op)
{
	return op == CRUD_CREATE    ? VALIDATE_CREATE
	       : op == CRUD_REPLACE ? VALIDATE_REPLACE
	                            : VALIDATE_UPDATE;
}

/* After an UPDATE matched no row: 404 when the row is not served, 412
 * when If-Match names an older version, 409 when the row may not be
 * edited (the resource's `editable`), else 412 (it changed meanwhile). */
static enum hms_err missing_or_changed(struct http_request *req, const struct statements *st,
                                       const char *version)
{
	PGresult *row;
	enum hms_err err = crud_fetch(req, &st->state, &row);

	if (err != HMS_OK)
		return err;
	if (version != NULL && strcmp(version, PQgetvalue(row, 0, 0)) != 0)
		return HMS_ERR_PRECONDITION;
	return PQgetvalue(row, 0, 1)[0] != 't' ? HMS_ERR_CONFLICT : HMS_ERR_PRECONDITION;
}

static void write_object(struct http_request *req, struct http_response *res, enum crud_op op)
{
	const struct resource *r = resource_of(req);
	const struct statements *st = statements_of(r);
	struct crud_write w = {.op = op};
	const char *version = NULL, *sql;
	const char *key = NULL;
	const char **params;
	PGresult *row = NULL;
	int n;
	enum hms_err err = st == NULL ? HMS_ERR_NOMEM : HMS_OK;

	if (err == HMS_OK && op != CRUD_CREATE)
		err = crud_expected_version(req, req->ids[0], &version);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	/* A create with an Idempotency-Key claims it before anything else, in
	 * the transaction of the write: a retry is answered from the key
	 * (idempotency.h) even if its body would no longer validate. */
	if (op == CRUD_CREATE && !idempotency_key_of(req, res, &key))
		return;
	if (key != NULL && !idempotency_begin(req, res, key))
		return;
	w.errors = validate_body(req->arena, r->fields, req->json, mode_of(op), &w.v);
	if (w.errors == NULL && r->before_write != NULL && !r->before_write(req, res, &w)) {
		db_rollback(req->db);
		return;
	}
	if (w.errors != NULL) {
		db_rollback(req->db);
		http_respond_field_errors(res, w.errors);
		return;
	}
	sql = op == CRUD_CREATE
	          ? crud_insert_sql(req, r->table, r->fields, &w.v, r->columns, &params, &n)
	          : crud_update_sql(req, r->table, r->fields, &w.v, version, st->update_where,
	                            r->columns, &params, &n);
	err = sql == NULL ? HMS_ERR_NOMEM : key != NULL ? HMS_OK : db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1) {
		err = missing_or_changed(req, st, version);
		if (err == HMS_ERR_CONFLICT) {
			db_rollback(req->db);
			http_respond_error(res, err, r->not_editable);
			return;
		}
	}
	if (err == HMS_OK && r->after_write != NULL) {
		w.row = row;
		err = r->after_write(req, &w);
	}
	if (err == HMS_OK && key != NULL) {
		struct json_object *body = columns_row_json(r->columns, row, 0);

		err = body == NULL ? HMS_ERR_NOMEM
		                   : idempotency_store(req, key, 201, body, r->entity,
		                                       atoll(PQgetvalue(row, 0, 0)));
		json_object_put(body);
	}
	if (!crud_commit(req, res, err, row, r->constraints,
	                 op == CRUD_CREATE ? "create" : "update", r->entity,
	                 err == HMS_OK ? atoll(PQgetvalue(row, 0, 0)) : 0))
		return;
	crud_respond_row(req, res, op == CRUD_CREATE ? 201 : 200, r->columns, row);
}

void crud_create(struct http_request *req, struct http_response *res)
{
	write_object(req, res, CRUD_CREATE);
}

void crud_replace(struct http_request *req, struct http_response *res)
{
	write_object(req, res, CRUD_REPLACE);
}

void crud_update(struct http_request *req, struct http_response *res)
{
	write_object(req, res, CRUD_UPDATE);
}

void crud_delete(struct http_request *req, struct http_response *res)
{
	const struct resource *r = resource_of(req);
	const struct statements *st = statements_of(r);
	PGresult *row = NULL;
	enum hms_err err = st == NULL ? HMS_ERR_NOMEM : db_begin(req->db);

	if (err == HMS_OK)
		err = crud_fetch(req, &st->delete_row, &row);
	if (crud_commit(req, res, err, row, r->constraints, "delete", r->entity, req->ids[0]))
		res->status = 204;
}

void crud_restore(struct http_request *req, struct http_response *res)
{
	const struct resource *r = resource_of(req);
	const struct statements *st = statements_of(r);
	PGresult *row = NULL, *any;
	enum hms_err err = st == NULL ? HMS_ERR_NOMEM : db_begin(req->db);

	if (err == HMS_OK)
		err = crud_fetch(req, &st->restore_row, &row);
	if (err == HMS_ERR_NOT_FOUND && crud_fetch(req, &st->exists_any, &any) == HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, HMS_ERR_CONFLICT,
		                   arena_printf(req->arena, "The %s is not deleted.", r->entity));
		return;
	}
	if (crud_commit(req, res, err, row, r->constraints, "restore", r->entity, req->ids[0]))
		crud_respond_row(req, res, 200, r->columns, row);
}
