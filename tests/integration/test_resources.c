/*
 * test_resources.c - /api/resources/ and /api/resource-bookings/ through the
 * real stack: operating rooms, lab slots, beds and equipment (admin creates
 * and edits, every clinical role and the front desk read and book, billing
 * neither), the field rules, ETag/If-Match, and bookings with the same
 * past/overlap rules as appointments (409 on overlap, back-to-back allowed,
 * a cancelled booking frees its time), cancellation by the booker or an
 * admin, the bookings list with its filters, and the audit rows.
 *
 * Every test makes its own resources; bookings are made on Mondays more
 * than a year ahead, in the hospital's time zone (Africa/Kampala, UTC+3).
 * The resources list has no search, so tests that look for their own rows
 * walk every page.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "sched.h"

static const char *const sched_bookers[] = {"admin", "doctor", "nurse", "receptionist"};
static const char *const sched_non_admins[] = {"doctor", "nurse", "receptionist", "billing"};

/* --- assertions and JSON ----------------------------------------------------------------- */

static int sched_json_flag(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v) &&
	              json_object_is_type(v, json_type_boolean),
	          "no boolean %s in %s", key, json_object_to_json_string(obj));
	return json_object_get_boolean(v);
}

/* --- hospital time ------------------------------------------------------------------------ */

/* --- fixtures ------------------------------------------------------------------------------ */

struct sched_staff {
	struct client_user user;
	struct client_tokens tokens;
	long long id;
	const char *token; /* tokens.access, or the admin's */
};

static void sched_staff_close(struct sched_staff *s)
{
	client_tokens_free(&s->tokens);
}

/* A logged-in user of role; "admin" is the stack's first admin. */
static void sched_staff_open(const char *role, struct sched_staff *s)
{
	struct client_response res;

	memset(s, 0, sizeof(*s));
	if (strcmp(role, "admin") == 0) {
		s->token = client_admin_token();
		client_get_auth("/api/auth/me/", s->token, &res);
		client_assert_status(&res, 200);
		s->id = client_json_int(res.json, "id");
		client_response_free(&res);
		return;
	}
	client_create_user(role, &s->user);
	client_user_login(&s->user, &s->tokens);
	s->id = s->user.id;
	s->token = s->tokens.access;
}

static long long sched_patient(void)
{
	struct client_response res;
	long long id;

	client_post_json("/api/patients/", client_admin_token(),
	                 "{\"first_name\": \"Sched\", \"last_name\": \"Booked\", "
	                 "\"date_of_birth\": \"1975-02-03\", \"gender\": \"male\"}",
	                 &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

/* A new resource of type made by the admin; its unique name goes to name
 * when name is not NULL. */
static long long sched_resource_named(const char *type, char *name, size_t size)
{
	struct client_response res;
	char unique[96];
	char *body;
	long long id;

	client_unique_name("Room", unique, sizeof(unique));
	body = client_format("{\"name\": \"%s\", \"resource_type\": \"%s\", \"location\": "
	                     "\"Block B\"}",
	                     unique, type);
	client_post_json("/api/resources/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	if (name != NULL)
		snprintf(name, size, "%s", unique);
	return id;
}

static long long sched_resource(void)
{
	return sched_resource_named("operating_room", NULL, 0);
}

static void sched_resource_path(long long id, char *out, size_t size)
{
	snprintf(out, size, "/api/resources/%lld/", id);
}

static void sched_bookings_path(long long resource, char *out, size_t size)
{
	snprintf(out, size, "/api/resources/%lld/bookings/", resource);
}

static void sched_booking_path(long long id, char *out, size_t size)
{
	snprintf(out, size, "/api/resource-bookings/%lld/", id);
}

/* POST /api/resources/{id}/bookings/ as token; end 0 leaves end_time out;
 * extra is more members (", \"k\": v") or NULL. */
static void sched_post_booking(const char *token, long long resource, time_t start, time_t end,
                               const char *extra, struct client_response *res)
{
	char path[96], end_member[96] = "";
	char *body;

	sched_bookings_path(resource, path, sizeof(path));
	if (end != 0)
		snprintf(end_member, sizeof(end_member), ", \"end_time\": \"%s\"",
		         sched_local(end).s);
	body = client_format("{\"start_time\": \"%s\"%s%s}", sched_local(start).s, end_member,
	                     extra != NULL ? extra : "");
	client_post_json(path, token, body, res);
	free(body);
}

static long long sched_book_as(const char *token, long long resource, time_t start, time_t end)
{
	struct client_response res;
	long long id;

	sched_post_booking(token, resource, start, end, NULL, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

static long long sched_book(long long resource, time_t start, time_t end)
{
	return sched_book_as(client_admin_token(), resource, start, end);
}

static void sched_cancel_expect(long long booking, const char *token, long status)
{
	struct client_response res;
	char path[96];

	sched_booking_path(booking, path, sizeof(path));
	client_call("DELETE", path, token, NULL, NULL, &res);
	if (status == 204) {
		client_assert_status(&res, 204);
		cr_assert_eq(res.body_len, 0, "a 204 with a body: %s", res.body);
	} else {
		client_assert_detail(&res, status);
	}
	client_response_free(&res);
}

/* The booking's status as the admin reads it (static buffer). */
static const char *sched_booking_status(long long booking)
{
	static char status[32];
	struct client_response res;
	char path[96];

	sched_booking_path(booking, path, sizeof(path));
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	snprintf(status, sizeof(status), "%s", client_json_str(res.json, "status"));
	client_response_free(&res);
	return status;
}

/* Live bookings of a resource, straight from the database. */
static long long sched_live_bookings(long long resource)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM resource_bookings WHERE resource_id = %lld AND status = "
	         "'booked'",
	         resource);
	return client_sql_long(sql);
}

/* GET path?query as the admin; asserts the total count and the page's ids. */
static void sched_expect_page(const char *path, const char *query, long long count,
                              const long long *ids, size_t n)
{
	struct client_response res;
	struct json_object *results;
	char url[1024];

	snprintf(url, sizeof(url), "%s?%s", path, query);
	client_get_auth(url, client_admin_token(), &res);
	results = sched_results(&res);
	cr_assert_eq(client_json_int(res.json, "count"), count, "%s: %s", url, res.body);
	cr_assert_eq(json_object_array_length(results), n, "%s: %s", url, res.body);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(client_json_int(json_object_array_get_idx(results, i), "id"), ids[i],
		             "%s: row %zu: %s", url, i, res.body);
	client_response_free(&res);
}

/* Walks every page of /api/resources/?query as token; returns whether id
 * is listed, and asserts that every row has type (when not NULL) and the
 * activity flag active (when >= 0). */
static int sched_resource_listed(const char *query, const char *token, long long id,
                                 const char *type, int active)
{
	int found = 0;

	for (int page = 1;; page++) {
		struct client_response res;
		struct json_object *results;
		char url[512];
		int more;

		snprintf(url, sizeof(url), "/api/resources/?%s%spage_size=100&page=%d", query,
		         *query != '\0' ? "&" : "", page);
		client_get_auth(url, token, &res);
		results = sched_results(&res);
		for (size_t i = 0; i < json_object_array_length(results); i++) {
			struct json_object *row = json_object_array_get_idx(results, i);

			if (client_json_int(row, "id") == id)
				found = 1;
			if (type != NULL)
				cr_assert_str_eq(client_json_str(row, "resource_type"), type, "%s",
				                 url);
			if (active >= 0)
				cr_assert_eq(sched_json_flag(row, "is_active"), active, "%s", url);
		}
		more = client_json_string(&res, "next") != NULL;
		client_response_free(&res);
		if (!more)
			return found;
		cr_assert_lt(page, 1000, "runaway paging");
	}
}

/* --- resources: CRUD ---------------------------------------------------------------------- */

Test(resources_crud, admin_creates_reads_and_edits_a_resource)
{
	struct client_response res, again;
	char name[96], path[64], etag[128], *body;
	long long id;

	client_unique_name("Theatre", name, sizeof(name));
	body = client_format("{\"name\": \"%s\", \"resource_type\": \"operating_room\", "
	                     "\"location\": \"Floor 2\", \"id\": 7, \"created_at\": "
	                     "\"2001-01-01T00:00:00Z\"}",
	                     name);
	client_post_json("/api/resources/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	cr_assert_eq(json_object_object_length(res.json), 7, "%s", res.body);
	id = client_json_int(res.json, "id");
	cr_assert_gt(id, 0);
	cr_assert_str_eq(client_json_str(res.json, "name"), name);
	cr_assert_str_eq(client_json_str(res.json, "resource_type"), "operating_room");
	cr_assert_str_eq(client_json_str(res.json, "location"), "Floor 2");
	cr_assert(sched_json_flag(res.json, "is_active"), "active by default: %s", res.body);
	cr_assert(sched_is_utc_stamp(client_json_str(res.json, "created_at")), "%s", res.body);
	cr_assert(sched_is_utc_stamp(client_json_str(res.json, "updated_at")), "%s", res.body);
	cr_assert_str_neq(client_json_str(res.json, "created_at"), "2001-01-01T00:00:00Z");
	cr_assert_not_null(client_header(&res, "ETag"));
	snprintf(etag, sizeof(etag), "%s", client_header(&res, "ETag"));

	sched_resource_path(id, path, sizeof(path));
	client_get_auth(path, client_admin_token(), &again);
	client_assert_status(&again, 200);
	cr_assert(json_object_equal(res.json, again.json), "%s vs %s", res.body, again.body);
	cr_assert_str_eq(client_header(&again, "ETag"), etag);
	client_response_free(&again);
	client_response_free(&res);

	/* PATCH changes what it names. */
	client_patch_json(path, client_admin_token(), "{\"location\": \"Floor 3\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "location"), "Floor 3");
	cr_assert_str_eq(client_json_str(res.json, "name"), name);
	cr_assert_str_eq(client_json_str(res.json, "resource_type"), "operating_room");
	cr_assert_str_neq(client_header(&res, "ETag"), etag);
	client_response_free(&res);
	/* PUT replaces; without a required field it is 400. */
	client_call("PUT", path, client_admin_token(), NULL, "{\"name\": \"Theatre renamed\"}",
	            &res);
	client_assert_field_error(&res, "resource_type");
	client_response_free(&res);
	client_call("PUT", path, client_admin_token(), NULL,
	            "{\"name\": \"Theatre renamed\", \"resource_type\": \"other\", \"location\": "
	            "\"\", \"is_active\": false}",
	            &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "name"), "Theatre renamed");
	cr_assert_str_eq(client_json_str(res.json, "resource_type"), "other");
	cr_assert_str_eq(client_json_str(res.json, "location"), "");
	cr_assert(!sched_json_flag(res.json, "is_active"));
	client_response_free(&res);
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "name"), "Theatre renamed");
	client_response_free(&res);
	/* Without the final slash too. */
	snprintf(path, sizeof(path), "/api/resources/%lld", id);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
}

Test(resources_crud, every_type_is_accepted)
{
	const char *const types[] = {"operating_room", "lab_slot", "bed", "equipment", "other"};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct client_response res;
		char path[64];
		long long id = sched_resource_named(types[i], NULL, 0);

		sched_resource_path(id, path, sizeof(path));
		client_get_auth(path, client_admin_token(), &res);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "resource_type"), types[i]);
		client_response_free(&res);
	}
}

Test(resources_crud, field_rules_are_400)
{
	const struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"resource_type\": \"bed\"}", "name"},
	    {"{\"name\": \"\", \"resource_type\": \"bed\"}", "name"},
	    {"{\"name\": \"   \", \"resource_type\": \"bed\"}", "name"},
	    {"{\"name\": null, \"resource_type\": \"bed\"}", "name"},
	    {"{\"name\": 12, \"resource_type\": \"bed\"}", "name"},
	    {"{\"name\": \"Bed 1\"}", "resource_type"},
	    {"{\"name\": \"Bed 1\", \"resource_type\": \"spaceship\"}", "resource_type"},
	    {"{\"name\": \"Bed 1\", \"resource_type\": \"Bed\"}", "resource_type"},
	    {"{\"name\": \"Bed 1\", \"resource_type\": 3}", "resource_type"},
	    {"{\"name\": \"Bed 1\", \"resource_type\": \"bed\", \"is_active\": \"yes\"}",
	     "is_active"},
	    {"{\"name\": \"Bed 1\", \"resource_type\": \"bed\", \"location\": 5}", "location"},
	};
	struct client_response res;
	char *long_name = calloc(1, 202);
	char *body;

	cr_assert_not_null(long_name);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		client_post_json("/api/resources/", client_admin_token(), cases[i].body, &res);
		client_assert_field_error(&res, cases[i].field);
		client_response_free(&res);
	}
	memset(long_name, 'n', 201);
	body = client_format("{\"name\": \"%s\", \"resource_type\": \"bed\"}", long_name);
	client_post_json("/api/resources/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "name");
	client_response_free(&res);
	body = client_format(
	    "{\"name\": \"Bed\", \"resource_type\": \"bed\", \"location\": \"%s\"}", long_name);
	client_post_json("/api/resources/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "location");
	client_response_free(&res);
	/* 200 characters is fine. */
	long_name[200] = '\0';
	body = client_format("{\"name\": \"%s\", \"resource_type\": \"bed\"}", long_name);
	client_post_json("/api/resources/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	client_response_free(&res);
	free(long_name);

	/* PATCH validates the same way. */
	{
		long long id = sched_resource();
		char path[64];

		sched_resource_path(id, path, sizeof(path));
		client_patch_json(path, client_admin_token(), "{\"name\": \"\"}", &res);
		client_assert_field_error(&res, "name");
		client_response_free(&res);
		client_patch_json(path, client_admin_token(), "{\"resource_type\": \"ward\"}",
		                  &res);
		client_assert_field_error(&res, "resource_type");
		client_response_free(&res);
		client_get_auth(path, client_admin_token(), &res);
		cr_assert_str_eq(client_json_str(res.json, "resource_type"), "operating_room");
		client_response_free(&res);
	}
}

Test(resources_crud, stale_if_match_is_412)
{
	long long id = sched_resource();
	struct client_response res;
	char path[64], first[128], second[128];
	char header[160];

	sched_resource_path(id, path, sizeof(path));
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_not_null(client_header(&res, "ETag"));
	snprintf(first, sizeof(first), "%s", client_header(&res, "ETag"));
	client_response_free(&res);

	snprintf(header, sizeof(header), "If-Match: %s", first);
	client_call("PATCH", path, client_admin_token(), header, "{\"location\": \"A\"}", &res);
	client_assert_status(&res, 200);
	snprintf(second, sizeof(second), "%s", client_header(&res, "ETag"));
	cr_assert_str_neq(first, second);
	client_response_free(&res);
	client_call("PATCH", path, client_admin_token(), header, "{\"location\": \"B\"}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	client_call("PUT", path, client_admin_token(), header,
	            "{\"name\": \"B\", \"resource_type\": \"bed\"}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "location"), "A");
	cr_assert_str_eq(client_header(&res, "ETag"), second);
	client_response_free(&res);
	snprintf(header, sizeof(header), "If-Match: %s", second);
	client_call("PATCH", path, client_admin_token(), header, "{\"location\": \"C\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
}

Test(resources_crud, unknown_is_404_and_no_token_is_401)
{
	struct client_response res;
	long long id = sched_resource();
	char path[64];

	client_get_auth("/api/resources/999999999999/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json("/api/resources/999999999999/", client_admin_token(),
	                  "{\"location\": \"x\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth("/api/resources/abc/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);

	sched_resource_path(id, path, sizeof(path));
	client_get_auth(path, NULL, &res);
	client_assert_detail(&res, 401);
	cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
	client_response_free(&res);
	client_get_auth("/api/resources/", NULL, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	client_post_json("/api/resources/", NULL, "{\"name\": \"X\", \"resource_type\": \"bed\"}",
	                 &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
}

Test(resources_crud, list_filters_and_ordering)
{
	char bed_name[96];
	long long bed = sched_resource_named("bed", bed_name, sizeof(bed_name));
	long long kit = sched_resource_named("equipment", NULL, 0);
	struct client_response res;
	struct json_object *results;
	char path[64];

	sched_resource_path(kit, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"is_active\": false}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);

	cr_assert(sched_resource_listed("", client_admin_token(), bed, NULL, -1));
	cr_assert(sched_resource_listed("resource_type=bed", client_admin_token(), bed, "bed", -1));
	cr_assert(!sched_resource_listed("resource_type=equipment", client_admin_token(), bed,
	                                 "equipment", -1));
	cr_assert(sched_resource_listed("is_active=false", client_admin_token(), kit, NULL, 0));
	cr_assert(!sched_resource_listed("is_active=true", client_admin_token(), kit, NULL, 1));
	cr_assert(sched_resource_listed("is_active=true&resource_type=bed", client_admin_token(),
	                                bed, "bed", 1));

	client_get_auth("/api/resources/?ordering=name&page_size=100", client_admin_token(), &res);
	results = sched_results(&res);
	for (size_t i = 1; i < json_object_array_length(results); i++) {
		const char *prev =
		    client_json_str(json_object_array_get_idx(results, i - 1), "name");
		const char *cur = client_json_str(json_object_array_get_idx(results, i), "name");

		cr_assert_leq(strcmp(prev, cur), 0, "'%s' before '%s'", prev, cur);
	}
	client_response_free(&res);
	client_get_auth("/api/resources/?ordering=-name&page_size=100", client_admin_token(), &res);
	results = sched_results(&res);
	for (size_t i = 1; i < json_object_array_length(results); i++) {
		const char *prev =
		    client_json_str(json_object_array_get_idx(results, i - 1), "name");
		const char *cur = client_json_str(json_object_array_get_idx(results, i), "name");

		cr_assert_geq(strcmp(prev, cur), 0, "'%s' before '%s'", prev, cur);
	}
	client_response_free(&res);

	client_get_auth("/api/resources/?resource_type=ward", client_admin_token(), &res);
	client_assert_field_error(&res, "resource_type");
	client_response_free(&res);
	client_get_auth("/api/resources/?is_active=maybe", client_admin_token(), &res);
	client_assert_field_error(&res, "is_active");
	client_response_free(&res);
	client_get_auth("/api/resources/?ordering=location", client_admin_token(), &res);
	client_assert_field_error(&res, "ordering");
	client_response_free(&res);
}

Test(resources_crud, create_and_update_are_audited)
{
	long long id = sched_resource();
	struct client_response res;
	char path[64], q[192];

	snprintf(q, sizeof(q), "entity_type=resource&entity_id=%lld&action=create", id);
	cr_assert_eq(sched_audit_count(q), 1);
	sched_resource_path(id, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"location\": \"Annex\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	snprintf(q, sizeof(q), "entity_type=resource&entity_id=%lld&action=update", id);
	cr_assert_eq(sched_audit_count(q), 1);
}

/* --- resources: SPEC section 4 ------------------------------------------------------------ */

Test(resources_roles, only_admin_creates_and_edits)
{
	long long id = sched_resource();
	char path[64], q[128];

	sched_resource_path(id, path, sizeof(path));
	for (size_t r = 0; r < sizeof(sched_non_admins) / sizeof(sched_non_admins[0]); r++) {
		struct sched_staff staff;
		struct client_response res;

		sched_staff_open(sched_non_admins[r], &staff);
		client_post_json("/api/resources/", staff.token,
		                 "{\"name\": \"Sneaky\", \"resource_type\": \"bed\"}", &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_patch_json(path, staff.token, "{\"name\": \"Sneaky\"}", &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_call("PUT", path, staff.token, NULL,
		            "{\"name\": \"Sneaky\", \"resource_type\": \"bed\"}", &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		snprintf(q, sizeof(q), "actor=%lld&action=denied", staff.id);
		cr_assert_eq(sched_audit_count(q), 3, "as %s", sched_non_admins[r]);
		sched_staff_close(&staff);
	}
	{
		struct client_response res;

		client_get_auth(path, client_admin_token(), &res);
		cr_assert_str_neq(client_json_str(res.json, "name"), "Sneaky");
		client_response_free(&res);
	}
}

Test(resources_roles, all_but_billing_read)
{
	const char *const readers[] = {"doctor", "nurse", "receptionist"};
	long long id = sched_resource();
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long booking = sched_book(id, ten, ten + SCHED_HOUR);
	struct sched_staff billing;
	struct client_response res;
	char path[64], bookings[96], one[96];

	sched_resource_path(id, path, sizeof(path));
	sched_bookings_path(id, bookings, sizeof(bookings));
	sched_booking_path(booking, one, sizeof(one));
	for (size_t r = 0; r < sizeof(readers) / sizeof(readers[0]); r++) {
		struct sched_staff staff;

		sched_staff_open(readers[r], &staff);
		client_get_auth(path, staff.token, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(client_json_int(res.json, "id"), id);
		client_response_free(&res);
		cr_assert(sched_resource_listed("", staff.token, id, NULL, -1), "as %s",
		          readers[r]);
		client_get_auth(bookings, staff.token, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(client_json_int(res.json, "count"), 1);
		client_response_free(&res);
		client_get_auth(one, staff.token, &res);
		client_assert_status(&res, 200);
		client_response_free(&res);
		sched_staff_close(&staff);
	}

	sched_staff_open("billing", &billing);
	client_get_auth("/api/resources/", billing.token, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_get_auth(path, billing.token, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_get_auth(bookings, billing.token, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_get_auth(one, billing.token, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	sched_staff_close(&billing);
}

/* --- bookings --------------------------------------------------------------------------- */

Test(resource_bookings, each_booking_role_books_and_is_the_booker)
{
	time_t monday = sched_monday(0);
	long long resource = sched_resource(), patient = sched_patient();

	for (size_t r = 0; r < sizeof(sched_bookers) / sizeof(sched_bookers[0]); r++) {
		struct sched_staff staff;
		struct client_response res, again;
		time_t start = monday + (time_t)(8 + 2 * r) * SCHED_HOUR;
		char extra[128], path[96];
		long long id;

		sched_staff_open(sched_bookers[r], &staff);
		snprintf(extra, sizeof(extra),
		         ", \"patient\": %lld, \"purpose\": \"Knee surgery\", \"booked_by\": 1, "
		         "\"status\": \"cancelled\"",
		         patient);
		sched_post_booking(staff.token, resource, start, start + 90 * SCHED_MIN, extra,
		                   &res);
		client_assert_status(&res, 201);
		cr_assert_eq(json_object_object_length(res.json), 10, "%s", res.body);
		id = client_json_int(res.json, "id");
		cr_assert_eq(client_json_int(res.json, "resource"), resource);
		cr_assert_eq(client_json_int(res.json, "patient"), patient);
		cr_assert_str_eq(client_json_str(res.json, "start_time"), sched_utc(start).s);
		cr_assert_str_eq(client_json_str(res.json, "end_time"),
		                 sched_utc(start + 90 * SCHED_MIN).s);
		cr_assert_str_eq(client_json_str(res.json, "purpose"), "Knee surgery");
		cr_assert_str_eq(client_json_str(res.json, "status"), "booked");
		cr_assert_eq(client_json_int(res.json, "booked_by"), staff.id, "as %s: %s",
		             sched_bookers[r], res.body);
		cr_assert(sched_is_utc_stamp(client_json_str(res.json, "created_at")));
		cr_assert(sched_is_utc_stamp(client_json_str(res.json, "updated_at")));
		cr_assert_not_null(client_header(&res, "ETag"));

		sched_booking_path(id, path, sizeof(path));
		client_get_auth(path, staff.token, &again);
		client_assert_status(&again, 200);
		cr_assert(json_object_equal(res.json, again.json), "%s vs %s", res.body,
		          again.body);
		client_response_free(&again);
		client_response_free(&res);
		sched_staff_close(&staff);
	}
	cr_assert_eq(sched_live_bookings(resource), 4);
}

Test(resource_bookings, billing_cannot_book_and_no_token_is_401)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long resource = sched_resource();
	struct sched_staff billing;
	struct client_response res;
	char q[128];

	sched_staff_open("billing", &billing);
	sched_post_booking(billing.token, resource, ten, ten + SCHED_HOUR, NULL, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	snprintf(q, sizeof(q), "actor=%lld&action=denied", billing.id);
	cr_assert_eq(sched_audit_count(q), 1);
	sched_post_booking(NULL, resource, ten, ten + SCHED_HOUR, NULL, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	cr_assert_eq(sched_live_bookings(resource), 0);
	sched_staff_close(&billing);
}

Test(resource_bookings, patient_is_optional_but_must_exist)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long resource = sched_resource(), deleted = sched_patient();
	struct client_response res;
	char path[64];

	sched_post_booking(client_admin_token(), resource, ten, ten + SCHED_HOUR, NULL, &res);
	client_assert_status(&res, 201);
	cr_assert_null(json_object_object_get(res.json, "patient"), "%s", res.body);
	cr_assert(json_object_object_get_ex(res.json, "patient", NULL), "%s", res.body);
	cr_assert_str_eq(client_json_str(res.json, "purpose"), "");
	client_response_free(&res);

	snprintf(path, sizeof(path), "/api/patients/%lld/", deleted);
	client_call("DELETE", path, client_admin_token(), NULL, NULL, &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	sched_post_booking(client_admin_token(), resource, ten + 2 * SCHED_HOUR,
	                   ten + 3 * SCHED_HOUR, ", \"patient\": 999999999999", &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);
	{
		char extra[64];

		snprintf(extra, sizeof(extra), ", \"patient\": %lld", deleted);
		sched_post_booking(client_admin_token(), resource, ten + 2 * SCHED_HOUR,
		                   ten + 3 * SCHED_HOUR, extra, &res);
		client_assert_field_error(&res, "patient");
		client_response_free(&res);
	}
	sched_post_booking(client_admin_token(), resource, ten + 2 * SCHED_HOUR,
	                   ten + 3 * SCHED_HOUR, ", \"patient\": \"1\"", &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);
	cr_assert_eq(sched_live_bookings(resource), 1);
}

Test(resource_bookings, time_rules_are_400)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long resource = sched_resource();
	struct client_response res;
	char path[96];

	/* In the past. */
	sched_post_booking(client_admin_token(), resource, time(NULL) - SCHED_HOUR, time(NULL),
	                   NULL, &res);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	/* End not after start. */
	sched_post_booking(client_admin_token(), resource, ten, ten, NULL, &res);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	sched_post_booking(client_admin_token(), resource, ten, ten - SCHED_MIN, NULL, &res);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	/* end_time is required for a booking (there is no slot length). */
	sched_post_booking(client_admin_token(), resource, ten, 0, NULL, &res);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	sched_bookings_path(resource, path, sizeof(path));
	client_post_json(path, client_admin_token(), "{\"end_time\": \"2030-01-07T10:00:00Z\"}",
	                 &res);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	cr_assert_eq(sched_live_bookings(resource), 0);
}

Test(resource_bookings, bad_datetimes_are_400)
{
	const char *const bad[] = {
	    "\"tomorrow\"",
	    "\"2028-02-30T10:00:00Z\"",
	    "\"2028-01-03T10:00:00\"", /* no offset */
	    "\"2028-01-03\"",
	    "\"0000-01-03T10:00:00Z\"", /* year 0 */
	    "1830000000",
	    "null",
	};
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long resource = sched_resource();
	struct client_response res;
	char path[96];

	sched_bookings_path(resource, path, sizeof(path));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body = client_format("{\"start_time\": %s, \"end_time\": \"%s\"}", bad[i],
		                           sched_local(ten).s);

		client_post_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_field_error(&res, "start_time");
		client_response_free(&res);
		body = client_format("{\"start_time\": \"%s\", \"end_time\": %s}",
		                     sched_local(ten).s, bad[i]);
		client_post_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_field_error(&res, "end_time");
		client_response_free(&res);
	}
	/* More than five years ahead. */
	client_post_json(path, client_admin_token(),
	                 "{\"start_time\": \"9999-12-31T10:00:00Z\", \"end_time\": "
	                 "\"9999-12-31T11:00:00Z\"}",
	                 &res);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	cr_assert_eq(sched_live_bookings(resource), 0);
}

/* As for appointments, the end too is at most five years ahead. */
Test(resource_bookings, an_end_thousands_of_years_ahead_is_400)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long resource = sched_resource();
	struct client_response res;
	char path[96], *body;

	sched_bookings_path(resource, path, sizeof(path));
	body = client_format("{\"start_time\": \"%s\", \"end_time\": \"9999-12-31T10:00:00Z\"}",
	                     sched_local(ten).s);
	client_post_json(path, client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	cr_assert_eq(sched_live_bookings(resource), 0);
}

Test(resource_bookings, overlap_is_409_and_back_to_back_is_fine)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR, h = SCHED_HOUR, m = SCHED_MIN;
	long long resource = sched_resource(), other = sched_resource();
	const struct {
		time_t start, end;
	} clashes[] = {{ten, ten + h},
	               {ten + 30 * m, ten + 90 * m},
	               {ten - 30 * m, ten + 30 * m},
	               {ten - h, ten + 2 * h},
	               {ten + 10 * m, ten + 20 * m},
	               {ten + 59 * m, ten + 59 * m + 60}};
	struct client_response res;

	sched_book(resource, ten, ten + h);
	for (size_t i = 0; i < sizeof(clashes) / sizeof(clashes[0]); i++) {
		sched_post_booking(client_admin_token(), resource, clashes[i].start, clashes[i].end,
		                   NULL, &res);
		client_assert_detail(&res, 409);
		client_response_free(&res);
	}
	cr_assert_eq(sched_live_bookings(resource), 1);
	/* Another resource at the same time is free. */
	sched_book(other, ten, ten + h);
	/* Back to back on both sides. */
	sched_book(resource, ten + h, ten + 2 * h);
	sched_book(resource, ten - h, ten);
	cr_assert_eq(sched_live_bookings(resource), 3);
}

Test(resource_bookings, inactive_resource_is_400_and_unknown_is_404)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long resource = sched_resource();
	struct client_response res;
	char path[64];

	sched_resource_path(resource, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"is_active\": false}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	sched_post_booking(client_admin_token(), resource, ten, ten + SCHED_HOUR, NULL, &res);
	sched_assert_validation(&res);
	client_response_free(&res);
	cr_assert_eq(sched_live_bookings(resource), 0);
	/* Active again, it books. */
	client_patch_json(path, client_admin_token(), "{\"is_active\": true}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	sched_book(resource, ten, ten + SCHED_HOUR);

	sched_post_booking(client_admin_token(), 999999999999LL, ten, ten + SCHED_HOUR, NULL, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth("/api/resources/999999999999/bookings/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth("/api/resource-bookings/999999999999/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_call("DELETE", "/api/resource-bookings/999999999999/", client_admin_token(), NULL,
	            NULL, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

Test(resource_bookings, list_is_paginated_and_filtered)
{
	time_t monday = sched_monday(0), h = SCHED_HOUR;
	long long resource = sched_resource(), other = sched_resource();
	long long b[4];
	char path[96], q[256];

	/* Booked out of order; the list is by start time. */
	b[2] = sched_book(resource, monday + 14 * h, monday + 15 * h);
	b[0] = sched_book(resource, monday + 8 * h, monday + 9 * h);
	b[3] = sched_book(resource, monday + SCHED_DAY + 8 * h, monday + SCHED_DAY + 9 * h);
	b[1] = sched_book(resource, monday + 10 * h, monday + 11 * h);
	sched_book(other, monday + 8 * h, monday + 9 * h);
	sched_cancel_expect(b[2], client_admin_token(), 204);

	sched_bookings_path(resource, path, sizeof(path));
	sched_expect_page(path, "", 4, b, 4);
	sched_expect_page(path, "page_size=3", 4, b, 3);
	sched_expect_page(path, "page_size=3&page=2", 4, (long long[]){b[3]}, 1);
	sched_expect_page(path, "ordering=-start_time", 4, (long long[]){b[3], b[2], b[1], b[0]},
	                  4);
	sched_expect_page(path, "status=cancelled", 1, (long long[]){b[2]}, 1);
	sched_expect_page(path, "status=booked", 3, (long long[]){b[0], b[1], b[3]}, 3);
	{
		char *after = client_url_encode(sched_local(monday + 10 * h).s);
		char *before = client_url_encode(sched_local(monday + 14 * h).s);

		snprintf(q, sizeof(q), "start_after=%s", after);
		sched_expect_page(path, q, 3, (long long[]){b[1], b[2], b[3]}, 3);
		snprintf(q, sizeof(q), "start_before=%s", before);
		sched_expect_page(path, q, 2, (long long[]){b[0], b[1]}, 2);
		snprintf(q, sizeof(q), "start_after=%s&start_before=%s&status=booked", after,
		         before);
		sched_expect_page(path, q, 1, (long long[]){b[1]}, 1);
		free(after);
		free(before);
	}
	{
		struct client_response res;
		char url[160];
		const char *const bad[] = {"status=done", "start_after=soon", "ordering=purpose"};

		snprintf(url, sizeof(url), "%s?page=3&page_size=3", path);
		client_get_auth(url, client_admin_token(), &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(url, sizeof(url), "%s?%s", path, bad[i]);
			client_get_auth(url, client_admin_token(), &res);
			sched_assert_validation(&res);
			client_response_free(&res);
		}
	}
}

Test(resource_bookings, cancel_by_the_booker_or_an_admin)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR, h = SCHED_HOUR;
	long long resource = sched_resource();
	struct sched_staff nurse, other_nurse, doctor;
	long long mine, theirs;
	char q[192];

	sched_staff_open("nurse", &nurse);
	sched_staff_open("nurse", &other_nurse);
	sched_staff_open("doctor", &doctor);
	mine = sched_book_as(nurse.token, resource, ten, ten + h);
	theirs = sched_book_as(nurse.token, resource, ten + h, ten + 2 * h);

	/* Someone else who may book may not cancel another's booking. */
	sched_cancel_expect(mine, other_nurse.token, 403);
	sched_cancel_expect(mine, doctor.token, 403);
	cr_assert_str_eq(sched_booking_status(mine), "booked");
	snprintf(q, sizeof(q), "actor=%lld&action=denied&entity_type=resource_booking",
	         other_nurse.id);
	cr_assert_eq(sched_audit_count(q), 1);
	/* The booker may; twice is still 204. */
	sched_cancel_expect(mine, nurse.token, 204);
	cr_assert_str_eq(sched_booking_status(mine), "cancelled");
	sched_cancel_expect(mine, nurse.token, 204);
	/* An admin may cancel anyone's. */
	sched_cancel_expect(theirs, client_admin_token(), 204);
	cr_assert_str_eq(sched_booking_status(theirs), "cancelled");
	sched_cancel_expect(theirs, client_admin_token(), 204);
	cr_assert_eq(sched_live_bookings(resource), 0);

	/* Audit: one create and one cancel each, by whoever did it. */
	snprintf(q, sizeof(q),
	         "entity_type=resource_booking&entity_id=%lld&action=create&actor=%lld", mine,
	         nurse.id);
	cr_assert_eq(sched_audit_count(q), 1);
	snprintf(q, sizeof(q),
	         "entity_type=resource_booking&entity_id=%lld&action=cancel&actor=%lld", mine,
	         nurse.id);
	cr_assert_eq(sched_audit_count(q), 1);
	snprintf(q, sizeof(q), "entity_type=resource_booking&entity_id=%lld&action=cancel", theirs);
	cr_assert_eq(sched_audit_count(q), 1);
	sched_staff_close(&nurse);
	sched_staff_close(&other_nurse);
	sched_staff_close(&doctor);
}

Test(resource_bookings, a_cancelled_booking_frees_the_time)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR, h = SCHED_HOUR;
	long long resource = sched_resource();
	struct client_response res;
	long long first, second;

	first = sched_book(resource, ten, ten + h);
	sched_post_booking(client_admin_token(), resource, ten, ten + h, NULL, &res);
	client_assert_status(&res, 409);
	client_response_free(&res);
	sched_cancel_expect(first, client_admin_token(), 204);
	second = sched_book(resource, ten, ten + h);
	cr_assert_neq(first, second);
	cr_assert_eq(sched_live_bookings(resource), 1);
	/* The list keeps both, one of them cancelled. */
	{
		char path[96];

		sched_bookings_path(resource, path, sizeof(path));
		sched_expect_page(path, "status=cancelled", 1, (long long[]){first}, 1);
		sched_expect_page(path, "status=booked", 1, (long long[]){second}, 1);
	}
}
