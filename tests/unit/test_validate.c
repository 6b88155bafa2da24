/*
 * test_validate.c - the value checks and the field-table validator
 * (src/util/validate.c).
 *
 * validate_body() is driven with a local field table holding one field of
 * each kind. Bodies are parsed with http_json_parse(), as the request
 * pipeline parses them, so they live in the test's arena; the error object
 * validate_body() returns is the test's to put.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/json.h"
#include "hms/validate.h"

/* --- validate_date ------------------------------------------------------- */

Test(validate_date, real_calendar_days)
{
	static const char *const ok[] = {
	    "2024-02-29", "2000-02-29", "2023-02-28", "2023-12-31", "2023-01-01",
	    "2023-04-30", "0001-01-01", "9999-12-31", "1996-02-29", "2400-02-29",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(validate_date(ok[i]), "\"%s\" is a date", ok[i]);
}

Test(validate_date, impossible_days_are_refused)
{
	static const char *const bad[] = {
	    "2023-02-29", "1900-02-29", "2100-02-29", "2024-02-30", "2023-04-31",
	    "2023-06-31", "2023-09-31", "2023-11-31", "2023-01-32", "2023-13-01",
	    "2023-00-10", "2023-01-00", "0000-01-01", "0000-02-29",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(validate_date(bad[i]), "\"%s\" is not a date", bad[i]);
}

Test(validate_date, bad_shapes_are_refused)
{
	static const char *const bad[] = {
	    "",
	    "2023-1-01",
	    "2023-01-1",
	    "23-01-01",
	    "2023/01/01",
	    "20230101",
	    "2023-01-01T",
	    "2023-01-01 ",
	    " 2023-01-01",
	    "2023-01-1a",
	    "+023-01-01",
	    "-023-01-01",
	    "2023-0a-01",
	    "2023_01_01",
	    "2023-01-01\n",
	    "12023-01-01",
	    "2023--01-01",
	    "abcd-ef-gh",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(validate_date(bad[i]), "\"%s\" is not a date", bad[i]);
	cr_assert_not(validate_date(NULL));
}

/* --- validate_datetime --------------------------------------------------- */

Test(validate_datetime, offsets_and_fractions)
{
	static const char *const ok[] = {
	    "2025-12-06T12:00:00Z",        "2025-12-06T12:00:00+03:00",
	    "2025-12-06T12:00:00-05:30",   "2025-12-06T00:00:00+00:00",
	    "2025-12-06T23:59:59Z",        "2025-12-06T12:00:00.1Z",
	    "2025-12-06T12:00:00.12Z",     "2025-12-06T12:00:00.123Z",
	    "2025-12-06T12:00:00.123456Z", "2025-12-06T12:00:00.123456+03:00",
	    "2025-12-06T12:00:00.5-05:30", "2024-02-29T08:30:00Z",
	    "2025-12-06T12:00:00+14:00",   "2025-12-06T12:00:00-12:00",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(validate_datetime(ok[i]), "\"%s\" is a datetime", ok[i]);
}

Test(validate_datetime, missing_offset_is_refused)
{
	cr_assert_not(validate_datetime("2025-12-06T12:00:00"));
	cr_assert_not(validate_datetime("2025-12-06T12:00:00.123"));
	cr_assert_not(validate_datetime("2025-12-06T12:00"));
	cr_assert_not(validate_datetime("2025-12-06"));
}

Test(validate_datetime, out_of_range_times_are_refused)
{
	cr_assert_not(validate_datetime("2025-12-06T24:00:00Z"), "hour 24");
	cr_assert_not(validate_datetime("2025-12-06T25:00:00Z"));
	cr_assert_not(validate_datetime("2025-12-06T12:60:00Z"));
	cr_assert_not(validate_datetime("2025-12-06T12:00:60Z"));
	cr_assert_not(validate_datetime("2025-12-06T12:00:00+15:00"));
	cr_assert_not(validate_datetime("2025-12-06T12:00:00+03:60"));
}

Test(validate_datetime, bad_dates_are_refused)
{
	cr_assert_not(validate_datetime("2023-02-29T12:00:00Z"));
	cr_assert_not(validate_datetime("2025-13-06T12:00:00Z"));
	cr_assert_not(validate_datetime("2025-04-31T12:00:00Z"));
	cr_assert_not(validate_datetime("0000-01-01T12:00:00Z"));
	cr_assert_not(validate_datetime("2025-12-6T12:00:00Z"));
}

Test(validate_datetime, bad_fractions_and_shapes_are_refused)
{
	static const char *const bad[] = {
	    "2025-12-06T12:00:00.1234567Z",
	    "2025-12-06T12:00:00.Z",
	    "2025-12-06T12:00:00.+03:00",
	    "2025-12-06T12:00:00,5Z",
	    "2025-12-06T12:00:00z",
	    "2025-12-06t12:00:00Z",
	    "2025-12-06T12:00:00Z ",
	    " 2025-12-06T12:00:00Z",
	    "2025-12-06T12:00:00ZZ",
	    "2025-12-06T1:00:00Z",
	    "2025-12-06T12:0:00Z",
	    "2025-12-06T12:00:0Z",
	    "2025-12-06T12:00:00+3:00",
	    "2025-12-06T12:00:00+0300",
	    "2025-12-06T12:00:00+03",
	    "2025-12-06T12:00:00+03:00:00",
	    "2025-12-06T12:00:00+03:0",
	    "2025-12-06T12:00:00UTC",
	    "2025-12-06X12:00:00Z",
	    "2025-12-06T12-00-00Z",
	    "",
	    "not a datetime at all, at all",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(validate_datetime(bad[i]), "\"%s\" is not a datetime", bad[i]);
	cr_assert_not(validate_datetime(NULL));
}

/* --- validate_email ------------------------------------------------------ */

Test(validate_email, valid_addresses)
{
	static const char *const ok[] = {
	    "user@example.com",
	    "first.last@example.com",
	    "first.last+tag@sub.example.co.uk",
	    "o'brien@example.org",
	    "a@b.co",
	    "USER_1-x@Example-Host.COM",
	    "nurse@xn--bcher-kva.example",
	    "1234567890@example.ug",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(validate_email(ok[i]), "\"%s\" is an address", ok[i]);
}

Test(validate_email, invalid_addresses)
{
	static const char *const bad[] = {
	    "",
	    "plainaddress",
	    "@example.com",
	    "user@",
	    "user@example",
	    "user@@example.com",
	    "user@host@example.com",
	    "us er@example.com",
	    "user@exa mple.com",
	    " user@example.com",
	    "user@example.com ",
	    "user@example.com\n",
	    "user@.example.com",
	    "user@example..com",
	    "user@-example.com",
	    "user@example.com.",
	    "user@example.c",
	    "user@exam_ple.com",
	    "\"user\"@example.com",
	    "user@example,com",
	    "<user@example.com>",
	    "user(comment)@example.com",
	    "user\\@example.com",
	    "user;x@example.com",
	    "user@example.com\x7f",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(validate_email(bad[i]), "\"%s\" is not an address", bad[i]);
}

Test(validate_email, at_most_254_characters)
{
	/* local part 64 + "@" + domain labels, padded to exactly 254. */
	char addr[300];
	size_t len;

	memset(addr, 'a', 64);
	addr[64] = '@';
	len = 65;
	while (len < 254 - 4) {
		addr[len++] = 'b';
		if ((len - 65) % 60 == 59)
			addr[len++] = '.';
	}
	memcpy(addr + len, ".com", 4);
	len += 4;
	addr[len] = '\0';
	cr_assert_eq(strlen(addr), 254);
	cr_assert(validate_email(addr), "254 characters");

	memmove(addr + 1, addr, 255);
	addr[0] = 'a';
	cr_assert_eq(strlen(addr), 255);
	cr_assert_not(validate_email(addr), "255 characters");
}

/* --- validate_parse_id --------------------------------------------------- */

Test(validate_parse_id, positive_64_bit_ids)
{
	int64_t v = 0;

	cr_assert(validate_parse_id("1", &v));
	cr_assert_eq(v, 1);
	cr_assert(validate_parse_id("42", &v));
	cr_assert_eq(v, 42);
	cr_assert(validate_parse_id("9223372036854775807", &v));
	cr_assert_eq(v, INT64_MAX);
}

Test(validate_parse_id, everything_else_is_refused)
{
	static const char *const bad[] = {
	    "0",
	    "-1",
	    "01",
	    "00",
	    "9223372036854775808",
	    "18446744073709551616",
	    "99999999999999999999",
	    "",
	    "1a",
	    "a1",
	    "+1",
	    " 1",
	    "1 ",
	    "1.0",
	    "0x10",
	    "1e3",
	    "-0",
	    "١",
	    "1\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = -77;

		cr_assert_not(validate_parse_id(bad[i], &v), "\"%s\" is not an id", bad[i]);
		cr_assert_eq(v, -77, "\"%s\" wrote %lld", bad[i], (long long)v);
	}
	cr_assert_not(validate_parse_id(NULL, &(int64_t){0}));
}

/* --- validate_body ------------------------------------------------------- */

static const char *const colors[] = {"red", "green", "blue", NULL};

static const char *checked_value;
static enum json_type checked_type;
static int check_calls;

/* A field check: even numbers only; records what it was given. */
static const char *must_be_even(const char *value, struct json_object *raw)
{
	check_calls++;
	checked_value = value;
	checked_type = json_object_get_type(raw);
	return atoll(value) % 2 != 0 ? "Must be an even number." : NULL;
}

enum {
	F_ID,
	F_NAME,
	F_NICK,
	F_EMAIL,
	F_COUNT,
	F_EVEN,
	F_BIG,
	F_FLAG,
	F_COLOR,
	F_BORN,
	F_AT,
	F_OWNER,
	F_EXTRA,
	F_TEMP,
	F_VITALS,
	F_COUNT_ALL
};

static const struct field vital_fields[] = {
    {"temp", FIELD_DECIMAL, .nullable = true, .min = 25, .max = 45, .decimal_places = 1},
    {"pulse", FIELD_INT, .required = true, .min = 20, .max = 300},
    {NULL},
};

static const char *pulse_under_200(const char *value, struct json_object *raw)
{
	struct json_object *pulse;

	(void)value;
	return json_object_object_get_ex(raw, "pulse", &pulse) &&
	               json_object_get_int64(pulse) >= 200
	           ? "pulse too high with this temperature."
	           : NULL;
}

static const struct field fields[] = {
    [F_ID] = {"id", FIELD_ID, .required = true, .read_only = true},
    [F_NAME] = {"name", FIELD_STRING, .required = true, .max_len = 3},
    [F_NICK] = {"nick", FIELD_STRING, .nullable = true, .allow_blank = true},
    [F_EMAIL] = {"email", FIELD_EMAIL, .max_len = 20},
    [F_COUNT] = {"count", FIELD_INT, .min = 1, .max = 10},
    [F_EVEN] = {"even", FIELD_INT, .check = must_be_even},
    [F_BIG] = {"big", FIELD_INT},
    [F_FLAG] = {"flag", FIELD_BOOL},
    [F_COLOR] = {"color", FIELD_CHOICE, .choices = colors},
    [F_BORN] = {"born", FIELD_DATE},
    [F_AT] = {"at", FIELD_DATETIME, .nullable = true},
    [F_OWNER] = {"owner", FIELD_ID},
    [F_EXTRA] = {"extra", FIELD_JSON},
    [F_TEMP] = {"temp", FIELD_DECIMAL, .min = 25, .max = 45, .decimal_places = 1},
    [F_VITALS] = {"vitals", FIELD_OBJECT, .nullable = true, .fields = vital_fields,
                  .check = pulse_under_200},
    [F_COUNT_ALL] = {NULL},
};

static struct arena *arena;
static struct json_object *errors;
static struct validated v;

static void setup(void)
{
	arena = arena_new(16 * 1024, 0);
	cr_assert_not_null(arena);
	errors = NULL;
	memset(&v, 0, sizeof(v));
	checked_value = NULL;
	check_calls = 0;
}

static void teardown(void)
{
	json_object_put(errors);
	errors = NULL;
	arena_free(arena);
	arena = NULL;
}

TestSuite(validate_body, .init = setup, .fini = teardown);

/* Validates a JSON text; returns true when it passed. */
static bool run(const char *json, enum validate_mode mode)
{
	struct json_object *body;
	const char *detail = NULL;

	cr_assert_eq(json_parse(arena, json, strlen(json), 10, &body, &detail), HMS_OK,
	             "test body does not parse: %s (%s)", json, detail);
	json_object_put(errors);
	memset(&v, 0, sizeof(v));
	errors = validate_body(arena, fields, body, mode, &v);
	return errors == NULL;
}

/* The number of fields with errors. */
static int error_count(void)
{
	return errors == NULL ? 0 : json_object_object_length(errors);
}

/* The only message of field (asserts there is exactly one). */
static const char *error_of(const char *field)
{
	struct json_object *list;

	cr_assert_not_null(errors, "expected an error on %s", field);
	cr_assert(json_object_object_get_ex(errors, field, &list), "no error on %s: %s", field,
	          json_object_to_json_string(errors));
	cr_assert(json_object_is_type(list, json_type_array), "errors[%s] is a list", field);
	cr_assert_eq(json_object_array_length(list), 1, "one message on %s: %s", field,
	             json_object_to_json_string(errors));
	return json_object_get_string(json_object_array_get_idx(list, 0));
}

/* Asserts body (one field) fails with exactly message on that field. */
static void assert_refused(const char *json, const char *field, const char *message)
{
	cr_assert_not(run(json, VALIDATE_UPDATE), "%s should be refused", json);
	cr_assert_eq(error_count(), 1, "%s: %s", json, json_object_to_json_string(errors));
	cr_assert_str_eq(error_of(field), message, "%s", json);
}

/* Asserts body passes (PATCH) and field's bound text is value. */
static void assert_value(const char *json, int field, const char *value)
{
	cr_assert(run(json, VALIDATE_UPDATE), "%s refused: %s", json,
	          json_object_to_json_string(errors));
	cr_assert(v.present[field], "%s: %s present", json, fields[field].name);
	cr_assert_not_null(v.values[field], "%s: %s bound as NULL", json, fields[field].name);
	cr_assert_str_eq(v.values[field], value, "%s", json);
}

Test(validate_body, complete_body_binds_text_values)
{
	cr_assert(run("{\"name\":\"Ann\",\"nick\":\"a\",\"email\":\"ann@example.com\","
	              "\"count\":10,\"even\":-4,\"big\":-9223372036854775807,\"flag\":true,"
	              "\"color\":\"green\",\"born\":\"2024-02-29\","
	              "\"at\":\"2025-12-06T12:00:00+03:00\",\"owner\":7,"
	              "\"extra\":{\"a\":[1, 2],\"b\":null},\"temp\":36.6,"
	              "\"vitals\":{\"pulse\":60}}",
	              VALIDATE_CREATE),
	          "%s", json_object_to_json_string(errors));
	cr_assert_eq(v.count, F_COUNT_ALL);
	cr_assert_str_eq(v.values[F_NAME], "Ann");
	cr_assert_str_eq(v.values[F_NICK], "a");
	cr_assert_str_eq(v.values[F_EMAIL], "ann@example.com");
	cr_assert_str_eq(v.values[F_COUNT], "10");
	cr_assert_str_eq(v.values[F_EVEN], "-4");
	cr_assert_str_eq(v.values[F_BIG], "-9223372036854775807");
	cr_assert_str_eq(v.values[F_FLAG], "true");
	cr_assert_str_eq(v.values[F_COLOR], "green");
	cr_assert_str_eq(v.values[F_BORN], "2024-02-29");
	cr_assert_str_eq(v.values[F_AT], "2025-12-06T12:00:00+03:00");
	cr_assert_str_eq(v.values[F_OWNER], "7");
	cr_assert_str_eq(v.values[F_EXTRA], "{\"a\":[1,2],\"b\":null}");
	cr_assert_str_eq(v.values[F_TEMP], "36.6");
	cr_assert_str_eq(v.values[F_VITALS], "{\"pulse\":\"60\"}");
	for (int i = F_NAME; i < F_COUNT_ALL; i++)
		cr_assert(v.present[i], "%s present", fields[i].name);
	cr_assert_not(v.present[F_ID]);
	cr_assert_null(v.values[F_ID]);
}

Test(validate_body, bindable_text_of_ints_and_bools)
{
	assert_value("{\"flag\":false}", F_FLAG, "false");
	assert_value("{\"flag\":true}", F_FLAG, "true");
	assert_value("{\"big\":0}", F_BIG, "0");
	assert_value("{\"big\":-17}", F_BIG, "-17");
	assert_value("{\"big\":9223372036854775807}", F_BIG, "9223372036854775807");
	assert_value("{\"owner\":9223372036854775807}", F_OWNER, "9223372036854775807");
	assert_value("{\"count\":1}", F_COUNT, "1");
}

Test(validate_body, required_missing_on_create_and_replace)
{
	cr_assert_not(run("{\"count\":5}", VALIDATE_CREATE));
	cr_assert_eq(error_count(), 1, "%s", json_object_to_json_string(errors));
	cr_assert_str_eq(error_of("name"), "This field is required.");

	cr_assert_not(run("{}", VALIDATE_REPLACE));
	cr_assert_eq(error_count(), 1, "%s", json_object_to_json_string(errors));
	cr_assert_str_eq(error_of("name"), "This field is required.");
}

Test(validate_body, required_missing_is_fine_for_patch)
{
	cr_assert(run("{}", VALIDATE_UPDATE));
	for (int i = 0; i < F_COUNT_ALL; i++) {
		cr_assert_not(v.present[i], "%s not given", fields[i].name);
		cr_assert_null(v.values[i]);
	}
	cr_assert(run("{\"count\":3}", VALIDATE_UPDATE));
	cr_assert(v.present[F_COUNT]);
	cr_assert_not(v.present[F_NAME]);
}

Test(validate_body, optional_fields_may_be_absent_on_create)
{
	cr_assert(run("{\"name\":\"Bo\"}", VALIDATE_CREATE), "%s",
	          json_object_to_json_string(errors));
	cr_assert(v.present[F_NAME]);
	cr_assert_not(v.present[F_EMAIL]);
	cr_assert_null(v.values[F_EMAIL]);
}

Test(validate_body, all_errors_are_reported_together)
{
	cr_assert_not(run("{\"count\":0,\"flag\":\"yes\",\"color\":\"pink\"}", VALIDATE_CREATE));
	cr_assert_eq(error_count(), 4, "%s", json_object_to_json_string(errors));
	cr_assert_str_eq(error_of("name"), "This field is required.");
	cr_assert_str_eq(error_of("count"), "Ensure this value is greater than or equal to 1.");
	cr_assert_str_eq(error_of("flag"), "Must be a valid boolean.");
	cr_assert_str_eq(error_of("color"), "Select a valid choice.");
}

Test(validate_body, strings_must_be_strings)
{
	assert_refused("{\"name\":12}", "name", "Not a valid string.");
	assert_refused("{\"name\":true}", "name", "Not a valid string.");
	assert_refused("{\"name\":[\"a\"]}", "name", "Not a valid string.");
	assert_refused("{\"name\":{\"a\":1}}", "name", "Not a valid string.");
	assert_refused("{\"email\":5}", "email", "Not a valid string.");
}

Test(validate_body, ints_must_be_integers)
{
	const char *msg = "A valid integer is required.";

	assert_refused("{\"count\":\"5\"}", "count", msg);
	assert_refused("{\"count\":5.5}", "count", msg);
	assert_refused("{\"count\":5.0}", "count", msg);
	assert_refused("{\"count\":true}", "count", msg);
	assert_refused("{\"count\":[5]}", "count", msg);
	assert_refused("{\"owner\":\"7\"}", "owner", msg);
	assert_refused("{\"owner\":7.0}", "owner", msg);
}

Test(validate_body, ids_must_be_positive)
{
	assert_refused("{\"owner\":0}", "owner", "Invalid pk - object does not exist.");
	assert_refused("{\"owner\":-1}", "owner", "Invalid pk - object does not exist.");
	assert_value("{\"owner\":1}", F_OWNER, "1");
}

Test(validate_body, integers_beyond_int64_are_an_error_on_their_field)
{
	/* json-c would clamp these to INT64_MAX / INT64_MIN without a word; the
	 * reader accepts the body and the field says what is wrong, in DRF's
	 * words, so the other fields are still checked. The limits themselves
	 * still parse (INT64_MIN is where json-c clamps every smaller number,
	 * so it counts as below the range). */
	const char *high = "Ensure this value is less than or equal to 9223372036854775807.";
	const char *low = "Ensure this value is greater than or equal to -9223372036854775807.";

	assert_refused("{\"big\":9223372036854775808}", "big", high);
	assert_refused("{\"big\":99999999999999999999}", "big", high);
	assert_refused("{\"big\":-9223372036854775809}", "big", low);
	assert_refused("{\"big\":-9223372036854775808}", "big", low);
	assert_refused("{\"owner\":18446744073709551616}", "owner",
	               "Invalid pk - object does not exist.");
	assert_refused("{\"count\":9223372036854775808}", "count",
	               "Ensure this value is less than or equal to 10.");
	assert_value("{\"big\":9223372036854775807}", F_BIG, "9223372036854775807");
	assert_value("{\"big\":-9223372036854775807}", F_BIG, "-9223372036854775807");
}

Test(validate_body, int_bounds)
{
	/* DRF's IntegerField words for min_value and max_value. */
	const char *low = "Ensure this value is greater than or equal to 1.";
	const char *high = "Ensure this value is less than or equal to 10.";

	assert_value("{\"count\":1}", F_COUNT, "1");
	assert_value("{\"count\":10}", F_COUNT, "10");
	assert_refused("{\"count\":0}", "count", low);
	assert_refused("{\"count\":11}", "count", high);
	assert_refused("{\"count\":-5}", "count", low);
	assert_refused("{\"count\":9223372036854775807}", "count", high);
	/* min == max means no bounds. */
	assert_value("{\"big\":-1000000}", F_BIG, "-1000000");
}

Test(validate_body, bools_must_be_booleans)
{
	const char *msg = "Must be a valid boolean.";

	assert_refused("{\"flag\":\"true\"}", "flag", msg);
	assert_refused("{\"flag\":1}", "flag", msg);
	assert_refused("{\"flag\":0}", "flag", msg);
	assert_refused("{\"flag\":\"\"}", "flag", msg);
}

Test(validate_body, choices)
{
	const char *msg = "Select a valid choice.";

	assert_value("{\"color\":\"red\"}", F_COLOR, "red");
	assert_value("{\"color\":\"blue\"}", F_COLOR, "blue");
	assert_refused("{\"color\":\"Red\"}", "color", msg);
	assert_refused("{\"color\":\"pink\"}", "color", msg);
	assert_refused("{\"color\":\"\"}", "color", msg);
	assert_refused("{\"color\":\"red \"}", "color", msg);
	assert_refused("{\"color\":1}", "color", msg);
	assert_refused("{\"color\":[\"red\"]}", "color", msg);
}

Test(validate_body, dates_and_datetimes)
{
	const char *date_msg =
	    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
	const char *dt_msg =
	    "Datetime has wrong format. Use ISO 8601 with an offset, e.g. 2025-12-06T12:00:00Z.";

	assert_value("{\"born\":\"2000-02-29\"}", F_BORN, "2000-02-29");
	assert_refused("{\"born\":\"2023-02-29\"}", "born", date_msg);
	assert_refused("{\"born\":\"06/12/2025\"}", "born", date_msg);
	assert_refused("{\"born\":20240101}", "born", date_msg);
	assert_refused("{\"born\":\"\"}", "born", date_msg);

	assert_value("{\"at\":\"2025-12-06T12:00:00.123456Z\"}", F_AT,
	             "2025-12-06T12:00:00.123456Z");
	assert_refused("{\"at\":\"2025-12-06T12:00:00\"}", "at", dt_msg);
	assert_refused("{\"at\":\"2025-12-06\"}", "at", dt_msg);
	assert_refused("{\"at\":1765022400}", "at", dt_msg);
}

Test(validate_body, emails)
{
	assert_value("{\"email\":\"a@b.co\"}", F_EMAIL, "a@b.co");
	assert_refused("{\"email\":\"not an address\"}", "email", "Enter a valid email address.");
	assert_refused("{\"email\":\"a@b\"}", "email", "Enter a valid email address.");
	assert_refused("{\"email\":\"\"}", "email", "This field may not be blank.");
	assert_refused("{\"email\":\"abcdefghijk@example.com\"}", "email",
	               "Ensure this field has no more than 20 characters.");
}

Test(validate_body, max_len_counts_characters_not_bytes)
{
	const char *msg = "Ensure this field has no more than 3 characters.";

	/* "éåü": 3 characters in 6 bytes. */
	assert_value("{\"name\":\"\xc3\xa9\xc3\xa5\xc3\xbc\"}", F_NAME, "\xc3\xa9\xc3\xa5\xc3\xbc");
	cr_assert_eq(strlen(v.values[F_NAME]), 6);
	/* Three 4-byte characters (U+1F600) in 12 bytes. */
	assert_value("{\"name\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}", F_NAME,
	             "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
	/* The same written as JSON escapes (a surrogate pair each). */
	assert_value("{\"name\":\"\\u00e9\\ud83d\\ude00z\"}", F_NAME, "\xc3\xa9\xf0\x9f\x98\x80z");
	assert_value("{\"name\":\"abc\"}", F_NAME, "abc");

	assert_refused("{\"name\":\"abcd\"}", "name", msg);
	assert_refused("{\"name\":\"\xc3\xa9\xc3\xa5\xc3\xbc\xc3\xb6\"}", "name", msg);
	assert_refused("{\"name\":\"ab\xf0\x9f\x98\x80z\"}", "name", msg);
}

Test(validate_body, blank_strings)
{
	assert_refused("{\"name\":\"\"}", "name", "This field may not be blank.");
	assert_value("{\"nick\":\"\"}", F_NICK, "");
}

Test(validate_body, null_only_where_nullable)
{
	/* Nullable: given, and bound as SQL NULL. */
	cr_assert(run("{\"nick\":null,\"at\":null}", VALIDATE_UPDATE), "%s",
	          json_object_to_json_string(errors));
	cr_assert(v.present[F_NICK]);
	cr_assert_null(v.values[F_NICK]);
	cr_assert(v.present[F_AT]);
	cr_assert_null(v.values[F_AT]);

	/* Not nullable, whatever the type and the mode. */
	assert_refused("{\"name\":null}", "name", "This field may not be null.");
	assert_refused("{\"count\":null}", "count", "This field may not be null.");
	assert_refused("{\"flag\":null}", "flag", "This field may not be null.");
	assert_refused("{\"extra\":null}", "extra", "This field may not be null.");
	cr_assert_not(run("{\"name\":null}", VALIDATE_CREATE));
	cr_assert_str_eq(error_of("name"), "This field may not be null.");
}

Test(validate_body, check_callback_sees_the_bound_text)
{
	assert_value("{\"even\":4}", F_EVEN, "4");
	cr_assert_eq(check_calls, 1);
	cr_assert_str_eq(checked_value, "4");
	cr_assert_eq(checked_type, json_type_int);

	assert_refused("{\"even\":3}", "even", "Must be an even number.");
	cr_assert_eq(check_calls, 2);
	cr_assert_str_eq(checked_value, "3");
}

Test(validate_body, check_callback_not_called_for_a_bad_type)
{
	assert_refused("{\"even\":\"4\"}", "even", "A valid integer is required.");
	assert_refused("{\"even\":null}", "even", "This field may not be null.");
	cr_assert(run("{}", VALIDATE_UPDATE));
	cr_assert_eq(check_calls, 0);
}

Test(validate_body, unknown_fields_are_ignored)
{
	cr_assert(
	    run("{\"name\":\"Al\",\"zzz\":[1,2,3],\"Name\":5,\"password\":null}", VALIDATE_CREATE),
	    "%s", json_object_to_json_string(errors));
	cr_assert_str_eq(v.values[F_NAME], "Al");
	cr_assert_eq(v.count, F_COUNT_ALL);
}

Test(validate_body, read_only_fields_are_ignored)
{
	/* "id" is read-only (and even marked required): a bad value, a good
	 * value or none at all changes nothing. */
	cr_assert(run("{\"name\":\"Al\",\"id\":\"not an id\"}", VALIDATE_CREATE), "%s",
	          json_object_to_json_string(errors));
	cr_assert_not(v.present[F_ID]);
	cr_assert_null(v.values[F_ID]);
	cr_assert(run("{\"name\":\"Al\",\"id\":99}", VALIDATE_REPLACE));
	cr_assert_not(v.present[F_ID]);
	cr_assert_null(v.values[F_ID]);
	cr_assert(run("{\"name\":\"Al\"}", VALIDATE_CREATE));
}

Test(validate_body, json_fields_bind_their_plain_text)
{
	assert_value("{\"extra\":[1,\"two\",{\"three\":3}]}", F_EXTRA, "[1,\"two\",{\"three\":3}]");
	assert_value("{\"extra\":\"text\"}", F_EXTRA, "\"text\"");
	assert_value("{\"extra\":false}", F_EXTRA, "false");
}

Test(validate_body, field_index_by_name)
{
	cr_assert_eq(validate_field_index(fields, "id"), F_ID);
	cr_assert_eq(validate_field_index(fields, "name"), F_NAME);
	cr_assert_eq(validate_field_index(fields, "extra"), F_EXTRA);
	cr_assert_eq(validate_field_index(fields, "nope"), -1);
	cr_assert_eq(validate_field_index(fields, "Name"), -1);
	cr_assert_eq(validate_field_index(fields, ""), -1);
}

Test(validate_body, add_error_builds_drf_lists)
{
	struct json_object *list;

	validate_add_error(&errors, "name", "First.");
	validate_add_error(&errors, "name", "Second.");
	validate_add_error(&errors, "non_field_errors", "Whole body.");
	cr_assert_not_null(errors);
	cr_assert_eq(json_object_object_length(errors), 2);
	cr_assert(json_object_object_get_ex(errors, "name", &list));
	cr_assert_eq(json_object_array_length(list), 2);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(list, 0)), "First.");
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(list, 1)), "Second.");
	cr_assert_str_eq(error_of("non_field_errors"), "Whole body.");
}

/* --- validate_text: query parameters, one parser per kind ---------------- */

static const char *text_value(const struct field *f, const char *text, const char **message)
{
	*message = NULL;
	return validate_text(arena, f, text, message);
}

Test(validate_body, decimals_bounded_with_their_places)
{
	assert_value("{\"temp\": 36.6}", F_TEMP, "36.6");
	assert_value("{\"temp\": 37}", F_TEMP, "37.0");
	assert_value("{\"temp\": 45}", F_TEMP, "45.0");
	assert_value("{\"temp\": \"38.5\"}", F_TEMP, "38.5");
	assert_value("{\"temp\": 3.75e1}", F_TEMP, "37.5");
	assert_refused("{\"temp\": 24.9}", "temp",
	               "Ensure this value is greater than or equal to 25.");
	assert_refused("{\"temp\": 45.01}", "temp",
	               "Ensure this value is less than or equal to 45.");
	assert_refused("{\"temp\": 36.65}", "temp",
	               "Ensure that there are no more than 1 decimal places.");
	assert_refused("{\"temp\": \"warm\"}", "temp", "A valid number is required.");
	assert_refused("{\"temp\": \"nan\"}", "temp", "A valid number is required.");
	assert_refused("{\"temp\": \" 37\"}", "temp", "A valid number is required.");
	assert_refused("{\"temp\": true}", "temp", "A valid number is required.");
	assert_refused("{\"temp\": \"1e400\"}", "temp", "A valid number is required.");
}

/* errors[field][member] is a one-message list. */
static const char *nested_error_of(const char *field, const char *member)
{
	struct json_object *nested, *list;

	cr_assert_not_null(errors);
	cr_assert(json_object_object_get_ex(errors, field, &nested), "%s",
	          json_object_to_json_string(errors));
	cr_assert(json_object_is_type(nested, json_type_object), "%s",
	          json_object_to_json_string(errors));
	cr_assert(json_object_object_get_ex(nested, member, &list), "%s",
	          json_object_to_json_string(errors));
	cr_assert_eq(json_object_array_length(list), 1);
	return json_object_get_string(json_object_array_get_idx(list, 0));
}

Test(validate_body, nested_objects_validate_their_members)
{
	/* Bound as an object of the members' texts, unknown members dropped. */
	assert_value("{\"vitals\": {\"pulse\": 80, \"temp\": 36.6, \"x\": 1}}", F_VITALS,
	             "{\"temp\":\"36.6\",\"pulse\":\"80\"}");
	assert_value("{\"vitals\": {\"pulse\": 80, \"temp\": null}}", F_VITALS,
	             "{\"temp\":null,\"pulse\":\"80\"}");
	cr_assert(run("{\"vitals\": null}", VALIDATE_UPDATE));
	cr_assert(v.present[F_VITALS]);
	cr_assert_null(v.values[F_VITALS]);
	cr_assert_eq(v.mode, VALIDATE_UPDATE);

	/* Member errors nest under the field, as DRF's nested serializers. */
	cr_assert_not(run("{\"vitals\": {\"pulse\": 301, \"temp\": 50}}", VALIDATE_UPDATE));
	cr_assert_eq(error_count(), 1);
	cr_assert_str_eq(nested_error_of("vitals", "pulse"),
	                 "Ensure this value is less than or equal to 300.");
	cr_assert_str_eq(nested_error_of("vitals", "temp"),
	                 "Ensure this value is less than or equal to 45.");
	/* A required member is required on create, not on PATCH. */
	cr_assert_not(run("{\"name\": \"abc\", \"vitals\": {}}", VALIDATE_CREATE));
	cr_assert_str_eq(nested_error_of("vitals", "pulse"), "This field is required.");
	cr_assert(run("{\"vitals\": {}}", VALIDATE_UPDATE));
	assert_value("{\"vitals\": {}}", F_VITALS, "{}");
	/* The object's own rule sees the whole object. */
	cr_assert_not(run("{\"vitals\": {\"pulse\": 250}}", VALIDATE_UPDATE));
	cr_assert_str_eq(nested_error_of("vitals", "non_field_errors"),
	                 "pulse too high with this temperature.");
	/* Not an object. */
	assert_refused("{\"vitals\": \"high\"}", "vitals",
	               "Invalid data. Expected a dictionary, but got str.");
	assert_refused("{\"vitals\": [1]}", "vitals",
	               "Invalid data. Expected a dictionary, but got list.");
	assert_refused("{\"vitals\": 3}", "vitals",
	               "Invalid data. Expected a dictionary, but got int.");
}

Test(validate_text, each_kind_as_query_text, .init = setup, .fini = teardown)
{
	static const char *const choices[] = {"a", "b", NULL};
	const struct field id = {"id", FIELD_ID}, bounded = {"n", FIELD_INT, .min = 1, .max = 10},
	                   flag = {"f", FIELD_BOOL}, day = {"d", FIELD_DATE},
	                   at = {"t", FIELD_DATETIME, .accepts_date = true},
	                   strict_at = {"t", FIELD_DATETIME},
	                   choice = {"c", FIELD_CHOICE, .choices = choices},
	                   text = {"s", FIELD_STRING, .allow_blank = true, .max_len = 3};
	const char *message;

	cr_assert_str_eq(text_value(&id, "42", &message), "42");
	cr_assert_null(text_value(&id, "0", &message));
	cr_assert_str_eq(message, "Invalid pk - object does not exist.");
	cr_assert_null(text_value(&id, "99999999999999999999", &message));
	cr_assert_str_eq(message, "Invalid pk - object does not exist.");
	cr_assert_null(text_value(&id, "4x", &message));
	cr_assert_str_eq(message, "A valid integer is required.");
	cr_assert_null(text_value(&id, "", &message));
	cr_assert_null(text_value(&bounded, "11", &message));
	cr_assert_str_eq(message, "Ensure this value is less than or equal to 10.");
	cr_assert_null(text_value(&bounded, "-99999999999999999999", &message));
	cr_assert_str_eq(message, "Ensure this value is greater than or equal to 1.");
	cr_assert_str_eq(text_value(&flag, "True", &message), "true");
	cr_assert_str_eq(text_value(&flag, "0", &message), "false");
	cr_assert_null(text_value(&flag, "yes", &message));
	cr_assert_str_eq(message, "Must be a valid boolean.");
	cr_assert_str_eq(text_value(&day, "2024-02-29", &message), "2024-02-29");
	cr_assert_null(text_value(&day, "2023-02-29", &message));
	cr_assert_str_eq(text_value(&at, "2024-02-29", &message), "2024-02-29T00:00:00Z");
	cr_assert_null(text_value(&strict_at, "2024-02-29", &message));
	cr_assert_str_eq(text_value(&strict_at, "2024-02-29T10:00:00+03:00", &message),
	                 "2024-02-29T10:00:00+03:00");
	cr_assert_str_eq(text_value(&choice, "b", &message), "b");
	cr_assert_null(text_value(&choice, "B", &message));
	cr_assert_str_eq(message, "Select a valid choice.");
	cr_assert_str_eq(text_value(&text, "", &message), "");
	cr_assert_null(text_value(&text, "abcd", &message));
}

/* --- money: exact decimals and lists of lines (invoices) ------------------ */

static const struct field line_fields[] = {
    {"description", FIELD_STRING, .required = true, .max_len = 20},
    {"unit_price", FIELD_DECIMAL, .required = true, .positive = true, .min = 0, .max = 1000000,
     .decimal_places = 2},
    {NULL},
};

static const struct field money_fields[] = {
    {"price", FIELD_DECIMAL, .positive = true, .min = 0, .max = 1000000, .decimal_places = 2},
    {"rate", FIELD_DECIMAL, .min = 0, .max = 100, .decimal_places = 2},
    {"delta", FIELD_DECIMAL, .min = -5, .max = 5, .decimal_places = 2},
    {"lines", FIELD_LIST, .min = 1, .max = 3, .fields = line_fields},
    {NULL},
};

/* Validates json against money_fields (PATCH); returns the errors (owned
 * by the suite's teardown) or NULL, with v filled. */
static struct json_object *money(const char *json)
{
	struct json_object *body;
	const char *detail = NULL;

	cr_assert_eq(json_parse(arena, json, strlen(json), 10, &body, &detail), HMS_OK, "%s: %s",
	             json, detail);
	json_object_put(errors);
	memset(&v, 0, sizeof(v));
	errors = validate_body(arena, money_fields, body, VALIDATE_UPDATE, &v);
	return errors;
}

static void assert_money(const char *json, int field, const char *value)
{
	cr_assert_null(money(json), "%s refused: %s", json, json_object_to_json_string(errors));
	cr_assert(v.present[field], "%s", json);
	cr_assert_str_eq(v.values[field], value, "%s", json);
}

static void assert_money_refused(const char *json, const char *field, const char *message)
{
	cr_assert_not_null(money(json), "%s should be refused", json);
	cr_assert_str_eq(error_of(field), message, "%s", json);
}

TestSuite(validate_money, .init = setup, .fini = teardown);

Test(validate_money, strings_and_numbers_are_read_exactly)
{
	assert_money("{\"price\": \"19.99\"}", 0, "19.99");
	assert_money("{\"price\": 19.99}", 0, "19.99");
	assert_money("{\"price\": 0.1}", 0, "0.10");
	assert_money("{\"price\": \"0.1\"}", 0, "0.10");
	assert_money("{\"price\": 3}", 0, "3.00");
	assert_money("{\"price\": \"0.01\"}", 0, "0.01");
	assert_money("{\"price\": 1000000}", 0, "1000000.00");
	assert_money("{\"price\": \"1000000.00\"}", 0, "1000000.00");
	assert_money("{\"price\": 1.999e3}", 0, "1999.00");
	assert_money("{\"price\": \"12.5E-1\"}", 0, "1.25");
	/* Trailing zeros are not places: the same number. */
	assert_money("{\"price\": 19.990}", 0, "19.99");
	assert_money("{\"price\": \"007.50\"}", 0, "7.50");
	assert_money("{\"rate\": 0}", 1, "0.00");
	assert_money("{\"rate\": \"16\"}", 1, "16.00");
	assert_money("{\"rate\": -0}", 1, "0.00");
	assert_money("{\"delta\": -4.99}", 2, "-4.99");
	assert_money("{\"delta\": \"-5\"}", 2, "-5.00");
	/* A double would make this 0.30000000000000004: read as written. */
	assert_money("{\"price\": 0.30000000000000000}", 0, "0.30");
}

Test(validate_money, more_places_zero_negative_and_text_are_refused)
{
	const char *places = "Ensure that there are no more than 2 decimal places.";
	const char *positive = "Ensure this value is greater than or equal to 0.01.";

	assert_money_refused("{\"price\": 19.999}", "price", places);
	assert_money_refused("{\"price\": \"0.001\"}", "price", places);
	assert_money_refused("{\"price\": 0.30000000000000004}", "price", places);
	assert_money_refused("{\"price\": \"1e-3\"}", "price", places);
	assert_money_refused("{\"price\": 0}", "price", positive);
	assert_money_refused("{\"price\": \"0.00\"}", "price", positive);
	assert_money_refused("{\"price\": -1}", "price", positive);
	assert_money_refused("{\"price\": \"-0.01\"}", "price", positive);
	assert_money_refused("{\"price\": 1000000.01}", "price",
	                     "Ensure this value is less than or equal to 1000000.");
	assert_money_refused("{\"price\": 12345678901234567890123}", "price",
	                     "Ensure this value is less than or equal to 1000000.");
	assert_money_refused("{\"price\": \"99999999999999999999999999999999999999999999999999\"}",
	                     "price", "Ensure this value is less than or equal to 1000000.");
	assert_money_refused("{\"rate\": -0.01}", "rate",
	                     "Ensure this value is greater than or equal to 0.");
	assert_money_refused("{\"rate\": 100.001}", "rate",
	                     "Ensure this value is less than or equal to 100.");
	assert_money_refused("{\"delta\": -5.01}", "delta",
	                     "Ensure this value is greater than or equal to -5.");
	for (size_t i = 0; i < 11; i++) {
		static const char *const bad[] = {"\"abc\"", "\"\"",   "\"1.2.3\"", "\"1,50\"",
		                                  "\" 1\"",  "\"+1\"", "\".5\"",    "\"1e\"",
		                                  "\"nan\"", "true",   "\"1e999\""};
		const char *json = arena_printf(arena, "{\"price\": %s}", bad[i]);

		assert_money_refused(json, "price", "A valid number is required.");
	}
}

/* errors[field] as a list of per-element error objects. */
static struct json_object *element_errors(const char *field, size_t count)
{
	struct json_object *list;

	cr_assert_not_null(errors);
	cr_assert(json_object_object_get_ex(errors, field, &list), "%s",
	          json_object_to_json_string(errors));
	cr_assert(json_object_is_type(list, json_type_array), "%s",
	          json_object_to_json_string(errors));
	cr_assert_eq(json_object_array_length(list), count, "%s",
	             json_object_to_json_string(errors));
	return list;
}

Test(validate_money, lists_bind_each_line_and_nest_errors_per_line)
{
	struct json_object *list, *line;

	assert_money(
	    "{\"lines\": [{\"description\": \" X-ray \", \"unit_price\": 19.99, \"x\": 1}, "
	    "{\"description\": \"Bed\", \"unit_price\": \"7\"}]}",
	    3,
	    "[{\"description\":\"X-ray\",\"unit_price\":\"19.99\"},"
	    "{\"description\":\"Bed\",\"unit_price\":\"7.00\"}]");

	cr_assert_not_null(money("{\"lines\": [{\"description\": \"ok\", \"unit_price\": 1}, "
	                         "{\"description\": \"\", \"unit_price\": 0.001}, 7]}"));
	list = element_errors("lines", 3);
	cr_assert_eq(json_object_object_length(json_object_array_get_idx(list, 0)), 0,
	             "a valid line has no errors");
	line = json_object_array_get_idx(list, 1);
	cr_assert(json_object_object_get_ex(line, "description", NULL));
	cr_assert(json_object_object_get_ex(line, "unit_price", NULL));
	line = json_object_array_get_idx(list, 2);
	cr_assert(json_object_object_get_ex(line, "non_field_errors", NULL), "%s",
	          json_object_to_json_string(line));

	/* Every member of a line is required, also in a PATCH. */
	cr_assert_not_null(money("{\"lines\": [{\"description\": \"x\"}]}"));
	line = json_object_array_get_idx(element_errors("lines", 1), 0);
	cr_assert(json_object_object_get_ex(line, "unit_price", NULL));

	assert_money_refused("{\"lines\": []}", "lines", "This list may not be empty.");
	assert_money_refused("{\"lines\": {}}", "lines",
	                     "Expected a list of items but got type \"dict\".");
	assert_money_refused("{\"lines\": \"x\"}", "lines",
	                     "Expected a list of items but got type \"str\".");
	assert_money_refused("{\"lines\": [{}, {}, {}, {}]}", "lines",
	                     "Ensure this field has no more than 3 elements.");
}
