/*
 * test_router.c - router_match (src/http/router.c) against a local table,
 * and the shape of the real route table (src/api/routes.c).
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hms/health.h"
#include "hms/router.h"

static void handler_a(struct http_request *req, struct http_response *res)
{
	(void)req;
	(void)res;
}

static void handler_b(struct http_request *req, struct http_response *res)
{
	(void)req;
	(void)res;
}

enum {
	PATIENTS_LIST,
	PATIENTS_CREATE,
	PATIENTS_SEARCH,
	PATIENT_GET,
	PATIENT_PUT,
	PATIENT_PATCH,
	PATIENT_DELETE,
	NOTE_GET,
	LOGIN,
	HEALTH,
	FOUR_IDS,
	FIVE_IDS,
	ROUTE_COUNT
};

static const struct route table[] = {
    [PATIENTS_LIST] = {"GET", "/api/patients/", handler_a, "patients.list", ROUTE_BODY_NONE},
    [PATIENTS_CREATE] = {"POST", "/api/patients/", handler_b, "patients.create", ROUTE_BODY_JSON},
    [PATIENTS_SEARCH] = {"GET", "/api/patients/search/", handler_a, "patients.list",
                         ROUTE_BODY_NONE},
    [PATIENT_GET] = {"GET", "/api/patients/{id}/", handler_a, "patients.read", ROUTE_BODY_NONE},
    [PATIENT_PUT] = {"PUT", "/api/patients/{id}/", handler_b, "patients.update", ROUTE_BODY_JSON},
    [PATIENT_PATCH] = {"PATCH", "/api/patients/{id}/", handler_b, "patients.update",
                       ROUTE_BODY_JSON},
    [PATIENT_DELETE] = {"DELETE", "/api/patients/{id}/", handler_a, "patients.delete",
                        ROUTE_BODY_NONE},
    [NOTE_GET] = {"GET", "/api/patients/{id}/notes/{id}/", handler_a, "notes.read",
                  ROUTE_BODY_NONE},
    [LOGIN] = {"POST", "/api/auth/login/", handler_b, "public", ROUTE_BODY_JSON},
    [HEALTH] = {"GET", "/api/health", handler_a, "public", ROUTE_BODY_NONE},
    [FOUR_IDS] = {"GET", "/t/{id}/{id}/{id}/{id}/", handler_a, "t", ROUTE_BODY_NONE},
    [FIVE_IDS] = {"GET", "/u/{id}/{id}/{id}/{id}/{id}/", handler_a, "u", ROUTE_BODY_NONE},
};

static const struct route *found;
static int64_t ids[ROUTE_MAX_IDS];
static size_t id_count;
static char allow[128];

static enum route_match match(const char *method, const char *path)
{
	found = (const struct route *)&found; /* must be overwritten */
	id_count = 99;
	memset(ids, 0, sizeof(ids));
	memset(allow, 'x', sizeof(allow));
	return router_match(table, ROUTE_COUNT, method, path, &found, ids, &id_count, allow,
	                    sizeof(allow));
}

static void assert_found(const char *method, const char *path, int index)
{
	cr_assert_eq(match(method, path), ROUTE_FOUND, "%s %s should match", method, path);
	cr_assert_eq(found, &table[index], "%s %s matched the wrong route (want %d)", method, path,
	             index);
}

static void assert_not_found(const char *method, const char *path)
{
	cr_assert_eq(match(method, path), ROUTE_NOT_FOUND, "%s %s should not match", method, path);
	cr_assert_null(found);
	cr_assert_eq(id_count, 0);
	cr_assert_str_eq(allow, "");
}

Test(router, literal_paths)
{
	assert_found("GET", "/api/patients/", PATIENTS_LIST);
	cr_assert_eq(id_count, 0);
	cr_assert_eq(found->handler, handler_a);
	assert_found("POST", "/api/patients/", PATIENTS_CREATE);
	cr_assert_eq(found->handler, handler_b);
	cr_assert_str_eq(found->permission, "patients.create");
	assert_found("POST", "/api/auth/login/", LOGIN);
}

Test(router, literal_segment_wins_over_id_for_non_digits)
{
	assert_found("GET", "/api/patients/search/", PATIENTS_SEARCH);
	cr_assert_eq(id_count, 0);
}

Test(router, final_slash_is_optional)
{
	assert_found("GET", "/api/patients", PATIENTS_LIST);
	assert_found("GET", "/api/patients/12", PATIENT_GET);
	cr_assert_eq(ids[0], 12);
	/* A pattern written without the slash accepts both. */
	assert_found("GET", "/api/health", HEALTH);
	assert_found("GET", "/api/health/", HEALTH);
}

Test(router, empty_segments_never_match)
{
	assert_not_found("GET", "/api//patients/");
	assert_not_found("GET", "//api/patients/");
	assert_not_found("GET", "/api/patients//");
	assert_not_found("GET", "/api/patients/12//");
	assert_not_found("GET", "/api/patients//12/");
	assert_not_found("GET", "/api/health//");
}

Test(router, unknown_paths)
{
	assert_not_found("GET", "/");
	assert_not_found("GET", "/api");
	assert_not_found("GET", "/api/");
	assert_not_found("GET", "/api/doctors/");
	assert_not_found("GET", "/api/patient/");
	assert_not_found("GET", "/api/patientsx/");
	assert_not_found("GET", "/API/patients/");
	assert_not_found("GET", "/api/patients/12/extra/");
	assert_not_found("GET", "/api/patients/12/notes/");
	assert_not_found("GET", "api/patients/");
	assert_not_found("GET", "");
}

Test(router, id_is_parsed)
{
	assert_found("GET", "/api/patients/1/", PATIENT_GET);
	cr_assert_eq(id_count, 1);
	cr_assert_eq(ids[0], 1);
	assert_found("DELETE", "/api/patients/4567/", PATIENT_DELETE);
	cr_assert_eq(ids[0], 4567);
}

Test(router, largest_id_is_int64_max)
{
	assert_found("GET", "/api/patients/9223372036854775807/", PATIENT_GET);
	cr_assert_eq(id_count, 1);
	cr_assert_eq(ids[0], INT64_MAX);
	assert_found("GET", "/api/patients/9223372036854775806", PATIENT_GET);
	cr_assert_eq(ids[0], INT64_MAX - 1);
}

Test(router, id_out_of_range_is_not_found)
{
	assert_not_found("GET", "/api/patients/0/");
	assert_not_found("GET", "/api/patients/9223372036854775808/");
	assert_not_found("GET", "/api/patients/9223372036854775809/");
	assert_not_found("GET", "/api/patients/9999999999999999999/");
	assert_not_found("GET", "/api/patients/10000000000000000000/");
	assert_not_found("GET", "/api/patients/99999999999999999999999999/");
}

Test(router, id_must_be_plain_decimal)
{
	static const char *const bad[] = {
	    "/api/patients/007/",  "/api/patients/01/",   "/api/patients/00/", "/api/patients/-1/",
	    "/api/patients/+1/",   "/api/patients/1a/",   "/api/patients/a1/", "/api/patients/1.0/",
	    "/api/patients/1e3/",  "/api/patients/0x1F/", "/api/patients/ 1/", "/api/patients/1 /",
	    "/api/patients/{id}/",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_not_found("GET", bad[i]);
}

Test(router, several_ids_in_order)
{
	assert_found("GET", "/api/patients/5/notes/77/", NOTE_GET);
	cr_assert_eq(id_count, 2);
	cr_assert_eq(ids[0], 5);
	cr_assert_eq(ids[1], 77);
	assert_not_found("GET", "/api/patients/5/notes/0/");
}

Test(router, at_most_route_max_ids)
{
	assert_found("GET", "/t/1/2/3/4/", FOUR_IDS);
	cr_assert_eq(id_count, ROUTE_MAX_IDS);
	cr_assert_eq(ids[0], 1);
	cr_assert_eq(ids[3], 4);
	/* A pattern with more {id} segments than ids can hold never matches. */
	assert_not_found("GET", "/u/1/2/3/4/5/");
}

Test(router, method_not_allowed_lists_methods_in_table_order)
{
	cr_assert_eq(match("DELETE", "/api/patients/"), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_null(found);
	cr_assert_eq(id_count, 0);
	cr_assert_str_eq(allow, "GET, POST");

	cr_assert_eq(match("POST", "/api/patients/3/"), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "GET, PUT, PATCH, DELETE");

	cr_assert_eq(match("GET", "/api/auth/login"), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "POST");
}

Test(router, methods_are_case_sensitive)
{
	cr_assert_eq(match("get", "/api/patients/"), ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_str_eq(allow, "GET, POST");
}

Test(router, bad_id_on_known_path_is_404_not_405)
{
	/* The path must match before the method matters. */
	cr_assert_eq(match("POST", "/api/patients/0/"), ROUTE_NOT_FOUND);
}

Test(router, allow_list_is_truncated_safely)
{
	char small[6];
	const struct route *r;
	int64_t got[ROUTE_MAX_IDS];
	size_t n;

	memset(small, 'x', sizeof(small));
	cr_assert_eq(router_match(table, ROUTE_COUNT, "POST", "/api/patients/3/", &r, got, &n,
	                          small, sizeof(small)),
	             ROUTE_METHOD_NOT_ALLOWED);
	cr_assert_not_null(memchr(small, '\0', sizeof(small)), "allow must stay terminated");
	cr_assert_eq(strncmp(small, "GET", 3), 0);
	/* No buffer at all is allowed too. */
	cr_assert_eq(
	    router_match(table, ROUTE_COUNT, "POST", "/api/patients/3/", &r, got, &n, NULL, 0),
	    ROUTE_METHOD_NOT_ALLOWED);
}

Test(router, empty_table_finds_nothing)
{
	const struct route *r = table;
	int64_t got[ROUTE_MAX_IDS];
	size_t n = 5;
	char buf[16] = "junk";

	cr_assert_eq(router_match(table, 0, "GET", "/api/patients/", &r, got, &n, buf, sizeof(buf)),
	             ROUTE_NOT_FOUND);
	cr_assert_null(r);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(buf, "");
}

/* --- the real table --- */

static bool is_method(const char *m)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i]) == 0)
			return true;
	return false;
}

Test(routes, every_route_is_complete)
{
	cr_assert_gt(hms_route_count, 0);
	for (size_t i = 0; i < hms_route_count; i++) {
		const struct route *r = &hms_routes[i];

		cr_assert_not_null(r->method, "route %zu has no method", i);
		cr_assert(is_method(r->method), "route %zu: method '%s'", i, r->method);
		cr_assert_not_null(r->pattern, "route %zu has no pattern", i);
		/* The REST API's paths end in '/' (SPEC section 3); FHIR's
		 * never do. */
		if (strncmp(r->pattern, "/fhir/", 6) == 0) {
			cr_assert_neq(r->pattern[strlen(r->pattern) - 1], '/',
			              "route %zu: FHIR pattern '%s' should not end in '/'", i,
			              r->pattern);
		} else {
			cr_assert_eq(strncmp(r->pattern, "/api/", 5), 0, "route %zu: pattern '%s'",
			             i, r->pattern);
			cr_assert_eq(r->pattern[strlen(r->pattern) - 1], '/',
			             "route %zu: pattern '%s' should end in '/'", i, r->pattern);
		}
		cr_assert_null(strstr(r->pattern, "//"), "route %zu: pattern '%s'", i, r->pattern);
		cr_assert_not_null(r->handler, "%s %s has no handler", r->method, r->pattern);
		cr_assert_not_null(r->permission, "%s %s has no permission key", r->method,
		                   r->pattern);
		cr_assert_neq(r->permission[0], '\0', "%s %s has an empty permission key",
		              r->method, r->pattern);
		cr_assert(r->body == ROUTE_BODY_NONE || r->body == ROUTE_BODY_JSON ||
		          r->body == ROUTE_BODY_STREAM);
	}
}

Test(routes, no_route_is_declared_twice)
{
	for (size_t i = 0; i < hms_route_count; i++)
		for (size_t k = i + 1; k < hms_route_count; k++)
			cr_assert(strcmp(hms_routes[i].method, hms_routes[k].method) != 0 ||
			              strcmp(hms_routes[i].pattern, hms_routes[k].pattern) != 0,
			          "%s %s is declared twice", hms_routes[i].method,
			          hms_routes[i].pattern);
}

Test(routes, every_route_is_reachable_by_its_own_pattern)
{
	/* A pattern with {id} is requested with id 1; the router must pick
	 * exactly that entry (an earlier entry would shadow it). */
	for (size_t i = 0; i < hms_route_count; i++) {
		char path[512];
		const char *p = hms_routes[i].pattern;
		size_t len = 0;
		const struct route *r;
		int64_t got[ROUTE_MAX_IDS];
		size_t n;

		while (*p != '\0' && len < sizeof(path) - 2) {
			if (strncmp(p, "{id}", 4) == 0) {
				path[len++] = '1';
				p += 4;
			} else {
				path[len++] = *p++;
			}
		}
		path[len] = '\0';
		cr_assert_eq(router_match(hms_routes, hms_route_count, hms_routes[i].method, path,
		                          &r, got, &n, NULL, 0),
		             ROUTE_FOUND, "%s %s", hms_routes[i].method, path);
		cr_assert_eq(r, &hms_routes[i], "%s %s is shadowed by an earlier route",
		             hms_routes[i].method, hms_routes[i].pattern);
	}
}

Test(routes, health_is_public)
{
	const struct route *r;
	int64_t got[ROUTE_MAX_IDS];
	size_t n;

	cr_assert_eq(
	    router_match(hms_routes, hms_route_count, "GET", "/api/health/", &r, got, &n, NULL, 0),
	    ROUTE_FOUND);
	cr_assert_eq(r->handler, health_get);
	cr_assert_str_eq(r->permission, "public");
	cr_assert_eq(r->body, ROUTE_BODY_NONE);
}
