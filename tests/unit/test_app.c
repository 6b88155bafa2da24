/*
 * test_app.c - app_dispatch (src/app.c): routing errors, body kind checks
 * and JSON parsing before the handler, with a local route table.
 *
 * Requests are built the way the worker builds them: http_request_parse on
 * an envp array, then http_request_read_body from a reader (here a fake).
 * Response bodies are parsed back with json-c and checked field by field.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "hms/app.h"
#include "hms/arena.h"
#include "hms/config.h"
#include "hms/http.h"
#include "hms/router.h"

#define MAX_BODY 4096

static int handler_calls;

/* Answers {"received": <parsed body or null>, "route": pattern}. */
static void echo_handler(struct http_request *req, struct http_response *res)
{
	struct json_object *o = json_object_new_object();

	handler_calls++;
	json_object_object_add(o, "received",
	                       req->json != NULL ? json_object_get(req->json) : NULL);
	json_object_object_add(o, "route", json_object_new_string(req->route->pattern));
	http_respond_json(res, 200, o);
}

/* Answers {"id": first id, "id_count": n, "has_json": bool}. */
static void item_handler(struct http_request *req, struct http_response *res)
{
	struct json_object *o = json_object_new_object();

	handler_calls++;
	json_object_object_add(o, "id",
	                       json_object_new_int64(req->id_count > 0 ? req->ids[0] : -1));
	json_object_object_add(o, "id_count", json_object_new_int((int)req->id_count));
	json_object_object_add(o, "has_json", json_object_new_boolean(req->json != NULL));
	http_respond_json(res, 200, o);
}

static const struct route table[] = {
    {"GET", "/api/echo/", echo_handler, "public", ROUTE_BODY_JSON},
    {"POST", "/api/echo/", echo_handler, "public", ROUTE_BODY_JSON},
    {"PATCH", "/api/echo/", echo_handler, "public", ROUTE_BODY_JSON},
    {"GET", "/api/items/{id}/", item_handler, "public", ROUTE_BODY_NONE},
    {"POST", "/api/items/{id}/ping/", item_handler, "public", ROUTE_BODY_NONE},
};

static struct arena *arena;
static struct http_request req;
static struct http_response res;
static struct json_object *body; /* the response body, parsed back */
static const struct hms_config *request_config;

static void setup(void)
{
	arena = arena_new(64 * 1024, 0);
	cr_assert_not_null(arena);
	body = NULL;
	handler_calls = 0;
	request_config = NULL;
}

static void teardown(void)
{
	json_object_put(body);
	body = NULL;
	arena_free(arena);
	arena = NULL;
}

TestSuite(app, .init = setup, .fini = teardown);

struct fake_input {
	const char *data;
	size_t len;
	size_t pos;
};

static long fake_read(void *source, char *buf, size_t len)
{
	struct fake_input *in = source;
	size_t n = in->len - in->pos;

	if (n > len)
		n = len;
	memcpy(buf, in->data + in->pos, n);
	in->pos += n;
	return (long)n;
}

/* Runs one request through app_dispatch; payload NULL = no body and no
 * Content-Length. Leaves the parsed response body in `body`. */
static void request(const char *method, const char *uri, const char *content_type,
                    const char *payload)
{
	const char *envp[5];
	size_t n = 0;
	struct fake_input in = {payload != NULL ? payload : "",
	                        payload != NULL ? strlen(payload) : 0, 0};

	envp[n++] = arena_printf(arena, "REQUEST_METHOD=%s", method);
	envp[n++] = arena_printf(arena, "REQUEST_URI=%s", uri);
	if (content_type != NULL)
		envp[n++] = arena_printf(arena, "CONTENT_TYPE=%s", content_type);
	if (payload != NULL)
		envp[n++] = arena_printf(arena, "CONTENT_LENGTH=%zu", strlen(payload));
	envp[n] = NULL;

	cr_assert_eq(http_request_parse(&req, arena, envp), HMS_OK);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, MAX_BODY), HMS_OK);
	req.config = request_config;
	http_response_init(&res, arena);
	app_dispatch(&req, &res, table, sizeof(table) / sizeof(table[0]));

	json_object_put(body);
	body = NULL;
	cr_assert_not_null(res.body, "every dispatched request has a body");
	cr_assert_str_eq(res.content_type, "application/json");
	cr_assert_eq(strlen(res.body), res.body_len);
	body = json_tokener_parse(res.body);
	cr_assert_not_null(body, "response body is not JSON: %s", res.body);
}

static const char *header(const char *name)
{
	for (size_t i = 0; i < res.header_count; i++)
		if (strcasecmp(res.headers[i].name, name) == 0)
			return res.headers[i].value;
	return NULL;
}

static struct json_object *field(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	cr_assert(json_object_is_type(obj, json_type_object), "not an object: %s",
	          json_object_to_json_string(obj));
	cr_assert(json_object_object_get_ex(obj, key, &v), "no '%s' in %s", key,
	          json_object_to_json_string(obj));
	return v;
}

/* Asserts the body is exactly {"detail": "<string>"} and returns it. */
static const char *detail_only(void)
{
	struct json_object *d = field(body, "detail");

	cr_assert_eq(json_object_object_length(body), 1, "extra fields in %s", res.body);
	cr_assert(json_object_is_type(d, json_type_string));
	return json_object_get_string(d);
}

static void assert_non_field_error(void)
{
	struct json_object *list;

	cr_assert_eq(res.status, 400);
	cr_assert_eq(json_object_object_length(body), 1, "extra fields in %s", res.body);
	list = field(body, "non_field_errors");
	cr_assert(json_object_is_type(list, json_type_array));
	cr_assert_eq(json_object_array_length(list), 1);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(list, 0)),
	                 "Invalid data. Expected a JSON object.");
	cr_assert_eq(handler_calls, 0);
}

static char *nested(int depth)
{
	char *s = arena_alloc(arena, 2 * (size_t)depth + 1);

	memset(s, '[', (size_t)depth);
	memset(s + depth, ']', (size_t)depth);
	s[2 * depth] = '\0';
	return s;
}

Test(app, unknown_path_is_404_with_drf_detail)
{
	request("GET", "/api/nothing/", NULL, NULL);
	cr_assert_eq(res.status, 404);
	cr_assert_str_eq(detail_only(), "Not found.");
	cr_assert_null(header("Allow"));
	cr_assert_eq(handler_calls, 0);
}

Test(app, invalid_id_is_404)
{
	request("GET", "/api/items/0/", NULL, NULL);
	cr_assert_eq(res.status, 404);
	cr_assert_str_eq(detail_only(), "Not found.");
	request("GET", "/api/items/9223372036854775808/", NULL, NULL);
	cr_assert_eq(res.status, 404);
	cr_assert_eq(handler_calls, 0);
}

Test(app, wrong_method_is_405_with_allow)
{
	request("DELETE", "/api/echo/", NULL, NULL);
	cr_assert_eq(res.status, 405);
	cr_assert_str_eq(detail_only(), "Method \"DELETE\" not allowed.");
	cr_assert_not_null(header("Allow"));
	cr_assert_str_eq(header("Allow"), "GET, POST, PATCH");
	cr_assert_eq(handler_calls, 0);

	request("PUT", "/api/items/7/", "application/json", "{}");
	cr_assert_eq(res.status, 405);
	cr_assert_str_eq(header("Allow"), "GET");
}

Test(app, non_json_content_type_is_415)
{
	request("POST", "/api/echo/", "text/plain", "{\"a\":1}");
	cr_assert_eq(res.status, 415);
	cr_assert_not_null(strstr(detail_only(), "application/json"));
	cr_assert_eq(handler_calls, 0);
}

Test(app, form_content_type_is_415)
{
	request("POST", "/api/echo/", "application/x-www-form-urlencoded", "a=1");
	cr_assert_eq(res.status, 415);
	cr_assert_eq(handler_calls, 0);
}

Test(app, missing_content_type_is_415)
{
	request("POST", "/api/echo/", NULL, "{\"a\":1}");
	cr_assert_eq(res.status, 415);
	cr_assert_eq(handler_calls, 0);
}

Test(app, too_deep_json_is_400)
{
	const char *deep = arena_printf(arena, "{\"a\":%s}", nested(40));

	request("POST", "/api/echo/", "application/json", deep);
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(detail_only(), "JSON parse error - nested too deeply.");
	cr_assert_eq(handler_calls, 0);
}

Test(app, json_depth_comes_from_config)
{
	struct hms_config cfg;
	const char *doc = "{\"a\":{\"b\":1}}";

	memset(&cfg, 0, sizeof(cfg));
	cfg.json_max_depth = 3;
	request_config = &cfg;
	request("POST", "/api/echo/", "application/json", doc);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(handler_calls, 1);

	cfg.json_max_depth = 2;
	request("POST", "/api/echo/", "application/json", doc);
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(detail_only(), "JSON parse error - nested too deeply.");
	cr_assert_eq(handler_calls, 1);
}

Test(app, json_array_body_is_non_field_error)
{
	request("POST", "/api/echo/", "application/json", "[{\"a\":1}]");
	assert_non_field_error();
}

Test(app, json_scalar_body_is_non_field_error)
{
	request("PATCH", "/api/echo/", "application/json", "\"text\"");
	assert_non_field_error();
}

Test(app, malformed_json_is_400)
{
	request("POST", "/api/echo/", "application/json", "{\"a\":");
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(detail_only(), "JSON parse error - the body is not valid JSON.");
	cr_assert_eq(handler_calls, 0);
}

Test(app, invalid_utf8_json_is_400)
{
	request("POST", "/api/echo/", "application/json", "{\"a\":\"\xff\"}");
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(detail_only(), "JSON parse error - the body is not valid UTF-8.");
	cr_assert_eq(handler_calls, 0);
}

Test(app, empty_post_body_is_400)
{
	request("POST", "/api/echo/", "application/json", "");
	cr_assert_eq(res.status, 400);
	cr_assert_str_eq(detail_only(), "JSON parse error - the body is empty.");
	cr_assert_eq(handler_calls, 0);
}

Test(app, handler_gets_parsed_object)
{
	struct json_object *got;

	request("POST", "/api/echo/", "application/json; charset=utf-8",
	        "{\"name\":\"Ana\",\"age\":41,\"tags\":[\"x\"]}");
	cr_assert_eq(res.status, 200);
	cr_assert_eq(handler_calls, 1);
	cr_assert_eq(req.route, &table[1]);
	cr_assert_not_null(req.json);
	cr_assert(json_object_is_type(req.json, json_type_object));
	got = field(body, "received");
	cr_assert_str_eq(json_object_get_string(field(got, "name")), "Ana");
	cr_assert_eq(json_object_get_int(field(got, "age")), 41);
	cr_assert_eq(json_object_array_length(field(got, "tags")), 1);
	cr_assert_str_eq(json_object_get_string(field(body, "route")), "/api/echo/");
}

Test(app, get_without_body_on_json_route_skips_parsing)
{
	request("GET", "/api/echo", NULL, NULL);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(handler_calls, 1);
	cr_assert_null(req.json);
	cr_assert(json_object_is_type(field(body, "received"), json_type_null));
}

Test(app, get_with_body_on_json_route_is_checked)
{
	request("GET", "/api/echo/", "application/json", "{\"q\":1}");
	cr_assert_eq(res.status, 200);
	cr_assert_eq(json_object_get_int(field(field(body, "received"), "q")), 1);

	request("GET", "/api/echo/", "text/plain", "q");
	cr_assert_eq(res.status, 415);
	cr_assert_eq(handler_calls, 1);
}

Test(app, handler_gets_ids)
{
	request("GET", "/api/items/123", NULL, NULL);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(json_object_get_int64(field(body, "id")), 123);
	cr_assert_eq(json_object_get_int(field(body, "id_count")), 1);
	cr_assert_eq(req.ids[0], 123);
	cr_assert_eq(req.route, &table[3]);
}

Test(app, body_is_ignored_on_routes_without_json)
{
	request("POST", "/api/items/5/ping/", "text/plain", "this is not JSON");
	cr_assert_eq(res.status, 200);
	cr_assert_eq(handler_calls, 1);
	cr_assert_not(json_object_get_boolean(field(body, "has_json")));
	cr_assert_eq(json_object_get_int64(field(body, "id")), 5);
}

/* --- authentication and the role table, before any handler runs ---------- */

static const struct route guarded[] = {
    {"GET", "/api/me/", item_handler, "self", ROUTE_BODY_NONE},
    {"GET", "/api/nokey/", item_handler, "no.such.key", ROUTE_BODY_NONE},
};

static void guarded_request(const char *uri, const char *authorization)
{
	static struct hms_config cfg;
	const char *envp[4];
	size_t n = 0;
	struct fake_input in = {"", 0, 0};

	config_init(&cfg);
	envp[n++] = "REQUEST_METHOD=GET";
	envp[n++] = arena_printf(arena, "REQUEST_URI=%s", uri);
	if (authorization != NULL)
		envp[n++] = arena_printf(arena, "HTTP_AUTHORIZATION=%s", authorization);
	envp[n] = NULL;
	cr_assert_eq(http_request_parse(&req, arena, envp), HMS_OK);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, MAX_BODY), HMS_OK);
	req.config = &cfg;
	http_response_init(&res, arena);
	app_dispatch(&req, &res, guarded, sizeof(guarded) / sizeof(guarded[0]));
	json_object_put(body);
	body = json_tokener_parse(res.body);
	config_free(&cfg);
}

Test(app, missing_token_is_401_with_challenge_and_no_handler)
{
	guarded_request("/api/me/", NULL);
	cr_assert_eq(res.status, 401);
	cr_assert_not_null(header("WWW-Authenticate"));
	cr_assert_str_eq(detail_only(), "Authentication credentials were not provided.");
	cr_assert_eq(handler_calls, 0);
}

Test(app, malformed_or_foreign_scheme_is_401)
{
	const char *values[] = {"Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer ", "bearer x"};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		guarded_request("/api/me/", values[i]);
		cr_assert_eq(res.status, 401, "%s", values[i]);
		cr_assert_not_null(header("WWW-Authenticate"));
	}
	cr_assert_eq(handler_calls, 0);
}

Test(app, route_without_a_permission_row_is_refused)
{
	guarded_request("/api/nokey/", NULL);
	cr_assert_eq(res.status, 403);
	cr_assert_eq(handler_calls, 0);
}
