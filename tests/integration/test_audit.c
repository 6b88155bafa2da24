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
	/* It may insert, but the chain fields are the trigger's, not its own. */
	res =
	    PQexec(conn, "INSERT INTO audit_log (id, at, action, outcome, prev_hash, hash) VALUES "
	                 "(1, '2000-01-01', 'test_probe', 'success', 'forged', 'forged') "
	                 "RETURNING id, at > now() - interval '1 hour', length(prev_hash), "
	                 "length(hash)");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
	cr_assert_neq(atoll(PQgetvalue(res, 0, 0)), 1);
	cr_assert_str_eq(PQgetvalue(res, 0, 1), "t");
	cr_assert_str_eq(PQgetvalue(res, 0, 2), "64");
	cr_assert_str_eq(PQgetvalue(res, 0, 3), "64");
	PQclear(res);
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

static void drop_tamper_db(void)
{
	char sql[128];
	PGconn *conn;

	if (tamper_db[0] == '\0')
		return;
	conn = connect_as("postgres", "postgres");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", tamper_db);
	exec_ok(conn, sql);
	PQfinish(conn);
}

/* Runs sql as the superuser with the audit triggers switched off, the way
 * someone with full database access would rewrite history. */
static void tamper(PGconn *conn, const char *sql)
{
	exec_ok(conn, "ALTER TABLE audit_log DISABLE TRIGGER USER");
	exec_ok(conn, sql);
	exec_ok(conn, "ALTER TABLE audit_log ENABLE TRIGGER USER");
}

Test(audit_verify, tampering_is_detected, .fini = drop_tamper_db)
{
	PGconn *admin, *conn;
	PGresult *res;
	char cmd[2048], sql[512], expected[128];
	long long ids[5];
	char *out;

	/* A database of its own, so the shared trail stays whole. */
	snprintf(tamper_db, sizeof(tamper_db), "audit_tamper_%d", (int)getpid());
	admin = connect_as("postgres", "postgres");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", tamper_db);
	exec_ok(admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", tamper_db);
	exec_ok(admin, sql);
	PQfinish(admin);
	snprintf(cmd, sizeof(cmd),
	         "HMS_CONFIG='%s/hms.conf' HMS_DATABASE_URL='%s dbname=%s' "
	         "HMS_ADMIN_DATABASE_URL='%s dbname=%s' '%s' migrate 2>&1",
	         client_env("HMS_TEST_STATE"), client_env("HMS_TEST_ADMIN_URL"), tamper_db,
	         client_env("HMS_TEST_ADMIN_URL"), tamper_db, client_env("HMS_TEST_HMSCTL_BIN"));
	cr_assert_eq(client_run(cmd, &out), 0, "%s", out);
	free(out);

	conn = connect_as("postgres", tamper_db);
	exec_ok(conn, "INSERT INTO audit_log (actor, actor_role, action, entity_type, entity_id, "
	              "request_id, ip, outcome) VALUES "
	              "(1, 'admin', 'login', 'user', 1, 'req-1', '127.0.0.1', 'success'), "
	              "(1, 'admin', 'create', 'user', 2, 'req-2', '127.0.0.1', 'success'), "
	              "(2, 'nurse', 'login', 'user', 2, 'req-3', '10.0.0.7', 'success'), "
	              "(NULL, NULL, 'login_failed', 'user', NULL, NULL, NULL, 'failure'), "
	              "(2, 'nurse', 'denied', 'users', NULL, 'req-5', '::1', 'denied')");
	res = PQexec(conn, "SELECT id FROM audit_log ORDER BY id");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	cr_assert_eq(PQntuples(res), 5);
	for (int i = 0; i < 5; i++)
		ids[i] = atoll(PQgetvalue(res, i, 0));
	PQclear(res);
	cr_assert_eq(audit_verify(tamper_db, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "audit chain intact: 5 rows"), "%s", out);
	free(out);

	/* A changed row no longer matches its hash. */
	snprintf(sql, sizeof(sql), "UPDATE audit_log SET action = 'read' WHERE id = %lld", ids[2]);
	tamper(conn, sql);
	cr_assert_neq(audit_verify(tamper_db, &out), 0, "%s", out);
	snprintf(expected, sizeof(expected), "row %lld does not match its hash", ids[2]);
	cr_assert_not_null(strstr(out, expected), "%s", out);
	free(out);

	/* Recomputing that row's hash as well breaks the next row's link. */
	snprintf(sql, sizeof(sql),
	         "UPDATE audit_log SET hash = encode(sha256(convert_to(audit_log_canonical(a), "
	         "'UTF8')), 'hex') FROM audit_log a WHERE audit_log.id = a.id AND a.id = %lld",
	         ids[2]);
	tamper(conn, sql);
	cr_assert_neq(audit_verify(tamper_db, &out), 0, "%s", out);
	snprintf(expected, sizeof(expected), "row %lld does not link to the row before it", ids[3]);
	cr_assert_not_null(strstr(out, expected), "%s", out);
	free(out);

	/* Put back exactly as it was: intact again (the check is of content). */
	snprintf(sql, sizeof(sql), "UPDATE audit_log SET action = 'login' WHERE id = %lld", ids[2]);
	tamper(conn, sql);
	snprintf(sql, sizeof(sql),
	         "UPDATE audit_log SET hash = encode(sha256(convert_to(audit_log_canonical(a), "
	         "'UTF8')), 'hex') FROM audit_log a WHERE audit_log.id = a.id AND a.id = %lld",
	         ids[2]);
	tamper(conn, sql);
	cr_assert_eq(audit_verify(tamper_db, &out), 0, "%s", out);
	free(out);

	/* A removed row from the middle breaks the link of the one after it. */
	snprintf(sql, sizeof(sql), "DELETE FROM audit_log WHERE id = %lld", ids[2]);
	tamper(conn, sql);
	cr_assert_neq(audit_verify(tamper_db, &out), 0, "%s", out);
	snprintf(expected, sizeof(expected), "row %lld does not link to the row before it", ids[3]);
	cr_assert_not_null(strstr(out, expected), "%s", out);
	free(out);
	PQfinish(conn);
}
