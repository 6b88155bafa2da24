/*
 * test_users.c - GET /api/users/, GET and PATCH /api/users/{id}/ through
 * the real stack: the DRF list shape, filters, ordering and paging;
 * deactivation that locks an account at once; and SPEC section 4's row for
 * users: admin only, every other role 403, each denial audited.
 *
 * Tests make their own accounts and never assume how many users exist:
 * filters on their own usernames keep the counts exact while other tests
 * add users in parallel.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"

static const char *const other_roles[] = {"doctor", "nurse", "receptionist", "billing"};

static void assert_no_secret(const struct client_response *res)
{
	cr_assert_null(strstr(res->body, "argon2"), "%s", res->body);
	cr_assert_null(strstr(res->body, "password"), "%s", res->body);
}

/* Asserts the DRF list shape and returns the results array (owned by res). */
/* GET /api/users/?query as the admin. (Every list request once killed the
 * sanitizer-built worker: list.c's first append did memcpy from NULL.) */
static void list_users(const char *query, struct client_response *res)
{
	char path[1024];

	snprintf(path, sizeof(path), "/api/users/?%s", query);
	client_get_auth(path, client_admin_token(), res);
	client_list_results(res);
	assert_no_secret(res);
}

static void user_path(long long id, char *out, size_t size)
{
	snprintf(out, size, "/api/users/%lld/", id);
}

/* --- GET /api/users/ ------------------------------------------------------------- */

Test(users_list, admin_gets_the_paginated_drf_shape)
{
	struct client_user user;
	struct client_response res;
	struct json_object *results, *row;
	char query[256];

	client_create_user_named("nurse", "listed", "Lister", "Shape", &user);
	list_users("", &res);
	results = client_list_results(&res);
	cr_assert_geq(client_count_of(&res), 2); /* the admin and this user at least */
	cr_assert_gt(json_object_array_length(results), 0);
	cr_assert_leq(json_object_array_length(results), 20, "the default page is 20");
	client_response_free(&res);

	snprintf(query, sizeof(query), "username=%s", user.username);
	list_users(query, &res);
	results = client_list_results(&res);
	cr_assert_eq(client_count_of(&res), 1, "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "next"));
	cr_assert_null(json_object_object_get(res.json, "previous"));
	cr_assert_eq(json_object_array_length(results), 1);
	row = json_object_array_get_idx(results, 0);
	cr_assert_eq(client_json_int(row, "id"), user.id);
	cr_assert_str_eq(client_json_str(row, "username"), user.username);
	cr_assert_str_eq(client_json_str(row, "role"), "nurse");
	cr_assert_str_eq(client_json_str(row, "first_name"), "Lister");
	cr_assert_str_eq(client_json_str(row, "last_name"), "Shape");
	cr_assert_str_eq(client_json_str(row, "email"), "staff@example.org");
	cr_assert(json_object_get_boolean(json_object_object_get(row, "is_active")));
	cr_assert_not_null(json_object_object_get(row, "created_at"));
	cr_assert_not_null(json_object_object_get(row, "updated_at"));
	client_response_free(&res);
}

Test(users_list, filters_role_and_is_active)
{
	struct client_user user;
	struct client_response res;
	struct json_object *results;
	char query[256], path[64];

	client_create_user("billing", &user);
	snprintf(query, sizeof(query), "role=billing&username=%s", user.username);
	list_users(query, &res);
	cr_assert_eq(client_count_of(&res), 1, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "role=nurse&username=%s", user.username);
	list_users(query, &res);
	cr_assert_eq(client_count_of(&res), 0, "%s", res.body);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 0);
	client_response_free(&res);

	/* Every row of a role filter has that role. */
	list_users("role=billing&page_size=100", &res);
	results = client_list_results(&res);
	cr_assert_geq(client_count_of(&res), 1);
	for (size_t i = 0; i < json_object_array_length(results); i++)
		cr_assert_str_eq(client_json_str(json_object_array_get_idx(results, i), "role"),
		                 "billing");
	client_response_free(&res);

	snprintf(query, sizeof(query), "is_active=true&username=%s", user.username);
	list_users(query, &res);
	cr_assert_eq(client_count_of(&res), 1, "%s", res.body);
	client_response_free(&res);
	user_path(user.id, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"is_active\": false}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	snprintf(query, sizeof(query), "is_active=true&username=%s", user.username);
	list_users(query, &res);
	cr_assert_eq(client_count_of(&res), 0, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "is_active=false&username=%s", user.username);
	list_users(query, &res);
	cr_assert_eq(client_count_of(&res), 1, "%s", res.body);
	client_response_free(&res);
	list_users("is_active=false&page_size=100", &res);
	results = client_list_results(&res);
	for (size_t i = 0; i < json_object_array_length(results); i++)
		cr_assert(!json_object_get_boolean(
		    json_object_object_get(json_object_array_get_idx(results, i), "is_active")));
	client_response_free(&res);
}

Test(users_list, bad_filter_values_are_400)
{
	const char *queries[] = {"role=wizard", "role=Admin", "is_active=maybe", "is_active=2"};
	const char *fields[] = {"role", "role", "is_active", "is_active"};
	struct client_response res;

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), "/api/users/?%s", queries[i]);
		client_get_auth(path, client_admin_token(), &res);
		client_assert_field_error(&res, fields[i]);
		client_response_free(&res);
	}
}

Test(users_list, ordering_by_username_and_minus_id)
{
	struct client_user a, b;
	struct client_response res;
	struct json_object *results;
	size_t n;

	/* At least two rows whatever else exists. */
	client_create_user("nurse", &a);
	client_create_user("doctor", &b);
	list_users("ordering=username&page_size=100", &res);
	results = client_list_results(&res);
	n = json_object_array_length(results);
	cr_assert_geq(n, 2);
	for (size_t i = 1; i < n; i++) {
		const char *prev =
		    client_json_str(json_object_array_get_idx(results, i - 1), "username");
		const char *cur =
		    client_json_str(json_object_array_get_idx(results, i), "username");

		cr_assert_leq(strcasecmp(prev, cur), 0, "'%s' before '%s'", prev, cur);
	}
	client_response_free(&res);

	list_users("ordering=-id&page_size=100", &res);
	results = client_list_results(&res);
	n = json_object_array_length(results);
	cr_assert_geq(n, 2);
	for (size_t i = 1; i < n; i++)
		cr_assert_gt(client_json_int(json_object_array_get_idx(results, i - 1), "id"),
		             client_json_int(json_object_array_get_idx(results, i), "id"));
	/* Newest first: the first row is at least as new as b. */
	cr_assert_geq(client_json_int(json_object_array_get_idx(results, 0), "id"), b.id);
	client_response_free(&res);

	list_users("ordering=-username,id&page_size=100", &res);
	results = client_list_results(&res);
	n = json_object_array_length(results);
	for (size_t i = 1; i < n; i++) {
		const char *prev =
		    client_json_str(json_object_array_get_idx(results, i - 1), "username");
		const char *cur =
		    client_json_str(json_object_array_get_idx(results, i), "username");

		cr_assert_geq(strcasecmp(prev, cur), 0, "'%s' before '%s'", prev, cur);
	}
	client_response_free(&res);
}

Test(users_list, unknown_ordering_is_400)
{
	const char *orderings[] = {"password_hash", "-password_hash", "nope", "username;drop", "-"};
	struct client_response res;

	for (size_t i = 0; i < sizeof(orderings) / sizeof(orderings[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), "/api/users/?ordering=%s", orderings[i]);
		client_get_auth(path, client_admin_token(), &res);
		client_assert_field_error(&res, "ordering");
		client_response_free(&res);
	}
}

Test(users_list, page_past_the_end_is_404)
{
	struct client_user user;
	struct client_response res;
	char path[256];
	const char *bad_pages[] = {"0", "-1", "abc", "1.5"};

	client_create_user("nurse", &user);
	snprintf(path, sizeof(path), "/api/users/?username=%s&page=1", user.username);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	snprintf(path, sizeof(path), "/api/users/?username=%s&page=2", user.username);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	/* An empty list's first page is still 200. */
	snprintf(path, sizeof(path), "/api/users/?username=none-%s&page=1", user.username);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 0);
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
		snprintf(path, sizeof(path), "/api/users/?page=%s", bad_pages[i]);
		client_get_auth(path, client_admin_token(), &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
	}
}

/* Makes sure more than 100 users exist, straight in the database (a
 * hundred argon2 hashes through the API would only cost time): inactive
 * accounts with an unusable hash, which no one can log in to. */
static void ensure_over_100_users(void)
{
	char name[64];
	char sql[512];
	char *ok;

	client_unique_name("bulk", name, sizeof(name));
	snprintf(sql, sizeof(sql),
	         "INSERT INTO users (username, password_hash, role, is_active) "
	         "SELECT '%s_' || g, '$argon2id$v=19$m=8,t=1,p=1$unusable$unusable', 'billing', "
	         "false FROM generate_series(1, 101) g RETURNING id",
	         name);
	ok = client_sql_value(sql);
	cr_assert_not_null(ok);
	free(ok);
}

Test(users_list, page_size_is_clamped_to_100)
{
	struct client_response res;
	struct json_object *results;
	const char *next;

	ensure_over_100_users();
	list_users("page_size=1000", &res);
	results = client_list_results(&res);
	cr_assert_gt(client_count_of(&res), 100);
	cr_assert_eq(json_object_array_length(results), 100, "page_size=1000 gave %zu rows",
	             json_object_array_length(results));
	cr_assert_not_null(json_object_object_get(res.json, "next"));
	client_response_free(&res);
	list_users("page_size=101", &res);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 100);
	client_response_free(&res);
	/* Paging links carry the other parameters and are absolute. */
	list_users("page_size=1&page=2&ordering=id", &res);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 1);
	next = client_json_string(&res, "next");
	cr_assert_not_null(next, "%s", res.body);
	cr_assert(strncmp(next, client_env("HMS_TEST_BASE_URL"),
	                  strlen(client_env("HMS_TEST_BASE_URL"))) == 0,
	          "next: %s", next);
	cr_assert_not_null(strstr(next, "/api/users/?"), "%s", next);
	cr_assert_not_null(strstr(next, "page=3"), "%s", next);
	cr_assert_not_null(strstr(next, "page_size=1"), "%s", next);
	cr_assert_not_null(strstr(next, "ordering=id"), "%s", next);
	cr_assert_not_null(client_json_string(&res, "previous"), "%s", res.body);
	client_response_free(&res);
}

/* --- GET /api/users/{id}/ -------------------------------------------------------- */

Test(users_get, admin_gets_one_user)
{
	struct client_user user;
	struct client_response res;
	char path[64];

	client_create_user_named("doctor", "one", "Single", "Person", &user);
	user_path(user.id, path, sizeof(path));
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "id"), user.id);
	cr_assert_str_eq(client_json_str(res.json, "username"), user.username);
	cr_assert_str_eq(client_json_str(res.json, "role"), "doctor");
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Single");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Person");
	assert_no_secret(&res);
	client_response_free(&res);
	/* Without the final slash too. */
	snprintf(path, sizeof(path), "/api/users/%lld", user.id);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
}

Test(users_get, missing_zero_and_non_numbers_are_404)
{
	const char *paths[] = {"/api/users/999999999/",
	                       "/api/users/0/",
	                       "/api/users/abc/",
	                       "/api/users/-1/",
	                       "/api/users/1e3/",
	                       "/api/users/01x/",
	                       "/api/users/99999999999999999999999/"};
	struct client_response res;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		client_get_auth(paths[i], client_admin_token(), &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
	}
}

/* --- PATCH /api/users/{id}/ ------------------------------------------------------ */

Test(users_patch, admin_changes_role_names_and_email)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	char path[64];

	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	user_path(user.id, path, sizeof(path));
	client_patch_json(path, client_admin_token(),
	                  "{\"role\": \"doctor\", \"first_name\": \"Renamed\", \"last_name\": "
	                  "\"Person\", \"email\": \"new@example.org\", \"username\": \"ignored\"}",
	                  &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "role"), "doctor");
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Renamed");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Person");
	cr_assert_str_eq(client_json_str(res.json, "email"), "new@example.org");
	cr_assert_str_eq(client_json_str(res.json, "username"), user.username,
	                 "username is read-only");
	assert_no_secret(&res);
	client_response_free(&res);
	/* Stored, and the user's own session sees the new role at once. */
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "role"), "doctor");
	cr_assert_str_eq(client_json_str(res.json, "email"), "new@example.org");
	client_response_free(&res);
	client_get_auth("/api/auth/me/", tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "role"), "doctor");
	client_response_free(&res);
	/* Only the given fields change. */
	client_patch_json(path, client_admin_token(), "{\"first_name\": \"Again\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Again");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Person");
	cr_assert_str_eq(client_json_str(res.json, "role"), "doctor");
	client_response_free(&res);
	client_tokens_free(&tokens);
}

Test(users_patch, role_change_to_admin_takes_effect_at_once)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	char path[64];

	client_create_user("receptionist", &user);
	client_user_login(&user, &tokens);
	client_get_auth("/api/users/", tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	user_path(user.id, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"role\": \"admin\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	/* The token still says receptionist; the account says admin. */
	client_get_auth("/api/users/", tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_patch_json(path, client_admin_token(), "{\"role\": \"billing\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_get_auth("/api/users/", tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_tokens_free(&tokens);
}

Test(users_patch, validation_errors_are_400)
{
	struct client_user user;
	struct client_response res;
	char path[64];
	struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"role\": \"wizard\"}", "role"},         {"{\"role\": 5}", "role"},
	    {"{\"email\": \"not-an-email\"}", "email"}, {"{\"is_active\": \"yes\"}", "is_active"},
	    {"{\"is_active\": null}", "is_active"},     {"{\"first_name\": 12}", "first_name"},
	};

	client_create_user("nurse", &user);
	user_path(user.id, path, sizeof(path));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		client_patch_json(path, client_admin_token(), cases[i].body, &res);
		client_assert_field_error(&res, cases[i].field);
		client_response_free(&res);
	}
	/* Nothing changed. */
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "role"), "nurse");
	cr_assert_str_eq(client_json_str(res.json, "email"), "staff@example.org");
	cr_assert(json_object_get_boolean(json_object_object_get(res.json, "is_active")));
	client_response_free(&res);
}

Test(users_patch, missing_user_is_404_and_non_json_is_415)
{
	struct client_user user;
	struct client_response res;
	char path[64];
	const char *headers[] = {"Content-Type: text/plain", NULL};
	char auth[8300];
	const char *with_auth[] = {auth, "Content-Type: text/plain", NULL};

	client_patch_json("/api/users/999999999/", client_admin_token(), "{\"first_name\": \"X\"}",
	                  &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json("/api/users/0/", client_admin_token(), "{\"first_name\": \"X\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);

	client_create_user("nurse", &user);
	user_path(user.id, path, sizeof(path));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", client_admin_token());
	cr_assert_eq(client_request("PATCH", path, with_auth, "first_name=X", 12, &res), 0);
	client_assert_detail(&res, 415);
	client_response_free(&res);
	/* No token: 401 before anything else. */
	cr_assert_eq(client_request("PATCH", path, headers, "{}", 2, &res), 0);
	client_assert_detail(&res, 401);
	client_response_free(&res);
}

Test(users_patch, deactivation_locks_the_account_at_once)
{
	struct client_user user;
	struct client_tokens tokens, other, none;
	struct client_response res;
	char body[8192];
	char path[64];

	client_create_user("doctor", &user);
	client_user_login(&user, &tokens);
	client_user_login(&user, &other);
	client_get_auth("/api/auth/me/", tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);

	user_path(user.id, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"is_active\": false}", &res);
	client_assert_status(&res, 200);
	cr_assert(!json_object_get_boolean(json_object_object_get(res.json, "is_active")));
	client_response_free(&res);

	/* The access token stops on the very next request. */
	client_get_auth("/api/auth/me/", tokens.access, &res);
	client_assert_detail(&res, 401);
	cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
	client_response_free(&res);
	/* Every refresh token is refused. */
	snprintf(body, sizeof(body), "{\"refresh\": \"%s\"}", tokens.refresh);
	client_post_json("/api/auth/token/refresh/", NULL, body, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	snprintf(body, sizeof(body), "{\"refresh\": \"%s\"}", other.refresh);
	client_post_json("/api/auth/token/refresh/", NULL, body, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	cr_assert_eq(client_login(user.username, user.password, NULL, &none), 401);

	/* Reactivated, the old refresh tokens stay dead: they were revoked,
	 * not merely suspended. A new login works. */
	client_patch_json(path, client_admin_token(), "{\"is_active\": true}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_post_json("/api/auth/token/refresh/", NULL, body, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	client_user_login(&user, &none);
	client_tokens_free(&none);
	client_tokens_free(&tokens);
	client_tokens_free(&other);
}

Test(users_patch, admin_cannot_deactivate_themselves)
{
	struct client_response res;
	char path[64];
	long long admin_id;

	client_get_auth("/api/auth/me/", client_admin_token(), &res);
	client_assert_status(&res, 200);
	admin_id = client_json_int(res.json, "id");
	cr_assert_str_eq(client_json_str(res.json, "role"), "admin");
	client_response_free(&res);

	user_path(admin_id, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"is_active\": false}", &res);
	client_assert_field_error(&res, "is_active");
	client_response_free(&res);
	/* Nor demote themselves. */
	client_patch_json(path, client_admin_token(), "{\"role\": \"nurse\"}", &res);
	client_assert_field_error(&res, "role");
	client_response_free(&res);
	/* Still an active admin, still working. */
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert(json_object_get_boolean(json_object_object_get(res.json, "is_active")));
	cr_assert_str_eq(client_json_str(res.json, "role"), "admin");
	client_response_free(&res);
}

/* --- every other role: 403, audited ------------------------------------------------ */

/* The audit rows of actor with action "denied", as the admin sees them. */
static struct json_object *denied_rows(long long actor, struct client_response *res)
{
	char path[256];
	struct json_object *results;

	snprintf(path, sizeof(path), "/api/audit/?actor=%lld&action=denied&page_size=100", actor);
	client_get_auth(path, client_admin_token(), res);
	results = client_list_results(res);
	return results;
}

static struct json_object *row_with_request_id(struct json_object *rows, const char *request_id)
{
	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		struct json_object *v = json_object_object_get(row, "request_id");

		if (v != NULL && strcmp(json_object_get_string(v), request_id) == 0)
			return row;
	}
	return NULL;
}

Test(users_roles, every_other_role_is_403_and_audited)
{
	struct client_user target;
	char path[64];

	client_create_user("nurse", &target);
	user_path(target.id, path, sizeof(path));
	for (size_t r = 0; r < sizeof(other_roles) / sizeof(other_roles[0]); r++) {
		struct client_user user;
		struct client_tokens tokens;
		struct client_response res, audit;
		struct json_object *rows;
		char ids[4][64], headers[4][96], reg[512];
		const char *methods[] = {"GET", "GET", "PATCH", "POST"};
		const char *paths[] = {"/api/users/", path, path, "/api/auth/register/"};
		const char *bodies[4];
		const long long entity[] = {0, target.id, target.id, 0};

		client_create_user(other_roles[r], &user);
		client_user_login(&user, &tokens);
		snprintf(reg, sizeof(reg),
		         "{\"username\": \"x%s\", \"password\": \"registered-pass-1\", \"role\": "
		         "\"admin\"}",
		         user.username);
		bodies[0] = NULL;
		bodies[1] = NULL;
		bodies[2] = "{\"role\": \"admin\", \"is_active\": false}";
		bodies[3] = reg;
		for (int i = 0; i < 4; i++) {
			client_unique_name("deny", ids[i], sizeof(ids[i]));
			snprintf(headers[i], sizeof(headers[i]), "X-Request-ID: %s", ids[i]);
			client_call(methods[i], paths[i], tokens.access, headers[i], bodies[i],
			            &res);
			cr_assert_eq(res.status, 403, "%s %s as %s: %ld %s", methods[i], paths[i],
			             other_roles[r], res.status, res.body);
			cr_assert_not_null(client_json_string(&res, "detail"), "%s", res.body);
			cr_assert_null(strstr(res.body, target.username));
			client_response_free(&res);
		}

		/* Each denial is one audit row for this actor. */
		rows = denied_rows(user.id, &audit);
		cr_assert_eq(client_json_int(audit.json, "count"), 4, "%s as %s: %s", "denied rows",
		             other_roles[r], audit.body);
		for (int i = 0; i < 4; i++) {
			struct json_object *row = row_with_request_id(rows, ids[i]);

			cr_assert_not_null(row, "no audit row for %s %s as %s", methods[i],
			                   paths[i], other_roles[r]);
			cr_assert_eq(client_json_int(row, "actor"), user.id);
			cr_assert_str_eq(client_json_str(row, "actor_role"), other_roles[r]);
			cr_assert_str_eq(client_json_str(row, "action"), "denied");
			cr_assert_str_eq(client_json_str(row, "outcome"), "denied");
			cr_assert_not_null(json_object_object_get(row, "entity_type"));
			if (entity[i] > 0)
				cr_assert_eq(client_json_int(row, "entity_id"), entity[i], "%s",
				             json_object_to_json_string(row));
		}
		client_response_free(&audit);
		client_tokens_free(&tokens);
	}
	/* The target was not changed by any of it. */
	{
		struct client_response res;
		char sql[160];

		client_get_auth(path, client_admin_token(), &res);
		cr_assert_str_eq(client_json_str(res.json, "role"), "nurse");
		cr_assert(json_object_get_boolean(json_object_object_get(res.json, "is_active")));
		client_response_free(&res);
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM users WHERE lower(username) = lower('x%s')",
		         target.username);
		cr_assert_eq(client_sql_long(sql), 0);
	}
}

Test(users_roles, own_profile_is_open_to_every_role)
{
	for (size_t r = 0; r < sizeof(other_roles) / sizeof(other_roles[0]); r++) {
		struct client_user user;
		struct client_tokens tokens;
		struct client_response res;
		char path[64];

		client_create_user(other_roles[r], &user);
		client_user_login(&user, &tokens);
		client_get_auth("/api/auth/me/", tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "role"), other_roles[r]);
		client_response_free(&res);
		/* but not their own row through /api/users/: that is admin only. */
		user_path(user.id, path, sizeof(path));
		client_get_auth(path, tokens.access, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_tokens_free(&tokens);
	}
}

Test(users_roles, no_token_is_401)
{
	const char *paths[] = {"/api/users/", "/api/users/1/"};
	struct client_response res;

	for (size_t i = 0; i < 2; i++) {
		client_get(paths[i], &res);
		client_assert_detail(&res, 401);
		cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
		client_response_free(&res);
	}
}

/* Users are versioned like every other resource (SPEC section 3): two
 * admins editing one account cannot silently overwrite each other. */
Test(users_patch, etag_and_if_match)
{
	struct client_user user;
	struct client_response res;
	char path[64], stale[64], header[96];
	char *want;
	const char *tag;

	client_create_user("receptionist", &user);
	user_path(user.id, path, sizeof(path));
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	tag = client_header(&res, "ETag");
	cr_assert_not_null(tag, "no ETag on a user: %s", res.headers);
	want = client_format("\"%lld-1\"", user.id);
	cr_assert_str_eq(tag, want);
	free(want);
	snprintf(stale, sizeof(stale), "%s", tag);
	client_response_free(&res);

	/* The first admin's change moves the version on... */
	snprintf(header, sizeof(header), "If-Match: %s", stale);
	client_call("PATCH", path, client_admin_token(), header, "{\"first_name\": \"First\"}",
	            &res);
	client_assert_status(&res, 200);
	tag = client_header(&res, "ETag");
	cr_assert_not_null(tag);
	cr_assert_str_neq(tag, stale, "a write gives a new ETag");
	client_response_free(&res);
	/* ...so the second, based on what it read before, is refused. */
	client_call("PATCH", path, client_admin_token(), header,
	            "{\"first_name\": \"Second\", \"is_active\": false}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "First");
	cr_assert(client_json_flag(res.json, "is_active"), "a refused write changes nothing");
	client_response_free(&res);
	/* Another object's tag never matches. */
	client_call("PATCH", path, client_admin_token(), "If-Match: \"1-1\"",
	            "{\"first_name\": \"Third\"}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	/* The version is not part of the body. */
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_null(json_object_object_get(res.json, "version"));
	client_response_free(&res);
}
