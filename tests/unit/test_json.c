/*
 * test_json.c - json_parse and utf8_is_valid (src/util/json.c): the one
 * entry point for request bodies and token segments. Checks the refusals
 * (empty, NUL, invalid UTF-8, trailing data, too deep, null), that a parsed
 * tree belongs to the arena (LeakSanitizer would report it otherwise), and
 * the UTF-8 check on its own.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/json.h"

static struct arena *arena;
static struct json_object *out;
static const char *detail;

static void setup(void)
{
	arena = arena_new(64 * 1024, 0);
	cr_assert_not_null(arena);
	out = NULL;
	detail = NULL;
}

static void teardown(void)
{
	arena_free(arena);
	arena = NULL;
}

TestSuite(json, .init = setup, .fini = teardown);

static enum hms_err parse_len(const char *text, size_t len, int depth)
{
	out = (struct json_object *)&out; /* must be overwritten */
	detail = NULL;
	return json_parse(arena, text, len, depth, &out, &detail);
}

static enum hms_err parse(const char *text)
{
	return parse_len(text, strlen(text), 32);
}

/* n nested arrays: "[[[]]]" for n = 3. */
static char *nested_arrays(int n)
{
	char *s = arena_alloc(arena, 2 * (size_t)n + 1);

	memset(s, '[', (size_t)n);
	memset(s + n, ']', (size_t)n);
	s[2 * n] = '\0';
	return s;
}

static void assert_refused(const char *text, size_t len, const char *detail_part)
{
	cr_assert_eq(parse_len(text, len, 32), HMS_ERR_BAD_REQUEST, "'%.*s' should be refused",
	             (int)len, text);
	cr_assert_null(out, "no tree on failure");
	cr_assert_not_null(detail);
	cr_assert_not_null(strstr(detail, detail_part), "detail '%s' should mention '%s'", detail,
	                   detail_part);
}

Test(json, valid_object)
{
	struct json_object *name;
	struct json_object *age;
	struct json_object *tags;

	cr_assert_eq(parse("{\"name\": \"J\xc3\xa9r\xc3\xb4me\", \"age\": 30, "
	                   "\"tags\": [\"a\", \"b\"], \"active\": true, \"note\": null}"),
	             HMS_OK);
	cr_assert_not_null(out);
	cr_assert(json_object_is_type(out, json_type_object));
	cr_assert(json_object_object_get_ex(out, "name", &name));
	cr_assert_str_eq(json_object_get_string(name), "J\xc3\xa9r\xc3\xb4me");
	cr_assert(json_object_object_get_ex(out, "age", &age));
	cr_assert_eq(json_object_get_int(age), 30);
	cr_assert(json_object_object_get_ex(out, "tags", &tags));
	cr_assert_eq(json_object_array_length(tags), 2);
	cr_assert_eq(json_object_object_length(out), 5);
	/* The tree is released by the arena (checked by LeakSanitizer). */
	arena_reset(arena);
}

Test(json, arrays_are_parsed_too)
{
	/* Whether a route accepts a non-object is app_dispatch's business. */
	cr_assert_eq(parse("[1, 2, 3]"), HMS_OK);
	cr_assert(json_object_is_type(out, json_type_array));
	cr_assert_eq(json_object_array_length(out), 3);
}

Test(json, surrounding_white_space_is_allowed)
{
	cr_assert_eq(parse(" \t\r\n{\"a\": 1} \t\r\n"), HMS_OK);
	cr_assert(json_object_is_type(out, json_type_object));
}

Test(json, empty_body)
{
	assert_refused("", 0, "empty");
	/* A non-empty buffer whose length is 0 is still empty. */
	assert_refused("{}", 0, "empty");
}

Test(json, white_space_only_is_refused)
{
	assert_refused("   \n", 4, "JSON parse error");
}

Test(json, null_document_is_refused)
{
	assert_refused("null\n", 5, "null");
	assert_refused(" null ", 6, "null");
	/* Without trailing white space: refused as well (see the scalar test
	 * below for the detail it gets). */
	cr_assert_eq(parse("null"), HMS_ERR_BAD_REQUEST);
	cr_assert_null(out);
}

Test(json, nul_bytes_are_refused)
{
	static const char inside_string[] = "{\"a\":\"x\0y\"}";
	static const char after_doc[] = "{}\0";

	assert_refused(inside_string, sizeof(inside_string) - 1, "UTF-8");
	assert_refused(after_doc, sizeof(after_doc) - 1, "UTF-8");
}

Test(json, invalid_utf8_is_refused)
{
	assert_refused("{\"a\":\"\xff\"}", 8, "UTF-8");
	assert_refused("{\"a\":\"\xc0\xaf\"}", 9, "UTF-8");
	assert_refused("{\"a\":\"\xed\xa0\x80\"}", 10, "UTF-8");
	assert_refused("{\"\xc3\":1}", 7, "UTF-8");
}

Test(json, trailing_data_is_refused)
{
	assert_refused("{} x", 4, "JSON parse error");
	assert_refused("{}{}", 4, "JSON parse error");
	assert_refused("{\"a\":1}}", 8, "JSON parse error");
	assert_refused("[1] ]", 5, "JSON parse error");
	assert_refused("{}\n,", 4, "JSON parse error");
}

Test(json, malformed_json_is_refused)
{
	static const char *const bad[] = {"{",          "}",    "{\"a\":}", "{\"a\" 1}", "[1,]",
	                                  "{\"a\":1,}", "[01]", "{a:1}",    "\"unterm",  "tru"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), "not valid JSON");
}

Test(json, depth_limit_is_inclusive)
{
	cr_assert_eq(parse_len(nested_arrays(4), 8, 4), HMS_OK);
	cr_assert_eq(parse_len(nested_arrays(5), 10, 4), HMS_ERR_BAD_REQUEST);
	cr_assert_null(out);
	cr_assert_str_eq(detail, "JSON parse error - nested too deeply.");
}

Test(json, depth_limit_counts_objects_and_values)
{
	const char *two = "{\"a\":{}}";
	const char *three = "{\"a\":{\"b\":{}}}";
	const char *leaf = "{\"a\":{\"b\":1}}";

	cr_assert_eq(parse_len(two, strlen(two), 2), HMS_OK);
	cr_assert_eq(parse_len(three, strlen(three), 2), HMS_ERR_BAD_REQUEST);
	cr_assert_str_eq(detail, "JSON parse error - nested too deeply.");
	/* A scalar inside the second object is a third level. */
	cr_assert_eq(parse_len(leaf, strlen(leaf), 2), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse_len(leaf, strlen(leaf), 3), HMS_OK);
}

Test(json, default_depth_of_32)
{
	char *ok = nested_arrays(32);
	char *deep = nested_arrays(33);

	cr_assert_eq(parse_len(ok, strlen(ok), 32), HMS_OK);
	cr_assert_eq(parse_len(deep, strlen(deep), 32), HMS_ERR_BAD_REQUEST);
	cr_assert_str_eq(detail, "JSON parse error - nested too deeply.");
}

Test(json, very_deep_input_is_refused_without_crashing)
{
	size_t n = 100000;
	char *deep = malloc(2 * n);
	enum hms_err err;

	cr_assert_not_null(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	err = parse_len(deep, 2 * n, 32);
	free(deep);
	cr_assert_eq(err, HMS_ERR_BAD_REQUEST);
	cr_assert_str_eq(detail, "JSON parse error - nested too deeply.");
}

Test(json, failure_then_success_on_same_arena)
{
	/* A refused body must not leave a dangling cleanup in the arena. */
	cr_assert_eq(parse("{\"a\": [1, 2"), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse("{\"a\": [1, 2]}"), HMS_OK);
	arena_reset(arena);
	cr_assert_eq(parse("{}"), HMS_OK);
	cr_assert_eq(json_object_object_length(out), 0);
}

/* A document ending in a bare scalar is complete at the end of input. */
Test(json, scalar_document_without_trailing_space)
{
	cr_assert_eq(parse("42"), HMS_OK, "'42' is a complete JSON document (detail: %s)",
	             detail != NULL ? detail : "none");
	cr_assert(json_object_is_type(out, json_type_int));
	cr_assert_eq(json_object_get_int(out), 42);
	cr_assert_eq(parse("true"), HMS_OK);
	cr_assert_eq(parse("null"), HMS_ERR_BAD_REQUEST);
	cr_assert_str_eq(detail, "JSON parse error - the body is null.");
}

Test(json, text_json_c_tolerates_but_json_forbids_is_refused)
{
	const char *bad[] = {
	    "{'a': 1}",               /* single quotes */
	    "{\"a\": NaN}",           /* not a JSON number */
	    "{\"a\": Infinity}",      /* idem */
	    "{\"a\": -Infinity}",     /* idem */
	    "{\"a\": nan}",           /* idem, lower case */
	    "{\"a\": 1e999}",         /* overflows to infinity */
	    "{\"a\": \"x\\u0000y\"}", /* would be cut at the NUL */
	    "{\"a\\u0000b\": 1}",     /* a key cut at the NUL */
	    "{a: 1}",                 /* bare key */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i]), HMS_ERR_BAD_REQUEST, "accepted: %s", bad[i]);
}

Test(json, escapes_that_are_json_still_parse)
{
	cr_assert_eq(
	    parse("{\"a\": \"\\u00e9\\\"\\\\\\n\", \"b\": -1.5e3, \"c\": [true, false, null]}"),
	    HMS_OK, "%s", detail != NULL ? detail : "");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(out, "a")),
	                 "\xc3\xa9\"\\\n");
}

/* What follows pins the grammar json_parse accepts, which is RFC 8259's and
 * no json-c release's: json-c 0.16 (Debian 12) and 0.18 (Debian 13) differ
 * in strict mode, and the next release may differ again. These must pass
 * with every json-c. */

Test(json, text_beyond_ascii_is_accepted_in_values_and_keys)
{
	static const char *const ok[] = {
	    "{\"first_name\": \"J\xc3\xa9r\xc3\xb4me\"}", /* Latin-1 range */
	    "{\"specialty\": \"P\xc3\xa6"
	    "diatrics\"}",                           /* ae ligature */
	    "{\"n\": \"\xe5\xb1\xb1\xe7\x94\xb0\"}", /* CJK */
	    "{\"n\": \"\xf0\x9f\x98\x80\"}",         /* 4 bytes */
	    "{\"n\": \"\xe2\x80\x83\xe3\x80\x80\"}", /* Unicode spaces */
	    "{\"n\": \"\xe2\x80\xa8\"}",             /* U+2028 */
	    "{\"n\": \"\x7f\"}",                     /* DEL is no control */
	    "{\"n\\u00e9\": 1, \"\xc3\xa9\": 2}",    /* keys */
	    "{\"n\": \"\\ud83d\\ude00\"}",           /* surrogate pair */
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(parse(ok[i]), HMS_OK, "refused: %s (%s)", ok[i],
		             detail != NULL ? detail : "");
	cr_assert_eq(parse("{\"a\": \"J\xc3\xa9r\xc3\xb4me\"}"), HMS_OK);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(out, "a")),
	                 "J\xc3\xa9r\xc3\xb4me");
	cr_assert_eq(parse("[\"\\ud83d\\ude00\"]"), HMS_OK);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(out, 0)),
	                 "\xf0\x9f\x98\x80");
}

Test(json, integers_beyond_64_bits_parse_and_are_refused_by_json_int64)
{
	static const char *const big[] = {
	    "{\"a\": 12345678901234567890123}", "{\"a\": -12345678901234567890123}",
	    "{\"a\": 9223372036854775808}",     "{\"a\": 18446744073709551615}",
	    "{\"a\": 18446744073709551616}",    "{\"a\": -9223372036854775809}",
	};
	int64_t n = 0;

	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		cr_assert_eq(parse(big[i]), HMS_OK, "%s: %s", big[i], detail != NULL ? detail : "");
		cr_assert_not(json_int64(json_object_object_get(out, "a"), &n),
		              "%s is not the number the client sent", big[i]);
	}
	cr_assert_eq(parse("{\"a\": 9223372036854775807, \"b\": -9223372036854775807}"), HMS_OK);
	cr_assert(json_int64(json_object_object_get(out, "a"), &n));
	cr_assert_eq(n, INT64_MAX);
	cr_assert(json_int64(json_object_object_get(out, "b"), &n));
	cr_assert_eq(n, -INT64_MAX);
}

Test(json, numbers_follow_the_rfc_grammar)
{
	static const char *const ok[] = {"0",   "-0",   "0.5",    "-1.5e-3",
	                                 "1e5", "1E+5", "10.0e0", "123.456"};
	static const char *const bad[] = {"01",    "-01",  "-",    "1.",   ".5",  "+1",
	                                  "1e",    "1e+",  "0x10", "1.e5", "--1", "1-2",
	                                  "0.5.1", "1ee5", "- 1",  "00"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *doc = arena_printf(arena, "[%s]", ok[i]);

		cr_assert_eq(parse(doc), HMS_OK, "refused: %s", doc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *doc = arena_printf(arena, "[%s]", bad[i]);

		assert_refused(doc, strlen(doc), "not valid JSON");
	}
}

Test(json, raw_control_characters_in_strings_are_refused)
{
	static const char *const bad[] = {"[\"a\nb\"]", "[\"a\tb\"]", "[\"\x01\"]", "[\"\x1f\"]",
	                                  "{\"k\rey\": 1}"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]), "not valid JSON");
	/* Escaped, they are fine. */
	cr_assert_eq(parse("[\"a\\nb\\t\\u001f\"]"), HMS_OK);
}

Test(json, what_only_lenient_json_c_takes_is_refused)
{
	static const char *const bad[] = {
	    "[1,]",
	    "{\"a\": 1,}",
	    "[,1]",
	    "{,}",
	    "[1,,2]",
	    "/* c */ {}",
	    "{} // c",
	    "{\"a\": /* c */ 1}",
	    "[True]",
	    "[NULL]",
	    "[nul]",
	    "[truefalse]",
	    "[\"\\x41\"]",
	    "[\"\\u12\"]",
	    "[\"\\u12g4\"]",
	    "[\"\\'\"]",
	    "\v{}",
	    "{}\f",
	    "{\"a\" : 1 \"b\": 2}",
	    "{\"a\"}",
	    "{1: 2}",
	    "{\"a\": 1]",
	    "[1}",
	    "['a']",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i]), HMS_ERR_BAD_REQUEST, "accepted: %s", bad[i]);
}

Test(json, white_space_between_tokens_is_any_of_the_four)
{
	cr_assert_eq(parse("\r\n{ \"a\" :\t[ 1 , { } , [ ] ] ,\n\"b\" : \"\" }\t"), HMS_OK, "%s",
	             detail != NULL ? detail : "");
	cr_assert_eq(json_object_object_length(out), 2);
}

/* --- utf8_is_valid --- */

static bool utf8(const char *s)
{
	return utf8_is_valid(s, strlen(s));
}

Test(utf8, valid_sequences)
{
	cr_assert(utf8_is_valid("", 0));
	cr_assert(utf8("plain ASCII ~"));
	cr_assert(utf8("\xc2\x80"));         /* U+0080, smallest 2-byte */
	cr_assert(utf8("\xc3\xa9"));         /* é */
	cr_assert(utf8("\xdf\xbf"));         /* U+07FF */
	cr_assert(utf8("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
	cr_assert(utf8("\xe2\x82\xac"));     /* € */
	cr_assert(utf8("\xed\x9f\xbf"));     /* U+D7FF, just below surrogates */
	cr_assert(utf8("\xee\x80\x80"));     /* U+E000, just above */
	cr_assert(utf8("\xef\xbf\xbf"));     /* U+FFFF */
	cr_assert(utf8("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
	cr_assert(utf8("\xf0\x9f\x98\x80")); /* emoji */
	cr_assert(utf8("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
}

Test(utf8, overlong_forms_are_refused)
{
	cr_assert_not(utf8("\xc0\x80"));
	cr_assert_not(utf8("\xc1\xbf"));
	cr_assert_not(utf8("\xe0\x80\x80"));
	cr_assert_not(utf8("\xe0\x9f\xbf"));
	cr_assert_not(utf8("\xf0\x80\x80\x80"));
	cr_assert_not(utf8("\xf0\x8f\xbf\xbf"));
}

Test(utf8, surrogates_and_out_of_range_are_refused)
{
	cr_assert_not(utf8("\xed\xa0\x80"));
	cr_assert_not(utf8("\xed\xbf\xbf"));
	cr_assert_not(utf8("\xf4\x90\x80\x80"));
	cr_assert_not(utf8("\xf5\x80\x80\x80"));
	cr_assert_not(utf8("\xf8\x88\x80\x80\x80"));
	cr_assert_not(utf8("\xff"));
	cr_assert_not(utf8("\xfe"));
}

Test(utf8, broken_sequences_are_refused)
{
	cr_assert_not(utf8("\x80"));         /* lone continuation */
	cr_assert_not(utf8("a\xbf"));        /* lone continuation after ASCII */
	cr_assert_not(utf8("\xc3"));         /* truncated at the end */
	cr_assert_not(utf8("\xe2\x82"));     /* truncated */
	cr_assert_not(utf8("\xf0\x9f\x98")); /* truncated */
	cr_assert_not(utf8("\xc3\x41"));     /* ASCII where a continuation belongs */
	cr_assert_not(utf8("\xe2\x28\xa1"));
}

Test(utf8, nul_and_length_are_respected)
{
	cr_assert_not(utf8_is_valid("a\0b", 3));
	/* The length cuts a valid sequence in half. */
	cr_assert_not(utf8_is_valid("\xc3\xa9", 1));
	cr_assert(utf8_is_valid("ab\xff", 2));
}
