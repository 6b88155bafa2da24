/*
 * test_doctors.c - /api/doctors/ through the real stack: creation (admin
 * only) and every field rule of SPEC section 5 (license unique whatever
 * its case, the linked user a staff doctor and linked once, specialties,
 * slot_minutes, a weekly schedule without overlaps), search and filters,
 * deactivation by DELETE, a doctor editing only their own schedule and
 * slot_minutes, ETag/If-Match, and the free slots of a day in the
 * hospital's time zone (the test stack runs Africa/Kampala, UTC+3 all year).
 *
 * Tests run in parallel against one database: each test's doctors carry a
 * word of its own (new_token()) as their last name and in their license
 * numbers, and the test searches for it.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define TOKEN_LEN      16
#define KAMPALA_OFFSET (3 * 3600)

static const char *const non_admin_roles[] = {"doctor", "nurse", "receptionist", "billing"};
static const char *const never_write_roles[] = {"nurse", "receptionist", "billing"};

/* --- helpers ------------------------------------------------------------------------ */

/* The member key as compact JSON text (static buffer). */
static const char *json_text(struct json_object *obj, const char *key)
{
	static char text[4096];
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v), "no %s in %s", key,
	          json_object_to_json_string(obj));
	snprintf(text, sizeof(text), "%s",
	         v != NULL ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null");
	return text;
}

/* A word no other test (nor an earlier run) uses: "zq" and 14 lowercase
 * letters from the pid, a counter and the time in microseconds. */
static void new_token(char *out, size_t size)
{
	static unsigned counter;
	struct timeval tv;
	unsigned long long parts[3];
	const int widths[3] = {5, 2, 7};
	size_t o = 0;

	cr_assert_geq(size, TOKEN_LEN + 1);
	gettimeofday(&tv, NULL);
	parts[0] = (unsigned long long)getpid();
	parts[1] = ++counter;
	parts[2] = (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
	out[o++] = 'z';
	out[o++] = 'q';
	for (int i = 0; i < 3; i++)
		for (int w = 0; w < widths[i]; w++) {
			out[o++] = (char)('a' + parts[i] % 26);
			parts[i] /= 26;
		}
	out[o] = '\0';
}

static void doctor_path(long long id, char *out, size_t size)
{
	snprintf(out, size, "/api/doctors/%lld/", id);
}

/* A doctor body: last name is the token, the license "LIC-<token>-<tag>";
 * extra is more members (", \"k\": v ...") or NULL. */
static char *doctor_body(const char *token, const char *first, const char *tag, const char *extra)
{
	return client_format("{\"first_name\": \"%s\", \"last_name\": \"%s\", \"license_number\": "
	                     "\"LIC-%s-%s\"%s}",
	                     first, token, token, tag, extra != NULL ? extra : "");
}

/* POSTs body as the admin; asserts 201 and returns the id. */
static long long create_doctor_body(const char *body)
{
	struct client_response res;
	long long id;

	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_gt(id, 0);
	client_response_free(&res);
	return id;
}

static long long add_doctor(const char *token, const char *first, const char *tag,
                            const char *extra)
{
	char *body = doctor_body(token, first, tag, extra);
	long long id = create_doctor_body(body);

	free(body);
	return id;
}

/* A valid body with member key set to the raw JSON value, or left out when
 * value is NULL; malloc'd. */
static char *body_with(const char *token, const char *tag, const char *key, const char *value)
{
	char *base = doctor_body(token, "Field", tag, NULL);
	struct json_object *obj = json_tokener_parse(base);
	char *out;

	cr_assert_not_null(obj);
	if (value == NULL) {
		json_object_object_del(obj, key);
	} else {
		struct json_object *v = json_tokener_parse(value);

		cr_assert(v != NULL || strcmp(value, "null") == 0, "bad JSON %s", value);
		json_object_object_add(obj, key, v);
	}
	out = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	cr_assert_not_null(out);
	json_object_put(obj);
	free(base);
	return out;
}

/* POST a valid body with key = value (license tag made unique by a counter);
 * asserts status, and for 400 an error on key alone. */
static void expect_post(const char *token, const char *key, const char *value, long status)
{
	static unsigned n;
	char tag[16];
	char *body;
	struct client_response res;

	snprintf(tag, sizeof(tag), "F%u", ++n);
	body = body_with(token, tag, key, value);
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	if (status == 400) {
		client_assert_field_error(&res, key);
		cr_assert_eq(json_object_object_length(res.json), 1, "%s=%s: errors beyond %s: %s",
		             key, value, key, res.body);
	} else {
		cr_assert_eq(res.status, status, "%s=%s: expected %ld, got %ld: %s", key, value,
		             status, res.status, res.body);
	}
	client_response_free(&res);
	free(body);
}

/* Asserts the DRF list shape and returns the results array (owned by res). */
static struct json_object *list_results(const struct client_response *res)
{
	return client_list_results(res);
}

static int contains_id(const long long *ids, size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* GET /api/doctors/?search=<text>&more as token's user: exactly ids. */
static void expect_search_as(const char *user_token, const char *text, const char *more,
                             const long long *ids, size_t n)
{
	struct client_response res;
	struct json_object *rows;
	char *enc = client_url_encode(text);
	char *path = client_format("/api/doctors/?search=%s&page_size=100%s%s", enc,
	                           more != NULL ? "&" : "", more != NULL ? more : "");

	client_get_auth(path, user_token, &res);
	rows = list_results(&res);
	cr_assert_eq(client_json_int(res.json, "count"), (long long)n, "%s: %s", path, res.body);
	cr_assert_eq(json_object_array_length(rows), n, "%s: %s", path, res.body);
	for (size_t i = 0; i < n; i++)
		cr_assert(
		    contains_id(ids, n, client_json_int(json_object_array_get_idx(rows, i), "id")),
		    "%s: unexpected row in %s", path, res.body);
	client_response_free(&res);
	free(path);
	free(enc);
}

static void expect_search(const char *text, const char *more, const long long *ids, size_t n)
{
	expect_search_as(client_admin_token(), text, more, ids, n);
}

/* GET /api/doctors/{id}/ as the admin; asserts 200; copies the ETag. */
static void get_doctor(long long id, struct client_response *res, char *etag, size_t size)
{
	char path[64];
	const char *tag;

	doctor_path(id, path, sizeof(path));
	client_get_auth(path, client_admin_token(), res);
	client_assert_status(res, 200);
	tag = client_header(res, "ETag");
	cr_assert_not_null(tag, "no ETag: %s", res->headers);
	if (etag != NULL)
		snprintf(etag, size, "%s", tag);
}

/* --- POST /api/doctors/ ------------------------------------------------------------- */

Test(doctors_create, admin_creates_with_defaults)
{
	char token[32], license[64];
	char *body;
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	body = doctor_body(token, "Greg", "A", NULL);
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_eq(json_object_object_length(res.json), 13, "%s", res.body);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Greg");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), token);
	snprintf(license, sizeof(license), "LIC-%s-A", token);
	cr_assert_str_eq(client_json_str(res.json, "license_number"), license);
	cr_assert_str_eq(json_text(res.json, "user"), "null");
	cr_assert_str_eq(json_text(res.json, "specialties"), "[]");
	cr_assert_str_eq(json_text(res.json, "schedule"), "[]");
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 30);
	cr_assert(client_json_flag(res.json, "is_active"));
	cr_assert_str_eq(client_json_str(res.json, "contact_phone"), "");
	cr_assert_str_eq(client_json_str(res.json, "contact_email"), "");
	cr_assert_eq(strlen(client_json_str(res.json, "created_at")), 20, "%s", res.body);
	cr_assert_eq(strlen(client_json_str(res.json, "updated_at")), 20, "%s", res.body);
	cr_assert_not_null(client_header(&res, "ETag"));
	client_response_free(&res);
	get_doctor(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "license_number"), license);
	client_response_free(&res);
}

Test(doctors_create, every_field_round_trips_and_read_only_is_ignored)
{
	char token[32];
	char *body;
	struct client_response res;
	struct client_user user;
	long long id;

	new_token(token, sizeof(token));
	client_create_user("doctor", &user);
	body = client_format(
	    "{\"first_name\": \"Lisa\", \"last_name\": \"%s\", \"license_number\": "
	    "\"LIC-%s\", \"user\": %lld, \"specialties\": [\"Endocrinology\", "
	    "\"Internal Medicine\"], \"contact_phone\": \"+256 414 000000\", "
	    "\"contact_email\": \"lisa@example.org\", \"slot_minutes\": 20, "
	    "\"schedule\": [{\"weekday\": 0, \"start_time\": \"09:00\", \"end_time\": "
	    "\"12:00\"}, {\"weekday\": 0, \"start_time\": \"13:00\", \"end_time\": "
	    "\"17:00\"}, {\"weekday\": 4, \"start_time\": \"08:30\", \"end_time\": "
	    "\"10:15\"}], \"id\": 987654321, \"created_at\": "
	    "\"2000-01-01T00:00:00Z\", \"updated_at\": \"2000-01-01T00:00:00Z\", "
	    "\"version\": 99, \"unknown_thing\": [1, 2]}",
	    token, token, user.id);
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_neq(id, 987654321);
	cr_assert_eq(client_json_int(res.json, "user"), user.id);
	cr_assert_str_eq(json_text(res.json, "specialties"),
	                 "[\"Endocrinology\",\"Internal Medicine\"]");
	cr_assert_str_eq(client_json_str(res.json, "contact_phone"), "+256 414 000000");
	cr_assert_str_eq(client_json_str(res.json, "contact_email"), "lisa@example.org");
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 20);
	{
		struct json_object *schedule = json_object_object_get(res.json, "schedule");
		struct json_object *e;

		cr_assert(json_object_is_type(schedule, json_type_array), "%s", res.body);
		cr_assert_eq(json_object_array_length(schedule), 3, "%s", res.body);
		e = json_object_array_get_idx(schedule, 2);
		cr_assert_eq(client_json_int(e, "weekday"), 4);
		cr_assert_str_eq(client_json_str(e, "start_time"), "08:30");
		cr_assert_str_eq(client_json_str(e, "end_time"), "10:15");
	}
	cr_assert_neq(strncmp(client_json_str(res.json, "created_at"), "2000-", 5), 0, "%s",
	              res.body);
	cr_assert_null(json_object_object_get(res.json, "unknown_thing"));
	cr_assert_null(json_object_object_get(res.json, "version"));
	client_response_free(&res);
	expect_search(token, NULL, &id, 1);
}

Test(doctors_create, only_admins_create)
{
	char token[32];
	char *body;
	struct client_response res;

	new_token(token, sizeof(token));
	body = doctor_body(token, "Denied", "X", NULL);
	for (size_t i = 0; i < sizeof(non_admin_roles) / sizeof(non_admin_roles[0]); i++) {
		struct client_session s;

		client_open_session(non_admin_roles[i], &s);
		client_post_json("/api/doctors/", s.tokens.access, body, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&s);
	}
	client_post_json("/api/doctors/", NULL, body, &res);
	client_assert_detail(&res, 401);
	cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
	client_response_free(&res);
	free(body);
	expect_search(token, NULL, NULL, 0);
}

/* --- field rules --------------------------------------------------------------------- */

Test(doctors_fields, required_and_string_rules)
{
	static const char *const required[] = {"first_name", "last_name", "license_number"};
	char token[32];
	struct client_response res;
	char *value;

	new_token(token, sizeof(token));
	client_post_json("/api/doctors/", client_admin_token(), "{}", &res);
	client_assert_status(&res, 400);
	for (size_t i = 0; i < 3; i++)
		cr_assert(client_has_field_error(&res, required[i]), "%s: %s", required[i],
		          res.body);
	cr_assert_eq(json_object_object_length(res.json), 3, "%s", res.body);
	client_response_free(&res);
	for (size_t i = 0; i < 3; i++) {
		expect_post(token, required[i], NULL, 400);
		expect_post(token, required[i], "null", 400);
		expect_post(token, required[i], "\"\"", 400);
		expect_post(token, required[i], "\"   \"", 400);
		expect_post(token, required[i], "42", 400);
	}
	value = client_format("\"%0101d\"", 0);
	expect_post(token, "first_name", value, 400);
	expect_post(token, "last_name", value, 400);
	free(value);
	value = client_format("\"L%051d\"", 0); /* 52 characters */
	expect_post(token, "license_number", value, 400);
	free(value);
	expect_post(token, "contact_email", "\"not-an-email\"", 400);
	expect_post(token, "contact_email", "\"a@b\"", 400);
	expect_post(token, "contact_phone", "\"call me\"", 400);
	expect_post(token, "is_active", "\"yes\"", 400);
	expect_search(token, NULL, NULL, 0);
}

Test(doctors_fields, license_is_unique_whatever_its_case)
{
	char token[32], path[64];
	char *body;
	struct client_response res;
	long long first, second;

	new_token(token, sizeof(token));
	first = add_doctor(token, "First", "Dup", NULL);
	body =
	    client_format("{\"first_name\": \"Second\", \"last_name\": \"%s\", \"license_number\": "
	                  "\"lic-%s-dup\"}",
	                  token, token);
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "license_number");
	client_response_free(&res);
	body = doctor_body(token, "Second", "Dup", NULL);
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "license_number");
	client_response_free(&res);
	expect_search(token, NULL, &first, 1);

	/* Nor by changing another doctor's license to it. */
	second = add_doctor(token, "Second", "Other", NULL);
	doctor_path(second, path, sizeof(path));
	body = client_format("{\"license_number\": \"LIC-%s-DUP\"}", token);
	client_patch_json(path, client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "license_number");
	client_response_free(&res);
	get_doctor(second, &res, NULL, 0);
	cr_assert_not_null(strstr(client_json_str(res.json, "license_number"), "-Other"), "%s",
	                   res.body);
	client_response_free(&res);
	/* Its own license, in another case, is fine. */
	body = client_format("{\"license_number\": \"lic-%s-other\"}", token);
	client_patch_json(path, client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 200);
	client_response_free(&res);
}

Test(doctors_fields, user_must_be_an_unlinked_staff_doctor)
{
	char token[32], value[32], path[64];
	struct client_user nurse, doc, admin_like;
	struct client_response res;
	long long linked, other;

	new_token(token, sizeof(token));
	client_create_user("nurse", &nurse);
	client_create_user("doctor", &doc);
	client_create_user("admin", &admin_like);
	expect_post(token, "user", "999999999999", 400);
	expect_post(token, "user", "0", 400);
	expect_post(token, "user", "-3", 400);
	expect_post(token, "user", "\"abc\"", 400);
	expect_post(token, "user", "1.5", 400);
	snprintf(value, sizeof(value), "\"%lld\"", doc.id);
	expect_post(token, "user", value, 400);
	snprintf(value, sizeof(value), "%lld", nurse.id);
	expect_post(token, "user", value, 400);
	snprintf(value, sizeof(value), "%lld", admin_like.id);
	expect_post(token, "user", value, 400);
	expect_search(token, NULL, NULL, 0);

	snprintf(value, sizeof(value), ", \"user\": %lld", doc.id);
	linked = add_doctor(token, "Linked", "U1", value);
	/* A second doctor record for the same user. */
	{
		char *body = doctor_body(token, "Twice", "U2", value);

		client_post_json("/api/doctors/", client_admin_token(), body, &res);
		free(body);
		client_assert_field_error(&res, "user");
		client_response_free(&res);
	}
	other = add_doctor(token, "Unlinked", "U3", ", \"user\": null");
	doctor_path(other, path, sizeof(path));
	{
		char *body = client_format("{\"user\": %lld}", doc.id);

		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_field_error(&res, "user");
		client_response_free(&res);
		body = client_format("{\"user\": %lld}", nurse.id);
		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_field_error(&res, "user");
		client_response_free(&res);
	}
	get_doctor(linked, &res, NULL, 0);
	cr_assert_eq(client_json_int(res.json, "user"), doc.id);
	client_response_free(&res);
	/* Unlinking frees the user for another record. */
	doctor_path(linked, path, sizeof(path));
	client_patch_json(path, client_admin_token(), "{\"user\": null}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(json_text(res.json, "user"), "null");
	client_response_free(&res);
	doctor_path(other, path, sizeof(path));
	{
		char *body = client_format("{\"user\": %lld}", doc.id);

		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_status(&res, 200);
		cr_assert_eq(client_json_int(res.json, "user"), doc.id);
		client_response_free(&res);
	}
}

Test(doctors_fields, specialties_are_a_list_of_strings)
{
	static const char *const bad[] = {
	    "\"Cardiology\"",
	    "[1]",
	    "[\"\"]",
	    "[null]",
	    "[[\"Cardiology\"]]",
	    "{\"a\": \"b\"}",
	    "true",
	    "[\"Cardiology\", 2]",
	};
	char token[32];

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_post(token, "specialties", bad[i], 400);
	expect_search(token, NULL, NULL, 0);
	expect_post(token, "specialties", "[]", 201);
	expect_post(token, "specialties", "[\"Cardiology\"]", 201);
	expect_post(token, "specialties", "[\"Obstetrics & Gynaecology\", \"P\\u00e6diatrics\"]",
	            201);
}

Test(doctors_fields, slot_minutes_from_5_to_480)
{
	/* Beyond 64 bits too: a field error, as DRF's IntegerField answers,
	 * not a refusal of the whole body. */
	static const char *const bad[] = {"4",
	                                  "0",
	                                  "-30",
	                                  "481",
	                                  "100000",
	                                  "\"30\"",
	                                  "30.5",
	                                  "true",
	                                  "9223372036854775808",
	                                  "-99999999999999999999"};
	char token[32], *body;
	struct client_response res;

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_post(token, "slot_minutes", bad[i], 400);
	body = body_with(token, "Fbig", "slot_minutes", "99999999999999999999");
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	client_assert_status(&res, 400);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	                     json_object_object_get(res.json, "slot_minutes"), 0)),
	                 "Ensure this value is less than or equal to 480.", "%s", res.body);
	client_response_free(&res);
	free(body);
	expect_post(token, "slot_minutes", "5", 201);
	expect_post(token, "slot_minutes", "480", 201);
	expect_post(token, "slot_minutes", "45", 201);
}

/* A schedule of entries "d,HH:MM,HH:MM;..." as JSON (malloc'd). */
static char *schedule(const char *spec)
{
	char *out = strdup("[");
	const char *p = spec;

	cr_assert_not_null(out);
	while (*p != '\0') {
		int day;
		char start[8], end[8];
		int used;
		char *grown;

		cr_assert_eq(sscanf(p, "%d,%5[^,],%5[^;]%n", &day, start, end, &used), 3, "%s", p);
		grown = client_format(
		    "%s%s{\"weekday\": %d, \"start_time\": \"%s\", \"end_time\": \"%s\"}", out,
		    out[1] != '\0' ? ", " : "", day, start, end);
		free(out);
		out = grown;
		p += used;
		if (*p == ';')
			p++;
	}
	{
		char *closed = client_format("%s]", out);

		free(out);
		out = closed;
	}
	return out;
}

static void expect_schedule(const char *token, const char *spec, long status)
{
	char *value = schedule(spec);

	expect_post(token, "schedule", value, status);
	free(value);
}

Test(doctors_fields, schedule_entries_are_valid_and_never_overlap)
{
	static const char *const bad_raw[] = {
	    "{}",
	    "\"Mon 09:00-17:00\"",
	    "[1]",
	    "[{\"weekday\": 0, \"start_time\": \"09:00\"}]",
	    "[{\"weekday\": \"0\", \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]",
	    "[{\"weekday\": 0, \"start_time\": 900, \"end_time\": \"10:00\"}]",
	    "[{\"weekday\": 0, \"start_time\": \"09:00\", \"end_time\": \"10:00\", \"room\": 1}]",
	    "[{\"weekday\": 1.5, \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]",
	};
	char token[32];

	new_token(token, sizeof(token));
	/* Overlapping entries on one weekday. */
	expect_schedule(token, "0,09:00,12:00;0,11:00,13:00", 400);
	expect_schedule(token, "2,09:00,17:00;2,10:00,11:00", 400);
	expect_schedule(token, "3,09:00,10:00;3,09:00,10:00", 400);
	expect_schedule(token, "1,08:00,09:00;4,08:00,12:00;4,11:59,13:00", 400);
	/* Impossible entries. */
	expect_schedule(token, "7,09:00,10:00", 400);
	expect_schedule(token, "-1,09:00,10:00", 400);
	expect_schedule(token, "0,25:00,26:00", 400);
	expect_schedule(token, "0,09:00,25:00", 400);
	expect_schedule(token, "0,9:00,10:00", 400);
	expect_schedule(token, "0,09:60,10:00", 400);
	expect_schedule(token, "0,12:00,09:00", 400);
	expect_schedule(token, "0,09:00,09:00", 400);
	for (size_t i = 0; i < sizeof(bad_raw) / sizeof(bad_raw[0]); i++)
		expect_post(token, "schedule", bad_raw[i], 400);
	expect_search(token, NULL, NULL, 0);

	/* Touching entries, the same hours on other days, the whole day. */
	expect_schedule(token, "0,09:00,12:00;0,12:00,13:00", 201);
	expect_schedule(token, "0,09:00,17:00;1,09:00,17:00;2,09:00,17:00;6,09:00,17:00", 201);
	expect_schedule(token, "5,00:00,24:00", 201);
	expect_post(token, "schedule", "[]", 201);
}

/* --- list: search, filters, ordering ----------------------------------------------------- */

/* search="<words> <token>": exactly ids. */
static void expect_words(const char *words, const char *token, const long long *ids, size_t n)
{
	char *text = client_format("%s %s", words, token);

	expect_search(text, NULL, ids, n);
	free(text);
}

Test(doctors_list, search_by_name_license_and_specialty)
{
	char token[32], license[64];
	long long a, b, c;

	new_token(token, sizeof(token));
	a = add_doctor(token, "Gregory", "A1", ", \"specialties\": [\"Cardiology\"]");
	b = add_doctor(token, "Lisa", "B2", ", \"specialties\": [\"Neurology\", \"Oncology\"]");
	c = add_doctor(token, "Jos\xc3\xa9", "C3", NULL);
	{
		const long long all[] = {a, b, c};

		expect_search(token, NULL, all, 3);
	}
	/* Names, by word start, accents aside. */
	expect_words("greg", token, &a, 1);
	expect_words("GREGORY", token, &a, 1);
	expect_words("egory", token, NULL, 0);
	expect_words("jose", token, &c, 1);
	expect_words("lisa greg", token, NULL, 0);
	/* Specialties. */
	expect_words("cardio", token, &a, 1);
	expect_words("onco", token, &b, 1);
	expect_words("neurology lisa", token, &b, 1);
	expect_words("ology", token, NULL, 0);
	/* The license, whole and in any case. */
	snprintf(license, sizeof(license), "LIC-%s-B2", token);
	expect_search(license, NULL, &b, 1);
	for (char *p = license; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	expect_search(license, NULL, &b, 1);
	/* Hostile text finds no one extra and breaks nothing. */
	expect_words("' OR 1=1 --", token, NULL, 0);
	{
		const long long all[] = {a, b, c};

		expect_words(":* | !", token, all, 3);
	}
}

Test(doctors_list, filters_specialty_and_is_active)
{
	static const char *const bad[] = {"is_active=maybe", "is_active=2", "is_active=yes%27"};
	char token[32], path[64];
	struct client_response res;
	long long a, b, c;

	new_token(token, sizeof(token));
	a = add_doctor(token, "Filter", "A", ", \"specialties\": [\"Cardiology\", \"Surgery\"]");
	b = add_doctor(token, "Filter", "B", ", \"specialties\": [\"Surgery\"]");
	c = add_doctor(token, "Filter", "C", ", \"specialties\": [\"Dermatology\"]");
	{
		const long long surgeons[] = {a, b};
		const long long all[] = {a, b, c};
		const long long active[] = {a, c};

		expect_search(token, "specialty=Surgery", surgeons, 2);
		expect_search(token, "specialty=Cardiology", &a, 1);
		expect_search(token, "specialty=Dermatology", &c, 1);
		expect_search(token, "specialty=Radiology", NULL, 0);
		/* Whole specialties, not parts of one. */
		expect_search(token, "specialty=Surg", NULL, 0);
		expect_search(token, "specialty=%27%20OR%20%271%27%3D%271", NULL, 0);
		expect_search(token, "is_active=true", all, 3);
		expect_search(token, "is_active=false", NULL, 0);
		doctor_path(b, path, sizeof(path));
		client_delete_auth(path, client_admin_token(), &res);
		client_assert_status(&res, 204);
		client_response_free(&res);
		expect_search(token, "is_active=true", active, 2);
		expect_search(token, "is_active=false", &b, 1);
		expect_search(token, "is_active=false&specialty=Surgery", &b, 1);
		expect_search(token, "is_active=true&specialty=Surgery", &a, 1);
		/* Inactive doctors stay listed without the filter. */
		expect_search(token, NULL, all, 3);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *query = client_format("/api/doctors/?%s", bad[i]);

		client_get_auth(query, client_admin_token(), &res);
		client_assert_field_error(&res, "is_active");
		client_response_free(&res);
		free(query);
	}
}

Test(doctors_list, ordering_paging_and_every_role_reads)
{
	static const char *const bad[] = {
	    "nope", "schedule", "last_name%3B%20DROP%20TABLE%20doctors", "-", "%28SELECT%201%29"};
	char token[32], query[256];
	struct client_response res;
	struct json_object *rows;
	long long a, b;

	new_token(token, sizeof(token));
	a = add_doctor(token, "Bravo", "O1", NULL);
	b = add_doctor(token, "Alpha", "O2", NULL);
	snprintf(query, sizeof(query), "/api/doctors/?search=%s&ordering=first_name", token);
	client_get_auth(query, client_admin_token(), &res);
	rows = list_results(&res);
	cr_assert_eq(json_object_array_length(rows), 2, "%s", res.body);
	cr_assert_eq(client_json_int(json_object_array_get_idx(rows, 0), "id"), b);
	cr_assert_eq(client_json_int(json_object_array_get_idx(rows, 1), "id"), a);
	client_response_free(&res);
	snprintf(query, sizeof(query), "/api/doctors/?search=%s&ordering=-first_name", token);
	client_get_auth(query, client_admin_token(), &res);
	rows = list_results(&res);
	cr_assert_eq(client_json_int(json_object_array_get_idx(rows, 0), "id"), a);
	client_response_free(&res);
	snprintf(query, sizeof(query), "/api/doctors/?search=%s&page_size=1&page=2", token);
	client_get_auth(query, client_admin_token(), &res);
	rows = list_results(&res);
	cr_assert_eq(json_object_array_length(rows), 1, "%s", res.body);
	cr_assert_eq(client_json_int(res.json, "count"), 2);
	cr_assert_not_null(client_json_string(&res, "previous"), "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "next"), "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "/api/doctors/?search=%s&page=2", token);
	client_get_auth(query, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(query, sizeof(query), "/api/doctors/?ordering=%s", bad[i]);
		client_get_auth(query, client_admin_token(), &res);
		client_assert_field_error(&res, "ordering");
		client_response_free(&res);
	}
	for (size_t i = 0; i < sizeof(non_admin_roles) / sizeof(non_admin_roles[0]); i++) {
		struct client_session s;
		const long long both[] = {a, b};
		char path[64];

		client_open_session(non_admin_roles[i], &s);
		expect_search_as(s.tokens.access, token, NULL, both, 2);
		doctor_path(a, path, sizeof(path));
		client_get_auth(path, s.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(client_json_int(res.json, "id"), a);
		client_response_free(&res);
		client_close_session(&s);
	}
	client_get_auth("/api/doctors/", NULL, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
}

/* --- GET, PUT, PATCH, DELETE /api/doctors/{id}/ ------------------------------------------ */

Test(doctors_write, admin_puts_patches_and_404s)
{
	char token[32], path[64], license[64];
	char *body;
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id =
	    add_doctor(token, "Before", "W1", ", \"specialties\": [\"Old\"], \"slot_minutes\": 15");
	doctor_path(id, path, sizeof(path));
	/* PUT needs every required field. */
	client_put_json(path, client_admin_token(), "{\"first_name\": \"Only\"}", &res);
	client_assert_status(&res, 400);
	cr_assert(client_has_field_error(&res, "last_name"), "%s", res.body);
	cr_assert(client_has_field_error(&res, "license_number"), "%s", res.body);
	cr_assert_not(client_has_field_error(&res, "first_name"), "%s", res.body);
	client_response_free(&res);
	body =
	    doctor_body(token, "After", "W1",
	                ", \"specialties\": [\"New\"], \"slot_minutes\": 60, \"schedule\": "
	                "[{\"weekday\": 2, \"start_time\": \"10:00\", \"end_time\": \"11:00\"}]");
	client_put_json(path, client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "After");
	cr_assert_str_eq(json_text(res.json, "specialties"), "[\"New\"]");
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 60);
	client_response_free(&res);
	/* PATCH the given fields only. */
	client_patch_json(path, client_admin_token(), "{\"contact_phone\": \"+256 700 000999\"}",
	                  &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "contact_phone"), "+256 700 000999");
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "After");
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 60);
	snprintf(license, sizeof(license), "LIC-%s-W1", token);
	cr_assert_str_eq(client_json_str(res.json, "license_number"), license);
	client_response_free(&res);
	client_patch_json(path, client_admin_token(), "{\"slot_minutes\": 481}", &res);
	client_assert_field_error(&res, "slot_minutes");
	client_response_free(&res);
	client_patch_json(path, client_admin_token(),
	                  "{\"schedule\": [{\"weekday\": 1, \"start_time\": \"09:00\", "
	                  "\"end_time\": \"12:00\"}, {\"weekday\": 1, \"start_time\": \"11:00\", "
	                  "\"end_time\": \"12:30\"}]}",
	                  &res);
	client_assert_field_error(&res, "schedule");
	client_response_free(&res);
	get_doctor(id, &res, NULL, 0);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 60);
	cr_assert_eq(json_object_array_length(json_object_object_get(res.json, "schedule")), 1);
	client_response_free(&res);

	client_get_auth("/api/doctors/999999999999/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth("/api/doctors/abc/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json("/api/doctors/999999999999/", client_admin_token(),
	                  "{\"first_name\": \"Ghost\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_delete_auth("/api/doctors/999999999999/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

Test(doctors_write, delete_deactivates_and_the_doctor_stays_readable)
{
	char token[32], path[64];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_doctor(token, "Retiring", "D1", NULL);
	doctor_path(id, path, sizeof(path));
	for (size_t i = 0; i < sizeof(non_admin_roles) / sizeof(non_admin_roles[0]); i++) {
		struct client_session s;

		client_open_session(non_admin_roles[i], &s);
		client_delete_auth(path, s.tokens.access, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&s);
	}
	get_doctor(id, &res, NULL, 0);
	cr_assert(client_json_flag(res.json, "is_active"));
	client_response_free(&res);

	client_delete_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 204);
	cr_assert_eq(res.body_len, 0, "%s", res.body);
	client_response_free(&res);
	get_doctor(id, &res, NULL, 0);
	cr_assert_not(client_json_flag(res.json, "is_active"));
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Retiring");
	client_response_free(&res);
	expect_search(token, NULL, &id, 1);
	/* An admin can bring the doctor back. */
	client_patch_json(path, client_admin_token(), "{\"is_active\": true}", &res);
	client_assert_status(&res, 200);
	cr_assert(client_json_flag(res.json, "is_active"));
	client_response_free(&res);
}

Test(doctors_write, nurse_receptionist_billing_never_write)
{
	char token[32], path[64];
	char *body;
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_doctor(token, "Guarded", "N1", NULL);
	doctor_path(id, path, sizeof(path));
	body = doctor_body(token, "Changed", "N1", NULL);
	for (size_t i = 0; i < sizeof(never_write_roles) / sizeof(never_write_roles[0]); i++) {
		struct client_session s;

		client_open_session(never_write_roles[i], &s);
		client_put_json(path, s.tokens.access, body, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_patch_json(path, s.tokens.access, "{\"slot_minutes\": 10}", &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_patch_json(path, s.tokens.access,
		                  "{\"schedule\": [{\"weekday\": 0, \"start_time\": \"08:00\", "
		                  "\"end_time\": \"09:00\"}]}",
		                  &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_delete_auth(path, s.tokens.access, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&s);
	}
	free(body);
	get_doctor(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Guarded");
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 30);
	cr_assert_str_eq(json_text(res.json, "schedule"), "[]");
	cr_assert(client_json_flag(res.json, "is_active"));
	client_response_free(&res);
}

Test(doctors_write, a_doctor_edits_only_their_own_schedule_and_slot)
{
	static const char *const forbidden[] = {
	    "{\"first_name\": \"Self\"}",
	    "{\"slot_minutes\": 20, \"license_number\": \"SELF-1\"}",
	    "{\"specialties\": [\"Everything\"]}",
	    "{\"is_active\": false}",
	    "{\"user\": null}",
	    "{\"contact_email\": \"me@example.org\"}",
	};
	char token[32], own_path[64], other_path[64], value[48];
	struct client_session me, unlinked;
	struct client_response res;
	char *body;
	long long own, other;

	new_token(token, sizeof(token));
	client_open_session("doctor", &me);
	client_open_session("doctor", &unlinked);
	snprintf(value, sizeof(value), ", \"user\": %lld", me.user.id);
	own = add_doctor(token, "Own", "S1", value);
	other = add_doctor(token, "Other", "S2", NULL);
	doctor_path(own, own_path, sizeof(own_path));
	doctor_path(other, other_path, sizeof(other_path));

	/* Own schedule and slot_minutes: yes. */
	client_patch_json(own_path, me.tokens.access,
	                  "{\"schedule\": [{\"weekday\": 0, \"start_time\": \"08:00\", "
	                  "\"end_time\": \"12:00\"}], \"slot_minutes\": 20}",
	                  &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 20);
	cr_assert_eq(json_object_array_length(json_object_object_get(res.json, "schedule")), 1);
	client_response_free(&res);
	client_patch_json(own_path, me.tokens.access, "{\"slot_minutes\": 25}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	/* Validated like anyone's. */
	client_patch_json(own_path, me.tokens.access, "{\"slot_minutes\": 2}", &res);
	client_assert_field_error(&res, "slot_minutes");
	client_response_free(&res);

	/* Any other field: 403, even next to schedule. */
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		client_patch_json(own_path, me.tokens.access, forbidden[i], &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
	}
	/* PUT carries the other fields: 403. */
	body = doctor_body(token, "Own", "S1", NULL);
	client_put_json(own_path, me.tokens.access, body, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	free(body);
	/* Another doctor's record: 403; nor may a doctor deactivate or create. */
	client_patch_json(other_path, me.tokens.access, "{\"slot_minutes\": 10}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_patch_json(other_path, me.tokens.access,
	                  "{\"schedule\": [{\"weekday\": 3, \"start_time\": \"08:00\", "
	                  "\"end_time\": \"09:00\"}]}",
	                  &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_delete_auth(own_path, me.tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	/* A doctor with no record of their own edits none. */
	client_patch_json(own_path, unlinked.tokens.access, "{\"slot_minutes\": 10}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);

	get_doctor(own, &res, NULL, 0);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 25);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Own");
	cr_assert(client_json_flag(res.json, "is_active"));
	cr_assert_eq(client_json_int(res.json, "user"), me.user.id);
	cr_assert_str_eq(json_text(res.json, "specialties"), "[]");
	client_response_free(&res);
	get_doctor(other, &res, NULL, 0);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 30);
	cr_assert_str_eq(json_text(res.json, "schedule"), "[]");
	client_response_free(&res);
	client_close_session(&me);
	client_close_session(&unlinked);
}

static void patch_if_match(const char *path, const char *token, const char *tag, const char *body,
                           struct client_response *res)
{
	char header[256];
	const char *headers[] = {header, NULL};

	snprintf(header, sizeof(header), "If-Match: %s", tag != NULL ? tag : "");
	client_call_headers("PATCH", path, token, tag != NULL ? headers : NULL, body, res);
}

Test(doctors_etag, stale_if_match_is_412_and_changes_nothing)
{
	char token[32], path[64], tag1[128], tag2[128], now_tag[128];
	struct client_session me;
	struct client_response res;
	char value[48];
	long long id;

	new_token(token, sizeof(token));
	client_open_session("doctor", &me);
	snprintf(value, sizeof(value), ", \"user\": %lld", me.user.id);
	id = add_doctor(token, "Tagged", "E1", value);
	doctor_path(id, path, sizeof(path));
	get_doctor(id, &res, tag1, sizeof(tag1));
	client_response_free(&res);

	patch_if_match(path, client_admin_token(), tag1, "{\"first_name\": \"Current\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_not_null(client_header(&res, "ETag"));
	snprintf(tag2, sizeof(tag2), "%s", client_header(&res, "ETag"));
	cr_assert_str_neq(tag1, tag2);
	client_response_free(&res);

	patch_if_match(path, client_admin_token(), tag1, "{\"first_name\": \"Stale\"}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	/* The doctor's own edit with a stale tag: 412 too. */
	patch_if_match(path, me.tokens.access, tag1, "{\"slot_minutes\": 10}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	{
		char *body = doctor_body(token, "StalePut", "E1", NULL);
		char header[160];
		const char *headers[] = {header, NULL};

		snprintf(header, sizeof(header), "If-Match: %s", tag1);
		client_call_headers("PUT", path, client_admin_token(), headers, body, &res);
		free(body);
		client_assert_detail(&res, 412);
		client_response_free(&res);
	}
	get_doctor(id, &res, now_tag, sizeof(now_tag));
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Current");
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 30);
	cr_assert_str_eq(now_tag, tag2);
	client_response_free(&res);

	patch_if_match(path, me.tokens.access, tag2, "{\"slot_minutes\": 10}", &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 10);
	client_response_free(&res);
	patch_if_match(path, client_admin_token(), "*", "{\"first_name\": \"Star\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	patch_if_match(path, client_admin_token(), NULL, "{\"first_name\": \"Free\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), "Free");
	client_response_free(&res);
	client_close_session(&me);
}

/* --- GET /api/doctors/{id}/availability/ --------------------------------------------------- */

/* "YYYY-MM-DD" of the UTC day t falls on. */
static void day_of(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d", &tm);
}

/* Noon UTC of a Monday at least 8 days ahead: in the future in any zone. */
static time_t future_monday(void)
{
	time_t t = time(NULL) + 8 * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	t += (time_t)((8 - tm.tm_wday) % 7) * 86400; /* tm_wday: Sunday 0, Monday 1 */
	gmtime_r(&t, &tm);
	cr_assert_eq(tm.tm_wday, 1);
	return t - tm.tm_hour * 3600 - tm.tm_min * 60 - tm.tm_sec + 12 * 3600;
}

/* GET availability as token's user; asserts 200 and the shape; returns the
 * slots array (owned by res). */
static struct json_object *availability(long long id, const char *date, const char *token,
                                        struct client_response *res)
{
	char path[128];
	struct json_object *slots;

	snprintf(path, sizeof(path), "/api/doctors/%lld/availability/?date=%s", id, date);
	client_get_auth(path, token, res);
	client_assert_status(res, 200);
	cr_assert_eq(json_object_object_length(res->json), 5, "%s", res->body);
	cr_assert_eq(client_json_int(res->json, "doctor"), id, "%s", res->body);
	cr_assert_str_eq(client_json_str(res->json, "date"), date, "%s", res->body);
	cr_assert_str_eq(client_json_str(res->json, "time_zone"), "Africa/Kampala", "%s",
	                 res->body);
	client_json_int(res->json, "slot_minutes");
	cr_assert(json_object_object_get_ex(res->json, "slots", &slots) &&
	              json_object_is_type(slots, json_type_array),
	          "%s", res->body);
	for (size_t i = 0; i < json_object_array_length(slots); i++) {
		struct json_object *slot = json_object_array_get_idx(slots, i);

		cr_assert_eq(json_object_object_length(slot), 2, "%s", res->body);
		cr_assert_eq(strlen(client_json_str(slot, "start_time")), 20, "%s", res->body);
		cr_assert_eq(strlen(client_json_str(slot, "end_time")), 20, "%s", res->body);
	}
	return slots;
}

static void expect_slot(struct json_object *slots, size_t i, const char *date, const char *start,
                        const char *end)
{
	struct json_object *slot = json_object_array_get_idx(slots, i);
	char s[32], e[32];

	cr_assert_not_null(slot, "no slot %zu", i);
	snprintf(s, sizeof(s), "%sT%s:00Z", date, start);
	snprintf(e, sizeof(e), "%sT%s:00Z", date, end);
	cr_assert_str_eq(client_json_str(slot, "start_time"), s, "slot %zu", i);
	cr_assert_str_eq(client_json_str(slot, "end_time"), e, "slot %zu", i);
}

Test(doctors_availability, future_monday_in_kampala_time)
{
	static const char *const starts[] = {"06:00", "06:30", "07:00", "07:30", "08:00", "08:30"};
	static const char *const ends[] = {"06:30", "07:00", "07:30", "08:00", "08:30", "09:00"};
	char token[32], monday[16], tuesday[16], sunday[16], next_monday[16];
	struct client_response res;
	struct json_object *slots;
	struct client_session billing;
	time_t t = future_monday();
	long long id, split;

	new_token(token, sizeof(token));
	day_of(t, monday, sizeof(monday));
	day_of(t + 86400, tuesday, sizeof(tuesday));
	day_of(t + 6 * 86400, sunday, sizeof(sunday));
	day_of(t + 7 * 86400, next_monday, sizeof(next_monday));
	id = add_doctor(token, "Slots", "AV1",
	                ", \"slot_minutes\": 30, \"schedule\": [{\"weekday\": 0, \"start_time\": "
	                "\"09:00\", \"end_time\": \"12:00\"}, {\"weekday\": 6, \"start_time\": "
	                "\"08:00\", \"end_time\": \"09:00\"}]");

	/* 09:00-12:00 in Kampala is 06:00Z-09:00Z: six slots of 30 minutes. */
	slots = availability(id, monday, client_admin_token(), &res);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 30);
	cr_assert_eq(json_object_array_length(slots), 6, "%s", res.body);
	for (size_t i = 0; i < 6; i++)
		expect_slot(slots, i, monday, starts[i], ends[i]);
	client_response_free(&res);
	slots = availability(id, next_monday, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 6, "%s", res.body);
	expect_slot(slots, 0, next_monday, "06:00", "06:30");
	client_response_free(&res);
	/* No schedule on Tuesday. */
	slots = availability(id, tuesday, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 0, "%s", res.body);
	client_response_free(&res);
	/* Sunday is weekday 6: 08:00-09:00 Kampala, two slots from 05:00Z. */
	slots = availability(id, sunday, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 2, "%s", res.body);
	expect_slot(slots, 0, sunday, "05:00", "05:30");
	expect_slot(slots, 1, sunday, "05:30", "06:00");
	client_response_free(&res);

	/* Every role may look; billing too. */
	client_open_session("billing", &billing);
	slots = availability(id, monday, billing.tokens.access, &res);
	cr_assert_eq(json_object_array_length(slots), 6, "%s", res.body);
	client_response_free(&res);
	client_close_session(&billing);

	/* Slots never run past the end of an entry: 09:00-10:00 by 45 is one
	 * slot; two entries give the slots of both, in time order. */
	split =
	    add_doctor(token, "Split", "AV2",
	               ", \"slot_minutes\": 45, \"schedule\": [{\"weekday\": 0, \"start_time\": "
	               "\"14:00\", \"end_time\": \"15:30\"}, {\"weekday\": 0, \"start_time\": "
	               "\"09:00\", \"end_time\": \"10:00\"}]");
	slots = availability(split, monday, client_admin_token(), &res);
	cr_assert_eq(client_json_int(res.json, "slot_minutes"), 45);
	cr_assert_eq(json_object_array_length(slots), 3, "%s", res.body);
	expect_slot(slots, 0, monday, "06:00", "06:45");
	expect_slot(slots, 1, monday, "11:00", "11:45");
	expect_slot(slots, 2, monday, "11:45", "12:30");
	client_response_free(&res);
}

Test(doctors_availability, inactive_doctor_past_day_and_today)
{
	char token[32], monday[16], path[64], past[16], today[16];
	struct client_response res;
	struct json_object *slots;
	long long id, allday;
	time_t before, after, midnight;
	size_t expected_before = 0, expected_after = 0, got;

	new_token(token, sizeof(token));
	day_of(future_monday(), monday, sizeof(monday));
	id = add_doctor(token, "Inactive", "AV3",
	                ", \"schedule\": [{\"weekday\": 0, \"start_time\": \"09:00\", "
	                "\"end_time\": \"12:00\"}]");
	/* A Monday long gone: nothing is free in the past. */
	slots = availability(id, "2020-01-06", client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 0, "%s", res.body);
	client_response_free(&res);
	day_of(time(NULL) - 7 * 86400 * 3, past, sizeof(past));
	slots = availability(id, past, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 0, "%s", res.body);
	client_response_free(&res);
	/* Inactive: no slots at all. */
	doctor_path(id, path, sizeof(path));
	client_delete_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	slots = availability(id, monday, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 0, "%s", res.body);
	client_response_free(&res);

	/* Today, every hour of every day scheduled: only the hours still to
	 * come are offered (an hour that starts as the request runs may be
	 * either side). */
	allday =
	    add_doctor(token, "Allday", "AV4",
	               ", \"slot_minutes\": 60, \"schedule\": ["
	               "{\"weekday\": 0, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}, "
	               "{\"weekday\": 1, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}, "
	               "{\"weekday\": 2, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}, "
	               "{\"weekday\": 3, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}, "
	               "{\"weekday\": 4, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}, "
	               "{\"weekday\": 5, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}, "
	               "{\"weekday\": 6, \"start_time\": \"00:00\", \"end_time\": \"24:00\"}]");
	before = time(NULL);
	day_of(before + KAMPALA_OFFSET, today, sizeof(today));
	/* Midnight in Kampala, as a UTC instant. */
	midnight = before + KAMPALA_OFFSET;
	midnight -= midnight % 86400;
	midnight -= KAMPALA_OFFSET;
	slots = availability(allday, today, client_admin_token(), &res);
	after = time(NULL);
	for (int h = 0; h < 24; h++) {
		expected_before += midnight + h * 3600 >= before;
		expected_after += midnight + h * 3600 >= after + 1;
	}
	got = json_object_array_length(slots);
	cr_assert(got <= expected_before && got >= expected_after,
	          "%zu slots today, expected %zu..%zu: %s", got, expected_after, expected_before,
	          res.body);
	cr_assert_lt(got, 24 + (before == midnight), "%s", res.body);
	for (size_t i = 0; i < got; i++) {
		const char *start =
		    client_json_str(json_object_array_get_idx(slots, i), "start_time");
		struct tm tm = {0};

		cr_assert_not_null(strptime(start, "%Y-%m-%dT%H:%M:%SZ", &tm), "%s", start);
		cr_assert_geq(timegm(&tm), before - 1, "a past slot: %s", start);
	}
	client_response_free(&res);
	/* Tomorrow in Kampala: all 24. */
	day_of(before + KAMPALA_OFFSET + 86400, today, sizeof(today));
	slots = availability(allday, today, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(slots), 24, "%s", res.body);
	client_response_free(&res);
}

Test(doctors_availability, bad_dates_400_and_unknown_doctor_404)
{
	static const char *const bad[] = {
	    "2026-13-01", "2026-02-30",           "tomorrow",        "2026-1-1", "20260101",
	    "",           "2026-01-01T00:00:00Z", "%27%20OR%201%3D1"};
	char token[32], path[160];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_doctor(token, "Dates", "AV5", NULL);
	snprintf(path, sizeof(path), "/api/doctors/%lld/availability/", id);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_field_error(&res, "date");
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/api/doctors/%lld/availability/?date=%s", id, bad[i]);
		client_get_auth(path, client_admin_token(), &res);
		client_assert_field_error(&res, "date");
		client_response_free(&res);
	}
	client_get_auth("/api/doctors/999999999999/availability/?date=2030-01-07",
	                client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	snprintf(path, sizeof(path), "/api/doctors/%lld/availability/?date=2030-01-07", id);
	client_get_auth(path, NULL, &res);
	client_assert_detail(&res, 401);
	client_response_free(&res);
	/* A doctor without a schedule has an empty day. */
	{
		struct json_object *slots =
		    availability(id, "2030-01-07", client_admin_token(), &res);

		cr_assert_eq(json_object_array_length(slots), 0, "%s", res.body);
		client_response_free(&res);
	}
}

/* --- audit ------------------------------------------------------------------------------ */

Test(doctors_audit, create_update_and_deactivate_write_rows)
{
	char token[32], rid_create[64], rid_update[64], rid_delete[64], header[96], path[128];
	const char *rids[] = {rid_create, rid_update, rid_delete};
	const char *actions[] = {"create", "update", "delete"};
	struct client_response res;
	char *body;
	long long id, admin;

	new_token(token, sizeof(token));
	client_get_auth("/api/auth/me/", client_admin_token(), &res);
	admin = client_json_int(res.json, "id");
	client_response_free(&res);
	client_unique_name("dcreate", rid_create, sizeof(rid_create));
	client_unique_name("dupdate", rid_update, sizeof(rid_update));
	client_unique_name("ddelete", rid_delete, sizeof(rid_delete));

	body = doctor_body(token, "Audited", "AU1", NULL);
	snprintf(header, sizeof(header), "X-Request-ID: %s", rid_create);
	client_call("POST", "/api/doctors/", client_admin_token(), header, body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	doctor_path(id, path, sizeof(path));
	snprintf(header, sizeof(header), "X-Request-ID: %s", rid_update);
	client_call("PATCH", path, client_admin_token(), header, "{\"slot_minutes\": 15}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	snprintf(header, sizeof(header), "X-Request-ID: %s", rid_delete);
	client_call("DELETE", path, client_admin_token(), header, NULL, &res);
	client_assert_status(&res, 204);
	client_response_free(&res);

	snprintf(path, sizeof(path), "/api/audit/?entity_type=doctor&entity_id=%lld&page_size=100",
	         id);
	client_get_auth(path, client_admin_token(), &res);
	{
		struct json_object *rows = list_results(&res);

		for (size_t k = 0; k < 3; k++) {
			struct json_object *found = NULL;

			for (size_t i = 0; i < json_object_array_length(rows); i++) {
				struct json_object *row = json_object_array_get_idx(rows, i);
				struct json_object *v = json_object_object_get(row, "request_id");

				if (v != NULL && strcmp(json_object_get_string(v), rids[k]) == 0)
					found = row;
			}
			cr_assert_not_null(found, "no audit row %s: %s", actions[k], res.body);
			cr_assert_str_eq(client_json_str(found, "action"), actions[k]);
			cr_assert_eq(client_json_int(found, "actor"), admin);
			cr_assert_str_eq(client_json_str(found, "actor_role"), "admin");
			cr_assert_eq(client_json_int(found, "entity_id"), id);
			cr_assert_str_eq(client_json_str(found, "outcome"), "success");
		}
	}
	cr_assert_null(strstr(res.body, token), "%s", res.body);
	client_response_free(&res);
}
