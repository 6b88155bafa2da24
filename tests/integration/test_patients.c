/*
 * test_patients.c - /api/patients/ through the real stack (nginx TLS ->
 * FastCGI -> hms -> PostgreSQL): creation and the generated medical record
 * number, every field rule of SPEC section 5, search as SPEC section 3 has
 * it (word starts, accents, identifiers, hostile text), filters, ordering,
 * paging, ETag/If-Match, soft delete and restore, SPEC section 4's row for
 * patients, and the audit rows.
 *
 * Tests run in parallel against one database. Each test puts a word of its
 * own (new_token(): lowercase letters, fixed length, so no token is the
 * start of another) into the first names of the patients it makes, and
 * searches for that word, so counts stay exact whatever else exists.
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

#define TOKEN_LEN 16

static const char *const staff_roles[] = {"doctor", "nurse", "receptionist", "billing"};
static const char *const writer_roles[] = {"doctor", "nurse", "receptionist"};

/* --- helpers ------------------------------------------------------------------------ */

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

/* printf into a malloc'd string. */
/* A patient body; first_name is "<first> <token>" when token is given;
 * extra is more members (",\"k\": v ...") or NULL. */
static char *patient_body(const char *token, const char *first, const char *last, const char *dob,
                          const char *gender, const char *extra)
{
	return client_format(
	    "{\"first_name\": \"%s%s%s\", \"last_name\": \"%s\", \"date_of_birth\": "
	    "\"%s\", \"gender\": \"%s\"%s}",
	    first, token != NULL ? " " : "", token != NULL ? token : "", last, dob, gender,
	    extra != NULL ? extra : "");
}

static void patient_path(long long id, char *out, size_t size)
{
	snprintf(out, size, "/api/patients/%lld/", id);
}

/* POSTs body as token's user; asserts 201 and returns the id. */
static long long create_patient_as(const char *token, const char *body)
{
	struct client_response res;
	long long id;

	client_post_json("/api/patients/", token, body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_gt(id, 0);
	client_response_free(&res);
	return id;
}

static long long add_patient(const char *token, const char *first, const char *last,
                             const char *dob, const char *gender, const char *extra)
{
	char *body = patient_body(token, first, last, dob, gender, extra);
	long long id = create_patient_as(client_admin_token(), body);

	free(body);
	return id;
}

/* Asserts the DRF list shape and returns the results array (owned by res). */
/* GET /api/patients/?query as token's user (no assertion on the status). */
static void get_list(const char *token, const char *query, struct client_response *res)
{
	char *path = client_format("/api/patients/?%s", query);

	client_get_auth(path, token, res);
	free(path);
}

/* GET /api/patients/?search=<text, encoded>&more as the admin; asserts the
 * list shape. */
static struct json_object *search(const char *text, const char *more, struct client_response *res)
{
	char *enc = client_url_encode(text);
	char *query = client_format("search=%s&page_size=100%s%s", enc, more != NULL ? "&" : "",
	                            more != NULL ? more : "");

	get_list(client_admin_token(), query, res);
	free(query);
	free(enc);
	return client_list_results(res);
}

static long long search_count(const char *text)
{
	struct client_response res;
	long long n;

	search(text, NULL, &res);
	n = client_count_of(&res);
	client_response_free(&res);
	return n;
}

static int contains_id(const long long *ids, size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* Asserts that results are exactly the patients ids[0..n), in that order
 * when ordered is set. */
static void expect_ids(struct json_object *results, const long long *ids, size_t n, int ordered,
                       const char *what)
{
	size_t len = json_object_array_length(results);

	cr_assert_eq(len, n, "%s: %zu rows, expected %zu: %s", what, len, n,
	             json_object_to_json_string(results));
	for (size_t i = 0; i < n; i++) {
		long long id = client_json_int(json_object_array_get_idx(results, i), "id");

		if (ordered)
			cr_assert_eq(id, ids[i], "%s: row %zu is %lld, expected %lld", what, i, id,
			             ids[i]);
		else
			cr_assert(contains_id(ids, n, id), "%s: unexpected patient %lld", what, id);
	}
}

/* The list of patients matching search=token&more is exactly ids. */
static void expect_search(const char *token, const char *more, const long long *ids, size_t n,
                          int ordered)
{
	struct client_response res;
	struct json_object *results = search(token, more, &res);
	char what[256];

	snprintf(what, sizeof(what), "search=%s&%s", token, more != NULL ? more : "");
	cr_assert_eq(client_count_of(&res), (long long)n, "%s: %s", what, res.body);
	expect_ids(results, ids, n, ordered, what);
	client_response_free(&res);
}

/* GET /api/patients/{id}/ as the admin; asserts 200 and returns the ETag
 * (static buffer of client_header, copied to out). */
static void get_patient(long long id, struct client_response *res, char *etag, size_t size)
{
	char path[64];
	const char *tag;

	patient_path(id, path, sizeof(path));
	client_get_auth(path, client_admin_token(), res);
	client_assert_status(res, 200);
	tag = client_header(res, "ETag");
	cr_assert_not_null(tag, "no ETag: %s", res->headers);
	if (etag != NULL)
		snprintf(etag, size, "%s", tag);
}

static long long admin_id(void)
{
	struct client_response res;
	long long id;

	client_get_auth("/api/auth/me/", client_admin_token(), &res);
	client_assert_status(&res, 200);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

/* Luhn over all digits of s (the last one being the check digit). */
static int luhn_valid(const char *digits)
{
	size_t n = strlen(digits);
	int sum = 0;

	for (size_t i = 0; i < n; i++) {
		int d = digits[n - 1 - i] - '0';

		if (i % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

static void assert_mrn(const char *mrn)
{
	cr_assert_eq(strlen(mrn), 12, "MRN '%s' is not MRN + 9 digits", mrn);
	cr_assert_eq(strncmp(mrn, "MRN", 3), 0, "MRN '%s'", mrn);
	cr_assert_eq(strspn(mrn + 3, "0123456789"), 9, "MRN '%s'", mrn);
	cr_assert(luhn_valid(mrn + 3), "MRN '%s' has a wrong Luhn check digit", mrn);
}

/* "YYYY-MM-DD" of now + days (UTC). */
static void utc_date(int days, char *out, size_t size)
{
	time_t t = time(NULL) + (time_t)days * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d", &tm);
}

/* --- POST /api/patients/ ----------------------------------------------------------- */

Test(patients_create, answers_201_with_every_field_and_an_etag)
{
	char token[32], path[64];
	char *body;
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	body = patient_body(token, "Amina", "Nakato", "1984-03-09", "female",
	                    ", \"contact_phone\": \"+256 700 123456\", \"contact_email\": "
	                    "\"amina@example.org\", \"address\": \"Plot 4, Kampala Road\", "
	                    "\"emergency_contact\": \"Brother, +256 772 000000\", \"blood_type\": "
	                    "\"AB-\", \"allergies\": \"Penicillin\"");
	client_post_json("/api/patients/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_eq(json_object_object_length(res.json), 15, "%s", res.body);
	assert_mrn(client_json_str(res.json, "medical_record_number"));
	cr_assert_str_eq(client_json_str(res.json, "first_name"),
	                 (snprintf(path, sizeof(path), "Amina %s", token), path));
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Nakato");
	cr_assert_str_eq(client_json_str(res.json, "date_of_birth"), "1984-03-09");
	cr_assert_str_eq(client_json_str(res.json, "gender"), "female");
	cr_assert_str_eq(client_json_str(res.json, "contact_phone"), "+256 700 123456");
	cr_assert_str_eq(client_json_str(res.json, "contact_email"), "amina@example.org");
	cr_assert_str_eq(client_json_str(res.json, "address"), "Plot 4, Kampala Road");
	cr_assert_str_eq(client_json_str(res.json, "emergency_contact"),
	                 "Brother, +256 772 000000");
	cr_assert_str_eq(client_json_str(res.json, "blood_type"), "AB-");
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Penicillin");
	cr_assert_not(client_json_flag(res.json, "is_deleted"));
	cr_assert_eq(strlen(client_json_str(res.json, "created_at")), 20, "%s", res.body);
	cr_assert_eq(client_json_str(res.json, "created_at")[19], 'Z', "%s", res.body);
	cr_assert_eq(strlen(client_json_str(res.json, "updated_at")), 20, "%s", res.body);
	cr_assert_not_null(client_header(&res, "ETag"), "%s", res.headers);
	client_response_free(&res);

	/* Stored: a GET shows the same patient. */
	get_patient(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Nakato");
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Penicillin");
	client_response_free(&res);
}

Test(patients_create, mrn_is_luhn_checked_and_unique)
{
	char token[32];
	char mrn[2][32];
	struct client_response res;

	new_token(token, sizeof(token));
	for (int i = 0; i < 2; i++) {
		char *body = patient_body(token, "Unique", "Number", "2001-07-01", "male", NULL);

		client_post_json("/api/patients/", client_admin_token(), body, &res);
		free(body);
		client_assert_status(&res, 201);
		snprintf(mrn[i], sizeof(mrn[i]), "%s",
		         client_json_str(res.json, "medical_record_number"));
		assert_mrn(mrn[i]);
		client_response_free(&res);
	}
	cr_assert_str_neq(mrn[0], mrn[1]);
	/* A mistyped digit makes a number that fails the check. */
	{
		char typo[32];

		snprintf(typo, sizeof(typo), "%s", mrn[0]);
		typo[7] = (char)(typo[7] == '9' ? '0' : typo[7] + 1);
		cr_assert_not(luhn_valid(typo + 3), "%s still passes", typo);
	}
	/* No two patients share a number, anywhere in the table. */
	cr_assert_eq(client_sql_long("SELECT count(*) FROM (SELECT medical_record_number FROM "
	                             "patients GROUP BY 1 HAVING count(*) > 1) AS d"),
	             0);
}

Test(patients_create, read_only_and_unknown_fields_are_ignored)
{
	char token[32];
	char *body;
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	body = patient_body(token, "Readonly", "Ignored", "1970-01-01", "other",
	                    ", \"id\": 987654321, \"medical_record_number\": \"MRN000000000\", "
	                    "\"is_deleted\": true, \"created_at\": \"2000-01-01T00:00:00Z\", "
	                    "\"updated_at\": \"2000-01-01T00:00:00Z\", \"favourite_colour\": "
	                    "\"blue\", \"nested\": {\"a\": [1, 2]}");
	client_post_json("/api/patients/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_neq(id, 987654321);
	cr_assert_str_neq(client_json_str(res.json, "medical_record_number"), "MRN000000000");
	assert_mrn(client_json_str(res.json, "medical_record_number"));
	cr_assert_not(client_json_flag(res.json, "is_deleted"));
	cr_assert_neq(strncmp(client_json_str(res.json, "created_at"), "2000-", 5), 0, "%s",
	              res.body);
	cr_assert_neq(strncmp(client_json_str(res.json, "updated_at"), "2000-", 5), 0, "%s",
	              res.body);
	cr_assert_null(json_object_object_get(res.json, "favourite_colour"));
	cr_assert_null(json_object_object_get(res.json, "nested"));
	client_response_free(&res);
	/* Live, and listed. */
	expect_search(token, NULL, &id, 1, 1);
}

/* --- field rules --------------------------------------------------------------------- */

/* A valid body with member key set to the raw JSON value, or left out
 * when value is NULL; malloc'd. */
static char *body_with(const char *token, const char *key, const char *value)
{
	char *base = patient_body(token, "Field", "Rules", "1988-08-08", "unknown", NULL);
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

/* A JSON string of n copies of the UTF-8 character ch; malloc'd. */
static char *json_repeat(const char *ch, size_t n)
{
	size_t len = strlen(ch);
	char *out = malloc(n * len + 3);

	cr_assert_not_null(out);
	out[0] = '"';
	for (size_t i = 0; i < n; i++)
		memcpy(out + 1 + i * len, ch, len);
	out[1 + n * len] = '"';
	out[2 + n * len] = '\0';
	return out;
}

static void expect_post(const char *token, const char *key, const char *value, long status)
{
	char *body = body_with(token, key, value);
	struct client_response res;

	client_post_json("/api/patients/", client_admin_token(), body, &res);
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

Test(patients_fields, required_fields_missing_on_post_are_400)
{
	static const char *const required[] = {"first_name", "last_name", "date_of_birth",
	                                       "gender"};
	char token[32];
	struct client_response res;

	new_token(token, sizeof(token));
	client_post_json("/api/patients/", client_admin_token(), "{}", &res);
	client_assert_status(&res, 400);
	for (size_t i = 0; i < 4; i++)
		cr_assert(client_has_field_error(&res, required[i]), "%s: %s", required[i],
		          res.body);
	cr_assert_eq(json_object_object_length(res.json), 4, "%s", res.body);
	client_response_free(&res);
	for (size_t i = 0; i < 4; i++) {
		expect_post(token, required[i], NULL, 400);
		expect_post(token, required[i], "null", 400);
	}
	/* None of them got in. */
	cr_assert_eq(search_count(token), 0);
}

Test(patients_fields, put_needs_every_required_field_patch_does_not)
{
	static const char *const required[] = {"first_name", "last_name", "date_of_birth",
	                                       "gender"};
	char token[32], path[64], first[64];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Partial", "Writer", "1991-01-01", "male", NULL);
	patient_path(id, path, sizeof(path));

	client_put_json(path, client_admin_token(), "{\"first_name\": \"Only\"}", &res);
	client_assert_status(&res, 400);
	cr_assert(client_has_field_error(&res, "last_name"), "%s", res.body);
	cr_assert(client_has_field_error(&res, "date_of_birth"), "%s", res.body);
	cr_assert(client_has_field_error(&res, "gender"), "%s", res.body);
	cr_assert_not(client_has_field_error(&res, "first_name"), "%s", res.body);
	client_response_free(&res);
	for (size_t i = 0; i < 4; i++) {
		char *body = body_with(token, required[i], NULL);

		client_put_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_field_error(&res, required[i]);
		client_response_free(&res);
	}
	/* Nothing changed. */
	get_patient(id, &res, NULL, 0);
	snprintf(first, sizeof(first), "Partial %s", token);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), first);
	cr_assert_str_eq(client_json_str(res.json, "gender"), "male");
	client_response_free(&res);

	/* PATCH takes the one field and keeps the rest. */
	snprintf(first, sizeof(first), "Patched %s", token);
	{
		char *body = client_format("{\"first_name\": \"%s\"}", first);

		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
	}
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), first);
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Writer");
	cr_assert_str_eq(client_json_str(res.json, "date_of_birth"), "1991-01-01");
	cr_assert_str_eq(client_json_str(res.json, "gender"), "male");
	client_response_free(&res);
	/* An empty PATCH changes nothing and is fine. */
	client_patch_json(path, client_admin_token(), "{}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), first);
	client_response_free(&res);
}

Test(patients_fields, date_of_birth_not_future_not_before_1900_well_formed)
{
	char token[32], date[16], quoted[24], path[64];
	struct client_response res;
	static const char *const bad[] = {
	    "\"1899-12-31\"",           "\"1000-01-01\"", "\"1990-02-30\"", "\"1990/01/01\"",
	    "\"01-01-1990\"",           "\"1990-1-1\"",   "\"\"",           "\"yesterday\"",
	    "\"1990-01-01T00:00:00Z\"", "19900101",       "true",           "[\"1990-01-01\"]",
	};
	long long id;

	new_token(token, sizeof(token));
	/* Two days ahead is the future in every time zone. */
	utc_date(2, date, sizeof(date));
	snprintf(quoted, sizeof(quoted), "\"%s\"", date);
	expect_post(token, "date_of_birth", quoted, 400);
	utc_date(400, date, sizeof(date));
	snprintf(quoted, sizeof(quoted), "\"%s\"", date);
	expect_post(token, "date_of_birth", quoted, 400);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_post(token, "date_of_birth", bad[i], 400);
	cr_assert_eq(search_count(token), 0);

	/* 1900-01-01 and today are fine. */
	expect_post(token, "date_of_birth", "\"1900-01-01\"", 201);
	utc_date(0, date, sizeof(date));
	snprintf(quoted, sizeof(quoted), "\"%s\"", date);
	expect_post(token, "date_of_birth", quoted, 201);
	cr_assert_eq(search_count(token), 2);

	/* PATCH checks the same rule and leaves the row alone. */
	id = add_patient(token, "Dated", "Patient", "1980-05-05", "female", NULL);
	patient_path(id, path, sizeof(path));
	utc_date(3, date, sizeof(date));
	{
		char *body = client_format("{\"date_of_birth\": \"%s\"}", date);

		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
	}
	client_assert_field_error(&res, "date_of_birth");
	client_response_free(&res);
	get_patient(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "date_of_birth"), "1980-05-05");
	client_response_free(&res);
}

Test(patients_fields, gender_is_one_of_four_values)
{
	static const char *const bad[] = {"\"Male\"",  "\"M\"",      "\"f\"",     "\"\"",
	                                  "\"male \"", "\"man\"",    "1",         "null",
	                                  "true",      "[\"male\"]", "{\"v\": 1}"};
	static const char *const good[] = {"male", "female", "other", "unknown"};
	char token[32], path[64];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_post(token, "gender", bad[i], 400);
	id = add_patient(token, "Gender", "Values", "1999-09-09", "male", NULL);
	patient_path(id, path, sizeof(path));
	for (size_t i = 0; i < 4; i++) {
		char *body = client_format("{\"gender\": \"%s\"}", good[i]);

		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "gender"), good[i]);
		client_response_free(&res);
	}
	cr_assert_eq(search_count(token), 1);
}

Test(patients_fields, contact_email_must_be_an_address)
{
	static const char *const bad[] = {
	    "\"not-an-email\"",
	    "\"a@b\"",
	    "\"a@@example.org\"",
	    "\"a b@example.org\"",
	    "\"@example.org\"",
	    "\"amina@\"",
	    "\"amina@.org\"",
	    "\"a@example..org\"",
	    "\"a@example.org, b@example.org\"",
	    "5",
	    "true",
	};
	char token[32];

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_post(token, "contact_email", bad[i], 400);
	cr_assert_eq(search_count(token), 0);
	expect_post(token, "contact_email", "\"x.y+tag@sub.example.org\"", 201);
	expect_post(token, "contact_email", "\"\"", 201); /* optional */
	cr_assert_eq(search_count(token), 2);
}

Test(patients_fields, strings_over_their_max_length_are_400)
{
	static const struct {
		const char *field;
		const char *ch;
		size_t ok, too_long;
	} limits[] = {
	    {"first_name", "a", 100, 101},        {"last_name", "b", 100, 101},
	    {"first_name", "\xc3\xa9", 100, 101}, /* characters, not bytes */
	    {"address", "c", 500, 501},           {"emergency_contact", "d", 200, 201},
	    {"allergies", "e", 2000, 2001},       {"contact_phone", "7", 32, 33},
	};
	char token[32];

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		char *value = json_repeat(limits[i].ch, limits[i].too_long);

		expect_post(token, limits[i].field, value, 400);
		free(value);
		value = json_repeat(limits[i].ch, limits[i].ok);
		expect_post(token, limits[i].field, value, 201);
		free(value);
	}
	/* A phone number is digits and punctuation. */
	expect_post(token, "contact_phone", "\"call me maybe\"", 400);
	expect_post(token, "contact_phone", "\"+256 (0) 700-123.456\"", 201);
}

Test(patients_fields, wrong_json_types_are_400)
{
	static const struct {
		const char *field, *value;
	} cases[] = {
	    {"first_name", "5"},
	    {"first_name", "[\"Ann\"]"},
	    {"first_name", "{\"a\": 1}"},
	    {"last_name", "true"},
	    {"last_name", "1.5"},
	    {"date_of_birth", "19900101"},
	    {"date_of_birth", "{}"},
	    {"gender", "0"},
	    {"contact_email", "5"},
	    {"contact_phone", "256700"},
	    {"address", "[]"},
	    {"allergies", "false"},
	    {"blood_type", "1"},
	    {"emergency_contact", "{}"},
	};
	static const char *const bodies[] = {"[]", "\"patient\"", "null", "42", "{\"first_name\":"};
	char token[32];
	struct client_response res;

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_post(token, cases[i].field, cases[i].value, 400);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		client_post_json("/api/patients/", client_admin_token(), bodies[i], &res);
		client_assert_status(&res, 400);
		client_response_free(&res);
	}
	/* Not JSON at all. */
	{
		const char *headers[] = {"Content-Type: text/plain", NULL};

		client_call_headers("POST", "/api/patients/", client_admin_token(), headers, NULL,
		                    &res);
		cr_assert(res.status == 415 || res.status == 400, "%ld: %s", res.status, res.body);
		client_response_free(&res);
	}
	cr_assert_eq(search_count(token), 0);
}

Test(patients_fields, blank_names_are_400_and_names_are_trimmed)
{
	char token[32], first[64];
	char *body;
	struct client_response res;

	new_token(token, sizeof(token));
	expect_post(token, "first_name", "\"\"", 400);
	expect_post(token, "first_name", "\"   \"", 400);
	expect_post(token, "first_name", "\"\\t \\n \"", 400);
	expect_post(token, "last_name", "\"  \"", 400);
	cr_assert_eq(search_count(token), 0);

	body = client_format("{\"first_name\": \"  Ann %s  \", \"last_name\": \"\\tOkello \", "
	                     "\"date_of_birth\": \"1990-01-01\", \"gender\": \"female\"}",
	                     token);
	client_post_json("/api/patients/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	snprintf(first, sizeof(first), "Ann %s", token);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), first);
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Okello");
	client_response_free(&res);
}

/* Unicode white space is trimmed as DRF (Python's str.strip()) does: a name
 * of no-break, em or ideographic spaces is blank (400) and "\u00a0Ann\u3000"
 * is stored as "Ann". (Once only ASCII white space was trimmed.) */
Test(patients_fields, unicode_white_space_is_trimmed_too)
{
	static const char *const blank[] = {
	    "\"\\u00a0\\u00a0\"", "\"\\u2003\"",     "\"\\u3000\"", "\"\\f\"",
	    "\"\\u000b\"",        "\" \\u00a0\\t\"",
	};
	char token[32], first[64];
	char *body;
	struct client_response res;

	/* Non-fatal checks: the test reports every case and frees all. */
	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(blank) / sizeof(blank[0]); i++) {
		body = body_with(token, "first_name", blank[i]);
		client_post_json("/api/patients/", client_admin_token(), body, &res);
		cr_expect(res.status == 400 && client_has_field_error(&res, "first_name"),
		          "first_name %s: expected 400, got %ld: %s", blank[i], res.status,
		          res.body);
		client_response_free(&res);
		free(body);
	}
	body =
	    client_format("{\"first_name\": \"\\u00a0Ann %s\\u3000\", \"last_name\": \"Okello\", "
	                  "\"date_of_birth\": \"1990-01-01\", \"gender\": \"female\"}",
	                  token);
	client_post_json("/api/patients/", client_admin_token(), body, &res);
	free(body);
	snprintf(first, sizeof(first), "Ann %s", token);
	cr_expect_eq(res.status, 201, "%s", res.body);
	cr_expect(client_json_string(&res, "first_name") != NULL &&
	              strcmp(client_json_string(&res, "first_name"), first) == 0,
	          "expected \"%s\": %s", first, res.body);
	client_response_free(&res);
}

Test(patients_fields, blood_type_is_one_of_the_eight_groups)
{
	static const char *const good[] = {"A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"};
	static const char *const bad[] = {"\"C+\"",  "\"a+\"", "\"AB\"", "\"O\"",
	                                  "\"A +\"", "\"0+\"", "1",      "[\"A+\"]"};
	char token[32], path[64];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_post(token, "blood_type", bad[i], 400);
	id = add_patient(token, "Blood", "Group", "1977-07-07", "other", NULL);
	patient_path(id, path, sizeof(path));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *body = client_format("{\"blood_type\": \"%s\"}", good[i]);

		client_patch_json(path, client_admin_token(), body, &res);
		free(body);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "blood_type"), good[i]);
		client_response_free(&res);
	}
	client_patch_json(path, client_admin_token(), "{\"blood_type\": \"Z-\"}", &res);
	client_assert_field_error(&res, "blood_type");
	client_response_free(&res);
	get_patient(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "blood_type"), "O-");
	client_response_free(&res);
}

/* --- search (SPEC section 3) --------------------------------------------------------- */

/* search="<words> <token>": the patients it finds, exactly ids. */
static void expect_words(const char *words, const char *token, const long long *ids, size_t n)
{
	char *text = client_format("%s %s", words, token);

	expect_search(text, NULL, ids, n, 0);
	free(text);
}

Test(patients_search, matches_the_start_of_words_only)
{
	char token[32];
	long long mary, other;

	new_token(token, sizeof(token));
	mary = add_patient(token, "Mary", "Kintu", "1985-04-04", "female", NULL);
	other = add_patient(token, "Peter", "Okot", "1979-02-02", "male", NULL);
	{
		const long long both[] = {mary, other};

		expect_search(token, NULL, both, 2, 0);
	}
	expect_words("kin", token, &mary, 1);
	expect_words("Kintu", token, &mary, 1);
	expect_words("KIN", token, &mary, 1);
	expect_words("k", token, &mary, 1);
	expect_words("intu", token, NULL, 0);
	expect_words("ntu", token, NULL, 0);
	expect_words("kintux", token, NULL, 0);
	/* Every word must match. */
	expect_words("mary kin", token, &mary, 1);
	expect_words("kin mary", token, &mary, 1);
	expect_words("MA KI", token, &mary, 1);
	expect_words("mary zzz", token, NULL, 0);
	expect_words("mary okot", token, NULL, 0);
	expect_words("pet", token, &other, 1);
	/* The token alone is a word start too; a longer word is not. */
	{
		char *longer = client_format("%sx", token);

		expect_search(longer, NULL, NULL, 0, 0);
		free(longer);
	}
	/* Several spaces and surrounding space do not matter. */
	{
		char *text = client_format("  mary    kin   %s ", token);

		expect_search(text, NULL, &mary, 1, 0);
		free(text);
	}
}

Test(patients_search, is_accent_and_case_insensitive)
{
	char token[32];
	long long jose, muller, plain;

	new_token(token, sizeof(token));
	jose = add_patient(token, "Jos\xc3\xa9", "Nsubuga", "1990-10-10", "male", NULL);
	muller = add_patient(token, "Anna", "M\xc3\xbcller", "1960-06-06", "female", NULL);
	plain = add_patient(token, "Zoe", "Muller", "1961-06-06", "female", NULL);
	expect_words("jose", token, &jose, 1);
	expect_words("JOSE", token, &jose, 1);
	expect_words("Jos\xc3\xa9", token, &jose, 1);
	expect_words("JOS\xc3\x89", token, &jose, 1);
	{
		const long long both[] = {muller, plain};

		expect_words("MULLER", token, both, 2);
		expect_words("m\xc3\xbcller", token, both, 2);
		expect_words("mul", token, both, 2);
	}
	expect_words("anna m\xc3\xbc", token, &muller, 1);
}

Test(patients_search, mrn_phone_and_email_match_whole_values)
{
	char token[32], mrn[32], lower[32], phone[32], email[96], upper_email[96];
	struct client_response res;
	char *extra;
	long long id, other;

	new_token(token, sizeof(token));
	/* A phone and an email no other test uses. */
	{
		unsigned long long h = 14695981039346656037ULL;

		for (const char *p = token; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		snprintf(phone, sizeof(phone), "+256 7%08llu", h % 100000000ULL);
	}
	snprintf(email, sizeof(email), "x%s@example.org", token);
	extra =
	    client_format(", \"contact_phone\": \"%s\", \"contact_email\": \"%s\"", phone, email);
	id = add_patient(token, "Ident", "Ifier", "1993-03-03", "other", extra);
	free(extra);
	other = add_patient(token, "Ident", "Other", "1993-03-03", "other", NULL);
	get_patient(id, &res, NULL, 0);
	snprintf(mrn, sizeof(mrn), "%s", client_json_str(res.json, "medical_record_number"));
	client_response_free(&res);

	expect_search(mrn, NULL, &id, 1, 1);
	for (size_t i = 0; i <= strlen(mrn); i++)
		lower[i] = (char)((mrn[i] >= 'A' && mrn[i] <= 'Z') ? mrn[i] + 32 : mrn[i]);
	expect_search(lower, NULL, &id, 1, 1);
	/* Not a prefix of the number, nor the number with a digit more. */
	{
		char part[32], more[40];

		snprintf(part, sizeof(part), "%.11s", mrn);
		expect_search(part, NULL, NULL, 0, 0);
		snprintf(more, sizeof(more), "%s0", mrn);
		expect_search(more, NULL, NULL, 0, 0);
	}
	expect_search(phone, NULL, &id, 1, 1);
	{
		char part[32];

		snprintf(part, sizeof(part), "%.9s", phone);
		expect_search(part, NULL, NULL, 0, 0);
	}
	expect_search(email, NULL, &id, 1, 1);
	for (size_t i = 0; i <= strlen(email); i++)
		upper_email[i] =
		    (char)((email[i] >= 'a' && email[i] <= 'z') ? email[i] - 32 : email[i]);
	expect_search(upper_email, NULL, &id, 1, 1);
	{
		char part[96];

		snprintf(part, sizeof(part), "x%s@example", token);
		expect_search(part, NULL, NULL, 0, 0);
	}
	/* The other patient of the test was there all along. */
	{
		const long long both[] = {id, other};

		expect_search(token, NULL, both, 2, 0);
	}
}

/* An MRN or email pasted with a space around it still matches: the space
 * is not part of the identifier. */
Test(patients_search, identifier_with_surrounding_space_still_matches)
{
	char token[32], mrn[32], text[128], email[96];
	struct client_response res;
	char *extra;
	long long id;

	new_token(token, sizeof(token));
	snprintf(email, sizeof(email), "y%s@example.org", token);
	extra = client_format(", \"contact_email\": \"%s\"", email);
	id = add_patient(token, "Padded", "Search", "1990-01-01", "other", extra);
	free(extra);
	get_patient(id, &res, NULL, 0);
	snprintf(mrn, sizeof(mrn), "%s", client_json_str(res.json, "medical_record_number"));
	client_response_free(&res);
	/* Without the space: found (see mrn_phone_and_email_match_whole_values). */
	expect_search(mrn, NULL, &id, 1, 1);
	/* Non-fatal checks: every case is reported. */
	snprintf(text, sizeof(text), " %s ", mrn);
	cr_expect_eq(search_count(text), 1, "search='%s' does not find patient %lld", text, id);
	snprintf(text, sizeof(text), "%s ", mrn);
	cr_expect_eq(search_count(text), 1, "search='%s' does not find patient %lld", text, id);
	snprintf(text, sizeof(text), " %s", email);
	cr_expect_eq(search_count(text), 1, "search='%s' does not find patient %lld", text, id);
}

/* SPEC section 3: name words by prefix "and identifiers such as the MRN
 * exactly; several words must all match" - each word may be either, so
 * "<MRN> kin" finds the patient. */
Test(patients_search, an_mrn_and_a_name_word_together_find_the_patient)
{
	char token[32], mrn[32], text[96];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Mary", "Kintu", "1985-04-04", "female", NULL);
	add_patient(token, "Mary", "Other", "1985-04-04", "female", NULL);
	get_patient(id, &res, NULL, 0);
	snprintf(mrn, sizeof(mrn), "%s", client_json_str(res.json, "medical_record_number"));
	client_response_free(&res);
	/* The MRN with a word of another patient's name: nobody. */
	snprintf(text, sizeof(text), "%s other", mrn);
	cr_assert_eq(search_count(text), 0, "search='%s'", text);
	snprintf(text, sizeof(text), "%s kin", mrn);
	cr_expect_eq(search_count(text), 1, "search='%s' does not find patient %lld", text, id);
	snprintf(text, sizeof(text), "kin %s", mrn);
	cr_expect_eq(search_count(text), 1, "search='%s' does not find patient %lld", text, id);
}

Test(patients_search, hostile_text_finds_nothing_extra_and_never_fails)
{
	static const char *const hostile[] = {
	    "' OR 1=1 --",
	    "' OR '1'='1",
	    "a' | 'b",
	    "x' & !'y",
	    ":*",
	    "&",
	    "|",
	    "!",
	    "!!",
	    "(",
	    ")",
	    "<->",
	    "\\",
	    "\\\\",
	    "\\'",
	    "'",
	    "\"",
	    "%",
	    "_",
	    "*",
	    "; DROP TABLE patients; --",
	    "$1",
	    "\xe2\x80\x8b", /* zero-width space */
	    "\xf0\x9f\x98\x80",
	};
	char token[32];
	long long ids[2];

	new_token(token, sizeof(token));
	ids[0] = add_patient(token, "Alice", "Bwire", "1990-01-01", "female", NULL);
	ids[1] = add_patient(token, "Aaron", "Bbaale", "1992-01-01", "male", NULL);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct client_response res;
		struct json_object *results;
		char *text = client_format("%s %s", token, hostile[i]);

		/* With the token: never more than the token alone finds. */
		results = search(text, NULL, &res);
		cr_assert_leq(client_count_of(&res), 2, "'%s': %s", text, res.body);
		for (size_t r = 0; r < json_object_array_length(results); r++)
			cr_assert(contains_id(
			              ids, 2,
			              client_json_int(json_object_array_get_idx(results, r), "id")),
			          "'%s' found a stranger: %s", text, res.body);
		client_response_free(&res);
		free(text);
		/* Alone: an answer, never a server error. */
		{
			char *enc = client_url_encode(hostile[i]);
			char *query = client_format("search=%s", enc);

			get_list(client_admin_token(), query, &res);
			cr_assert_lt(res.status, 500, "'%s': %ld %s", hostile[i], res.status,
			             res.body);
			cr_assert(res.status == 200 || res.status == 400, "'%s': %ld %s",
			          hostile[i], res.status, res.body);
			client_response_free(&res);
			free(query);
			free(enc);
		}
	}
	/* The words of "' OR 1=1 --" must all match: none of these names has
	 * them, and the OR is no operator. */
	expect_words("' OR 1=1 --", token, NULL, 0);
	expect_words("' OR '1'='1", token, NULL, 0);
	{
		struct client_response res;

		search("' OR 1=1 --", NULL, &res);
		cr_assert_eq(client_count_of(&res), 0, "%s", res.body);
		client_response_free(&res);
	}
	/* "a' | 'b" is the words a and b, both required: Alice Bwire and
	 * Aaron Bbaale each have both. */
	expect_words("a' | 'b", token, ids, 2);
	expect_words("al' | 'bb", token, NULL, 0);
	/* tsquery syntax in the text is text: the token still finds both. */
	expect_words(":*", token, ids, 2);
	expect_words("&", token, ids, 2);
	/* A NUL byte is not text. */
	{
		struct client_response res;

		get_list(client_admin_token(), "search=%00", &res);
		client_assert_status(&res, 400);
		client_response_free(&res);
		get_list(client_admin_token(), "search=a%00b", &res);
		client_assert_status(&res, 400);
		client_response_free(&res);
	}
	/* And the table is still there. */
	expect_search(token, NULL, ids, 2, 0);
}

/* --- filters ---------------------------------------------------------------------------- */

Test(patients_filters, gender_and_birth_dates_inclusive)
{
	char token[32];
	long long a, b, c, d;

	new_token(token, sizeof(token));
	a = add_patient(token, "Filter", "Alpha", "1980-01-01", "male", NULL);
	b = add_patient(token, "Filter", "Bravo", "1990-06-15", "female", NULL);
	c = add_patient(token, "Filter", "Charlie", "1990-06-16", "other", NULL);
	d = add_patient(token, "Filter", "Delta", "2000-12-31", "unknown", NULL);
	{
		const long long all[] = {a, b, c, d};
		const long long after[] = {b, c, d};
		const long long before[] = {a, b};
		const long long between[] = {b, c};

		expect_search(token, "", all, 4, 0);
		expect_search(token, "gender=male", &a, 1, 0);
		expect_search(token, "gender=female", &b, 1, 0);
		expect_search(token, "gender=other", &c, 1, 0);
		expect_search(token, "gender=unknown", &d, 1, 0);
		expect_search(token, "date_of_birth=1990-06-15", &b, 1, 0);
		expect_search(token, "date_of_birth=1990-06-14", NULL, 0, 0);
		expect_search(token, "born_after=1990-06-15", after, 3, 0);
		expect_search(token, "born_before=1990-06-15", before, 2, 0);
		expect_search(token, "born_after=1990-06-15&born_before=1990-06-16", between, 2, 0);
		expect_search(token, "born_after=1990-06-16&born_before=1990-06-15", NULL, 0, 0);
		expect_search(token, "born_after=2000-12-31", &d, 1, 0);
		expect_search(token, "born_after=2001-01-01", NULL, 0, 0);
		expect_search(token, "born_before=1980-01-01", &a, 1, 0);
		expect_search(token, "born_before=1979-12-31", NULL, 0, 0);
		expect_search(token, "born_after=1985-01-01&gender=other", &c, 1, 0);
		expect_search(token, "born_after=1985-01-01&gender=male", NULL, 0, 0);
	}
}

Test(patients_filters, malformed_values_are_400)
{
	static const struct {
		const char *query, *field;
	} cases[] = {
	    {"gender=Male", "gender"},
	    {"gender=x", "gender"},
	    {"gender=male%27%20OR%20%271%27%3D%271", "gender"},
	    {"date_of_birth=1990-02-30", "date_of_birth"},
	    {"date_of_birth=1990-1-1", "date_of_birth"},
	    {"date_of_birth=19900101", "date_of_birth"},
	    {"date_of_birth=1990-01-01%27%20OR%201%3D1", "date_of_birth"},
	    {"born_after=yesterday", "born_after"},
	    {"born_after=1990-13-01", "born_after"},
	    {"born_before=1990-06-15T00:00:00Z", "born_before"},
	    {"born_before=%3B%20DROP%20TABLE%20patients", "born_before"},
	};
	struct client_response res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		get_list(client_admin_token(), cases[i].query, &res);
		client_assert_field_error(&res, cases[i].field);
		client_response_free(&res);
	}
}

/* --- ordering --------------------------------------------------------------------------- */

Test(patients_ordering, each_field_both_ways_and_lists)
{
	char token[32];
	long long p1, p2, p3, p4;

	new_token(token, sizeof(token));
	/* Created in this order, so created_at orders them p1..p4. */
	p1 = add_patient(token, "Cora", "Baker", "1985-01-01", "female", NULL);
	p2 = add_patient(token, "Abel", "Carter", "1975-01-01", "male", NULL);
	p3 = add_patient(token, "Bree", "Adams", "1995-01-01", "female", NULL);
	p4 = add_patient(token, "Abel", "Adams", "1965-01-01", "male", NULL);
	{
		const long long by_last_first[] = {p4, p3, p1, p2};
		const long long by_last_minus_first[] = {p3, p4, p1, p2};
		const long long by_minus_last_first[] = {p2, p1, p4, p3};
		const long long by_first_last[] = {p4, p2, p3, p1};
		const long long by_minus_first_minus_last[] = {p1, p3, p2, p4};
		const long long by_dob[] = {p4, p2, p1, p3};
		const long long by_minus_dob[] = {p3, p1, p2, p4};
		const long long by_created[] = {p1, p2, p3, p4};
		const long long by_minus_created[] = {p4, p3, p2, p1};

		expect_search(token, "ordering=last_name,first_name", by_last_first, 4, 1);
		expect_search(token, "ordering=last_name,-first_name", by_last_minus_first, 4, 1);
		expect_search(token, "ordering=-last_name,first_name", by_minus_last_first, 4, 1);
		expect_search(token, "ordering=first_name,last_name", by_first_last, 4, 1);
		expect_search(token, "ordering=-first_name,-last_name", by_minus_first_minus_last,
		              4, 1);
		expect_search(token, "ordering=date_of_birth", by_dob, 4, 1);
		expect_search(token, "ordering=-date_of_birth", by_minus_dob, 4, 1);
		expect_search(token, "ordering=created_at", by_created, 4, 1);
		expect_search(token, "ordering=-created_at", by_minus_created, 4, 1);
		/* The default is by name. */
		expect_search(token, NULL, by_last_first, 4, 1);
	}
	/* One key: only that key's order is promised. */
	{
		static const char *const asc[] = {"Adams", "Adams", "Baker", "Carter"};
		static const char *const desc[] = {"Carter", "Baker", "Adams", "Adams"};
		struct client_response res;
		struct json_object *rows;

		rows = search(token, "ordering=last_name", &res);
		cr_assert_eq(json_object_array_length(rows), 4);
		for (size_t i = 0; i < 4; i++)
			cr_assert_str_eq(
			    client_json_str(json_object_array_get_idx(rows, i), "last_name"),
			    asc[i]);
		client_response_free(&res);
		rows = search(token, "ordering=-last_name", &res);
		cr_assert_eq(json_object_array_length(rows), 4);
		for (size_t i = 0; i < 4; i++)
			cr_assert_str_eq(
			    client_json_str(json_object_array_get_idx(rows, i), "last_name"),
			    desc[i]);
		client_response_free(&res);
		rows = search(token, "ordering=first_name", &res);
		cr_assert_eq(json_object_array_length(rows), 4);
		cr_assert_eq(
		    strncmp(client_json_str(json_object_array_get_idx(rows, 0), "first_name"),
		            "Abel", 4),
		    0, "%s", res.body);
		cr_assert_eq(
		    strncmp(client_json_str(json_object_array_get_idx(rows, 3), "first_name"),
		            "Cora", 4),
		    0, "%s", res.body);
		client_response_free(&res);
	}
}

Test(patients_ordering, unknown_fields_and_injection_are_400)
{
	static const char *const bad[] = {
	    "gender",
	    "nope",
	    "id%3B",
	    "last_name,nope",
	    "-",
	    "--last_name",
	    "%2C",
	    "last_name%20DESC",
	    "last_name%3B%20DROP%20TABLE%20patients",
	    "%28SELECT%201%29",
	    "1",
	    "last_name--",
	    "search_vector",
	    "is_deleted",
	    "medical_record_number",
	    "LAST_NAME",
	};
	struct client_response res;
	char token[32];
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Order", "Injection", "1990-01-01", "other", NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *query = client_format("ordering=%s", bad[i]);

		get_list(client_admin_token(), query, &res);
		client_assert_field_error(&res, "ordering");
		client_response_free(&res);
		free(query);
	}
	/* Nothing happened to the table. */
	expect_search(token, "ordering=-last_name", &id, 1, 1);
}

/* --- paging ------------------------------------------------------------------------------ */

/* n patients straight in the database (no API, no audit): first name
 * "Page<i> <token>". */
static void insert_patients(const char *token, int n)
{
	char sql[512];
	char *ok;

	snprintf(sql, sizeof(sql),
	         "INSERT INTO patients (first_name, last_name, date_of_birth, gender) "
	         "SELECT 'Page' || g || ' %s', 'Paging', DATE '1990-01-01' + g, 'other' "
	         "FROM generate_series(1, %d) g RETURNING id",
	         token, n);
	ok = client_sql_value(sql);
	cr_assert_not_null(ok);
	free(ok);
}

static size_t rows_of(const char *query, struct client_response *res)
{
	get_list(client_admin_token(), query, res);
	return json_object_array_length(client_list_results(res));
}

Test(patients_paging, page_size_default_20_and_clamped_to_100)
{
	char token[32], query[256];
	struct client_response res;

	new_token(token, sizeof(token));
	insert_patients(token, 105);
	snprintf(query, sizeof(query), "search=%s", token);
	cr_assert_eq(rows_of(query, &res), 20, "%s", res.body);
	cr_assert_eq(client_count_of(&res), 105);
	cr_assert_not_null(client_json_string(&res, "next"), "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "previous"), "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page_size=1000", token);
	cr_assert_eq(rows_of(query, &res), 100, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page_size=101", token);
	cr_assert_eq(rows_of(query, &res), 100, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page_size=7", token);
	cr_assert_eq(rows_of(query, &res), 7, "%s", res.body);
	client_response_free(&res);
	/* A page_size that is not a positive number is the default. */
	snprintf(query, sizeof(query), "search=%s&page_size=abc", token);
	cr_assert_eq(rows_of(query, &res), 20, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page_size=0", token);
	cr_assert_eq(rows_of(query, &res), 20, "%s", res.body);
	client_response_free(&res);
	/* Clamped pages: the second of 100 holds the last 5. */
	snprintf(query, sizeof(query), "search=%s&page_size=1000&page=2", token);
	cr_assert_eq(rows_of(query, &res), 5, "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "next"), "%s", res.body);
	client_response_free(&res);
}

Test(patients_paging, pages_past_the_end_and_bad_pages_are_404)
{
	static const char *const bad[] = {"0", "-1", "abc", "1.5", "", "%201"};
	char token[32], query[256];
	struct client_response res;

	new_token(token, sizeof(token));
	insert_patients(token, 45);
	snprintf(query, sizeof(query), "search=%s&page=3", token);
	cr_assert_eq(rows_of(query, &res), 5, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page=4", token);
	get_list(client_admin_token(), query, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	/* Far past the end but within list_max_offset (10,000 rows): still
	 * 404; deeper than that is a 400 that names the cursor
	 * (test_lists.c). */
	snprintf(query, sizeof(query), "search=%s&page=500", token);
	get_list(client_admin_token(), query, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(query, sizeof(query), "search=%s&page=%s", token, bad[i]);
		get_list(client_admin_token(), query, &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
	}
}

Test(patients_paging, empty_result_first_page_is_200)
{
	char token[32], query[256];
	struct client_response res;

	new_token(token, sizeof(token));
	snprintf(query, sizeof(query), "search=%s", token);
	cr_assert_eq(rows_of(query, &res), 0, "%s", res.body);
	cr_assert_eq(client_count_of(&res), 0);
	cr_assert_null(json_object_object_get(res.json, "next"), "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "previous"), "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page=1", token);
	cr_assert_eq(rows_of(query, &res), 0, "%s", res.body);
	client_response_free(&res);
	snprintf(query, sizeof(query), "search=%s&page=2", token);
	get_list(client_admin_token(), query, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

/* Follows a next/previous link: asserts it is absolute on the stack, that
 * it keeps the query, and GETs it. */
static void follow(const char *url, const char *token, struct client_response *res)
{
	const char *path = client_path_of_url(url);

	cr_assert_not_null(path, "'%s' is not an absolute URL of %s", url,
	                   client_env("HMS_TEST_BASE_URL"));
	cr_assert_eq(strncmp(path, "/api/patients/?", 15), 0, "%s", url);
	cr_assert_not_null(strstr(path, token), "the link lost the search: %s", url);
	cr_assert_not_null(strstr(path, "page_size=30"), "the link lost page_size: %s", url);
	cr_assert_not_null(strstr(path, "ordering=-date_of_birth"), "the link lost ordering: %s",
	                   url);
	client_get_auth(path, client_admin_token(), res);
	client_list_results(res);
}

Test(patients_paging, next_and_previous_links_work_when_followed)
{
	char token[32], query[256];
	struct client_response res;
	long long seen[105], first_page[30];
	size_t n_seen = 0, sizes[8], pages = 0;
	char *next;

	new_token(token, sizeof(token));
	insert_patients(token, 105);
	snprintf(query, sizeof(query), "search=%s&page_size=30&ordering=-date_of_birth", token);
	get_list(client_admin_token(), query, &res);
	for (;;) {
		struct json_object *rows = client_list_results(&res);
		const char *link;

		cr_assert_eq(client_count_of(&res), 105);
		cr_assert_lt(pages, 8);
		sizes[pages++] = json_object_array_length(rows);
		for (size_t i = 0; i < json_object_array_length(rows); i++) {
			long long id = client_json_int(json_object_array_get_idx(rows, i), "id");

			cr_assert_not(contains_id(seen, n_seen, id), "patient %lld twice", id);
			cr_assert_lt(n_seen, 105);
			seen[n_seen++] = id;
			if (pages == 1)
				first_page[i] = id;
		}
		link = client_json_string(&res, "previous");
		if (pages == 1)
			cr_assert_null(link, "%s", res.body);
		else
			cr_assert_not_null(link, "%s", res.body);
		link = client_json_string(&res, "next");
		if (link == NULL)
			break;
		next = strdup(link);
		client_response_free(&res);
		follow(next, token, &res);
		free(next);
	}
	cr_assert_eq(pages, 4);
	cr_assert_eq(sizes[0], 30);
	cr_assert_eq(sizes[1], 30);
	cr_assert_eq(sizes[2], 30);
	cr_assert_eq(sizes[3], 15);
	cr_assert_eq(n_seen, 105);
	/* Back from the last page to the first, by previous links. */
	for (int back = 0; back < 3; back++) {
		const char *link = client_json_string(&res, "previous");
		char *prev;

		cr_assert_not_null(link, "%s", res.body);
		prev = strdup(link);
		client_response_free(&res);
		follow(prev, token, &res);
		free(prev);
	}
	{
		struct json_object *rows = client_list_results(&res);

		cr_assert_null(json_object_object_get(res.json, "previous"), "%s", res.body);
		expect_ids(rows, first_page, 30, 1, "first page again");
	}
	client_response_free(&res);
}

/* --- GET, PUT, PATCH /api/patients/{id}/ ---------------------------------------------- */

/* An ETag is strong and names the row: "<id>-<version>" in quotes. */
static void assert_etag_of(const char *etag, long long id)
{
	char prefix[32];
	size_t len = strlen(etag), plen;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "\"%lld-", id);
	cr_assert_gt(len, plen + 1, "ETag %s", etag);
	cr_assert_eq(strncmp(etag, prefix, plen), 0, "ETag %s of patient %lld", etag, id);
	cr_assert_eq(etag[len - 1], '"', "ETag %s", etag);
	cr_assert_eq(strspn(etag + plen, "0123456789"), len - plen - 1, "ETag %s", etag);
}

Test(patients_get, one_patient_with_etag_and_404s)
{
	static const char *const missing[] = {"/api/patients/999999999999/", "/api/patients/0/",
	                                      "/api/patients/abc/", "/api/patients/-1/"};
	char token[32], etag[128], again[128], path[64];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Single", "Reader", "1966-06-16", "male", NULL);
	get_patient(id, &res, etag, sizeof(etag));
	assert_etag_of(etag, id);
	cr_assert_eq(client_json_int(res.json, "id"), id);
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Reader");
	cr_assert_eq(json_object_object_length(res.json), 15, "%s", res.body);
	client_response_free(&res);
	/* Unchanged, the same tag. */
	get_patient(id, &res, again, sizeof(again));
	cr_assert_str_eq(etag, again);
	client_response_free(&res);
	/* Without the final slash too. */
	snprintf(path, sizeof(path), "/api/patients/%lld", id);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		client_get_auth(missing[i], client_admin_token(), &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
	}
	/* Writes to a patient that does not exist are 404 too. */
	client_patch_json("/api/patients/999999999999/", client_admin_token(),
	                  "{\"first_name\": \"Ghost\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	{
		char *body = patient_body(NULL, "Ghost", "Patient", "1990-01-01", "male", NULL);

		client_put_json("/api/patients/999999999999/", client_admin_token(), body, &res);
		free(body);
	}
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_delete_auth("/api/patients/999999999999/", client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_post_json("/api/patients/999999999999/restore/", client_admin_token(), NULL, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

Test(patients_write, put_replaces_and_patch_updates_given_fields)
{
	char token[32], path[64], first[64], etag[128];
	struct client_response res;
	char *body;
	long long id;
	char mrn[32];

	new_token(token, sizeof(token));
	id = add_patient(token, "Before", "Replace", "1950-05-05", "female",
	                 ", \"allergies\": \"Latex\", \"blood_type\": \"B+\"");
	patient_path(id, path, sizeof(path));
	get_patient(id, &res, etag, sizeof(etag));
	snprintf(mrn, sizeof(mrn), "%s", client_json_str(res.json, "medical_record_number"));
	client_response_free(&res);

	body = patient_body(token, "After", "Replaced", "1951-06-06", "other",
	                    ", \"contact_phone\": \"+256 701 000001\", \"contact_email\": "
	                    "\"after@example.org\", \"address\": \"Gulu\", \"emergency_contact\": "
	                    "\"Sister\", \"blood_type\": \"O+\", \"allergies\": \"None known\", "
	                    "\"medical_record_number\": \"MRN000000000\", \"id\": 1, "
	                    "\"is_deleted\": true");
	client_put_json(path, client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 200);
	snprintf(first, sizeof(first), "After %s", token);
	cr_assert_eq(client_json_int(res.json, "id"), id);
	cr_assert_str_eq(client_json_str(res.json, "medical_record_number"), mrn);
	cr_assert_str_eq(client_json_str(res.json, "first_name"), first);
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Replaced");
	cr_assert_str_eq(client_json_str(res.json, "date_of_birth"), "1951-06-06");
	cr_assert_str_eq(client_json_str(res.json, "gender"), "other");
	cr_assert_str_eq(client_json_str(res.json, "contact_phone"), "+256 701 000001");
	cr_assert_str_eq(client_json_str(res.json, "contact_email"), "after@example.org");
	cr_assert_str_eq(client_json_str(res.json, "address"), "Gulu");
	cr_assert_str_eq(client_json_str(res.json, "emergency_contact"), "Sister");
	cr_assert_str_eq(client_json_str(res.json, "blood_type"), "O+");
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "None known");
	cr_assert_not(client_json_flag(res.json, "is_deleted"));
	cr_assert_str_neq(client_header(&res, "ETag"), etag);
	client_response_free(&res);

	/* PATCH one field; the others stay as PUT left them. */
	client_patch_json(path, client_admin_token(), "{\"allergies\": \"Peanuts\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Peanuts");
	cr_assert_str_eq(client_json_str(res.json, "address"), "Gulu");
	cr_assert_str_eq(client_json_str(res.json, "first_name"), first);
	client_response_free(&res);
	get_patient(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Peanuts");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Replaced");
	cr_assert_str_eq(client_json_str(res.json, "medical_record_number"), mrn);
	client_response_free(&res);
	/* Optional fields can be cleared. */
	client_patch_json(path, client_admin_token(),
	                  "{\"contact_email\": \"\", \"address\": \"\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "contact_email"), "");
	cr_assert_str_eq(client_json_str(res.json, "address"), "");
	client_response_free(&res);
	/* A write answers JSON only for JSON. */
	{
		const char *headers[] = {"Content-Type: text/plain", NULL};

		client_call_headers("PATCH", path, client_admin_token(), headers, NULL, &res);
		cr_assert(res.status == 415 || res.status == 400, "%ld: %s", res.status, res.body);
		client_response_free(&res);
	}
}

/* PATCH path with If-Match: tag (NULL: none) and body as the admin. */
static void patch_if_match(const char *path, const char *tag, const char *body,
                           struct client_response *res)
{
	char header[256];
	const char *headers[] = {header, NULL};

	snprintf(header, sizeof(header), "If-Match: %s", tag != NULL ? tag : "");
	client_call_headers("PATCH", path, client_admin_token(), tag != NULL ? headers : NULL, body,
	                    res);
}

static void put_if_match(const char *path, const char *tag, const char *body,
                         struct client_response *res)
{
	char header[256];
	const char *headers[] = {header, NULL};

	snprintf(header, sizeof(header), "If-Match: %s", tag);
	client_call_headers("PUT", path, client_admin_token(), headers, body, res);
}

Test(patients_etag, stale_if_match_is_412_and_changes_nothing)
{
	char token[32], path[64], first_tag[128], second_tag[128], third_tag[128], weak[140];
	struct client_response res;
	char *body;
	long long id, other;

	new_token(token, sizeof(token));
	id = add_patient(token, "Concurrent", "Nurse", "1982-02-02", "female",
	                 ", \"allergies\": \"None\"");
	other = add_patient(token, "Other", "Row", "1982-02-02", "female", NULL);
	patient_path(id, path, sizeof(path));
	get_patient(id, &res, first_tag, sizeof(first_tag));
	client_response_free(&res);

	/* The first nurse writes with the current tag: 200 and a new tag. */
	patch_if_match(path, first_tag, "{\"allergies\": \"Aspirin\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_not_null(client_header(&res, "ETag"));
	snprintf(second_tag, sizeof(second_tag), "%s", client_header(&res, "ETag"));
	assert_etag_of(second_tag, id);
	cr_assert_str_neq(second_tag, first_tag);
	client_response_free(&res);
	get_patient(id, &res, third_tag, sizeof(third_tag));
	cr_assert_str_eq(third_tag, second_tag, "the GET after a write shows the write's tag");
	client_response_free(&res);

	/* The second nurse still holds the first tag: 412, and nothing changes. */
	patch_if_match(path, first_tag, "{\"allergies\": \"Sulfa\", \"last_name\": \"Lost\"}",
	               &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	body = patient_body(token, "Lost", "Update", "1983-03-03", "male", NULL);
	put_if_match(path, first_tag, body, &res);
	free(body);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	/* Another patient's tag, a weak tag and garbage never match. */
	{
		char other_tag[128];

		get_patient(other, &res, other_tag, sizeof(other_tag));
		client_response_free(&res);
		patch_if_match(path, other_tag, "{\"allergies\": \"Sulfa\"}", &res);
		client_assert_detail(&res, 412);
		client_response_free(&res);
	}
	snprintf(weak, sizeof(weak), "W/%s", second_tag);
	patch_if_match(path, weak, "{\"allergies\": \"Sulfa\"}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	patch_if_match(path, "\"garbage\"", "{\"allergies\": \"Sulfa\"}", &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	get_patient(id, &res, third_tag, sizeof(third_tag));
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Aspirin");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Nurse");
	cr_assert_str_eq(client_json_str(res.json, "gender"), "female");
	cr_assert_str_eq(third_tag, second_tag, "a refused write moved the version");
	client_response_free(&res);

	/* The current tag in a list of tags matches. */
	{
		char list[300];

		snprintf(list, sizeof(list), "\"999999-1\", %s", second_tag);
		patch_if_match(path, list, "{\"allergies\": \"Listed\"}", &res);
		client_assert_status(&res, 200);
		client_response_free(&res);
	}
	/* "*" and no If-Match write unconditionally. */
	patch_if_match(path, "*", "{\"allergies\": \"Star\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Star");
	client_response_free(&res);
	patch_if_match(path, NULL, "{\"allergies\": \"Unconditional\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Unconditional");
	client_response_free(&res);
	/* PUT with the current tag. */
	get_patient(id, &res, third_tag, sizeof(third_tag));
	client_response_free(&res);
	body = patient_body(token, "Put", "Current", "1984-04-04", "other", NULL);
	put_if_match(path, third_tag, body, &res);
	free(body);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "Current");
	cr_assert_str_neq(client_header(&res, "ETag"), third_tag);
	client_response_free(&res);
}

/* --- soft delete and restore ------------------------------------------------------------ */

Test(patients_delete, soft_delete_hides_and_restore_brings_back)
{
	char token[32], path[64], query[256], mrn[32];
	struct client_session nurse;
	struct client_response res;
	struct json_object *rows;
	long long id, kept;

	new_token(token, sizeof(token));
	client_open_session("nurse", &nurse);
	id = add_patient(token, "Deleted", "Later", "1955-05-05", "male", NULL);
	kept = add_patient(token, "Kept", "Alive", "1955-05-05", "male", NULL);
	patient_path(id, path, sizeof(path));
	get_patient(id, &res, NULL, 0);
	snprintf(mrn, sizeof(mrn), "%s", client_json_str(res.json, "medical_record_number"));
	client_response_free(&res);

	client_delete_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 204);
	cr_assert_eq(res.body_len, 0, "%s", res.body);
	client_response_free(&res);
	{
		char sql[128];

		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM patients WHERE id = %lld AND is_deleted", id);
		cr_assert_eq(client_sql_long(sql), 1, "the row must stay, marked deleted");
	}

	/* 404 for everyone, admin included, on every verb. */
	client_get_auth(path, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_get_auth(path, nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json(path, client_admin_token(), "{\"first_name\": \"Zombie\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json(path, nurse.tokens.access, "{\"first_name\": \"Zombie\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	{
		char *body = patient_body(token, "Zombie", "Put", "1955-05-05", "male", NULL);

		client_put_json(path, client_admin_token(), body, &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
		client_put_json(path, nurse.tokens.access, body, &res);
		client_assert_detail(&res, 404);
		client_response_free(&res);
		free(body);
	}
	client_delete_auth(path, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);

	/* Hidden from lists, except for an admin asking. */
	expect_search(token, NULL, &kept, 1, 0);
	snprintf(query, sizeof(query), "search=%s", token);
	get_list(nurse.tokens.access, query, &res);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 1, "%s", res.body);
	client_response_free(&res);
	{
		const long long both[] = {id, kept};

		expect_search(token, "include_deleted=true", both, 2, 0);
	}
	rows = search(token, "include_deleted=true&ordering=first_name", &res);
	cr_assert(client_json_flag(json_object_array_get_idx(rows, 0), "is_deleted"), "%s",
	          res.body);
	cr_assert_not(client_json_flag(json_object_array_get_idx(rows, 1), "is_deleted"), "%s",
	              res.body);
	client_response_free(&res);

	/* The admin may still read it, asking. */
	snprintf(query, sizeof(query), "%s?include_deleted=true", path);
	client_get_auth(query, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert(client_json_flag(res.json, "is_deleted"));
	cr_assert_str_eq(client_json_str(res.json, "medical_record_number"), mrn);
	client_response_free(&res);

	/* Restore: 200 with the patient, live again, same number. */
	snprintf(query, sizeof(query), "/api/patients/%lld/restore/", id);
	client_post_json(query, client_admin_token(), NULL, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "id"), id);
	cr_assert_not(client_json_flag(res.json, "is_deleted"));
	cr_assert_str_eq(client_json_str(res.json, "medical_record_number"), mrn);
	client_response_free(&res);
	get_patient(id, &res, NULL, 0);
	cr_assert_not(client_json_flag(res.json, "is_deleted"));
	cr_assert_str_eq(client_json_str(res.json, "medical_record_number"), mrn);
	client_response_free(&res);
	client_get_auth(path, nurse.tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	{
		const long long both[] = {id, kept};

		expect_search(token, NULL, both, 2, 0);
	}
	/* Restoring a live patient is a conflict. */
	client_post_json(query, client_admin_token(), NULL, &res);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	/* Writable again. */
	client_patch_json(path, nurse.tokens.access, "{\"allergies\": \"Back\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_close_session(&nurse);
}

Test(patients_delete, include_deleted_is_for_admins_only)
{
	char token[32], query[256];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Hidden", "Record", "1944-04-04", "female", NULL);
	for (size_t i = 0; i < sizeof(staff_roles) / sizeof(staff_roles[0]); i++) {
		struct client_session s;

		client_open_session(staff_roles[i], &s);
		snprintf(query, sizeof(query), "search=%s&include_deleted=true", token);
		get_list(s.tokens.access, query, &res);
		client_assert_detail(&res, 403);
		cr_assert_null(json_object_object_get(res.json, "results"), "%s", res.body);
		client_response_free(&res);
		snprintf(query, sizeof(query), "/api/patients/%lld/?include_deleted=true", id);
		client_get_auth(query, s.tokens.access, &res);
		client_assert_detail(&res, 403);
		cr_assert_null(strstr(res.body, "Hidden"), "%s", res.body);
		client_response_free(&res);
		/* include_deleted=false is just the normal list. */
		snprintf(query, sizeof(query), "search=%s&include_deleted=false", token);
		get_list(s.tokens.access, query, &res);
		cr_assert_eq(json_object_array_length(client_list_results(&res)), 1, "%s",
		             res.body);
		client_response_free(&res);
		client_close_session(&s);
	}
	/* Anything but a boolean is a clear 400 on that parameter, for anyone. */
	snprintf(query, sizeof(query), "search=%s&include_deleted=yes", token);
	get_list(client_admin_token(), query, &res);
	client_assert_field_error(&res, "include_deleted");
	client_response_free(&res);
	snprintf(query, sizeof(query), "/api/patients/%lld/?include_deleted=maybe", id);
	client_get_auth(query, client_admin_token(), &res);
	client_assert_field_error(&res, "include_deleted");
	client_response_free(&res);
}

/* --- SPEC section 4: who may do what ----------------------------------------------------- */

Test(patients_roles, every_role_reads)
{
	static const char *const roles[] = {"doctor", "nurse", "receptionist", "billing"};
	char token[32], query[256], path[64];
	struct client_response res;
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Readable", "Byall", "1988-08-18", "male", NULL);
	patient_path(id, path, sizeof(path));
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		struct client_session s;
		struct json_object *rows;

		client_open_session(roles[i], &s);
		snprintf(query, sizeof(query), "search=%s", token);
		get_list(s.tokens.access, query, &res);
		rows = client_list_results(&res);
		cr_assert_eq(json_object_array_length(rows), 1, "%s: %s", roles[i], res.body);
		client_response_free(&res);
		client_get_auth(path, s.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(client_json_int(res.json, "id"), id);
		cr_assert_not_null(client_header(&res, "ETag"));
		client_response_free(&res);
		client_close_session(&s);
	}
	/* And the admin. */
	get_patient(id, &res, NULL, 0);
	client_response_free(&res);
}

Test(patients_roles, create_and_update_for_all_but_billing)
{
	char token[32], path[64];
	struct client_response res;
	struct client_session billing;
	long long id;

	new_token(token, sizeof(token));
	for (size_t i = 0; i < sizeof(writer_roles) / sizeof(writer_roles[0]); i++) {
		struct client_session s;
		char *body;

		client_open_session(writer_roles[i], &s);
		body = patient_body(token, "Written", writer_roles[i], "1990-01-01", "other", NULL);
		id = create_patient_as(s.tokens.access, body);
		free(body);
		patient_path(id, path, sizeof(path));
		client_patch_json(path, s.tokens.access, "{\"allergies\": \"Patched\"}", &res);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "allergies"), "Patched");
		client_response_free(&res);
		body = patient_body(token, "Put", writer_roles[i], "1990-02-02", "other", NULL);
		client_put_json(path, s.tokens.access, body, &res);
		free(body);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "date_of_birth"), "1990-02-02");
		client_response_free(&res);
		client_close_session(&s);
	}
	cr_assert_eq(search_count(token), 3);

	/* Billing reads but never writes. */
	client_open_session("billing", &billing);
	{
		char *body = patient_body(token, "Billing", "Cannot", "1990-01-01", "other", NULL);

		client_post_json("/api/patients/", billing.tokens.access, body, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_put_json(path, billing.tokens.access, body, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		free(body);
	}
	client_patch_json(path, billing.tokens.access, "{\"allergies\": \"Billing\"}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	cr_assert_eq(search_count(token), 3);
	get_patient(id, &res, NULL, 0);
	cr_assert_str_eq(client_json_str(res.json, "allergies"), "Patched");
	cr_assert_str_eq(client_json_str(res.json, "last_name"), "receptionist");
	client_response_free(&res);
	client_close_session(&billing);
}

Test(patients_roles, delete_and_restore_for_admins_only)
{
	char token[32], path[64], restore[96];
	struct client_response res;
	long long live, gone;

	new_token(token, sizeof(token));
	live = add_patient(token, "Live", "Patient", "1970-07-07", "female", NULL);
	gone = add_patient(token, "Gone", "Patient", "1970-07-07", "female", NULL);
	patient_path(gone, path, sizeof(path));
	client_delete_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(staff_roles) / sizeof(staff_roles[0]); i++) {
		struct client_session s;

		client_open_session(staff_roles[i], &s);
		patient_path(live, path, sizeof(path));
		client_delete_auth(path, s.tokens.access, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		snprintf(restore, sizeof(restore), "/api/patients/%lld/restore/", gone);
		client_post_json(restore, s.tokens.access, NULL, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_close_session(&s);
	}
	/* Nothing moved. */
	expect_search(token, NULL, &live, 1, 0);
	snprintf(restore, sizeof(restore), "/api/patients/%lld/restore/", gone);
	client_post_json(restore, client_admin_token(), NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
}

Test(patients_roles, no_token_is_401)
{
	struct client_response res;
	char token[32], path[64], restore[96];
	char *body;
	long long id;

	new_token(token, sizeof(token));
	id = add_patient(token, "Anonymous", "Denied", "1990-01-01", "male", NULL);
	patient_path(id, path, sizeof(path));
	snprintf(restore, sizeof(restore), "/api/patients/%lld/restore/", id);
	body = patient_body(token, "Anon", "Write", "1990-01-01", "male", NULL);
	{
		const struct {
			const char *method, *path, *body;
		} calls[] = {
		    {"GET", "/api/patients/", NULL},
		    {"POST", "/api/patients/", body},
		    {"GET", path, NULL},
		    {"PUT", path, body},
		    {"PATCH", path, body},
		    {"DELETE", path, NULL},
		    {"POST", restore, NULL},
		};

		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
			client_call(calls[i].method, calls[i].path, NULL, NULL, calls[i].body,
			            &res);
			client_assert_detail(&res, 401);
			cr_assert_not_null(client_header(&res, "WWW-Authenticate"), "%s %s",
			                   calls[i].method, calls[i].path);
			cr_assert_null(strstr(res.body, "Anonymous"), "%s", res.body);
			client_response_free(&res);
		}
		/* A bad token is no better. */
		client_get_auth(path, "not.a.token", &res);
		client_assert_detail(&res, 401);
		client_response_free(&res);
	}
	free(body);
	cr_assert_eq(search_count(token), 1);
}

/* --- audit rows -------------------------------------------------------------------------- */

struct rid {
	char id[64];
	char header[96];
};

static void new_rid(const char *prefix, struct rid *r)
{
	client_unique_name(prefix, r->id, sizeof(r->id));
	snprintf(r->header, sizeof(r->header), "X-Request-ID: %s", r->id);
}

/* The audit row about patient id with request_id, or NULL; the caller puts it. */
static struct json_object *audit_row(long long id, const char *request_id, char **page_text)
{
	struct client_response res;
	struct json_object *rows, *found = NULL;
	char path[128];

	snprintf(path, sizeof(path), "/api/audit/?entity_type=patient&entity_id=%lld&page_size=100",
	         id);
	client_get_auth(path, client_admin_token(), &res);
	rows = client_list_results(&res);
	for (size_t i = 0; i < json_object_array_length(rows) && found == NULL; i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		struct json_object *v = json_object_object_get(row, "request_id");

		if (v != NULL && strcmp(json_object_get_string(v), request_id) == 0)
			found = json_object_get(row);
	}
	if (page_text != NULL)
		*page_text = strdup(res.body);
	client_response_free(&res);
	return found;
}

static void expect_audit(long long id, const struct rid *r, long long actor, const char *role,
                         const char *action)
{
	struct json_object *row = audit_row(id, r->id, NULL);
	const char *text;

	cr_assert_not_null(row, "no audit row '%s' for patient %lld (request %s)", action, id,
	                   r->id);
	text = json_object_to_json_string(row);
	cr_assert_eq(client_json_int(row, "actor"), actor, "%s", text);
	cr_assert_str_eq(client_json_str(row, "actor_role"), role, "%s", text);
	cr_assert_str_eq(client_json_str(row, "action"), action, "%s", text);
	cr_assert_str_eq(client_json_str(row, "entity_type"), "patient", "%s", text);
	cr_assert_eq(client_json_int(row, "entity_id"), id, "%s", text);
	cr_assert_str_eq(client_json_str(row, "request_id"), r->id, "%s", text);
	cr_assert_str_eq(client_json_str(row, "outcome"), "success", "%s", text);
	json_object_put(row);
}

Test(patients_audit, create_read_update_delete_restore_each_write_a_row)
{
	struct client_session nurse, doctor, clerk;
	struct rid create, read, update, put, del, restore;
	struct client_response res;
	char token[32], path[64], restore_path[96];
	char *body, *page;
	long long id, admin = admin_id();

	new_token(token, sizeof(token));
	client_open_session("nurse", &nurse);
	client_open_session("doctor", &doctor);
	client_open_session("receptionist", &clerk);
	new_rid("pcreate", &create);
	new_rid("pread", &read);
	new_rid("pupdate", &update);
	new_rid("pput", &put);
	new_rid("pdelete", &del);
	new_rid("prestore", &restore);

	body = patient_body(token, "Audited", "Secretname", "1977-11-11", "female", NULL);
	client_call("POST", "/api/patients/", nurse.tokens.access, create.header, body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	cr_assert_str_eq(client_header(&res, "X-Request-ID"), create.id);
	client_response_free(&res);
	patient_path(id, path, sizeof(path));
	snprintf(restore_path, sizeof(restore_path), "/api/patients/%lld/restore/", id);

	client_call("GET", path, doctor.tokens.access, read.header, NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call("PATCH", path, clerk.tokens.access, update.header,
	            "{\"allergies\": \"Codeine\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	body = patient_body(token, "Audited", "Secretname", "1977-11-12", "female", NULL);
	client_call("PUT", path, nurse.tokens.access, put.header, body, &res);
	free(body);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call("DELETE", path, client_admin_token(), del.header, NULL, &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	client_call("POST", restore_path, client_admin_token(), restore.header, NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);

	expect_audit(id, &create, nurse.user.id, "nurse", "create");
	expect_audit(id, &read, doctor.user.id, "doctor", "read");
	expect_audit(id, &update, clerk.user.id, "receptionist", "update");
	expect_audit(id, &put, nurse.user.id, "nurse", "update");
	expect_audit(id, &del, admin, "admin", "delete");
	expect_audit(id, &restore, admin, "admin", "restore");

	/* No PHI in the trail: not the names, not the birth date. */
	{
		struct json_object *row = audit_row(id, create.id, &page);

		json_object_put(row);
	}
	cr_assert_null(strstr(page, token), "%s", page);
	cr_assert_null(strstr(page, "Audited"), "%s", page);
	cr_assert_null(strstr(page, "Secretname"), "%s", page);
	cr_assert_null(strstr(page, "1977-11-1"), "%s", page);
	cr_assert_null(strstr(page, "Codeine"), "%s", page);
	free(page);
	{
		char sql[256];

		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM audit_log WHERE entity_type = 'patient' AND "
		         "entity_id = %lld AND audit_log::text ILIKE '%%secretname%%'",
		         id);
		cr_assert_eq(client_sql_long(sql), 0, "a name in the stored audit rows");
	}
	client_close_session(&nurse);
	client_close_session(&doctor);
	client_close_session(&clerk);
}

/* "Not in the future" is judged in the hospital's time zone (the test
 * stack's is Africa/Kampala, UTC+3 all year): today there is fine, tomorrow
 * there is not, whatever the UTC date. */
Test(patients_fields, date_of_birth_future_is_judged_in_the_hospital_zone)
{
	char token[32], date[16], quoted[24];
	time_t kampala = time(NULL) + 3 * 3600;
	struct tm tm;

	new_token(token, sizeof(token));
	gmtime_r(&kampala, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	snprintf(quoted, sizeof(quoted), "\"%s\"", date);
	expect_post(token, "date_of_birth", quoted, 201);
	kampala += 24 * 3600;
	gmtime_r(&kampala, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	snprintf(quoted, sizeof(quoted), "\"%s\"", date);
	expect_post(token, "date_of_birth", quoted, 400);
}

Test(patients, search_terms_reach_no_log)
{
	struct client_response res;
	char name[64], *path, *grep;

	/* A name, a date of birth: what nginx's "combined" format would write
	 * with the request line. */
	client_unique_name("Okello", name, sizeof(name));
	path = client_format("/api/patients/?search=%s&born_before=1999-12-31", name);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(path);
	grep = client_format("! grep -rqs --include='*.log' -F -e '%s' -e '1999-12-31' '%s'", name,
	                     client_env("HMS_TEST_STATE"));
	cr_assert_eq(client_run(grep, NULL), 0, "a search term is in a log");
	free(grep);
	/* The request is logged, as a path. */
	grep =
	    client_format("grep -rqs --include='access.log' -F '\"path\":\"/api/patients/\"' '%s'",
	                  client_env("HMS_TEST_STATE"));
	cr_assert_eq(client_run(grep, NULL), 0, "nginx's access log has no JSON path line");
	free(grep);
}

/* nginx's error log prints the request line, query and all, with every
 * error it logs (a body over the limit, a host that refused a connection,
 * a request over a limit_req); the site keeps it to crit and above, where
 * no request is named. */
Test(patients, search_terms_reach_no_log_when_nginx_refuses_the_request)
{
	struct client_response res;
	size_t size = 2 * 1024 * 1024;
	char name[64], *path, *grep, *body = malloc(size + 1);

	cr_assert_not_null(body);
	memset(body, ' ', size);
	body[0] = '{';
	body[size - 1] = '}';
	body[size] = '\0';
	client_unique_name("Achieng", name, sizeof(name));
	path = client_format("/api/patients/?search=%s", name);
	client_call("POST", path, client_admin_token(), NULL, body, &res);
	client_assert_status(&res, 413);
	client_response_free(&res);
	free(path);
	free(body);
	grep = client_format("! grep -rqs --include='*.log' -F -e '%s' '%s'", name,
	                     client_env("HMS_TEST_STATE"));
	cr_assert_eq(client_run(grep, NULL), 0, "a search term is in a log");
	free(grep);
}
