/*
 * test_audit.c - the audit trail: GET /api/audit/ (admin only, filters,
 * paging), the rows that logins, changes, denials and sessions write (found
 * by the X-Request-ID each test sends), no names in any row, the
 * append-only rules in PostgreSQL, and `hmsctl audit-verify` on the stack
 * and on a tampered copy in a database of its own.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static const char *const other_roles[] = {"doctor", "nurse", "receptionist", "billing"};

static struct json_object *results_of(const struct client_response *res)
{
	struct json_object *results;

	client_assert_status(res, 200);
	cr_assert_not_null(res->json, "%s", res->body);
	cr_assert(json_object_object_get_ex(res->json, "count", NULL), "%s", res->body);
	cr_assert(json_object_object_get_ex(res->json, "next", NULL), "%s", res->body);
	cr_assert(json_object_object_get_ex(res->json, "previous", NULL), "%s", res->body);
	cr_assert(json_object_object_get_ex(res->json, "results", &results) &&
	              json_object_is_type(results, json_type_array),
	          "%s", res->body);
	return results;
}

/* GET /api/audit/?query as the admin; asserts the list shape. */
static struct json_object *audit_list(const char *query, struct client_response *res)
{
	char path[1024];

	snprintf(path, sizeof(path), "/api/audit/?%s", query);
	client_get_auth(path, client_admin_token(), res);
	return results_of(res);
}

static long long count_of(const struct client_response *res)
{
	return (long long)json_object_get_int64(json_object_object_get(res->json, "count"));
}

/* The row of GET /api/audit/?query whose request_id is request_id, walking
 * the pages (newest first); a new reference the caller puts, or NULL. */
static struct json_object *find_row(const char *query, const char *request_id)
{
	for (int page = 1; page <= 50; page++) {
		struct client_response res;
		struct json_object *rows, *found = NULL;
		char q[1024];
		int more;

		snprintf(q, sizeof(q), "%s&page_size=100&page=%d", query, page);
		rows = audit_list(q, &res);
		for (size_t i = 0; i < json_object_array_length(rows) && found == NULL; i++) {
			struct json_object *row = json_object_array_get_idx(rows, i);
			struct json_object *v = json_object_object_get(row, "request_id");

			if (v != NULL && strcmp(json_object_get_string(v), request_id) == 0)
				found = json_object_get(row);
		}
		more = json_object_object_get(res.json, "next") != NULL;
		client_response_free(&res);
		if (found != NULL || !more)
			return found;
	}
	return NULL;
}

/* Asserts every column of an audit row; actor/entity_id 0 and actor_role
 * NULL mean JSON null. */
static void expect_row(struct json_object *row, long long actor, const char *actor_role,
                       const char *action, const char *entity_type, long long entity_id,
                       const char *request_id, const char *outcome)
{
	const char *text;
	struct json_object *v;

	cr_assert_not_null(row, "no audit row for request %s (%s)", request_id, action);
	text = json_object_to_json_string(row);
	cr_assert(json_object_object_get_ex(row, "id", &v) && json_object_get_int64(v) > 0, "%s",
	          text);
	cr_assert(json_object_object_get_ex(row, "at", &v) && json_object_get_string_len(v) == 20,
	          "%s", text);
	cr_assert(json_object_object_get_ex(row, "actor", &v), "%s", text);
	if (actor > 0)
		cr_assert(v != NULL && json_object_get_int64(v) == actor, "actor %lld: %s", actor,
		          text);
	else
		cr_assert_null(v, "%s", text);
	cr_assert(json_object_object_get_ex(row, "actor_role", &v), "%s", text);
	if (actor_role != NULL)
		cr_assert(v != NULL && strcmp(json_object_get_string(v), actor_role) == 0,
		          "actor_role %s: %s", actor_role, text);
	else
		cr_assert_null(v, "%s", text);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row, "action")), action,
	                 "%s", text);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row, "entity_type")),
	                 entity_type, "%s", text);
	cr_assert(json_object_object_get_ex(row, "entity_id", &v), "%s", text);
	if (entity_id > 0)
		cr_assert(v != NULL && json_object_get_int64(v) == entity_id, "entity_id %lld: %s",
		          entity_id, text);
	else
		cr_assert_null(v, "%s", text);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row, "request_id")),
	                 request_id, "%s", text);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row, "ip")), "127.0.0.1",
	                 "%s", text);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(row, "outcome")), outcome,
	                 "%s", text);
}

/* A fresh request id and its header line. */
struct rid {
	char id[64];
	char header[96];
};

static void new_rid(const char *prefix, struct rid *r)
{
	client_unique_name(prefix, r->id, sizeof(r->id));
	snprintf(r->header, sizeof(r->header), "X-Request-ID: %s", r->id);
}

static long long admin_id(void)
{
	struct client_response res;
	long long id;

	client_get_auth("/api/auth/me/", client_admin_token(), &res);
	client_assert_status(&res, 200);
	id = (long long)json_object_get_int64(json_object_object_get(res.json, "id"));
	client_response_free(&res);
	return id;
}

static void check_row(const char *query, const struct rid *r, long long actor, const char *role,
                      const char *action, const char *entity_type, long long entity_id,
                      const char *outcome)
{
	struct json_object *row = find_row(query, r->id);

	expect_row(row, actor, role, action, entity_type, entity_id, r->id, outcome);
	json_object_put(row);
}

/* --- GET /api/audit/: who may read ------------------------------------------------ */

Test(audit_access, admin_reads_the_paginated_list)
{
	struct client_response res;
	struct json_object *rows;

	rows = audit_list("", &res);
	cr_assert_gt(count_of(&res), 0);
	cr_assert_gt(json_object_array_length(rows), 0);
	cr_assert_leq(json_object_array_length(rows), 20);
	/* Newest first by default. */
	for (size_t i = 1; i < json_object_array_length(rows); i++)
		cr_assert_gt(json_object_get_int64(json_object_object_get(
		                 json_object_array_get_idx(rows, i - 1), "id")),
		             json_object_get_int64(
		                 json_object_object_get(json_object_array_get_idx(rows, i), "id")));
	client_response_free(&res);
	/* The first admin's creation and this login are two rows at least. */
	rows = audit_list("ordering=id&page_size=1", &res);
	cr_assert_eq(json_object_array_length(rows), 1);
	cr_assert_not_null(json_object_object_get(res.json, "next"), "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "previous"), "%s", res.body);
	client_response_free(&res);
	rows = audit_list("ordering=id&page_size=100", &res);
	for (size_t i = 1; i < json_object_array_length(rows); i++)
		cr_assert_lt(json_object_get_int64(json_object_object_get(
		                 json_object_array_get_idx(rows, i - 1), "id")),
		             json_object_get_int64(
		                 json_object_object_get(json_object_array_get_idx(rows, i), "id")));
	client_response_free(&res);
}

Test(audit_access, every_other_role_is_403_and_no_token_401)
{
	struct client_response res;

	for (size_t i = 0; i < sizeof(other_roles) / sizeof(other_roles[0]); i++) {
		struct client_user user;
		struct client_tokens tokens;

		client_create_user(other_roles[i], &user);
		client_user_login(&user, &tokens);
		client_get_auth("/api/audit/", tokens.access, &res);
		client_assert_status(&res, 403);
		cr_assert_not_null(client_json_string(&res, "detail"), "%s", res.body);
		cr_assert_null(json_object_object_get(res.json, "results"));
		client_response_free(&res);
		client_tokens_free(&tokens);
	}
	client_get("/api/audit/", &res);
	client_assert_status(&res, 401);
	cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
	client_response_free(&res);
}

/* --- the rows each event writes ------------------------------------------------------ */

Test(audit_rows, login_and_failed_logins)
{
	struct client_user user;
	struct client_tokens tokens;
	struct rid ok, bad, ghost;
	char query[128], name[96];

	client_create_user("nurse", &user);
	new_rid("login", &ok);
	new_rid("badpw", &bad);
	new_rid("ghost", &ghost);
	cr_assert_eq(client_login(user.username, user.password, ok.header, &tokens), 200);
	client_tokens_free(&tokens);
	cr_assert_eq(client_login(user.username, "wrong-password-1", bad.header, &tokens), 401);
	client_unique_name("nosuchuser", name, sizeof(name));
	cr_assert_eq(client_login(name, "wrong-password-1", ghost.header, &tokens), 401);

	snprintf(query, sizeof(query), "actor=%lld&action=login", user.id);
	check_row(query, &ok, user.id, "nurse", "login", "user", user.id, "success");
	snprintf(query, sizeof(query), "actor=%lld&action=login_failed", user.id);
	check_row(query, &bad, user.id, "nurse", "login_failed", "user", user.id, "failure");
	/* An unknown account: no actor, no entity, and not its name. */
	check_row("action=login_failed", &ghost, 0, NULL, "login_failed", "user", 0, "failure");
}

Test(audit_rows, create_and_update_of_a_user)
{
	struct rid create, update;
	struct client_response res;
	char name[96], body[512], path[64], query[128];
	long long id, admin = admin_id();

	new_rid("create", &create);
	new_rid("update", &update);
	client_unique_name("audited", name, sizeof(name));
	snprintf(
	    body, sizeof(body),
	    "{\"username\": \"%s\", \"password\": \"registered-pass-1\", \"role\": \"billing\"}",
	    name);
	client_call("POST", "/api/auth/register/", client_admin_token(), create.header, body, &res);
	client_assert_status(&res, 201);
	id = (long long)json_object_get_int64(json_object_object_get(res.json, "id"));
	client_response_free(&res);
	snprintf(path, sizeof(path), "/api/users/%lld/", id);
	client_call("PATCH", path, client_admin_token(), update.header, "{\"role\": \"nurse\"}",
	            &res);
	client_assert_status(&res, 200);
	client_response_free(&res);

	snprintf(query, sizeof(query), "entity_type=user&entity_id=%lld", id);
	check_row(query, &create, admin, "admin", "create", "user", id, "success");
	check_row(query, &update, admin, "admin", "update", "user", id, "success");
}

Test(audit_rows, denied)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	struct rid r;
	char query[128];

	client_create_user("receptionist", &user);
	client_user_login(&user, &tokens);
	new_rid("denied", &r);
	client_call("GET", "/api/audit/", tokens.access, r.header, NULL, &res);
	client_assert_status(&res, 403);
	client_response_free(&res);
	snprintf(query, sizeof(query), "actor=%lld", user.id);
	check_row(query, &r, user.id, "receptionist", "denied", "audit", 0, "denied");
	client_tokens_free(&tokens);
}

Test(audit_rows, password_change_success_and_failure)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	struct rid ok, bad;
	char query[128];

	client_create_user("doctor", &user);
	client_user_login(&user, &tokens);
	new_rid("pwbad", &bad);
	new_rid("pwok", &ok);
	client_call(
	    "POST", "/api/auth/password/", tokens.access, bad.header,
	    "{\"old_password\": \"not-my-password\", \"new_password\": \"another-pass-77\"}", &res);
	client_assert_status(&res, 400);
	client_response_free(&res);
	client_call(
	    "POST", "/api/auth/password/", tokens.access, ok.header,
	    "{\"old_password\": \"test-password-0123\", \"new_password\": \"another-pass-77\"}",
	    &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	snprintf(query, sizeof(query), "actor=%lld&action=password_change", user.id);
	check_row(query, &bad, user.id, "doctor", "password_change", "user", user.id, "failure");
	check_row(query, &ok, user.id, "doctor", "password_change", "user", user.id, "success");
	client_tokens_free(&tokens);
}

static long post_refresh(const char *path, const char *access, const char *header,
                         const char *refresh, char **new_refresh)
{
	char body[8192];
	struct client_response res;
	long status;

	snprintf(body, sizeof(body), "{\"refresh\": \"%s\"}", refresh);
	client_call("POST", path, access, header, body, &res);
	status = res.status;
	if (new_refresh != NULL)
		*new_refresh = status == 200 ? strdup(client_json_string(&res, "refresh")) : NULL;
	client_response_free(&res);
	return status;
}

Test(audit_rows, token_refresh_reuse_and_logout)
{
	struct client_user user;
	struct client_tokens tokens, second;
	struct rid refreshed, reused, logout;
	char query[128];
	char *rotated;

	client_create_user("billing", &user);
	client_user_login(&user, &tokens);
	client_user_login(&user, &second);
	new_rid("refresh", &refreshed);
	new_rid("reuse", &reused);
	new_rid("logout", &logout);
	cr_assert_eq(post_refresh("/api/auth/token/refresh/", NULL, refreshed.header,
	                          tokens.refresh, &rotated),
	             200);
	cr_assert_eq(
	    post_refresh("/api/auth/token/refresh/", NULL, reused.header, tokens.refresh, NULL),
	    401);
	cr_assert_eq(
	    post_refresh("/api/auth/logout/", second.access, logout.header, second.refresh, NULL),
	    205);

	snprintf(query, sizeof(query), "actor=%lld", user.id);
	check_row(query, &refreshed, user.id, "billing", "token_refresh", "user", user.id,
	          "success");
	check_row(query, &reused, user.id, "billing", "token_reuse", "user", user.id, "denied");
	check_row(query, &logout, user.id, "billing", "logout", "user", user.id, "success");
	free(rotated);
	client_tokens_free(&tokens);
	client_tokens_free(&second);
}

/* --- filters --------------------------------------------------------------------------- */

static void assert_all(struct json_object *rows, const char *key, const char *value)
{
	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		struct json_object *v = json_object_object_get(row, key);

		cr_assert(v != NULL && strcmp(json_object_get_string(v), value) == 0,
		          "%s is not %s in %s", key, value, json_object_to_json_string(row));
	}
}

Test(audit_filters, actor_action_entity_type_and_entity_id)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	struct json_object *rows;
	char query[256], id[24];

	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	client_tokens_free(&tokens);
	client_user_login(&user, &tokens);
	snprintf(id, sizeof(id), "%lld", user.id);

	snprintf(query, sizeof(query), "actor=%lld&page_size=100", user.id);
	rows = audit_list(query, &res);
	cr_assert_eq(count_of(&res), 2, "%s", res.body); /* two logins */
	assert_all(rows, "actor", id);
	client_response_free(&res);

	snprintf(query, sizeof(query), "actor=%lld&action=login", user.id);
	rows = audit_list(query, &res);
	cr_assert_eq(count_of(&res), 2, "%s", res.body);
	assert_all(rows, "action", "login");
	client_response_free(&res);
	snprintf(query, sizeof(query), "actor=%lld&action=logout", user.id);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 0, "%s", res.body);
	client_response_free(&res);

	/* The user's own logins and the admin's create, about this entity. */
	snprintf(query, sizeof(query), "entity_type=user&entity_id=%lld&page_size=100", user.id);
	rows = audit_list(query, &res);
	cr_assert_eq(count_of(&res), 3, "%s", res.body);
	assert_all(rows, "entity_type", "user");
	assert_all(rows, "entity_id", id);
	client_response_free(&res);
	/* Another entity type with the same id: an id no test ever creates. */
	snprintf(query, sizeof(query), "entity_type=patient&entity_id=%lld",
	         9000000000000000000LL + user.id);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 0, "%s", res.body);
	client_response_free(&res);

	/* A page past the end and an unknown ordering. */
	snprintf(query, sizeof(query), "/api/audit/?actor=%lld&page=2", user.id);
	client_get_auth(query, client_admin_token(), &res);
	client_assert_status(&res, 404);
	client_response_free(&res);
	client_get_auth("/api/audit/?ordering=hash", client_admin_token(), &res);
	client_assert_field_error(&res, "ordering");
	client_response_free(&res);
	client_tokens_free(&tokens);
}

Test(audit_filters, since_and_until)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	struct json_object *rows;
	char query[256], at[32];

	client_create_user("doctor", &user);
	client_user_login(&user, &tokens);
	snprintf(query, sizeof(query), "actor=%lld", user.id);
	rows = audit_list(query, &res);
	cr_assert_eq(json_object_array_length(rows), 1, "%s", res.body);
	snprintf(at, sizeof(at), "%s",
	         json_object_get_string(
	             json_object_object_get(json_object_array_get_idx(rows, 0), "at")));
	client_response_free(&res);

	/* "at" is shown to the second; the row is at or after that second. */
	snprintf(query, sizeof(query), "actor=%lld&since=%s", user.id, at);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 1, "since=%s: %s", at, res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "actor=%lld&until=%s", user.id, at);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 0, "until=%s: %s", at, res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "actor=%lld&since=2999-01-01T00:00:00Z", user.id);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 0, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "actor=%lld&until=2999-01-01T00:00:00Z&since=2000-01-01",
	         user.id);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 1, "%s", res.body);
	client_response_free(&res);
	/* An offset other than Z (+ percent-encoded). */
	snprintf(query, sizeof(query), "actor=%lld&since=2000-01-01T03:00:00%%2B03:00", user.id);
	audit_list(query, &res);
	cr_assert_eq(count_of(&res), 1, "%s", res.body);
	client_response_free(&res);
	client_tokens_free(&tokens);
}

Test(audit_filters, bad_values_are_400)
{
	struct {
		const char *query, *field;
	} cases[] = {
	    {"actor=abc", "actor"},        {"actor=-5", "actor"},
	    {"actor=1.5", "actor"},        {"actor=99999999999999999999999", "actor"},
	    {"entity_id=x", "entity_id"},  {"entity_id=0x10", "entity_id"},
	    {"since=yesterday", "since"},  {"since=2025-01-01T10:00:00", "since"}, /* no offset */
	    {"until=2025-13-45", "until"}, {"until=2025-02-30T00:00:00Z", "until"},
	};
	struct client_response res;
	char path[512];
	char long_action[260];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "/api/audit/?%s", cases[i].query);
		client_get_auth(path, client_admin_token(), &res);
		client_assert_field_error(&res, cases[i].field);
		client_response_free(&res);
	}
	memset(long_action, 'a', 250);
	long_action[250] = '\0';
	snprintf(path, sizeof(path), "/api/audit/?action=%s", long_action);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_field_error(&res, "action");
	client_response_free(&res);
}

/* --- no names in the trail -------------------------------------------------------------- */

#define FIRST "Zebulonius"
#define LAST  "Quixotreen"

static int file_contains(const char *path, const char *needle)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "grep -q -F '%s' '%s'", needle, path);
	return client_run(cmd, NULL) == 0;
}

Test(audit_privacy, rows_contain_no_names)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	char query[256], path[64], sql[512], ghost[96], log[1024];
	const char *needles[3];

	client_create_user_named("nurse", "Vexmarrow", FIRST, LAST, &user);
	needles[0] = FIRST;
	needles[1] = LAST;
	needles[2] = user.username;
	/* Events about this user: logins, a failure, a change, reads. */
	client_user_login(&user, &tokens);
	cr_assert_eq(
	    client_login(user.username, "wrong-password-1", NULL, &(struct client_tokens){0}), 401);
	client_unique_name("VexmarrowGhost", ghost, sizeof(ghost));
	cr_assert_eq(client_login(ghost, "wrong-password-1", NULL, &(struct client_tokens){0}),
	             401);
	snprintf(path, sizeof(path), "/api/users/%lld/", user.id);
	client_patch_json(path, client_admin_token(),
	                  "{\"first_name\": \"" FIRST "\", \"last_name\": \"" LAST "x\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_get_auth("/api/auth/me/", tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_get_auth("/api/users/", tokens.access, &res); /* a denial */
	client_assert_status(&res, 403);
	client_response_free(&res);

	/* Through the API: every row about or by this user. */
	snprintf(query, sizeof(query), "actor=%lld&page_size=100", user.id);
	audit_list(query, &res);
	cr_assert_geq(count_of(&res), 3, "%s", res.body);
	for (int i = 0; i < 3; i++)
		cr_assert_null(strstr(res.body, needles[i]), "%s in %s", needles[i], res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "entity_id=%lld&page_size=100", user.id);
	audit_list(query, &res);
	cr_assert_geq(count_of(&res), 4, "%s", res.body);
	for (int i = 0; i < 3; i++)
		cr_assert_null(strstr(res.body, needles[i]), "%s in %s", needles[i], res.body);
	client_response_free(&res);

	/* In the table itself, every column of every row. */
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM audit_log a WHERE a::text ILIKE '%%" FIRST
	         "%%' OR a::text ILIKE '%%" LAST "%%' OR a::text ILIKE '%%Vexmarrow%%'");
	cr_assert_eq(client_sql_long(sql), 0);

	/* Nor in the server's log. */
	snprintf(log, sizeof(log), "%s/log/hms.log", client_env("HMS_TEST_STATE"));
	cr_assert(!file_contains(log, FIRST), "%s is in %s", FIRST, log);
	cr_assert(!file_contains(log, LAST), "%s is in %s", LAST, log);
	cr_assert(!file_contains(log, "Vexmarrow"), "a username is in %s", log);
	client_tokens_free(&tokens);
}

/* --- append-only in PostgreSQL --------------------------------------------------------- */

static PGconn *connect_as(const char *user, const char *db)
{
	char conninfo[1024];
	PGconn *conn;

	snprintf(conninfo, sizeof(conninfo), "%s user=%s dbname=%s",
	         client_env("HMS_TEST_ADMIN_URL"), user, db);
	conn = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
	PQclear(PQexec(conn, "SET client_min_messages = warning")); /* no NOTICE noise */
	return conn;
}

static void exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);

	cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
	          "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

/* Runs sql inside a transaction that is always rolled back (so a broken
 * rule cannot damage the shared trail); asserts it fails with sqlstate and,
 * when given, a message containing message. */
static void expect_refused(PGconn *conn, const char *sql, const char *sqlstate, const char *message)
{
	PGresult *res;

	exec_ok(conn, "BEGIN");
	res = PQexec(conn, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_FATAL_ERROR, "'%s' was allowed", sql);
	cr_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), sqlstate, "%s: %s", sql,
	                 PQresultErrorMessage(res));
	if (message != NULL)
		cr_assert_not_null(strstr(PQresultErrorMessage(res), message), "%s: %s", sql,
		                   PQresultErrorMessage(res));
	PQclear(res);
	exec_ok(conn, "ROLLBACK");
}

static const char *const rewrites[] = {
    "UPDATE audit_log SET action = 'read' WHERE id = (SELECT max(id) FROM audit_log)",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "TRUNCATE audit_log",
};

Test(audit_append_only, application_role_cannot_update_delete_or_truncate)
{
	PGconn *conn = connect_as("hms_app", "hms");
	PGresult *res;

	for (size_t i = 0; i < sizeof(rewrites) / sizeof(rewrites[0]); i++)
		expect_refused(conn, rewrites[i], "42501", "permission denied");
	expect_refused(conn, "UPDATE audit_seals SET mac = repeat('0', 64)", "42501",
	               "permission denied");
	expect_refused(conn, "DELETE FROM audit_seals", "42501", "permission denied");
	expect_refused(conn, "TRUNCATE audit_seals", "42501", "permission denied");
	/* It may insert what a request knows; the id, the time and the
	 * transaction are the database's to set. */
	expect_refused(conn,
	               "INSERT INTO audit_log (id, action, outcome) VALUES (1, 'x', 'success')",
	               "42501", "permission denied");
	expect_refused(conn,
	               "INSERT INTO audit_log (at, action, outcome) VALUES ('2000-01-01', 'x', "
	               "'success')",
	               "42501", "permission denied");
	expect_refused(conn,
	               "INSERT INTO audit_log (txid, action, outcome) VALUES (1, 'x', 'success')",
	               "42501", "permission denied");
	exec_ok(conn, "BEGIN");
	res =
	    PQexec(conn, "INSERT INTO audit_log (action, outcome) VALUES ('test_probe', 'success') "
	                 "RETURNING id > 0, at > now() - interval '1 hour', "
	                 "txid = pg_current_xact_id()::text::bigint, hash IS NULL");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
	for (int c = 0; c < 4; c++)
		cr_assert_str_eq(PQgetvalue(res, 0, c), "t", "column %d", c);
	PQclear(res);
	exec_ok(conn, "ROLLBACK");
	PQfinish(conn);
}

/* The stack's database_url, read from the hms.conf stack.sh wrote: the
 * credentials the workers (and the sealer) really use, not a role name
 * this test assumes. */
static PGconn *connect_as_workers(void)
{
	char *conninfo = client_stack_setting("database_url");
	PGconn *conn = PQconnectdb(conninfo);

	free(conninfo);
	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

/* What a compromised worker would try first: rewrite the trail or switch
 * off what guards it. Each is refused for want of a privilege (42501), not
 * only by the trigger: the workers' role owns nothing and has no DDL. */
Test(audit_append_only, the_workers_credentials_cannot_rewrite_or_unguard_the_trail)
{
	static const char *const attempts[] = {
	    "UPDATE audit_log SET action = 'read' WHERE id = (SELECT max(id) FROM audit_log)",
	    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
	    "TRUNCATE audit_log",
	    "ALTER TABLE audit_log DISABLE TRIGGER USER",
	    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
	    "ALTER TABLE audit_log ADD COLUMN note text",
	    "ALTER TABLE audit_log OWNER TO CURRENT_USER",
	    "DROP TABLE audit_log",
	    "UPDATE audit_seals SET mac = repeat('0', 64)",
	    "DELETE FROM audit_seals",
	    "TRUNCATE audit_seals",
	    "ALTER TABLE audit_seals DISABLE TRIGGER USER",
	    "ALTER TABLE audit_seals DISABLE TRIGGER ALL",
	    "ALTER TABLE audit_seals ADD COLUMN note text",
	    "DROP TABLE audit_seals",
	    "CREATE TABLE public.audit_shadow (id bigint)",
	    "CREATE SCHEMA shadow",
	    "SET session_replication_role = replica",
	};
	PGconn *conn = connect_as_workers();
	PGresult *res;

	/* Not the owner role, not a superuser, owns no table. */
	res = PQexec(conn, "SELECT current_user, r.rolsuper, r.rolcreaterole, r.rolcreatedb, "
	                   "r.rolbypassrls, (SELECT count(*) FROM pg_class c WHERE c.relowner = "
	                   "r.oid AND c.relnamespace = 'public'::regnamespace) "
	                   "FROM pg_roles r WHERE r.rolname = current_user");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "hms_app");
	for (int c = 1; c <= 4; c++)
		cr_assert_str_eq(PQgetvalue(res, 0, c), "f", "column %d", c);
	cr_assert_str_eq(PQgetvalue(res, 0, 5), "0", "the workers' role owns tables");
	PQclear(res);

	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++)
		expect_refused(conn, attempts[i], "42501", NULL);
	PQfinish(conn);
}

Test(audit_append_only, even_the_superuser_is_refused_by_the_trigger)
{
	PGconn *conn = connect_as("postgres", "hms");

	for (size_t i = 0; i < sizeof(rewrites) / sizeof(rewrites[0]); i++)
		expect_refused(conn, rewrites[i], "42501", "append-only");
	PQfinish(conn);
}

/* --- hmsctl audit-verify ------------------------------------------------------------------ */

/* Runs hmsctl audit-verify with the stack's configuration, on database db
 * (NULL: the stack's own). Returns the exit status; output to *out. */
static int audit_verify(const char *db, char **out)
{
	char cmd[4096];

	if (db == NULL)
		snprintf(cmd, sizeof(cmd), "HMS_CONFIG='%s/hms.conf' '%s' audit-verify 2>&1",
		         client_env("HMS_TEST_STATE"), client_env("HMS_TEST_HMSCTL_BIN"));
	else
		snprintf(cmd, sizeof(cmd),
		         "HMS_CONFIG='%s/hms.conf' HMS_DATABASE_URL='%s dbname=%s' "
		         "HMS_ADMIN_DATABASE_URL='%s dbname=%s' '%s' audit-verify 2>&1",
		         client_env("HMS_TEST_STATE"), client_env("HMS_TEST_ADMIN_URL"), db,
		         client_env("HMS_TEST_ADMIN_URL"), db, client_env("HMS_TEST_HMSCTL_BIN"));
	return client_run(cmd, out);
}

Test(audit_verify, the_stack_chain_is_intact)
{
	/* Regression: verify once ordered by the text id (1, 10, 100, 11, ...)
	 * and called an intact chain of ten or more rows broken. */
	struct client_user user;
	struct client_tokens tokens;
	char *out;

	/* Some fresh rows first, written while other tests write theirs. */
	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	client_tokens_free(&tokens);
	cr_assert_eq(audit_verify(NULL, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "audit chain intact"), "%s", out);
	free(out);
}

static char tamper_db[64];
static char legacy_schema[64];

static void drop_tamper_db(void)
{
	char sql[128], cmd[160];
	PGconn *conn;

	if (legacy_schema[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", legacy_schema);
		cr_assert_eq(system(cmd), 0);
	}
	if (tamper_db[0] == '\0')
		return;
	conn = connect_as("postgres", "postgres");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", tamper_db);
	exec_ok(conn, sql);
	PQfinish(conn);
}

/* Runs sql as the superuser with the audit triggers switched off, the way
 * someone with full database access would rewrite history. */
static void tamper(PGconn *conn, const char *table, const char *sql)
{
	char toggle[96];

	snprintf(toggle, sizeof(toggle), "ALTER TABLE %s DISABLE TRIGGER USER", table);
	exec_ok(conn, toggle);
	exec_ok(conn, sql);
	snprintf(toggle, sizeof(toggle), "ALTER TABLE %s ENABLE TRIGGER USER", table);
	exec_ok(conn, toggle);
}

/* Runs an hmsctl command on the tamper database with the stack's keys. */
static int hmsctl_on_tamper_db(const char *args, char **out)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
	         "HMS_CONFIG='%s/hms.conf' HMS_DATABASE_URL='%s dbname=%s' "
	         "HMS_ADMIN_DATABASE_URL='%s dbname=%s' '%s' %s 2>&1",
	         client_env("HMS_TEST_STATE"), client_env("HMS_TEST_ADMIN_URL"), tamper_db,
	         client_env("HMS_TEST_ADMIN_URL"), tamper_db, client_env("HMS_TEST_HMSCTL_BIN"),
	         args);
	return client_run(cmd, out);
}

static void assert_verify_says(const char *expected)
{
	char *out;

	cr_assert_neq(audit_verify(tamper_db, &out), 0, "tampering not detected: %s", out);
	cr_assert_not_null(strstr(out, expected), "expected '%s' in: %s", expected, out);
	free(out);
}

static void insert_rows(PGconn *conn)
{
	exec_ok(conn, "INSERT INTO audit_log (actor, actor_role, action, entity_type, entity_id, "
	              "request_id, ip, outcome) VALUES "
	              "(1, 'admin', 'login', 'user', 1, 'req-1', '127.0.0.1', 'success'), "
	              "(1, 'admin', 'create', 'user', 2, 'req-2', '127.0.0.1', 'success'), "
	              "(2, 'nurse', 'login', 'user', 2, 'req-3', '10.0.0.7', 'success'), "
	              "(NULL, NULL, 'login_failed', 'user', NULL, NULL, NULL, 'failure'), "
	              "(2, 'nurse', 'denied', 'users', NULL, 'req-5', '::1', 'denied')");
}

static void row_ids(PGconn *conn, const char *where, long long ids[5])
{
	char sql[256];
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT id FROM audit_log WHERE %s ORDER BY id", where);
	res = PQexec(conn, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	cr_assert_eq(PQntuples(res), 5);
	for (int i = 0; i < 5; i++)
		ids[i] = atoll(PQgetvalue(res, i, 0));
	PQclear(res);
}

/* Runs hmsctl audit-seal until it has sealed want rows in all. A seal
 * covers transactions older than the oldest one still running anywhere in
 * the cluster, so another test's open transaction can hold rows back for a
 * moment; bounded at 10 s. */
static void seal_until(long long want)
{
	long long sealed = 0;

	for (int i = 0; i < 100 && sealed < want; i++) {
		char *out;
		long long rows = 0;

		cr_assert_eq(hmsctl_on_tamper_db("audit-seal", &out), 0, "%s", out);
		cr_assert_eq(sscanf(out, "sealed %lld rows", &rows), 1, "%s", out);
		free(out);
		sealed += rows;
		if (sealed < want)
			usleep(100 * 1000);
	}
	cr_assert_eq(sealed, want, "sealed %lld of %lld rows", sealed, want);
}

/* A database of its own, so the shared trail stays whole: migrated up to
 * 007 (rows then were chained one by one by a trigger), five rows, then
 * the rest of the migrations (seals) and five more rows, sealed. */
static PGconn *make_tamper_db(long long chained[5], long long sealed[5])
{
	PGconn *admin, *conn;
	char sql[256], cmd[512], *out;

	snprintf(tamper_db, sizeof(tamper_db), "audit_tamper_%d", (int)getpid());
	snprintf(legacy_schema, sizeof(legacy_schema), "/tmp/hms-legacy-schema-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s'/schema/00[1-7]_*.sql '%s'/",
	         legacy_schema, client_env("HMS_TEST_ROOT"), legacy_schema);
	cr_assert_eq(system(cmd), 0);
	admin = connect_as("postgres", "postgres");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", tamper_db);
	exec_ok(admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", tamper_db);
	exec_ok(admin, sql);
	PQfinish(admin);
	snprintf(cmd, sizeof(cmd), "migrate --schema-dir '%s'", legacy_schema);
	cr_assert_eq(hmsctl_on_tamper_db(cmd, &out), 0, "%s", out);
	free(out);
	conn = connect_as("postgres", tamper_db);
	insert_rows(conn);
	row_ids(conn, "true", chained);
	cr_assert_eq(hmsctl_on_tamper_db("migrate", &out), 0, "%s", out);
	free(out);
	insert_rows(conn);
	row_ids(conn, "txid IS NOT NULL", sealed);
	cr_assert_eq(audit_verify(tamper_db, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "unsealed: 5 rows"), "%s", out);
	free(out);
	seal_until(5);
	/* Sealing again finds nothing new. */
	cr_assert_eq(hmsctl_on_tamper_db("audit-seal", &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "sealed 0 rows in 0 seals"), "%s", out);
	free(out);
	cr_assert_eq(audit_verify(tamper_db, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "audit chain intact: 5 rows"), "%s", out);
	cr_assert_not_null(strstr(out, "audit seals intact: 1 seals over 5 rows"), "%s", out);
	cr_assert_not_null(strstr(out, "unsealed: 0 rows"), "%s", out);
	free(out);
	return conn;
}

Test(audit_verify, tampering_with_sealed_rows_is_named, .fini = drop_tamper_db)
{
	long long chained[5], sealed[5];
	PGconn *conn = make_tamper_db(chained, sealed);
	char sql[512], expected[128], *out;
	PGresult *res;

	/* An edited row. */
	snprintf(sql, sizeof(sql), "UPDATE audit_log SET action = 'read' WHERE id = %lld",
	         sealed[1]);
	tamper(conn, "audit_log", sql);
	snprintf(expected, sizeof(expected), "row %lld was changed after sealing", sealed[1]);
	assert_verify_says(expected);
	/* Put back exactly as it was: intact again (the check is of content). */
	snprintf(sql, sizeof(sql), "UPDATE audit_log SET action = 'create' WHERE id = %lld",
	         sealed[1]);
	tamper(conn, "audit_log", sql);
	cr_assert_eq(audit_verify(tamper_db, &out), 0, "%s", out);
	free(out);

	/* A deleted row. */
	snprintf(sql, sizeof(sql), "DELETE FROM audit_log WHERE id = %lld", sealed[2]);
	tamper(conn, "audit_log", sql);
	snprintf(expected, sizeof(expected), "row %lld (sealed in seal 1) was removed", sealed[2]);
	assert_verify_says(expected);

	/* A row slipped into the sealed range afterwards. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO audit_log (action, outcome, txid) SELECT 'read', 'success', txid "
	         "FROM audit_log WHERE id = %lld",
	         sealed[0]);
	tamper(conn, "audit_log", sql);
	res = PQexec(conn, "SELECT max(id) FROM audit_log");
	snprintf(expected, sizeof(expected), "row %s was inserted into the range of seal 1",
	         PQgetvalue(res, 0, 0));
	PQclear(res);
	assert_verify_says(expected);
	/* All three are named in one run. */
	cr_assert_neq(audit_verify(tamper_db, &out), 0);
	snprintf(expected, sizeof(expected), "row %lld (sealed in seal 1) was removed", sealed[2]);
	cr_assert_not_null(strstr(out, expected), "%s", out);
	free(out);

	/* A seal remade without the key does not match its MAC. */
	tamper(conn, "audit_seals",
	       "UPDATE audit_seals SET row_ids = row_ids[1:1], "
	       "row_hashes = substring(row_hashes FROM 1 FOR 32)");
	assert_verify_says("seal 1 does not match its MAC");

	/* The rows chained one by one before seals existed are still checked. */
	snprintf(sql, sizeof(sql), "UPDATE audit_log SET actor = 9 WHERE id = %lld", chained[3]);
	tamper(conn, "audit_log", sql);
	snprintf(expected, sizeof(expected), "row %lld does not match its hash", chained[3]);
	assert_verify_says(expected);
	PQfinish(conn);
}

Test(audit_verify, a_removed_seal_or_a_wrong_key_is_detected, .fini = drop_tamper_db)
{
	long long chained[5], sealed[5];
	PGconn *conn = make_tamper_db(chained, sealed);
	char *out, cmd[512];

	/* Another key cannot verify the seal (nor make one that verifies). */
	snprintf(cmd, sizeof(cmd),
	         "HMS_CONFIG='%s/hms.conf' HMS_AUDIT_SEAL_KEYS_FILE= "
	         "HMS_AUDIT_SEAL_KEYS=seal1:another-secret-of-32-bytes-or-more-xx "
	         "HMS_DATABASE_URL='%s dbname=%s' HMS_ADMIN_DATABASE_URL='%s dbname=%s' '%s' "
	         "audit-verify 2>&1",
	         client_env("HMS_TEST_STATE"), client_env("HMS_TEST_ADMIN_URL"), tamper_db,
	         client_env("HMS_TEST_ADMIN_URL"), tamper_db, client_env("HMS_TEST_HMSCTL_BIN"));
	cr_assert_neq(client_run(cmd, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "seal 1 does not match its MAC"), "%s", out);
	free(out);

	/* Seal 2 over new rows, then seal 1 removed: the gap is named. */
	insert_rows(conn);
	seal_until(5);
	tamper(conn, "audit_seals", "DELETE FROM audit_seals WHERE id = 1");
	assert_verify_says("seal 1 is missing");
	PQfinish(conn);
}

/* --- reads of patient data ----------------------------------------------------------- */

/* GETs path as token with a fresh request id (r), asserts 200, and
 * returns the audit row that request wrote, as "action|entity_type|
 * entity_id|row_count|entity_ids" (the database's text for each). */
static char *read_and_audit_row(const char *path, const char *token, struct rid *r,
                                struct client_response *res)
{
	char sql[512];

	new_rid("read", r);
	client_call("GET", path, token, r->header, NULL, res);
	client_assert_status(res, 200);
	snprintf(sql, sizeof(sql),
	         "SELECT action || '|' || coalesce(entity_type, '') || '|' || "
	         "coalesce(entity_id::text, '') || '|' || coalesce(row_count::text, '') || '|' || "
	         "coalesce(entity_ids::text, '') FROM audit_log WHERE request_id = '%s'",
	         r->id);
	return client_sql_value(sql);
}

Test(audit_reads, every_read_of_patient_data_is_one_row_without_phi)
{
	struct client_user nurse;
	struct client_tokens tokens;
	struct client_response res;
	struct rid single, search, other;
	char name[64], body[256], path[128], expected[128], *row;
	long long ids[2];

	client_create_user("nurse", &nurse);
	client_user_login(&nurse, &tokens);
	client_unique_name("Zqaudit", name, sizeof(name));
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body),
		         "{\"first_name\": \"Ann%d\", \"last_name\": \"%s\", \"date_of_birth\": "
		         "\"1970-01-0%d\", \"gender\": \"female\"}",
		         i, name, i + 1);
		client_post_json("/api/patients/", tokens.access, body, &res);
		client_assert_status(&res, 201);
		ids[i] = client_json_int(res.json, "id");
		client_response_free(&res);
	}

	/* One patient: a "read" row, committed before the answer. */
	snprintf(path, sizeof(path), "/api/patients/%lld/", ids[0]);
	row = read_and_audit_row(path, tokens.access, &single, &res);
	client_response_free(&res);
	snprintf(expected, sizeof(expected), "read|patient|%lld||", ids[0]);
	cr_assert_str_eq(row, expected);
	free(row);

	/* A search: one "list" row naming what was returned, not the words. */
	snprintf(path, sizeof(path), "/api/patients/?search=%s&ordering=date_of_birth", name);
	row = read_and_audit_row(path, tokens.access, &search, &res);
	cr_assert_eq(client_count_of(&res), 2);
	client_response_free(&res);
	snprintf(expected, sizeof(expected), "list|patient||2|{%lld,%lld}", ids[0], ids[1]);
	cr_assert_str_eq(row, expected);
	free(row);
	snprintf(body, sizeof(body),
	         "SELECT count(*) FROM audit_log a WHERE a::text ILIKE '%%%s%%'", name);
	cr_assert_eq(client_sql_long(body), 0, "the search term is in the audit trail");

	/* An empty page is still a read, of nothing. */
	row = read_and_audit_row("/api/patients/?born_before=1900-01-02", tokens.access, &other,
	                         &res);
	client_response_free(&res);
	cr_assert_str_eq(row, "list|patient||0|{}");
	free(row);

	/* Appointments likewise. */
	row = read_and_audit_row("/api/appointments/?status=no_show", tokens.access, &other, &res);
	client_response_free(&res);
	cr_assert(strncmp(row, "list|appointment||", 18) == 0, "%s", row);
	free(row);

	/* The trail's own list shows which records a list returned. */
	{
		struct json_object *entry, *listed;

		snprintf(path, sizeof(path), "actor=%lld&action=list&entity_type=patient",
		         nurse.id);
		entry = find_row(path, search.id);
		cr_assert_not_null(entry, "no list row in GET /api/audit/");
		cr_assert_eq(client_json_int(entry, "row_count"), 2);
		listed = json_object_object_get(entry, "entity_ids");
		cr_assert_eq(json_object_array_length(listed), 2);
		cr_assert_eq(json_object_get_int64(json_object_array_get_idx(listed, 0)), ids[0]);
		cr_assert_eq(json_object_get_int64(json_object_array_get_idx(listed, 1)), ids[1]);
		json_object_put(entry);
	}
	client_tokens_free(&tokens);
}
