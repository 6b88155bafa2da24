/*
 * fuzz_router.c - router_match (src/http/router.c) against the real route
 * table, and against a table of {id} routes like the ones resources will
 * add (the real table has none yet, so the id parser would go unfuzzed).
 *
 * Input layout: the first byte picks the method (low three bits) and the
 * size of the Allow buffer (high four bits); the remaining bytes, up to the first
 * NUL, are the decoded path. Each answer is compared with a plain reference
 * matcher written here: split both strings on '/', drop one final '/',
 * compare segment by segment, "{id}" taking 1..INT64_MAX in plain decimal.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/router.h"

#include "fuzz.h"

static void handler(struct http_request *req, struct http_response *res)
{
	(void)req;
	(void)res;
}

static const struct route id_routes[] = {
    {"GET", "/api/patients/", handler, "patients.list", ROUTE_BODY_NONE},
    {"POST", "/api/patients/", handler, "patients.create", ROUTE_BODY_JSON},
    {"GET", "/api/patients/search/", handler, "patients.list", ROUTE_BODY_NONE},
    {"GET", "/api/patients/{id}/", handler, "patients.read", ROUTE_BODY_NONE},
    {"PUT", "/api/patients/{id}/", handler, "patients.update", ROUTE_BODY_JSON},
    {"PATCH", "/api/patients/{id}/", handler, "patients.update", ROUTE_BODY_JSON},
    {"DELETE", "/api/patients/{id}/", handler, "patients.delete", ROUTE_BODY_NONE},
    {"GET", "/api/patients/{id}/notes/{id}/", handler, "notes.read", ROUTE_BODY_NONE},
    {"GET", "/api/health", handler, "public", ROUTE_BODY_NONE},
    {"GET", "/t/{id}/{id}/{id}/{id}/", handler, "t", ROUTE_BODY_NONE},
    {"GET", "/u/{id}/{id}/{id}/{id}/{id}/", handler, "u", ROUTE_BODY_NONE},
};

static const char *const methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                      "DELETE", "HEAD", "OPTIONS", "get"};
static const size_t allow_sizes[] = {0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 128, 256, 512};

struct segments {
	const char *start[64];
	size_t len[64];
	size_t count;
	bool ok;
};

/* The segments of s after its leading '/', one final '/' dropped. */
static void split(const char *s, struct segments *out)
{
	size_t len = strlen(s);

	out->count = 0;
	out->ok = false;
	if (len > 1 && s[len - 1] == '/')
		len--;
	if (len == 0 || s[0] != '/')
		return;
	for (size_t i = 1;; i++) {
		size_t seg = 0;

		while (i + seg < len && s[i + seg] != '/')
			seg++;
		if (out->count == 64)
			return;
		out->start[out->count] = s + i;
		out->len[out->count++] = seg;
		i += seg;
		if (i >= len)
			break;
	}
	out->ok = true;
}

static bool reference_id(const char *s, size_t len, int64_t *out)
{
	static const char max[] = "9223372036854775807";
	char digits[sizeof(max)];

	if (len == 0 || len > sizeof(max) - 1 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (len == sizeof(max) - 1 && memcmp(s, max, len) > 0)
		return false;
	memcpy(digits, s, len);
	digits[len] = '\0';
	*out = strtoll(digits, NULL, 10);
	return true;
}

static bool reference_path(const char *pattern, const struct segments *path, int64_t *ids,
                           size_t *id_count)
{
	struct segments pat;

	split(pattern, &pat);
	if (!pat.ok || !path->ok || pat.count != path->count)
		return false;
	*id_count = 0;
	for (size_t k = 0; k < pat.count; k++) {
		if (path->len[k] == 0)
			return false;
		if (pat.len[k] == 4 && memcmp(pat.start[k], "{id}", 4) == 0) {
			if (*id_count == ROUTE_MAX_IDS ||
			    !reference_id(path->start[k], path->len[k], &ids[*id_count]))
				return false;
			++*id_count;
		} else if (pat.len[k] != path->len[k] ||
		           memcmp(pat.start[k], path->start[k], pat.len[k]) != 0) {
			return false;
		}
	}
	return true;
}

static void check_table(const struct route *table, size_t count, const char *method,
                        const char *path, size_t allow_size)
{
	struct segments segs;
	const struct route *found = (const struct route *)&found;
	const struct route *want = NULL;
	int64_t ids[ROUTE_MAX_IDS], want_ids[ROUTE_MAX_IDS];
	size_t id_count = (size_t)-1, want_count = 0;
	char *allow = malloc(allow_size > 0 ? allow_size : 1);
	char want_allow[1024] = "";
	enum route_match m;

	if (allow == NULL)
		abort();
	split(path, &segs);
	for (size_t r = 0; r < count && want == NULL; r++) {
		int64_t scratch[ROUTE_MAX_IDS];
		size_t n;

		if (!reference_path(table[r].pattern, &segs, scratch, &n))
			continue;
		if (strcmp(table[r].method, method) == 0) {
			want = &table[r];
			want_count = n;
			memcpy(want_ids, scratch, n * sizeof(*scratch));
		} else {
			size_t used = strlen(want_allow);

			snprintf(want_allow + used, sizeof(want_allow) - used, "%s%s",
			         used ? ", " : "", table[r].method);
		}
	}

	m = router_match(table, count, method, path, &found, ids, &id_count, allow, allow_size);
	if (want != NULL) {
		FUZZ_CHECK(m == ROUTE_FOUND && found == want);
		FUZZ_CHECK(id_count == want_count);
		for (size_t i = 0; i < id_count; i++)
			FUZZ_CHECK(ids[i] == want_ids[i] && ids[i] > 0);
	} else if (want_allow[0] != '\0') {
		FUZZ_CHECK(m == ROUTE_METHOD_NOT_ALLOWED && found == NULL && id_count == 0);
		if (allow_size > 0) {
			/* Truncated to the buffer, never past it. */
			size_t fits = strnlen(want_allow, allow_size - 1);

			FUZZ_CHECK(strlen(allow) == fits && memcmp(allow, want_allow, fits) == 0);
		}
	} else {
		FUZZ_CHECK(m == ROUTE_NOT_FOUND && found == NULL && id_count == 0);
		FUZZ_CHECK(allow_size == 0 || allow[0] == '\0');
	}
	free(allow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *method;
	size_t allow_size;
	char *path;

	if (size == 0)
		return 0;
	method = methods[data[0] & 7];
	allow_size = allow_sizes[data[0] >> 4];
	/* Not strndup: the input has no terminator, and strndup under
	 * ASAN_OPTIONS=strict_string_checks=1 (tests/run.sh) looks for one. */
	path = malloc(size);
	if (path == NULL)
		abort();
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	check_table(hms_routes, hms_route_count, method, path, allow_size);
	check_table(id_routes, sizeof(id_routes) / sizeof(id_routes[0]), method, path, allow_size);
	free(path);
	return 0;
}
