/*
 * test_rate_limit.c - nginx's per-client limit_req on /api/ (hms_api in
 * deploy/nginx/hms.conf): a burst from one address is answered 429 with
 * Retry-After and a JSON body, while another address goes on being served.
 *
 * The other tests run in parallel from 127.0.0.1, which tests/run.sh
 * exempts (HMS_API_LIMIT_EXEMPT); this one sends its burst from
 * 127.0.0.9, which keeps the production rate and burst, so it neither
 * trips the other tests nor is helped by them.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"

#define BURST_SOURCE    "127.0.0.9"
#define BURST_THREADS   4
#define BURST_MAX       1500 /* requests per thread, at the most */
#define THROTTLED_SEEN  40   /* enough 429s to stop */
#define RETRY_AFTER_MAX 60

static atomic_int sent, throttled, with_retry_after, with_json, other_status;

struct answer {
	long status;
	char retry_after[32];
	char *body;
	size_t body_len;
};

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;
	static const char name[] = "Retry-After:";

	if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
		size_t start = sizeof(name) - 1, len;

		while (start < n && ptr[start] == ' ')
			start++;
		len = n - start;
		while (len > 0 && (ptr[start + len - 1] == '\r' || ptr[start + len - 1] == '\n'))
			len--;
		if (len >= sizeof(a->retry_after))
			len = sizeof(a->retry_after) - 1;
		memcpy(a->retry_after, ptr + start, len);
		a->retry_after[len] = '\0';
	}
	return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;
	char *grown = realloc(a->body, a->body_len + n + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + a->body_len, ptr, n);
	a->body_len += n;
	grown[a->body_len] = '\0';
	a->body = grown;
	return n;
}

/* GET path on a kept handle whose connections leave from source. */
static int get_from(CURL *curl, const char *source, const char *path, struct answer *a)
{
	const char *base = client_env("HMS_TEST_BASE_URL");
	const char *port = strrchr(base, ':');
	char url[1024], resolve_line[256];
	struct curl_slist *resolve;
	CURLcode rc;

	memset(a, 0, sizeof(*a));
	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(resolve_line, sizeof(resolve_line), "localhost%s:127.0.0.1",
	         port != NULL ? port : ":443");
	resolve = curl_slist_append(NULL, resolve_line);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(curl, CURLOPT_INTERFACE, source);
	curl_easy_setopt(curl, CURLOPT_CAINFO, client_env("HMS_TEST_CA"));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(resolve);
	return rc == CURLE_OK ? 0 : -1;
}

static bool is_detail_json(const struct answer *a)
{
	struct json_object *json = a->body != NULL ? json_tokener_parse(a->body) : NULL;
	struct json_object *detail;
	bool ok = json != NULL && json_object_object_get_ex(json, "detail", &detail) &&
	          json_object_is_type(detail, json_type_string);

	json_object_put(json);
	return ok;
}

static void *burst(void *arg)
{
	CURL *curl = curl_easy_init();

	(void)arg;
	for (int i = 0; curl != NULL && i < BURST_MAX && atomic_load(&throttled) < THROTTLED_SEEN;
	     i++) {
		struct answer a;

		if (get_from(curl, BURST_SOURCE, "/api/health/", &a) != 0) {
			free(a.body);
			continue;
		}
		atomic_fetch_add(&sent, 1);
		if (a.status == 429) {
			long seconds = atol(a.retry_after);

			atomic_fetch_add(&throttled, 1);
			if (seconds >= 1 && seconds <= RETRY_AFTER_MAX)
				atomic_fetch_add(&with_retry_after, 1);
			if (is_detail_json(&a))
				atomic_fetch_add(&with_json, 1);
		} else if (a.status != 200) {
			atomic_fetch_add(&other_status, 1);
		}
		free(a.body);
		curl_easy_reset(curl); /* the connection stays open */
	}
	curl_easy_cleanup(curl);
	return NULL;
}

Test(api_rate_limit, a_burst_from_one_address_is_429_json_with_retry_after)
{
	pthread_t threads[BURST_THREADS];
	struct answer a;
	CURL *curl;

	for (int i = 0; i < BURST_THREADS; i++)
		pthread_create(&threads[i], NULL, burst, NULL);
	for (int i = 0; i < BURST_THREADS; i++)
		pthread_join(threads[i], NULL);
	cr_assert_gt(atomic_load(&throttled), 0,
	             "no 429 after %d requests from " BURST_SOURCE " (is connecting from it "
	             "possible here?)",
	             atomic_load(&sent));
	/* The burst was served first: a normal client never sees the limit. */
	cr_assert_geq(atomic_load(&sent) - atomic_load(&throttled), 500,
	              "only %d of %d requests served before the limit",
	              atomic_load(&sent) - atomic_load(&throttled), atomic_load(&sent));
	cr_assert_eq(atomic_load(&other_status), 0, "answers other than 200 and 429");
	cr_assert_eq(atomic_load(&with_retry_after), atomic_load(&throttled),
	             "every 429 carries Retry-After: 1 to %d", RETRY_AFTER_MAX);
	cr_assert_eq(atomic_load(&with_json), atomic_load(&throttled),
	             "every 429 is {\"detail\": ...}");

	/* The limit is per address: another one is served at once. */
	curl = curl_easy_init();
	cr_assert_not_null(curl);
	cr_assert_eq(get_from(curl, "127.0.0.1", "/api/health/", &a), 0);
	cr_assert_eq(a.status, 200, "%s", a.body != NULL ? a.body : "");
	free(a.body);
	curl_easy_cleanup(curl);
}
