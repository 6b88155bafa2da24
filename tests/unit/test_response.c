/*
 * test_response.c - the response writer (src/http/response.c): headers are
 * checked for injection, bodies are serialised once into the arena, and
 * errors come out in DRF shapes.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/http.h"

static struct arena *arena;
static struct http_response res;
static struct json_object *parsed;

static void setup(void)
{
	arena = arena_new(16 * 1024, 0);
	cr_assert_not_null(arena);
	http_response_init(&res, arena);
	parsed = NULL;
}

static void teardown(void)
{
	json_object_put(parsed);
	arena_free(arena);
}

TestSuite(response, .init = setup, .fini = teardown);

static struct json_object *body(void)
{
	cr_assert_not_null(res.body);
	cr_assert_eq(strlen(res.body), res.body_len);
	json_object_put(parsed);
	parsed = json_tokener_parse(res.body);
	cr_assert_not_null(parsed, "not JSON: %s", res.body);
	return parsed;
}

static const char *string_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key, res.body);
	return json_object_get_string(v);
}

Test(response, init_is_an_empty_500)
{
	cr_assert_eq(res.arena, arena);
	cr_assert_eq(res.status, 500);
	cr_assert_eq(res.header_count, 0);
	cr_assert_null(res.body);
	cr_assert_null(res.content_type);
}

Test(response, headers_are_kept_in_order)
{
	cr_assert_eq(http_response_header(&res, "ETag", "\"3\""), 0);
	cr_assert_eq(http_response_header(&res, "Location", "/api/patients/3/"), 0);
	cr_assert_eq(res.header_count, 2);
	cr_assert_str_eq(res.headers[0].name, "ETag");
	cr_assert_str_eq(res.headers[0].value, "\"3\"");
	cr_assert_str_eq(res.headers[1].name, "Location");
}

Test(response, header_injection_is_refused)
{
	cr_assert_eq(http_response_header(&res, "X-A", "ok\r\nSet-Cookie: x=1"), -1);
	cr_assert_eq(http_response_header(&res, "X-A", "tab\there"), -1);
	cr_assert_eq(http_response_header(&res, "X-A", "del\x7f"), -1);
	cr_assert_eq(http_response_header(&res, "X-A\n", "v"), -1);
	cr_assert_eq(http_response_header(&res, "X-A: b", "v"), -1);
	cr_assert_eq(http_response_header(&res, NULL, "v"), -1);
	cr_assert_eq(http_response_header(&res, "X-A", NULL), -1);
	cr_assert_eq(res.header_count, 0);
}

Test(response, header_count_is_bounded)
{
	for (int i = 0; i < HTTP_MAX_RESPONSE_HEADERS; i++)
		cr_assert_eq(http_response_header(&res, "X-N", "v"), 0);
	cr_assert_eq(http_response_header(&res, "X-Too-Many", "v"), -1);
	cr_assert_eq(res.header_count, HTTP_MAX_RESPONSE_HEADERS);
}

Test(response, json_body_is_compact_and_slashes_unescaped)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "url", json_object_new_string("/api/patients/1/"));
	json_object_object_add(o, "n", json_object_new_int(2));
	http_respond_json(&res, 201, o);
	cr_assert_eq(res.status, 201);
	cr_assert_str_eq(res.content_type, "application/json");
	cr_assert_str_eq(res.body, "{\"url\":\"/api/patients/1/\",\"n\":2}");
	cr_assert_eq(res.body_len, strlen(res.body));
}

Test(response, null_body_means_no_body)
{
	http_respond_json(&res, 204, NULL);
	cr_assert_eq(res.status, 204);
	cr_assert_null(res.body);
	cr_assert_eq(res.body_len, 0);
	cr_assert_null(res.content_type);
}

Test(response, later_response_replaces_earlier)
{
	http_respond_detail(&res, 400, "first");
	http_respond_json(&res, 204, NULL);
	cr_assert_eq(res.status, 204);
	cr_assert_null(res.body);
}

Test(response, detail_shape)
{
	http_respond_detail(&res, 409, "Slot \"taken\" / busy.");
	cr_assert_eq(res.status, 409);
	cr_assert_eq(json_object_object_length(body()), 1);
	cr_assert_str_eq(string_field(parsed, "detail"), "Slot \"taken\" / busy.");
}

Test(response, error_uses_default_or_given_detail)
{
	http_respond_error(&res, HMS_ERR_NOT_FOUND, NULL);
	cr_assert_eq(res.status, 404);
	cr_assert_str_eq(string_field(body(), "detail"), "Not found.");

	http_respond_error(&res, HMS_ERR_CONFLICT, "Already booked.");
	cr_assert_eq(res.status, 409);
	cr_assert_str_eq(string_field(body(), "detail"), "Already booked.");
}

Test(response, a_503_that_heals_by_itself_carries_retry_after)
{
	http_respond_error(&res, HMS_ERR_UNAVAILABLE, NULL);
	cr_assert_eq(res.status, 503);
	cr_assert_eq(res.header_count, 1);
	cr_assert_str_eq(res.headers[0].name, "Retry-After");
	cr_assert_eq(atoi(res.headers[0].value), hms_err_retry_after(HMS_ERR_UNAVAILABLE));

	http_response_init(&res, arena);
	http_respond_error(&res, HMS_ERR_READ_ONLY, NULL);
	cr_assert_eq(res.status, 503);
	cr_assert_eq(res.header_count, 1);
	cr_assert_str_eq(res.headers[0].name, "Retry-After");
	cr_assert_eq(atoi(res.headers[0].value), hms_err_retry_after(HMS_ERR_READ_ONLY));
	cr_assert_str_eq(string_field(body(), "detail"), hms_err_detail(HMS_ERR_READ_ONLY));

	/* A statement past its timeout would time out again: no Retry-After. */
	http_response_init(&res, arena);
	http_respond_error(&res, HMS_ERR_TIMEOUT, NULL);
	cr_assert_eq(res.status, 503);
	cr_assert_eq(res.header_count, 0);
}

Test(response, unauthorized_carries_www_authenticate)
{
	http_respond_error(&res, HMS_ERR_UNAUTHORIZED, NULL);
	cr_assert_eq(res.status, 401);
	cr_assert_eq(res.header_count, 1);
	cr_assert_str_eq(res.headers[0].name, "WWW-Authenticate");
	cr_assert_str_eq(res.headers[0].value, "Bearer realm=\"api\"");
	cr_assert_str_eq(string_field(body(), "detail"),
	                 "Authentication credentials were not provided.");
}

Test(response, field_errors_are_400)
{
	struct json_object *errors = json_object_new_object();
	struct json_object *list = json_object_new_array();
	struct json_object *v;

	json_object_array_add(list, json_object_new_string("This field is required."));
	json_object_object_add(errors, "first_name", list);
	http_respond_field_errors(&res, errors);
	cr_assert_eq(res.status, 400);
	cr_assert(json_object_object_get_ex(body(), "first_name", &v));
	cr_assert_eq(json_object_array_length(v), 1);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)),
	                 "This field is required.");
}

Test(response, body_outlives_the_json_tree)
{
	/* The tree is released by http_respond_json; the text lives in the
	 * arena (ASan would report a use after free otherwise). */
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "k", json_object_new_string("value"));
	http_respond_json(&res, 200, o);
	cr_assert_str_eq(string_field(body(), "k"), "value");
}

Test(response, reason_phrases)
{
	cr_assert_str_eq(http_status_reason(200), "OK");
	cr_assert_str_eq(http_status_reason(201), "Created");
	cr_assert_str_eq(http_status_reason(204), "No Content");
	cr_assert_str_eq(http_status_reason(404), "Not Found");
	cr_assert_str_eq(http_status_reason(405), "Method Not Allowed");
	cr_assert_str_eq(http_status_reason(413), "Payload Too Large");
	cr_assert_str_eq(http_status_reason(415), "Unsupported Media Type");
	cr_assert_str_eq(http_status_reason(503), "Service Unavailable");
	cr_assert_str_eq(http_status_reason(418), "Unknown");
}

Test(response, one_field_error_is_400_with_one_message)
{
	struct json_object *v;

	http_respond_field_error(&res, "username", "This field is required.");
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(res.content_type, "application/json");
	cr_assert_eq(json_object_object_length(body()), 1, "%s", res.body);
	cr_assert(json_object_object_get_ex(parsed, "username", &v));
	cr_assert(json_object_is_type(v, json_type_array));
	cr_assert_eq(json_object_array_length(v), 1);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)),
	                 "This field is required.");
}

Test(response, body_wide_error_goes_under_non_field_errors)
{
	http_respond_field_error(&res, "non_field_errors", "Invalid data. Expected a JSON object.");
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(res.body,
	                 "{\"non_field_errors\":[\"Invalid data. Expected a JSON object.\"]}");
}

/* A route family with its own error shape (FHIR's OperationOutcome) gets
 * every error through its writer: details and field errors alike. */
static int written_status;
static const char *written_detail;
static bool written_fields;

static void family_writer(struct http_response *r, int status, const char *detail,
                          struct json_object *field_errors)
{
	written_status = status;
	written_detail = detail;
	written_fields = field_errors != NULL;
	json_object_put(field_errors);
	http_respond_json(r, status, json_object_new_object());
}

Test(response, a_family_error_writer_answers_every_error)
{
	res.error_writer = family_writer;
	http_respond_error(&res, HMS_ERR_NOT_FOUND, NULL);
	cr_assert_eq(written_status, 404);
	cr_assert_not_null(written_detail);
	cr_assert_not(written_fields);
	cr_assert_eq(res.status, 404);
	http_respond_field_error(&res, "birthdate", "Enter a valid date.");
	cr_assert_eq(written_status, 400);
	cr_assert(written_fields);
	http_respond_detail(&res, 410, "Gone.");
	cr_assert_eq(written_status, 410);
	cr_assert_str_eq(written_detail, "Gone.");
}
