/*
 * response.c - the one writer of responses and DRF-shaped errors.
 *
 * Bodies are json-c trees serialised once into the arena. Error bodies are
 * {"detail": "..."} or, for validation, {"field": ["message"]}; the detail
 * text is always ours, never an SQL message or a path. A family of routes
 * with its own error shape (FHIR's OperationOutcome) sets
 * res->error_writer, and the two error entry points below hand it the
 * status and the detail or field errors: still one writer per shape.
 */
#include "hms/http.h"

#include <json-c/json.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/validate.h"

void http_response_init(struct http_response *res, struct arena *arena)
{
	memset(res, 0, sizeof(*res));
	res->arena = arena;
	res->status = 500;
}

static bool header_text_is_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int http_response_header(struct http_response *res, const char *name, const char *value)
{
	if (name == NULL || value == NULL || res->header_count == HTTP_MAX_RESPONSE_HEADERS ||
	    !header_text_is_safe(name) || !header_text_is_safe(value) || strchr(name, ':') != NULL)
		return -1;
	res->headers[res->header_count].name = name;
	res->headers[res->header_count].value = value;
	res->header_count++;
	return 0;
}

void http_respond_json(struct http_response *res, int status, struct json_object *body)
{
	const char *text;
	size_t len;

	res->status = status;
	res->body = NULL;
	res->body_len = 0;
	res->content_type = NULL;
	if (body == NULL)
		return;
	text = json_object_to_json_string_length(
	    body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	res->body = text != NULL ? arena_strndup(res->arena, text, len) : NULL;
	json_object_put(body);
	if (res->body == NULL) {
		/* Out of memory while answering: a bare 500 is all we can do. */
		res->status = 500;
		res->body = "{\"detail\":\"Internal server error.\"}";
		len = strlen(res->body);
	}
	res->body_len = len;
	res->content_type = "application/json";
}

void http_respond_detail(struct http_response *res, int status, const char *detail)
{
	struct json_object *body;

	if (res->error_writer != NULL) {
		res->error_writer(res, status, detail, NULL);
		return;
	}
	body = json_object_new_object();

	json_object_object_add(body, "detail", json_object_new_string(detail));
	http_respond_json(res, status, body);
}

void http_respond_error(struct http_response *res, enum hms_err err, const char *detail)
{
	int status = hms_err_status(err);

	if (status == 401)
		http_response_header(res, "WWW-Authenticate", "Bearer realm=\"api\"");
	if (hms_err_retry_after(err) > 0)
		http_response_header(res, "Retry-After",
		                     arena_printf(res->arena, "%d", hms_err_retry_after(err)));
	http_respond_detail(res, status, detail != NULL ? detail : hms_err_detail(err));
}

void http_respond_field_errors(struct http_response *res, struct json_object *errors)
{
	if (res->error_writer != NULL) {
		res->error_writer(res, 400, NULL, errors);
		return;
	}
	http_respond_json(res, 400, errors);
}

void http_respond_field_error(struct http_response *res, const char *field, const char *message)
{
	struct json_object *errors = json_object_new_object();
	struct json_object *list = json_object_new_array();

	json_object_array_add(list, json_object_new_string(message));
	json_object_object_add(errors, field, list);
	http_respond_field_errors(res, errors);
}

const char *http_status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 205:
		return "Reset Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	default:
		return "Unknown";
	}
}
