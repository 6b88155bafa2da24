/*
 * request.c - turns FastCGI parameters and stdin into a checked request.
 *
 * We parse REQUEST_URI ourselves rather than trusting nginx's decoded
 * DOCUMENT_URI, so the same strict rules hold for path and query: every %XX
 * must be two hex digits, nothing may decode to NUL, and the result must be
 * valid UTF-8 (it later reaches JSON and PostgreSQL, which both refuse
 * anything else).
 */
#include "hms/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/config.h"
#include "hms/json.h"
#include "hms/random.h"
#include "hms/strbuf.h"

const char *http_env_get(const char *const *envp, const char *name)
{
	size_t len = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum hms_err http_percent_decode(const char *in, size_t len, bool plus_is_space, char *out,
                                 size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '\0')
			return HMS_ERR_BAD_REQUEST;
		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return HMS_ERR_BAD_REQUEST;
			hi = hex_value(in[i + 1]);
			lo = hex_value(in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return HMS_ERR_BAD_REQUEST;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = c;
		}
	}
	out[o] = '\0';
	if (!utf8_is_valid(out, o))
		return HMS_ERR_BAD_REQUEST;
	*out_len = o;
	return HMS_OK;
}

static char *decode_part(struct arena *arena, const char *in, size_t len, enum hms_err *err)
{
	char *out = arena_alloc(arena, len + 1);
	size_t out_len;

	if (out == NULL) {
		*err = HMS_ERR_NOMEM;
		return NULL;
	}
	*err = http_percent_decode(in, len, true, out, &out_len);
	return *err == HMS_OK ? out : NULL;
}

enum hms_err http_parse_query(struct arena *arena, const char *query, size_t max_params,
                              struct http_param **out, size_t *count)
{
	size_t n = 0;
	size_t pairs = 1;
	struct http_param *params;
	const char *p;

	*out = NULL;
	*count = 0;
	if (query == NULL || *query == '\0')
		return HMS_OK;
	for (p = query; *p != '\0'; p++)
		pairs += *p == '&';
	if (pairs > max_params)
		return HMS_ERR_BAD_REQUEST;
	params = arena_calloc(arena, pairs, sizeof(*params));
	if (params == NULL)
		return HMS_ERR_NOMEM;

	p = query;
	while (*p != '\0') {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t key_len = eq != NULL ? (size_t)(eq - p) : len;
		enum hms_err err;

		if (len > 0) {
			params[n].key = decode_part(arena, p, key_len, &err);
			if (params[n].key == NULL)
				return err;
			if (eq != NULL) {
				params[n].value =
				    decode_part(arena, eq + 1, len - key_len - 1, &err);
			} else {
				params[n].value = arena_strdup(arena, "");
				err = HMS_ERR_NOMEM;
			}
			if (params[n].value == NULL)
				return err;
			n++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	*out = params;
	*count = n;
	return HMS_OK;
}

bool http_request_id_is_valid(const char *id)
{
	size_t len;

	if (id == NULL)
		return false;
	len = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	return len >= 1 && len <= HTTP_REQUEST_ID_MAX && id[len] == '\0';
}

void http_request_id_generate(char out[HTTP_REQUEST_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];

	/* Not a secret, only unique: zeros beat failing the request. */
	if (random_bytes(raw, sizeof(raw)) != 0)
		memset(raw, 0, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * sizeof(raw)] = '\0';
}

static const char *nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

enum hms_err http_request_parse(struct http_request *req, struct arena *arena,
                                const char *const *envp)
{
	const char *uri = http_env_get(envp, "REQUEST_URI");
	const char *rid = http_env_get(envp, "HTTP_X_REQUEST_ID");
	const char *cl = nonempty(http_env_get(envp, "CONTENT_LENGTH"));
	const char *query;
	size_t path_len;
	size_t out_len;
	enum hms_err err;

	memset(req, 0, sizeof(*req));
	req->arena = arena;
	req->content_length = -1;
	if (http_request_id_is_valid(rid))
		strcpy(req->request_id, rid);
	else
		http_request_id_generate(req->request_id);

	req->method = nonempty(http_env_get(envp, "REQUEST_METHOD"));
	req->content_type = nonempty(http_env_get(envp, "CONTENT_TYPE"));
	req->authorization = nonempty(http_env_get(envp, "HTTP_AUTHORIZATION"));
	req->if_match = nonempty(http_env_get(envp, "HTTP_IF_MATCH"));
	req->prefer = nonempty(http_env_get(envp, "HTTP_PREFER"));
	/* As sent, even empty: the handlers that honour it refuse an empty
	 * one (idempotency.h). */
	req->idempotency_key = http_env_get(envp, "HTTP_IDEMPOTENCY_KEY");
	req->client_ip = nonempty(http_env_get(envp, "REMOTE_ADDR"));
	if (req->method == NULL || uri == NULL || uri[0] != '/')
		return HMS_ERR_BAD_REQUEST;

	if (cl != NULL) {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(cl, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0 || cl[0] < '0' || cl[0] > '9')
			return errno == ERANGE ? HMS_ERR_TOO_LARGE : HMS_ERR_BAD_REQUEST;
		req->content_length = n;
	}

	query = strchr(uri, '?');
	path_len = query != NULL ? (size_t)(query - uri) : strlen(uri);
	if (path_len > HTTP_MAX_PATH_BYTES)
		return HMS_ERR_URI_TOO_LONG;
	if (query != NULL && strlen(query + 1) > HTTP_MAX_QUERY_BYTES)
		return HMS_ERR_URI_TOO_LONG;

	req->path = arena_alloc(arena, path_len + 1);
	if (req->path == NULL)
		return HMS_ERR_NOMEM;
	/* In a path '+' is a literal plus; only the query uses it for space. */
	err = http_percent_decode(uri, path_len, false, req->path, &out_len);
	if (err != HMS_OK)
		return err;
	if (strlen(req->path) != out_len)
		return HMS_ERR_BAD_REQUEST;

	if (query != NULL) {
		/* A fragment never reaches a server; if one did, it is not query. */
		char *q = arena_strndup(arena, query + 1, strcspn(query + 1, "#"));

		if (q == NULL)
			return HMS_ERR_NOMEM;
		err = http_parse_query(arena, q, HTTP_MAX_QUERY_PARAMS, &req->params,
		                       &req->param_count);
		if (err != HMS_OK)
			return err;
	}
	return HMS_OK;
}

/* Reads to the end of input when there is no Content-Length, growing the
 * buffer geometrically so a body-less GET costs a few bytes, not the limit. */
static enum hms_err read_until_end(struct http_request *req, http_read_fn read, void *source,
                                   size_t max_bytes)
{
	size_t cap = 1024;
	size_t got = 0;
	char *buf = arena_alloc(req->arena, cap + 1);

	if (buf == NULL)
		return HMS_ERR_NOMEM;
	for (;;) {
		long n;

		if (got == cap) {
			size_t bigger = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
			char *grown;

			if (bigger <= cap)
				return HMS_ERR_TOO_LARGE;
			grown = arena_alloc(req->arena, bigger + 1);
			if (grown == NULL)
				return HMS_ERR_NOMEM;
			memcpy(grown, buf, got);
			buf = grown;
			cap = bigger;
		}
		n = read(source, buf + got, cap - got);
		if (n < 0)
			return HMS_ERR_BAD_REQUEST;
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max_bytes)
			return HMS_ERR_TOO_LARGE;
	}
	buf[got] = '\0';
	req->body = buf;
	req->body_len = got;
	return HMS_OK;
}

enum hms_err http_request_read_body(struct http_request *req, http_read_fn read, void *source,
                                    size_t max_bytes)
{
	size_t want;
	size_t got = 0;
	char probe;

	if (req->content_length < 0)
		return read_until_end(req, read, source, max_bytes);
	if (req->content_length > (long long)max_bytes)
		return HMS_ERR_TOO_LARGE;
	want = (size_t)req->content_length;
	req->body = arena_alloc(req->arena, want + 1);
	if (req->body == NULL)
		return HMS_ERR_NOMEM;
	while (got < want) {
		long n = read(source, req->body + got, want - got);

		if (n < 0)
			return HMS_ERR_BAD_REQUEST;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (got < want)
		return HMS_ERR_BAD_REQUEST; /* shorter than its Content-Length */
	if (read(source, &probe, 1) > 0)
		return HMS_ERR_TOO_LARGE; /* longer than its Content-Length */
	return HMS_OK;
}

const char *http_public_origin(const struct http_request *req)
{
	if (req->config == NULL || req->config->public_origin == NULL)
		return "";
	return req->config->public_origin;
}

const char *http_link(struct http_request *req, const struct http_param *const *params,
                      size_t count, const char *key, const char *value)
{
	struct strbuf url;
	bool first = true;

	strbuf_init(&url, req->arena);
	strbuf_append(&url, http_public_origin(req));
	strbuf_append(&url, req->path);
	for (size_t i = 0; i < count; i++) {
		strbuf_append(&url, first ? "?" : "&");
		strbuf_append_url_encoded(&url, params[i]->key);
		strbuf_append(&url, "=");
		strbuf_append_url_encoded(&url, params[i]->value);
		first = false;
	}
	if (key != NULL && value != NULL) {
		strbuf_append(&url, first ? "?" : "&");
		strbuf_append(&url, key);
		strbuf_append(&url, "=");
		strbuf_append_url_encoded(&url, value);
	}
	return strbuf_text(&url);
}

const char *http_request_id_text(struct http_request *req, size_t index)
{
	if (index >= req->id_count)
		return NULL;
	return arena_printf(req->arena, "%lld", (long long)req->ids[index]);
}

const char *http_request_param(const struct http_request *req, const char *key)
{
	for (size_t i = 0; i < req->param_count; i++)
		if (strcmp(req->params[i].key, key) == 0)
			return req->params[i].value;
	return NULL;
}

bool http_content_type_is_json(const char *ct)
{
	static const char type[] = "application/json";
	size_t n = sizeof(type) - 1;

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (*ct == '\0')
		return true;
	if (*ct != ';')
		return false;
	/* Parameters: only a UTF-8 charset (any case, optionally quoted) is
	 * acceptable, since we never transcode. */
	ct++;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "charset=", 8) != 0)
		return false;
	ct += 8;
	return strcasecmp(ct, "utf-8") == 0 || strcasecmp(ct, "\"utf-8\"") == 0 ||
	       strcasecmp(ct, "utf8") == 0;
}
