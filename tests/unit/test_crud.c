/*
 * test_resource.c - the pure parts of the shared resource machinery:
 * If-Match parsing (crud_expected_version in src/api/crud.c) and
 * the weekly schedule check of doctors (doctors_check_schedule in
 * src/api/doctors.c), and the INSERT/UPDATE text built from a field table
 * (read-only fields a hook filled, nested objects stored member by member).
 *
 * ETags are "\"<id>-<version>\""; an If-Match that names another object, a
 * weak tag or nothing parseable can never match, so the write is refused
 * (HMS_ERR_PRECONDITION -> 412) rather than run unconditionally.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/columns.h"
#include "hms/doctors.h"
#include "hms/err.h"
#include "hms/http.h"
#include "hms/crud.h"
#include "hms/json.h"
#include "hms/validate.h"

/* --- crud_expected_version ------------------------------------------------------ */

static struct arena *arena;
static struct http_request req;

static void setup(void)
{
	arena = arena_new(16 * 1024, 0);
	cr_assert_not_null(arena);
	memset(&req, 0, sizeof(req));
	req.arena = arena;
}

static void teardown(void)
{
	arena_free(arena);
}

/* Runs the parser for object id with If-Match: header (NULL = absent). */
static enum hms_err expected(const char *header, long long id, const char **version)
{
	req.if_match = header;
	*version = "untouched";
	return crud_expected_version(&req, id, version);
}

static void expect_version(const char *header, long long id, const char *want)
{
	const char *version;
	enum hms_err err = expected(header, id, &version);

	cr_assert_eq(err, HMS_OK, "If-Match: %s for %lld: error %d", header, id, (int)err);
	if (want == NULL)
		cr_assert_null(version, "If-Match: %s: version %s", header, version);
	else
		cr_assert(version != NULL && strcmp(version, want) == 0,
		          "If-Match: %s for %lld: version %s, expected %s", header, id,
		          version != NULL ? version : "(null)", want);
}

static void expect_refused(const char *header, long long id)
{
	const char *version;
	enum hms_err err = expected(header, id, &version);

	cr_assert_eq(err, HMS_ERR_PRECONDITION, "If-Match: %s for %lld: error %d, expected 412",
	             header, id, (int)err);
}

TestSuite(resource_if_match, .init = setup, .fini = teardown);

Test(resource_if_match, absent_header_is_unconditional)
{
	expect_version(NULL, 7, NULL);
}

Test(resource_if_match, star_is_unconditional)
{
	expect_version("*", 7, NULL);
	expect_version(" *", 7, NULL);
	expect_version("*", 123456789, NULL);
}

Test(resource_if_match, the_exact_tag_gives_its_version)
{
	expect_version("\"7-3\"", 7, "3");
	expect_version("\"7-1\"", 7, "1");
	expect_version("  \"7-42\"", 7, "42");
	expect_version("\"123456789-987654321\"", 123456789, "987654321");
	expect_version("\"7-123456789012345678\"", 7, "123456789012345678"); /* 18 digits */
}

Test(resource_if_match, a_list_uses_the_tag_of_this_object)
{
	expect_version("\"8-3\", \"7-5\"", 7, "5");
	expect_version("\"8-3\",\"7-5\"", 7, "5");
	expect_version("\"1-1\", \"2-2\", \"7-9\", \"70-1\"", 7, "9");
	expect_version("W/\"7-3\", \"7-4\"", 7, "4");
	/* The first tag for this object counts. */
	expect_version("\"7-2\", \"7-6\"", 7, "2");
}

Test(resource_if_match, other_objects_never_match)
{
	expect_refused("\"8-3\"", 7);
	expect_refused("\"70-3\"", 7); /* not a prefix match on the id */
	expect_refused("\"17-3\"", 7); /* nor a suffix match */
	expect_refused("\"7-3\"", 70);
	expect_refused("\"8-3\", \"9-4\"", 7);
}

Test(resource_if_match, weak_tags_never_match)
{
	expect_refused("W/\"7-3\"", 7);
	expect_refused("W/\"7-3\", W/\"7-4\"", 7);
	expect_refused(" W/\"7-3\"", 7);
}

/* Found by tests/fuzz/fuzz_if_match.c against a reference written from
 * RFC 9110: optional white space is SP or HTAB, anywhere a list allows it. */
Test(resource_if_match, tabs_are_white_space)
{
	expect_version("\"8-1\",\t\"7-3\"", 7, "3");
	expect_version("\t\"7-3\"", 7, "3");
	expect_version("\"8-1\" \t, \"7-3\"", 7, "3");
	expect_version("*\t", 7, NULL);
	expect_version(" * ", 7, NULL);
}

/* Found by the fuzzer: a weak tag's opaque part may hold a comma, which
 * made the parser lose its place and miss the strong tag after it. */
Test(resource_if_match, a_weak_tag_is_skipped_whole)
{
	expect_version("W/\"a,\", \"7-3\"", 7, "3");
	expect_version("W/\"7-3,\", \"7-4\"", 7, "4");
	expect_refused("W/\"a,\"7-3\"", 7);
}

/* Found by the fuzzer: "7-03" was read as version 3, but If-Match compares
 * strongly, character by character, and we never write a leading zero. */
Test(resource_if_match, a_version_with_a_leading_zero_is_not_ours)
{
	expect_refused("\"7-03\"", 7);
	expect_refused("\"7-0\"", 7);
	expect_refused("\"7-000000000000000001\"", 7);
	expect_version("\"7-03\", \"7-3\"", 7, "3");
	expect_version("\"7-10\"", 7, "10");
}

Test(resource_if_match, garbage_is_a_failed_precondition)
{
	static const char *const garbage[] = {
	    "7-3",
	    "\"7-\"",
	    "\"7-abc\"",
	    "\"7-3a\"",
	    "\"7-3",
	    "\"7--3\"",
	    "\"-7-3\"",
	    "\"7-+3\"",
	    "\"7- 3\"",
	    "\"7_3\"",
	    "\"7-3 \"",
	    "'7-3'",
	    "\"\"",
	    "**",
	    "\"7-1234567890123456789\"", /* 19 digits: more than a version holds */
	    "garbage",
	    ",",
	};

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		const char *version;
		enum hms_err err = expected(garbage[i], 7, &version);

		cr_assert_eq(err, HMS_ERR_PRECONDITION, "If-Match: %s: error %d", garbage[i],
		             (int)err);
	}
}

/* --- doctors_check_schedule ---------------------------------------------------------- */

/* The check's message for a schedule written as JSON (NULL when valid). */
static const char *check(const char *json)
{
	struct json_object *schedule = json_tokener_parse(json);
	const char *message;

	cr_assert(schedule != NULL || strcmp(json, "null") == 0, "bad JSON: %s", json);
	message = doctors_check_schedule(schedule);
	json_object_put(schedule);
	return message;
}

static void expect_valid(const char *json)
{
	const char *message = check(json);

	cr_assert_null(message, "%s refused: %s", json, message);
}

static void expect_invalid(const char *json)
{
	const char *message = check(json);

	cr_assert(message != NULL && *message != '\0', "%s accepted", json);
}

#define ENTRY(d, s, e) "{\"weekday\": " #d ", \"start_time\": \"" s "\", \"end_time\": \"" e "\"}"

/* "[e0, e1, ...]" into out. */
static void join(const char *const *entries, size_t n, char *out, size_t size)
{
	size_t o = (size_t)snprintf(out, size, "[");

	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", i > 0 ? ", " : "", entries[i]);
	cr_assert_lt(o + 1, size);
	snprintf(out + o, size - o, "]");
}

Test(doctors_schedule, valid_schedules)
{
	expect_valid("[]");
	expect_valid("[" ENTRY(0, "09:00", "17:00") "]");
	expect_valid("[" ENTRY(0, "09:00", "12:00") ", " ENTRY(0, "13:00", "17:00") "]");
	expect_valid("[" ENTRY(6, "00:00", "24:00") "]");
	expect_valid("[" ENTRY(3, "23:59", "24:00") "]");
	expect_valid("[" ENTRY(2, "00:00", "00:01") "]");
	/* Order does not matter. */
	expect_valid("[" ENTRY(1, "14:00", "15:00") ", " ENTRY(1, "08:00", "09:00") "]");
}

Test(doctors_schedule, overlapping_entries_on_one_weekday_are_refused)
{
	expect_invalid("[" ENTRY(0, "09:00", "12:00") ", " ENTRY(0, "11:00", "13:00") "]");
	expect_invalid("[" ENTRY(0, "11:00", "13:00") ", " ENTRY(0, "09:00", "12:00") "]");
	/* One inside another, identical, sharing a start or an end. */
	expect_invalid("[" ENTRY(4, "08:00", "18:00") ", " ENTRY(4, "10:00", "11:00") "]");
	expect_invalid("[" ENTRY(4, "08:00", "09:00") ", " ENTRY(4, "08:00", "09:00") "]");
	expect_invalid("[" ENTRY(4, "08:00", "09:00") ", " ENTRY(4, "08:00", "10:00") "]");
	expect_invalid("[" ENTRY(4, "08:00", "10:00") ", " ENTRY(4, "09:00", "10:00") "]");
	/* By one minute; and an overlap among others that do not. */
	expect_invalid("[" ENTRY(5, "08:00", "09:01") ", " ENTRY(5, "09:00", "10:00") "]");
	{
		static const char *const mixed[] = {
		    ENTRY(1, "08:00", "09:00"),
		    ENTRY(2, "08:00", "09:00"),
		    ENTRY(1, "12:00", "13:00"),
		    ENTRY(2, "08:30", "08:45"),
		};
		char json[512];

		join(mixed, 4, json, sizeof(json));
		expect_invalid(json);
	}
}

Test(doctors_schedule, touching_entries_are_allowed)
{
	expect_valid("[" ENTRY(0, "09:00", "12:00") ", " ENTRY(0, "12:00", "13:00") "]");
	expect_valid("[" ENTRY(0, "12:00", "13:00") ", " ENTRY(0, "09:00", "12:00") "]");
	expect_valid("[" ENTRY(0, "00:00", "12:00") ", " ENTRY(0, "12:00", "24:00") "]");
}

Test(doctors_schedule, same_times_on_different_weekdays_are_allowed)
{
	char json[1024];
	size_t o = 0;

	json[o++] = '[';
	for (int day = 0; day < 7; day++)
		o += (size_t)snprintf(json + o, sizeof(json) - o,
		                      "%s{\"weekday\": %d, \"start_time\": \"09:00\", "
		                      "\"end_time\": \"17:00\"}",
		                      day > 0 ? ", " : "", day);
	snprintf(json + o, sizeof(json) - o, "]");
	expect_valid(json);
}

Test(doctors_schedule, weekday_is_0_to_6)
{
	expect_invalid("[" ENTRY(7, "09:00", "10:00") "]");
	expect_invalid("[" ENTRY(-1, "09:00", "10:00") "]");
	expect_invalid("[" ENTRY(100, "09:00", "10:00") "]");
	expect_invalid(
	    "[{\"weekday\": \"0\", \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]");
	expect_invalid("[{\"weekday\": 1.0, \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]");
	expect_invalid("[{\"weekday\": null, \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]");
	expect_invalid("[{\"weekday\": true, \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]");
}

Test(doctors_schedule, times_are_hh_mm)
{
	static const char *const bad[] = {"25:00", "24:01", "9:00",     "09:0", "0900",
	                                  "09:60", "09-00", "09:00:00", "",     " 9:00",
	                                  "ab:cd", "-1:00", "09:5a",    "30:00"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[256];

		snprintf(json, sizeof(json),
		         "[{\"weekday\": 0, \"start_time\": \"%s\", \"end_time\": \"23:00\"}]",
		         bad[i]);
		expect_invalid(json);
		snprintf(json, sizeof(json),
		         "[{\"weekday\": 0, \"start_time\": \"00:00\", \"end_time\": \"%s\"}]",
		         bad[i]);
		expect_invalid(json);
	}
	/* 24:00 ends a day; it never starts one. */
	expect_invalid("[" ENTRY(0, "24:00", "24:00") "]");
	expect_invalid("[{\"weekday\": 0, \"start_time\": 900, \"end_time\": \"10:00\"}]");
	expect_invalid("[{\"weekday\": 0, \"start_time\": \"09:00\", \"end_time\": null}]");
}

Test(doctors_schedule, end_must_be_after_start)
{
	expect_invalid("[" ENTRY(0, "12:00", "09:00") "]");
	expect_invalid("[" ENTRY(0, "09:00", "09:00") "]");
	expect_invalid("[" ENTRY(0, "09:01", "09:00") "]");
	expect_valid("[" ENTRY(0, "09:00", "09:01") "]");
}

Test(doctors_schedule, entries_are_exactly_three_keys)
{
	expect_invalid("[{\"weekday\": 0, \"start_time\": \"09:00\", \"end_time\": \"10:00\", "
	               "\"room\": \"A\"}]");
	expect_invalid("[{\"weekday\": 0, \"start_time\": \"09:00\"}]");
	expect_invalid("[{\"weekday\": 0, \"end_time\": \"10:00\"}]");
	expect_invalid("[{\"start_time\": \"09:00\", \"end_time\": \"10:00\"}]");
	expect_invalid("[{\"day\": 0, \"start_time\": \"09:00\", \"end_time\": \"10:00\"}]");
	expect_invalid("[{}]");
	expect_invalid("[1]");
	expect_invalid("[\"09:00-10:00\"]");
	expect_invalid("[null]");
	expect_invalid("[[0, \"09:00\", \"10:00\"]]");
}

Test(doctors_schedule, a_schedule_is_an_array)
{
	expect_invalid("{}");
	expect_invalid(ENTRY(0, "09:00", "10:00"));
	expect_invalid("\"Mon 09:00-17:00\"");
	expect_invalid("42");
	expect_invalid("true");
	expect_invalid("null");
}

/* n entries, none overlapping: weekday i % 7, the (i / 7)th hour of the day. */
static char *many_entries(size_t n)
{
	size_t size = n * 80 + 4;
	char *json = malloc(size);
	size_t o = 0;

	cr_assert_not_null(json);
	json[o++] = '[';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(json + o, size - o,
		                      "%s{\"weekday\": %zu, \"start_time\": \"%02zu:00\", "
		                      "\"end_time\": \"%02zu:30\"}",
		                      i > 0 ? ", " : "", i % 7, i / 7, i / 7);
	json[o++] = ']';
	json[o] = '\0';
	return json;
}

Test(doctors_schedule, at_most_50_entries)
{
	char *json = many_entries(50);

	expect_valid(json);
	free(json);
	json = many_entries(51);
	expect_invalid(json);
	free(json);
	json = many_entries(200);
	expect_invalid(json);
	free(json);
}

/* --- crud_insert_sql / crud_update_sql ------------------------------------------ */

static const struct field member_fields[] = {
    {"t", FIELD_DECIMAL, .nullable = true, .decimal_places = 1},
    {"n", FIELD_INT, .nullable = true, .column = "n_col"},
    {NULL},
};

static const struct field sql_fields[] = {
    {"owner", FIELD_ID, .read_only = true, .column = "owner_id"},
    {"title", FIELD_STRING},
    {"obs", FIELD_OBJECT, .nullable = true, .fields = member_fields},
    {NULL},
};

static const struct column sql_columns[] = {
    {"id", "id", COL_INT},
    {NULL},
};

static struct validated validated_body(const char *json, enum validate_mode mode)
{
	struct json_object *body, *errors;
	struct validated v;
	const char *detail = NULL;

	cr_assert_eq(json_parse(arena, json, strlen(json), 10, &body, &detail), HMS_OK);
	errors = validate_body(arena, sql_fields, body, mode, &v);
	cr_assert_null(errors, "%s", json_object_to_json_string(errors));
	return v;
}

TestSuite(crud_sql, .init = setup, .fini = teardown);

Test(crud_sql, read_only_fields_are_written_only_when_a_hook_gives_them)
{
	struct validated v = validated_body(
	    "{\"owner\": 9, \"title\": \"x\", \"obs\": {\"t\": 36.6}}", VALIDATE_CREATE);
	const char **params;
	int n;
	const char *sql = crud_insert_sql(&req, "things", sql_fields, &v, sql_columns, &params, &n);

	cr_assert_str_eq(sql, "INSERT INTO things (title, t, n_col) VALUES ($1, ($2::jsonb ->> "
	                      "'t')::numeric, ($2::jsonb ->> 'n')::integer) RETURNING id");
	cr_assert_eq(n, 2);
	cr_assert_str_eq(params[1], "{\"t\":\"36.6\"}");

	v.values[0] = "7";
	v.present[0] = true;
	sql = crud_insert_sql(&req, "things", sql_fields, &v, sql_columns, &params, &n);
	cr_assert_str_eq(sql, "INSERT INTO things (owner_id, title, t, n_col) VALUES ($1::bigint, "
	                      "$2, ($3::jsonb ->> 't')::numeric, ($3::jsonb ->> 'n')::integer) "
	                      "RETURNING id");
	cr_assert_str_eq(params[0], "7");
}

Test(crud_sql, put_writes_a_nested_object_whole_and_patch_merges_it)
{
	struct validated v = validated_body("{\"obs\": {\"n\": 3}}", VALIDATE_REPLACE);
	const char **params;
	int n;
	const char *sql;

	req.ids[0] = 5;
	req.id_count = 1;
	sql = crud_update_sql(&req, "things", sql_fields, &v, NULL, NULL, sql_columns, &params, &n);
	cr_assert_str_eq(sql, "UPDATE things SET version = version + 1, updated_at = now(), t = "
	                      "($2::jsonb ->> 't')::numeric, n_col = ($2::jsonb ->> 'n')::integer "
	                      "WHERE id = $1 RETURNING id");
	v = validated_body("{\"obs\": {\"n\": 3}}", VALIDATE_UPDATE);
	sql = crud_update_sql(&req, "things", sql_fields, &v, "4", NULL, sql_columns, &params, &n);
	cr_assert_str_eq(sql,
	                 "UPDATE things SET version = version + 1, updated_at = now(), t = CASE "
	                 "WHEN $2::jsonb IS NULL OR $2::jsonb ? 't' THEN ($2::jsonb ->> "
	                 "'t')::numeric ELSE t END, n_col = CASE WHEN $2::jsonb IS NULL OR "
	                 "$2::jsonb ? 'n' THEN ($2::jsonb ->> 'n')::integer ELSE n_col END "
	                 "WHERE id = $1 AND version = $3::bigint RETURNING id");
	cr_assert_eq(n, 3);
	cr_assert_str_eq(params[0], "5");
	cr_assert_str_eq(params[1], "{\"n\":\"3\"}");
	cr_assert_str_eq(params[2], "4");
}
