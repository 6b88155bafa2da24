/*
 * router.c - matches a decoded path against the static route table.
 *
 * Matching walks both strings segment by segment; no allocation. The final
 * '/' is optional, empty segments ("//") never match, and "{id}" accepts
 * only 1..INT64_MAX written in decimal without sign or leading zeros.
 */
#include "hms/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ID_SEGMENT "{id}"

/* Parses a positive decimal id; false on anything else or overflow. */
static bool parse_id(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 19 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static size_t strip_final_slash(const char *s)
{
	size_t len = strlen(s);

	return len > 1 && s[len - 1] == '/' ? len - 1 : len;
}

static bool path_matches(const char *pattern, const char *path, int64_t *ids, size_t *id_count)
{
	size_t plen = strip_final_slash(pattern);
	size_t len = strip_final_slash(path);
	size_t i = 0, j = 0;
	size_t n = 0;

	while (i < plen && j < len) {
		size_t pseg, seg;

		if (pattern[i] != '/' || path[j] != '/')
			return false;
		i++;
		j++;
		pseg = strcspn(pattern + i, "/");
		seg = strcspn(path + j, "/");
		if (i + pseg > plen)
			pseg = plen - i;
		if (j + seg > len)
			seg = len - j;
		if (seg == 0)
			return false;
		if (pseg == sizeof(ID_SEGMENT) - 1 && memcmp(pattern + i, ID_SEGMENT, pseg) == 0) {
			if (n == ROUTE_MAX_IDS || !parse_id(path + j, seg, &ids[n]))
				return false;
			n++;
		} else if (pseg != seg || memcmp(pattern + i, path + j, seg) != 0) {
			return false;
		}
		i += pseg;
		j += seg;
	}
	if (i != plen || j != len)
		return false;
	*id_count = n;
	return true;
}

enum route_match router_match(const struct route *table, size_t count, const char *method,
                              const char *path, const struct route **out, int64_t *ids,
                              size_t *id_count, char *allow, size_t allow_size)
{
	bool path_known = false;
	size_t used = 0;

	*out = NULL;
	*id_count = 0;
	if (allow_size > 0)
		allow[0] = '\0';
	for (size_t r = 0; r < count; r++) {
		int64_t scratch[ROUTE_MAX_IDS];
		size_t n;

		if (!path_matches(table[r].pattern, path, scratch, &n))
			continue;
		if (strcmp(table[r].method, method) == 0) {
			memcpy(ids, scratch, n * sizeof(*ids));
			*id_count = n;
			*out = &table[r];
			return ROUTE_FOUND;
		}
		path_known = true;
		if (used < allow_size) {
			int w = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
			                 table[r].method);

			if (w > 0)
				used += (size_t)w;
		}
	}
	return path_known ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}
