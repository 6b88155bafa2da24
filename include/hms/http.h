/*
 * http.h - the request and response of one API call.
 *
 * A request is built from FastCGI parameters (an envp-style array) so that
 * it can be tested without a server. Every value from outside is checked
 * here, where it enters: the path and query are percent-decoded strictly
 * (bad escapes, NUL and invalid UTF-8 are refused), sizes are bounded, and
 * the body is read up to a hard limit. Responses are built as JSON trees and
 * serialised once; errors go through http_respond_error() in DRF shapes.
 */
#ifndef HMS_HTTP_H
#define HMS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hms/err.h"
#include "hms/router.h"

struct arena;
struct json_object;
struct db;
struct hms_config;

#define HTTP_MAX_PATH_BYTES       2048
#define HTTP_MAX_QUERY_BYTES      8192
#define HTTP_MAX_QUERY_PARAMS     64
#define HTTP_REQUEST_ID_MAX       64
#define HTTP_MAX_RESPONSE_HEADERS 16

/* Reads up to len bytes; returns the count, 0 at end of input, -1 on error. */
typedef long (*http_read_fn)(void *source, char *buf, size_t len);

struct http_param {
	char *key;
	char *value;
};

/* Who is asking, once the pipeline has authenticated the request. */
struct request_user {
	int64_t id;
	unsigned role; /* enum role (permissions.h) */
	bool authenticated;
};

struct http_request {
	struct arena *arena;
	const char *method;
	char *path; /* percent-decoded, without the query */
	struct http_param *params;
	size_t param_count;
	const char *content_type; /* NULL when absent */
	long long content_length; /* -1 when absent */
	const char *authorization;
	const char *if_match;
	const char *prefer;          /* the Prefer header (FHIR's handling=strict|lenient) */
	const char *idempotency_key; /* the Idempotency-Key header; NULL when absent */
	const char *client_ip;
	char request_id[HTTP_REQUEST_ID_MAX + 1];

	/* Where the body comes from (the FastCGI stream). The pipeline reads
	 * it into body after routing and authorization, except for a
	 * ROUTE_BODY_STREAM route, whose handler reads it in chunks. NULL when
	 * body was filled in advance (unit tests). */
	http_read_fn body_read;
	void *body_source;
	char *body; /* NUL-terminated copy; body_len excludes the NUL */
	size_t body_len;
	struct json_object *json; /* the parsed body; owned by the arena */

	const struct route *route;
	struct request_user user;
	int64_t ids[ROUTE_MAX_IDS]; /* the {id} segments of the path, in order */
	size_t id_count;

	/* Worker context handed to handlers. */
	struct db *db;
	const struct hms_config *config;
};

struct http_header {
	const char *name;
	const char *value;
};

/* Writes an error body for a family of routes that answers errors in its
 * own shape (FHIR's OperationOutcome): status, and either a detail or a
 * DRF field-error object (owned by the writer; one of the two is NULL).
 * It must answer through http_respond_json(). */
typedef void (*http_error_writer)(struct http_response *res, int status, const char *detail,
                                  struct json_object *field_errors);

struct http_response {
	struct arena *arena;
	int status;
	/* NULL: errors are DRF-shaped. Set by the pipeline from the path's
	 * route family (router.h) before anything can fail. */
	http_error_writer error_writer;
	struct http_header headers[HTTP_MAX_RESPONSE_HEADERS];
	size_t header_count;
	const char *content_type;
	const char *body;
	size_t body_len;
};

/* --- request --- */

/* The value of name in an envp-style array ("NAME=value"), or NULL. */
const char *http_env_get(const char *const *envp, const char *name);

/* Builds req from FastCGI parameters. On failure req->request_id is still
 * set so the error response carries it. */
enum hms_err http_request_parse(struct http_request *req, struct arena *arena,
                                const char *const *envp);

/* Reads the body (Content-Length bytes, or to end of input without one):
 * over max_bytes or longer than its Content-Length -> HMS_ERR_TOO_LARGE;
 * shorter -> HMS_ERR_BAD_REQUEST. */
enum hms_err http_request_read_body(struct http_request *req, http_read_fn read, void *source,
                                    size_t max_bytes);

/* The configured public origin ("https://hms.example.org") that absolute
 * links start with; never the client's Host header, which anyone can set
 * (a link built from it could send a user's next click elsewhere). "" when
 * the request has no configuration (unit tests). */
const char *http_public_origin(const struct http_request *req);

/* An absolute link to this request's path (public origin + path) with the
 * given parameters, URL-encoded, and then key=value when key is not NULL
 * (key is the caller's literal, value is encoded): the next/previous/self
 * links of lists and FHIR searches. In the request's arena; NULL when out
 * of memory. */
const char *http_link(struct http_request *req, const struct http_param *const *params,
                      size_t count, const char *key, const char *value);

/* The index-th {id} of the path as decimal text in the request's arena,
 * for a SQL parameter or a message; NULL when index >= id_count (or out of
 * memory). */
const char *http_request_id_text(struct http_request *req, size_t index);

/* The first value of a query parameter, or NULL. */
const char *http_request_param(const struct http_request *req, const char *key);

/* Decodes %XX escapes (and '+' as space when plus_is_space). Refuses bad
 * escapes, NUL and invalid UTF-8. out must hold len + 1 bytes. */
enum hms_err http_percent_decode(const char *in, size_t len, bool plus_is_space, char *out,
                                 size_t *out_len);

/* Splits and decodes a query string; repeated keys are kept in order. */
enum hms_err http_parse_query(struct arena *arena, const char *query, size_t max_params,
                              struct http_param **out, size_t *count);

/* True for a client request id we echo: [A-Za-z0-9._-]{1,64}. */
bool http_request_id_is_valid(const char *id);

/* Writes a fresh random request id (32 hex characters) into out. */
void http_request_id_generate(char out[HTTP_REQUEST_ID_MAX + 1]);

/* True for application/json, with optional parameters (charset=utf-8). */
bool http_content_type_is_json(const char *content_type);

/* --- response --- */

void http_response_init(struct http_response *res, struct arena *arena);

/* Adds a header; the strings must outlive the response (arena or static).
 * Names or values with control characters are refused (returns -1). */
int http_response_header(struct http_response *res, const char *name, const char *value);

/* A JSON body; takes ownership of body (NULL means no body). */
void http_respond_json(struct http_response *res, int status, struct json_object *body);

/* {"detail": detail} with status (or the route family's error shape). */
void http_respond_detail(struct http_response *res, int status, const char *detail);

/* The DRF error for err; detail NULL means the error's default message. */
void http_respond_error(struct http_response *res, enum hms_err err, const char *detail);

/* 400 with a DRF field-error object ({"field": ["message"]}), or the route
 * family's error shape; takes ownership. */
void http_respond_field_errors(struct http_response *res, struct json_object *errors);

/* 400 {"field": ["message"]}: one message on one field. For an error about
 * the body as a whole, field is "non_field_errors". */
void http_respond_field_error(struct http_response *res, const char *field, const char *message);

/* The standard reason phrase for a status code. */
const char *http_status_reason(int status);

#endif
