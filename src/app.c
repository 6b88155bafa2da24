/*
 * app.c - the request pipeline every route shares.
 *
 * Order matters and follows DRF: route (404/405), then (once identity
 * exists) authentication and permission, then the body (415, 400), then the
 * handler. The body size (413) and URI (414, 400) were checked when the
 * request was read.
 */
#include "hms/app.h"

#include <json-c/json.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/config.h"
#include "hms/http.h"
#include "hms/json.h"
#include "hms/permissions.h"
#include "hms/router.h"

static bool method_has_body(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "PATCH") == 0;
}

/* Reads the body of a route that is not streamed, now that the request is
 * known to be allowed: an unauthenticated client cannot make a worker
 * buffer anything. Returns false when an error response has been written. */
static bool read_body(struct http_request *req, struct http_response *res)
{
	size_t max = req->config != NULL ? (size_t)req->config->max_body_bytes : 1024 * 1024;
	enum hms_err err;

	if (req->body_read == NULL || req->route->body == ROUTE_BODY_STREAM)
		return true;
	err = http_request_read_body(req, req->body_read, req->body_source, max);
	if (err == HMS_OK)
		return true;
	http_respond_error(res, err,
	                   err == HMS_ERR_BAD_REQUEST
	                       ? "The request body ended before its Content-Length."
	                       : NULL);
	return false;
}

/* Parses the JSON body of a route that takes one. Returns false when an
 * error response has been written. */
static bool parse_json_body(struct http_request *req, struct http_response *res)
{
	const char *detail = NULL;
	int depth = req->config != NULL ? (int)req->config->json_max_depth : 32;
	enum hms_err err;

	if (!method_has_body(req->method) && req->body_len == 0)
		return true;
	if (!http_content_type_is_json(req->content_type)) {
		http_respond_error(res, HMS_ERR_MEDIA_TYPE,
		                   "Unsupported media type in request; send application/json.");
		return false;
	}
	err = json_parse(req->arena, req->body, req->body_len, depth, &req->json, &detail);
	if (err != HMS_OK) {
		http_respond_error(res, err, detail);
		return false;
	}
	if (!json_object_is_type(req->json, json_type_object)) {
		http_respond_field_error(res, "non_field_errors",
		                         "Invalid data. Expected a JSON object.");
		return false;
	}
	return true;
}

/* The entity a permission key is about ("patients.read" -> "patients"),
 * for the audit row of a denial. */
static const char *entity_of(struct arena *arena, const char *key)
{
	const char *dot = strchr(key, '.');

	return dot != NULL ? arena_strndup(arena, key, (size_t)(dot - key)) : key;
}

/* Authentication (401) and the role table (403, audited). Returns false
 * when an error response has been written. */
static bool authorize(struct http_request *req, struct http_response *res)
{
	const struct permission *perm = permission_find(req->route->permission);
	const char *detail = NULL;
	enum hms_err err;

	if (perm == NULL) {
		/* A route without a row in the table: refuse rather than guess. */
		http_respond_error(res, HMS_ERR_FORBIDDEN, NULL);
		return false;
	}
	if (perm->is_public)
		return true;
	err = auth_authenticate(req, &detail);
	if (err != HMS_OK) {
		http_respond_error(res, err, err == HMS_ERR_UNAUTHORIZED ? detail : NULL);
		return false;
	}
	if (!permission_allows(perm, (enum role)req->user.role)) {
		audit_record(req, "denied", entity_of(req->arena, perm->key),
		             req->id_count > 0 ? req->ids[0] : 0, AUDIT_DENIED);
		http_respond_error(res, HMS_ERR_FORBIDDEN, NULL);
		return false;
	}
	return true;
}

void app_dispatch(struct http_request *req, struct http_response *res, const struct route *table,
                  size_t count)
{
	char allow[128];
	const struct route *route;

	/* Before anything can fail: the path's family picks the error shape,
	 * so even a 404 for an unknown path under /fhir/ is an
	 * OperationOutcome. */
	for (const struct route_family *f = hms_route_families; f->prefix != NULL; f++)
		if (strncmp(req->path, f->prefix, strlen(f->prefix)) == 0)
			res->error_writer = f->error_writer;
	switch (router_match(table, count, req->method, req->path, &route, req->ids, &req->id_count,
	                     allow, sizeof(allow))) {
	case ROUTE_NOT_FOUND:
		http_respond_error(res, HMS_ERR_NOT_FOUND, NULL);
		return;
	case ROUTE_METHOD_NOT_ALLOWED: {
		const char *detail =
		    arena_printf(req->arena, "Method \"%.16s\" not allowed.", req->method);

		http_response_header(res, "Allow", arena_strdup(req->arena, allow));
		http_respond_error(res, HMS_ERR_METHOD, detail);
		return;
	}
	case ROUTE_FOUND:
		break;
	}
	req->route = route;
	if (!authorize(req, res) || !read_body(req, res))
		return;
	if (route->body == ROUTE_BODY_JSON && !parse_json_body(req, res))
		return;
	route->handler(req, res);
}
