/* client.c - libcurl wrapper for the integration tests (see client.h). */
#include "client.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

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
	curl = curl_easy_init();
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
