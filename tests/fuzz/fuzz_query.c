/*
 * fuzz_query.c - http_parse_query (src/http/request.c) as http_request_parse
 * calls it: a NUL-terminated query string and at most HTTP_MAX_QUERY_PARAMS
 * pairs.
 *
 * The input is copied into an exact-size string, so reading past its
 * terminator is caught. On success every key and value must be decoded,
 * valid UTF-8 without NUL, and there can be no more pairs than '&'-separated
 * parts; http_request_param must then find the first value of each key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/http.h"

#include "fuzz.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *query = malloc(size + 1);
	struct http_param *params = (struct http_param *)&params; /* must be overwritten */
	size_t count = (size_t)-1;
	size_t parts = 1;
	enum hms_err err;

	if (query == NULL)
		abort();
	memcpy(query, data, size);
	query[size] = '\0';
	for (const char *p = query; *p != '\0'; p++)
		parts += *p == '&';

	err = http_parse_query(arena, query, HTTP_MAX_QUERY_PARAMS, &params, &count);
	FUZZ_CHECK(err == HMS_OK || err == HMS_ERR_BAD_REQUEST);
	if (err == HMS_OK) {
		struct http_request req = {.params = params, .param_count = count};

		FUZZ_CHECK(parts <= HTTP_MAX_QUERY_PARAMS || query[0] == '\0');
		FUZZ_CHECK(count <= parts && count <= HTTP_MAX_QUERY_PARAMS);
		FUZZ_CHECK(count == 0 || params != NULL);
		for (size_t i = 0; i < count; i++) {
			const char *key = params[i].key, *value = params[i].value;

			FUZZ_CHECK(key != NULL && value != NULL);
			FUZZ_CHECK(fuzz_str_is_valid(key, strlen(key)));
			FUZZ_CHECK(fuzz_str_is_valid(value, strlen(value)));
			FUZZ_CHECK(strlen(key) + strlen(value) <= size);
			for (size_t j = 0; j < i; j++)
				if (strcmp(params[j].key, key) == 0) {
					value = params[j].value;
					break;
				}
			FUZZ_CHECK(http_request_param(&req, key) == value);
		}
	} else {
		FUZZ_CHECK(count == 0 && params == NULL);
	}
	arena_reset(arena);
	free(query);
	return 0;
}
