/*
 * fuzz_json.c - json_parse (src/util/json.c) with the default
 * depth limit (json_max_depth = 32), as app.c calls it for request bodies.
 *
 * The input is passed as is, without a terminator, as a FastCGI body may
 * be. Beyond "no crash, no leak" (the tree must belong to the arena), a
 * success must keep the promises handlers rely on: a tree is returned,
 * every string and key is valid UTF-8 without NUL, every number is finite,
 * and nothing is nested deeper than the limit. Serialising the tree and
 * parsing the text again must succeed too: what we accept we can also
 * write back out and accept again. A refusal must say why.
 */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/json.h"

#include "fuzz.h"

#define FUZZ_JSON_DEPTH 32

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

static void check_string(const char *s, int len)
{
	FUZZ_CHECK(s != NULL && len >= 0);
	FUZZ_CHECK(strlen(s) == (size_t)len);
	FUZZ_CHECK(fuzz_str_is_valid(s, (size_t)len));
}

/* outer is the number of containers around obj; a container itself is one
 * level more, and the limit is on levels. */
static void check_tree(struct json_object *obj, int outer)
{
	switch (json_object_get_type(obj)) {
	case json_type_double:
		FUZZ_CHECK(isfinite(json_object_get_double(obj)));
		break;
	case json_type_string:
		check_string(json_object_get_string(obj), json_object_get_string_len(obj));
		break;
	case json_type_array:
		FUZZ_CHECK(outer + 1 <= FUZZ_JSON_DEPTH);
		for (size_t i = 0; i < json_object_array_length(obj); i++)
			check_tree(json_object_array_get_idx(obj, i), outer + 1);
		break;
	case json_type_object: {
		struct json_object_iterator it = json_object_iter_begin(obj);
		struct json_object_iterator end = json_object_iter_end(obj);

		FUZZ_CHECK(outer + 1 <= FUZZ_JSON_DEPTH);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			const char *key = json_object_iter_peek_name(&it);

			check_string(key, (int)strlen(key));
			check_tree(json_object_iter_peek_value(&it), outer + 1);
		}
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj = (struct json_object *)&obj; /* must be overwritten */
	const char *detail = NULL;
	enum hms_err err;

	err = json_parse(arena, (const char *)data, size, FUZZ_JSON_DEPTH, &obj, &detail);
	if (err == HMS_OK) {
		struct json_object *again = NULL;
		const char *again_detail = NULL;
		const char *text;
		size_t text_len;

		FUZZ_CHECK(obj != NULL);
		check_tree(obj, 0);
		text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &text_len);
		FUZZ_CHECK(text != NULL);
		err = json_parse(arena, text, text_len, FUZZ_JSON_DEPTH, &again, &again_detail);
		if (err != HMS_OK)
			fprintf(stderr, "re-parse of %s failed: %s\n", text, again_detail);
		FUZZ_CHECK(err == HMS_OK && again != NULL);
		FUZZ_CHECK(json_object_get_type(again) == json_object_get_type(obj));
	} else {
		FUZZ_CHECK(err == HMS_ERR_BAD_REQUEST || err == HMS_ERR_TOO_LARGE);
		FUZZ_CHECK(obj == NULL);
		FUZZ_CHECK(detail != NULL && detail[0] != '\0');
	}
	arena_reset(arena);
	return 0;
}
