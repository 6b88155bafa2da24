/*
 * fuzz_request.c - http_request_parse and http_request_read_body
 * (src/http/request.c): the whole edge a FastCGI request crosses.
 *
 * Input layout: one control byte, then up to five NUL-separated fields
 * (REQUEST_METHOD, REQUEST_URI, CONTENT_TYPE, CONTENT_LENGTH,
 * HTTP_X_REQUEST_ID; a field the input runs out before is absent from the
 * environment), then the body. The control byte shapes the reader the body
 * comes through: its low four bits give the most bytes one read() returns
 * (1..16, or everything for 0), and bit 4 ends the input with a read error
 * instead of end of file.
 *
 * The body limit is small (FUZZ_MAX_BODY) so that both the Content-Length
 * and the read-to-end paths, buffer growth included, reach their limits.
 * The Content-Type is also put through http_content_type_is_json().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hms/arena.h"
#include "hms/http.h"

#include "fuzz.h"

#define FUZZ_MAX_BODY 2048
#define FIELD_COUNT   5

static const char *const field_names[FIELD_COUNT] = {
    "REQUEST_METHOD", "REQUEST_URI", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_X_REQUEST_ID",
};

struct reader {
	const uint8_t *data;
	size_t len;
	size_t pos;
	size_t chunk; /* 0: no limit */
	bool fails_at_end;
};

static long read_chunk(void *source, char *buf, size_t len)
{
	struct reader *r = source;
	size_t n = r->len - r->pos;

	if (n == 0)
		return r->fails_at_end ? -1 : 0;
	if (n > len)
		n = len;
	if (r->chunk != 0 && n > r->chunk)
		n = r->chunk;
	memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	return (long)n;
}

static struct arena *arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	arena = arena_new(FUZZ_ARENA_BLOCK, FUZZ_ARENA_MAX);
	if (arena == NULL)
		abort();
	return 0;
}

/* "NAME=value" in an exact-size allocation. */
static char *env_entry(const char *name, const uint8_t *value, size_t len)
{
	size_t name_len = strlen(name);
	char *s = malloc(name_len + 1 + len + 1);

	if (s == NULL)
		abort();
	memcpy(s, name, name_len);
	s[name_len] = '=';
	memcpy(s + name_len + 1, value, len);
	s[name_len + 1 + len] = '\0';
	return s;
}

static void check_parsed(const struct http_request *req, const char *const *envp)
{
	const char *uri = http_env_get(envp, "REQUEST_URI");
	const char *cl = http_env_get(envp, "CONTENT_LENGTH");

	FUZZ_CHECK(req->method != NULL && req->method[0] != '\0');
	FUZZ_CHECK(req->path != NULL && req->path[0] == '/');
	FUZZ_CHECK(strlen(req->path) <= strcspn(uri, "?"));
	FUZZ_CHECK(strlen(req->path) <= HTTP_MAX_PATH_BYTES);
	FUZZ_CHECK(fuzz_str_is_valid(req->path, strlen(req->path)));
	FUZZ_CHECK(req->param_count <= HTTP_MAX_QUERY_PARAMS);
	FUZZ_CHECK((strchr(uri, '?') != NULL) || req->param_count == 0);
	for (size_t i = 0; i < req->param_count; i++) {
		const struct http_param *p = &req->params[i];

		FUZZ_CHECK(fuzz_str_is_valid(p->key, strlen(p->key)));
		FUZZ_CHECK(fuzz_str_is_valid(p->value, strlen(p->value)));
	}
	/* The body-kind check app.c makes on the same header. */
	if (http_content_type_is_json(req->content_type))
		FUZZ_CHECK(strncasecmp(req->content_type, "application/json", 16) == 0);
	if (cl == NULL || cl[0] == '\0')
		FUZZ_CHECK(req->content_length == -1);
	else
		FUZZ_CHECK(req->content_length >= 0 && req->content_length == atoll(cl));
}

static void check_body(const struct http_request *req, enum hms_err err, const struct reader *r)
{
	FUZZ_CHECK(err == HMS_OK || err == HMS_ERR_BAD_REQUEST || err == HMS_ERR_TOO_LARGE);
	if (err != HMS_OK)
		return;
	FUZZ_CHECK(req->body != NULL && req->body[req->body_len] == '\0');
	FUZZ_CHECK(req->body_len <= FUZZ_MAX_BODY);
	FUZZ_CHECK(memcmp(req->body, r->data, req->body_len) == 0);
	if (req->content_length >= 0) {
		FUZZ_CHECK(req->body_len == (size_t)req->content_length);
		FUZZ_CHECK(r->len == req->body_len); /* longer would be 413 */
	} else {
		FUZZ_CHECK(r->pos == r->len && req->body_len == r->len && !r->fails_at_end);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *envp[FIELD_COUNT + 1] = {NULL};
	size_t env_count = 0;
	struct reader r = {0};
	struct http_request req;
	const char *rid;
	enum hms_err err;
	size_t pos = 1;

	if (size == 0)
		return 0;
	r.chunk = data[0] & 0x0f;
	r.fails_at_end = (data[0] & 0x10) != 0;
	for (size_t f = 0; f < FIELD_COUNT && pos < size; f++) {
		const uint8_t *nul = memchr(data + pos, '\0', size - pos);
		size_t len = nul != NULL ? (size_t)(nul - (data + pos)) : size - pos;

		envp[env_count++] = env_entry(field_names[f], data + pos, len);
		pos += len + (nul != NULL);
	}
	r.data = data + pos;
	r.len = size - pos;

	err = http_request_parse(&req, arena, (const char *const *)envp);
	/* Even a refused request carries an id for its error response: the
	 * client's when it is acceptable, a fresh one otherwise. */
	rid = http_env_get((const char *const *)envp, "HTTP_X_REQUEST_ID");
	FUZZ_CHECK(http_request_id_is_valid(req.request_id));
	if (http_request_id_is_valid(rid))
		FUZZ_CHECK(strcmp(req.request_id, rid) == 0);
	FUZZ_CHECK(req.arena == arena);
	if (err == HMS_OK) {
		check_parsed(&req, (const char *const *)envp);
		err = http_request_read_body(&req, read_chunk, &r, FUZZ_MAX_BODY);
		check_body(&req, err, &r);
	} else {
		FUZZ_CHECK(err == HMS_ERR_BAD_REQUEST || err == HMS_ERR_URI_TOO_LONG ||
		           err == HMS_ERR_TOO_LARGE);
	}

	arena_reset(arena);
	for (size_t i = 0; i < env_count; i++)
		free(envp[i]);
	return 0;
}
