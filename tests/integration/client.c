/* client.c - libcurl wrapper for the integration tests (see client.h). */
#include "client.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct buffer {
	char *data;
	size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buffer *b = userdata;
	size_t n = size * nmemb;
	char *grown = realloc(b->data, b->len + n + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + b->len, ptr, n);
	b->len += n;
	grown[b->len] = '\0';
	b->data = grown;
	return n;
}

const char *client_env(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v != NULL && *v != '\0', "%s is not set: run the tests through tests/run.sh",
	          name);
	return v;
}

char *client_stack_setting(const char *key)
{
	char *path = client_format("%s/hms.conf", client_env("HMS_TEST_STATE"));
	char *line = NULL, *value = NULL;
	size_t cap = 0, key_len = strlen(key);
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "cannot open %s", path);
	while (getline(&line, &cap, f) > 0)
		if (strncmp(line, key, key_len) == 0 && strncmp(line + key_len, " = ", 3) == 0) {
			free(value);
			line[strcspn(line, "\n")] = '\0';
			value = strdup(line + key_len + 3);
		}
	free(line);
	fclose(f);
	cr_assert_not_null(value, "no %s in %s", key, path);
	free(path);
	return value;
}

/* This thread's kept handle (client_keep_connection), or NULL. */
static __thread CURL *kept_handle;
static __thread bool keeping;

/* This thread's source address (client_set_source), or NULL. */
static __thread const char *source_address;

void client_set_source(const char *address)
{
	source_address = address;
}

void client_keep_connection(bool keep)
{
	keeping = keep;
	if (!keep && kept_handle != NULL) {
		curl_easy_cleanup(kept_handle);
		kept_handle = NULL;
	}
}

static CURL *handle(void)
{
	if (!keeping)
		return curl_easy_init();
	if (kept_handle == NULL)
		kept_handle = curl_easy_init();
	else
		curl_easy_reset(kept_handle); /* the connection stays open */
	return kept_handle;
}

int client_request(const char *method, const char *path, const char *const *headers,
                   const char *body, size_t body_len, struct client_response *out)
{
	const char *base = client_env("HMS_TEST_BASE_URL");
	struct buffer bbody = {0}, bhead = {0};
	struct curl_slist *list = NULL;
	struct curl_slist *resolve = NULL;
	char url[16384];
	char host[256];
	CURLcode rc;
	CURL *curl;

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl = handle();
	if (curl == NULL)
		return -1;
	/* The certificate names localhost; pin it to the IPv4 loopback. */
	{
		const char *port = strrchr(base, ':');

		snprintf(host, sizeof(host), "localhost%s:127.0.0.1", port != NULL ? port : ":443");
		resolve = curl_slist_append(NULL, host);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(curl, CURLOPT_CAINFO, client_env("HMS_TEST_CA"));
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	if (source_address != NULL) {
		char source[64];

		/* "host!" binds the address as given, not an interface name. */
		snprintf(source, sizeof(source), "host!%s", source_address);
		curl_easy_setopt(curl, CURLOPT_INTERFACE, source);
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bbody);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &bhead);
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	}
	/* No "Expect: 100-continue" pause on larger bodies. */
	list = curl_slist_append(list, "Expect:");
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		list = curl_slist_append(list, headers[i]);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);

	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(list);
	curl_slist_free_all(resolve);
	if (!keeping)
		curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		free(bbody.data);
		free(bhead.data);
		cr_log_error("%s %s: %s", method, path, curl_easy_strerror(rc));
		return -1;
	}
	out->body = bbody.data != NULL ? bbody.data : calloc(1, 1);
	out->body_len = bbody.len;
	out->headers = bhead.data != NULL ? bhead.data : calloc(1, 1);
	out->headers_len = bhead.len;
	if (out->body_len > 0)
		out->json = json_tokener_parse(out->body);
	return 0;
}

void client_get(const char *path, struct client_response *out)
{
	cr_assert_eq(client_request("GET", path, NULL, NULL, 0, out), 0, "GET %s failed", path);
}

const char *client_header(const struct client_response *res, const char *name)
{
	static char value[1024];
	size_t nlen = strlen(name);
	const char *p = res->headers;
	const char *found = NULL;

	while (p != NULL && *p != '\0') {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (len > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			size_t vlen = len - nlen - 1;

			while (vlen > 0 && *v == ' ') {
				v++;
				vlen--;
			}
			if (vlen >= sizeof(value))
				vlen = sizeof(value) - 1;
			memcpy(value, v, vlen);
			value[vlen] = '\0';
			found = value;
		}
		p = eol != NULL ? eol + 2 : NULL;
	}
	return found;
}

void client_response_free(struct client_response *res)
{
	free(res->body);
	free(res->headers);
	json_object_put(res->json);
	memset(res, 0, sizeof(*res));
}

int client_run(const char *command, char **output)
{
	FILE *p = popen(command, "r");
	struct buffer b = {0};
	char chunk[4096];
	size_t n;
	int status;

	if (p == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		collect(chunk, 1, n, &b);
	status = pclose(p);
	if (output != NULL)
		*output = b.data != NULL ? b.data : calloc(1, 1);
	else
		free(b.data);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- JSON calls, accounts and SQL ----------------------------------------- */

void client_call(const char *method, const char *path, const char *token, const char *header,
                 const char *json_body, struct client_response *out)
{
	char *auth = NULL;
	const char *headers[4];
	size_t n = 0;
	int rc;

	if (token != NULL) {
		size_t len = strlen(token) + 32;

		auth = malloc(len);
		cr_assert_not_null(auth);
		snprintf(auth, len, "Authorization: Bearer %s", token);
		headers[n++] = auth;
	}
	if (json_body != NULL)
		headers[n++] = "Content-Type: application/json";
	if (header != NULL)
		headers[n++] = header;
	headers[n] = NULL;
	rc = client_request(method, path, headers, json_body,
	                    json_body != NULL ? strlen(json_body) : 0, out);
	free(auth);
	cr_assert_eq(rc, 0, "%s %s failed", method, path);
}

void client_post_json(const char *path, const char *token, const char *json_body,
                      struct client_response *out)
{
	client_call("POST", path, token, NULL, json_body, out);
}

void client_patch_json(const char *path, const char *token, const char *json_body,
                       struct client_response *out)
{
	client_call("PATCH", path, token, NULL, json_body, out);
}

void client_get_auth(const char *path, const char *token, struct client_response *out)
{
	client_call("GET", path, token, NULL, NULL, out);
}

const char *client_json_string(const struct client_response *res, const char *key)
{
	struct json_object *v;

	if (res->json == NULL || !json_object_is_type(res->json, json_type_object) ||
	    !json_object_object_get_ex(res->json, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int client_has_field_error(const struct client_response *res, const char *key)
{
	struct json_object *v;
	size_t n;

	if (res->json == NULL || !json_object_is_type(res->json, json_type_object) ||
	    !json_object_object_get_ex(res->json, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(v, i);

		if (!json_object_is_type(m, json_type_string) || json_object_get_string_len(m) == 0)
			return 0;
	}
	return 1;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

long client_login(const char *username, const char *password, const char *header,
                  struct client_tokens *out)
{
	struct json_object *body = json_object_new_object();
	struct client_response res;
	long status;

	memset(out, 0, sizeof(*out));
	json_object_object_add(body, "username", json_object_new_string(username));
	json_object_object_add(body, "password", json_object_new_string(password));
	client_call("POST", "/api/auth/token/", NULL, header,
	            json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), &res);
	json_object_put(body);
	status = res.status;
	if (status == 200) {
		out->access = dup_or_null(client_json_string(&res, "access"));
		out->refresh = dup_or_null(client_json_string(&res, "refresh"));
		cr_assert(out->access != NULL && out->refresh != NULL, "login answer: %s",
		          res.body);
	}
	client_response_free(&res);
	return status;
}

void client_tokens_free(struct client_tokens *tokens)
{
	free(tokens->access);
	free(tokens->refresh);
	memset(tokens, 0, sizeof(*tokens));
}

const char *client_admin_username(void)
{
	const char *v = getenv("HMS_ADMIN_USERNAME");

	return v != NULL && *v != '\0' ? v : "admin";
}

const char *client_admin_password(void)
{
	return client_env("HMS_ADMIN_PASSWORD");
}

const char *client_admin_token(void)
{
	/* Criterion runs each test in a process of its own: one login per test. */
	static char token[8192];

	if (token[0] == '\0') {
		struct client_tokens t;
		long status =
		    client_login(client_admin_username(), client_admin_password(), NULL, &t);

		cr_assert_eq(status, 200, "the admin cannot log in (status %ld)", status);
		cr_assert_lt(strlen(t.access), sizeof(token));
		snprintf(token, sizeof(token), "%s", t.access);
		client_tokens_free(&t);
	}
	return token;
}

void client_unique_name(const char *prefix, char *out, size_t size)
{
	static unsigned counter;

	snprintf(out, size, "%s_%d_%u_%lx", prefix, (int)getpid(), ++counter,
	         (unsigned long)time(NULL) & 0xffffffUL);
}

#define CLIENT_USER_PASSWORD "test-password-0123"

void client_create_user_named(const char *role, const char *prefix, const char *first_name,
                              const char *last_name, struct client_user *out)
{
	struct json_object *body = json_object_new_object();
	struct json_object *v;
	struct client_response res;

	memset(out, 0, sizeof(*out));
	client_unique_name(prefix, out->username, sizeof(out->username));
	snprintf(out->password, sizeof(out->password), "%s", CLIENT_USER_PASSWORD);
	snprintf(out->role, sizeof(out->role), "%s", role);
	json_object_object_add(body, "username", json_object_new_string(out->username));
	json_object_object_add(body, "password", json_object_new_string(out->password));
	json_object_object_add(body, "email", json_object_new_string("staff@example.org"));
	json_object_object_add(body, "first_name",
	                       json_object_new_string(first_name != NULL ? first_name : "Test"));
	json_object_object_add(body, "last_name",
	                       json_object_new_string(last_name != NULL ? last_name : "User"));
	json_object_object_add(body, "role", json_object_new_string(role));
	client_post_json("/api/auth/register/", client_admin_token(),
	                 json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), &res);
	json_object_put(body);
	cr_assert_eq(res.status, 201, "register %s as %s: %ld %s", out->username, role, res.status,
	             res.body);
	cr_assert(res.json != NULL && json_object_object_get_ex(res.json, "id", &v) &&
	              json_object_is_type(v, json_type_int),
	          "register answer: %s", res.body);
	out->id = (long long)json_object_get_int64(v);
	cr_assert_gt(out->id, 0);
	client_response_free(&res);
}

void client_create_user(const char *role, struct client_user *out)
{
	client_create_user_named(role, role, NULL, NULL, out);
}

void client_user_login(const struct client_user *user, struct client_tokens *out)
{
	long status = client_login(user->username, user->password, NULL, out);

	cr_assert_eq(status, 200, "login as %s: %ld", user->username, status);
}

char *client_sql_value(const char *query)
{
	char conninfo[1024];
	PGconn *conn;
	PGresult *res;
	char *value = NULL;

	snprintf(conninfo, sizeof(conninfo), "%s dbname=hms", client_env("HMS_TEST_ADMIN_URL"));
	conn = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
	res = PQexec(conn, query);
	cr_assert(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK,
	          "%s: %s", query, PQerrorMessage(conn));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
	    !PQgetisnull(res, 0, 0))
		value = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return value;
}

long long client_sql_long(const char *query)
{
	char *value = client_sql_value(query);
	long long n;

	cr_assert_not_null(value, "no value from %s", query);
	n = atoll(value);
	free(value);
	return n;
}

/* --- more verbs, several headers, URL text ---------------------------------- */

void client_call_headers(const char *method, const char *path, const char *token,
                         const char *const *headers, const char *json_body,
                         struct client_response *out)
{
	const char *all[16];
	char *auth = NULL;
	size_t n = 0;
	int rc;

	if (token != NULL) {
		size_t len = strlen(token) + 32;

		auth = malloc(len);
		cr_assert_not_null(auth);
		snprintf(auth, len, "Authorization: Bearer %s", token);
		all[n++] = auth;
	}
	if (json_body != NULL)
		all[n++] = "Content-Type: application/json";
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		cr_assert_lt(n, sizeof(all) / sizeof(all[0]) - 1, "too many headers");
		all[n++] = headers[i];
	}
	all[n] = NULL;
	rc = client_request(method, path, all, json_body, json_body != NULL ? strlen(json_body) : 0,
	                    out);
	free(auth);
	cr_assert_eq(rc, 0, "%s %s failed", method, path);
}

void client_put_json(const char *path, const char *token, const char *json_body,
                     struct client_response *out)
{
	client_call("PUT", path, token, NULL, json_body, out);
}

void client_delete_auth(const char *path, const char *token, struct client_response *out)
{
	client_call("DELETE", path, token, NULL, NULL, out);
}

char *client_url_encode(const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(text);
	char *out = malloc(n * 3 + 1);
	size_t o = 0;

	cr_assert_not_null(out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

const char *client_path_of_url(const char *url)
{
	const char *base = client_env("HMS_TEST_BASE_URL");
	size_t len = strlen(base);

	if (url == NULL || strncmp(url, base, len) != 0 || url[len] != '/')
		return NULL;
	return url + len;
}

/* --- assertions and JSON readers shared by the test files --------------- */

void client_assert_status(const struct client_response *res, long status)
{
	cr_assert_eq(res->status, status, "expected %ld, got %ld: %s", status, res->status,
	             res->body);
}

void client_assert_field_error(const struct client_response *res, const char *field)
{
	client_assert_status(res, 400);
	cr_assert(client_has_field_error(res, field), "no error on '%s': %s", field, res->body);
}

void client_assert_detail(const struct client_response *res, long status)
{
	const char *detail = client_json_string(res, "detail");

	client_assert_status(res, status);
	cr_assert(detail != NULL && *detail != '\0', "no detail: %s", res->body);
}

long long client_json_int(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_int),
	          "no integer %s in %s", key, json_object_to_json_string(obj));
	return (long long)json_object_get_int64(v);
}

const char *client_json_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v) &&
	              json_object_is_type(v, json_type_string),
	          "no string %s in %s", key, json_object_to_json_string(obj));
	return json_object_get_string(v);
}

int client_json_flag(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(obj, key, &v) &&
	              json_object_is_type(v, json_type_boolean),
	          "no boolean %s in %s", key, json_object_to_json_string(obj));
	return json_object_get_boolean(v);
}

long long client_count_of(const struct client_response *res)
{
	return client_json_int(res->json, "count");
}

char *client_format(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&out, fmt, ap), 0);
	va_end(ap);
	return out;
}

struct json_object *client_list_results(const struct client_response *res)
{
	struct json_object *v, *results;

	client_assert_status(res, 200);
	cr_assert_not_null(res->json, "%s", res->body);
	/* An offset page: {"count", "count_is_exact", "next", "previous",
	 * "results"}; a cursor page has no count. */
	if (json_object_object_get_ex(res->json, "count", NULL)) {
		cr_assert_eq(json_object_object_length(res->json), 5, "%s", res->body);
		client_json_int(res->json, "count");
		client_json_flag(res->json, "count_is_exact");
	} else {
		cr_assert_eq(json_object_object_length(res->json), 3, "%s", res->body);
	}
	cr_assert(json_object_object_get_ex(res->json, "next", &v) &&
	              (v == NULL || json_object_is_type(v, json_type_string)),
	          "%s", res->body);
	cr_assert(json_object_object_get_ex(res->json, "previous", &v) &&
	              (v == NULL || json_object_is_type(v, json_type_string)),
	          "%s", res->body);
	cr_assert(json_object_object_get_ex(res->json, "results", &results) &&
	              json_object_is_type(results, json_type_array),
	          "%s", res->body);
	return results;
}

void client_open_session(const char *role, struct client_session *s)
{
	client_create_user(role, &s->user);
	client_user_login(&s->user, &s->tokens);
}

void client_close_session(struct client_session *s)
{
	client_tokens_free(&s->tokens);
}

long long client_new_patient(void)
{
	struct client_response res;
	long long id;

	client_post_json(
	    "/api/patients/", client_admin_token(),
	    "{\"first_name\": \"Test\", \"last_name\": \"Patient\", \"date_of_birth\": "
	    "\"1970-01-01\", \"gender\": \"unknown\"}",
	    &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

long long client_audit_count(const char *request_id, const char *action, const char *entity_type,
                             long long entity_id, long long actor)
{
	char *sql = client_format("SELECT count(*) FROM audit_log WHERE request_id = '%s' AND "
	                          "action = '%s' AND entity_type = '%s' AND "
	                          "coalesce(entity_id, 0) = %lld AND actor = %lld AND outcome = "
	                          "'success'",
	                          request_id, action, entity_type, entity_id, actor);
	long long n = client_sql_long(sql);

	free(sql);
	return n;
}
