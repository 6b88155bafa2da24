/*
 * router.h - the static route table and its matcher.
 *
 * A route is (method, pattern, handler, permission key, body kind, and for
 * the generic handlers the resource they serve). Patterns
 * are literal segments and "{id}" segments; the final '/' is optional on
 * input. An {id} must be a decimal integer from 1 to INT64_MAX, otherwise the
 * path does not match (404). A path that matches with another method gives
 * 405 and the Allow list.
 */
#ifndef HMS_ROUTER_H
#define HMS_ROUTER_H

#define ROUTE_MAX_IDS 4

#include <stddef.h>
#include <stdint.h>

struct http_request;
struct http_response;
struct json_object;

typedef void (*route_handler)(struct http_request *req, struct http_response *res);

enum route_body {
	ROUTE_BODY_NONE, /* the body, if any, is ignored */
	ROUTE_BODY_JSON, /* application/json, parsed before the handler */
	/* Read by the handler itself, in chunks, through req->body_read: an
	 * upload far larger than any JSON body, never held in memory. */
	ROUTE_BODY_STREAM,
};

struct route {
	const char *method;
	const char *pattern;
	route_handler handler;
	const char *permission; /* key in the permission table */
	enum route_body body;
	const void *arg; /* what a generic handler serves (a struct resource), or NULL */
};

enum route_match { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_METHOD_NOT_ALLOWED };

/* Matches method and path against table. On ROUTE_FOUND *out is the route
 * and ids holds the {id} values; on ROUTE_METHOD_NOT_ALLOWED allow holds the
 * comma-separated methods of the path ("GET, POST"). */
enum route_match router_match(const struct route *table, size_t count, const char *method,
                              const char *path, const struct route **out, int64_t *ids,
                              size_t *id_count, char *allow, size_t allow_size);

/* The API's routes (src/api/routes.c). */
extern const struct route hms_routes[];
extern const size_t hms_route_count;

/* A family of routes under one path prefix that answers errors in its own
 * shape (FHIR's OperationOutcome under /fhir/); any other path gets the
 * DRF shapes. The writer is an http_error_writer (http.h). */
struct route_family {
	const char *prefix; /* "/fhir/"; NULL ends the table */
	void (*error_writer)(struct http_response *res, int status, const char *detail,
	                     struct json_object *field_errors);
};

/* The route families (src/api/routes.c). */
extern const struct route_family hms_route_families[];

#endif
