/*
 * test_request.c - request parsing at the edge (src/http/request.c).
 *
 * Percent-decoding, query splitting, building a request from an envp array
 * as FastCGI hands it over, reading the body through a fake reader, request
 * ids and the JSON content-type check. JSON parsing and the UTF-8 check are
 * in test_json.c.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/http.h"

/* A big first block: no test here depends on block growth. */
#define ARENA_BLOCK (128 * 1024)

static struct arena *arena;

static void setup(void)
{
	arena = arena_new(ARENA_BLOCK, 0);
	cr_assert_not_null(arena);
}

static void teardown(void)
{
	arena_free(arena);
	arena = NULL;
}

TestSuite(percent_decode, .init = setup, .fini = teardown);
TestSuite(query, .init = setup, .fini = teardown);
TestSuite(env, .init = setup, .fini = teardown);
TestSuite(request_parse, .init = setup, .fini = teardown);
TestSuite(read_body, .init = setup, .fini = teardown);
TestSuite(request_id, .init = setup, .fini = teardown);
TestSuite(path_id, .init = setup, .fini = teardown);
TestSuite(content_type, .init = setup, .fini = teardown);

/* --- percent decoding --- */

static enum hms_err decode(const char *in, bool plus_is_space, char **out, size_t *out_len)
{
	size_t len = strlen(in);

	*out = arena_alloc(arena, len + 1);
	cr_assert_not_null(*out);
	return http_percent_decode(in, len, plus_is_space, *out, out_len);
}

static void assert_decodes(const char *in, bool plus_is_space, const char *expect)
{
	char *out;
	size_t out_len = 999;

	cr_assert_eq(decode(in, plus_is_space, &out, &out_len), HMS_OK, "'%s' should decode", in);
	cr_assert_str_eq(out, expect, "'%s' decoded wrongly", in);
	cr_assert_eq(out_len, strlen(expect));
}

static void assert_refused(const char *in)
{
	char *out;
	size_t out_len;

	cr_assert_eq(decode(in, true, &out, &out_len), HMS_ERR_BAD_REQUEST,
	             "'%s' should be refused", in);
}

Test(percent_decode, plain_text_is_copied)
{
	assert_decodes("abc/def-1.2_~", false, "abc/def-1.2_~");
	assert_decodes("", false, "");
}

Test(percent_decode, escapes_in_either_case)
{
	assert_decodes("%41%62%63", false, "Abc");
	assert_decodes("%4a%4A", false, "JJ");
	assert_decodes("a%20b", false, "a b");
	assert_decodes("%2F%3f%25", false, "/?%");
}

Test(percent_decode, plus_is_space_only_when_asked)
{
	assert_decodes("a+b", true, "a b");
	assert_decodes("a+b", false, "a+b");
	assert_decodes("%2B", true, "+");
}

Test(percent_decode, utf8_escapes_are_accepted)
{
	assert_decodes("J%C3%A9r%C3%B4me", false, "J\xc3\xa9r\xc3\xb4me");
	assert_decodes("%E2%82%AC", false, "\xe2\x82\xac");
	assert_decodes("%F0%9F%98%80", false, "\xf0\x9f\x98\x80");
}

Test(percent_decode, bad_escapes_are_refused)
{
	assert_refused("%");
	assert_refused("%4");
	assert_refused("abc%");
	assert_refused("abc%4");
	assert_refused("%G1");
	assert_refused("%1G");
	assert_refused("%%41");
	assert_refused("% 41");
	assert_refused("%-1");
}

Test(percent_decode, nul_is_refused_escaped_or_raw)
{
	char out[8];
	size_t out_len;

	assert_refused("%00");
	assert_refused("abc%00def");
	cr_assert_eq(http_percent_decode("a\0b", 3, false, out, &out_len), HMS_ERR_BAD_REQUEST);
}

Test(percent_decode, invalid_utf8_is_refused)
{
	assert_refused("%FF");
	assert_refused("%C3");          /* truncated */
	assert_refused("%C3%28");       /* bad continuation */
	assert_refused("%C0%AF");       /* overlong '/' */
	assert_refused("%ED%A0%80");    /* surrogate */
	assert_refused("%F4%90%80%80"); /* past U+10FFFF */
	assert_refused("caf\xe9");      /* raw Latin-1 */
}

Test(percent_decode, only_len_bytes_are_read)
{
	char out[8];
	size_t out_len;

	cr_assert_eq(http_percent_decode("abcdef", 3, false, out, &out_len), HMS_OK);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(out_len, 3);
	/* An escape cut by len is incomplete even if the string goes on. */
	cr_assert_eq(http_percent_decode("a%41", 3, false, out, &out_len), HMS_ERR_BAD_REQUEST);
}

/* --- query strings --- */

static struct http_param *params;
static size_t param_count;

static enum hms_err parse_query(const char *q, size_t max)
{
	return http_parse_query(arena, q, max, &params, &param_count);
}

Test(query, empty_or_missing_query_has_no_params)
{
	cr_assert_eq(parse_query(NULL, 64), HMS_OK);
	cr_assert_eq(param_count, 0);
	cr_assert_null(params);
	cr_assert_eq(parse_query("", 64), HMS_OK);
	cr_assert_eq(param_count, 0);
	cr_assert_null(params);
}

Test(query, pairs_are_split_and_decoded_in_order)
{
	cr_assert_eq(parse_query("search=J%C3%A9r%C3%B4me+Doe&ordering=-id&page=2", 64), HMS_OK);
	cr_assert_eq(param_count, 3);
	cr_assert_str_eq(params[0].key, "search");
	cr_assert_str_eq(params[0].value, "J\xc3\xa9r\xc3\xb4me Doe");
	cr_assert_str_eq(params[1].key, "ordering");
	cr_assert_str_eq(params[1].value, "-id");
	cr_assert_str_eq(params[2].key, "page");
	cr_assert_str_eq(params[2].value, "2");
}

Test(query, repeated_keys_are_kept_in_order)
{
	cr_assert_eq(parse_query("tag=a&x=1&tag=b&tag=c", 64), HMS_OK);
	cr_assert_eq(param_count, 4);
	cr_assert_str_eq(params[0].key, "tag");
	cr_assert_str_eq(params[0].value, "a");
	cr_assert_str_eq(params[1].key, "x");
	cr_assert_str_eq(params[2].key, "tag");
	cr_assert_str_eq(params[2].value, "b");
	cr_assert_str_eq(params[3].key, "tag");
	cr_assert_str_eq(params[3].value, "c");
}

Test(query, escaped_separators_stay_in_values)
{
	cr_assert_eq(parse_query("q=a%26b%3Dc&k%2Bey=1+%2B+1", 64), HMS_OK);
	cr_assert_eq(param_count, 2);
	cr_assert_str_eq(params[0].value, "a&b=c");
	cr_assert_str_eq(params[1].key, "k+ey");
	cr_assert_str_eq(params[1].value, "1 + 1");
}

Test(query, keys_without_value_and_empty_keys)
{
	cr_assert_eq(parse_query("flag&=v&a==b&e=", 64), HMS_OK);
	cr_assert_eq(param_count, 4);
	cr_assert_str_eq(params[0].key, "flag");
	cr_assert_str_eq(params[0].value, "");
	cr_assert_str_eq(params[1].key, "");
	cr_assert_str_eq(params[1].value, "v");
	cr_assert_str_eq(params[2].key, "a");
	cr_assert_str_eq(params[2].value, "=b");
	cr_assert_str_eq(params[3].key, "e");
	cr_assert_str_eq(params[3].value, "");
}

Test(query, empty_segments_are_skipped)
{
	cr_assert_eq(parse_query("&&a=1&&b=2&", 64), HMS_OK);
	cr_assert_eq(param_count, 2);
	cr_assert_str_eq(params[0].key, "a");
	cr_assert_str_eq(params[1].key, "b");
}

Test(query, parameter_limit)
{
	cr_assert_eq(parse_query("a=1&b=2&c=3", 3), HMS_OK);
	cr_assert_eq(param_count, 3);
	cr_assert_eq(parse_query("a=1&b=2&c=3&d=4", 3), HMS_ERR_BAD_REQUEST);
}

Test(query, bad_encoding_is_refused)
{
	cr_assert_eq(parse_query("a=%zz", 64), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse_query("a=1&b=%00", 64), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse_query("%FF=1", 64), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse_query("a=%C3", 64), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse_query("a=%", 64), HMS_ERR_BAD_REQUEST);
}

/* --- envp --- */

Test(env, lookup_by_exact_name)
{
	const char *const envp[] = {"REQUEST_METHODX=no", "REQUEST_METHOD=GET",
	                            "EMPTY=", "WITH_EQ=a=b", NULL};

	cr_assert_str_eq(http_env_get(envp, "REQUEST_METHOD"), "GET");
	cr_assert_str_eq(http_env_get(envp, "EMPTY"), "");
	cr_assert_str_eq(http_env_get(envp, "WITH_EQ"), "a=b");
	cr_assert_null(http_env_get(envp, "REQUEST"));
	cr_assert_null(http_env_get(envp, "MISSING"));
	cr_assert_null(http_env_get(NULL, "REQUEST_METHOD"));
}

/* --- http_request_parse --- */

static struct http_request req;

static enum hms_err parse(const char *const *envp)
{
	return http_request_parse(&req, arena, envp);
}

static bool is_hex32(const char *s)
{
	if (strlen(s) != 32)
		return false;
	return strspn(s, "0123456789abcdef") == 32;
}

Test(request_parse, full_request)
{
	const char *const envp[] = {
	    "REQUEST_METHOD=POST",
	    "REQUEST_URI=/api/patients/?search=J%C3%A9r%C3%B4me&ordering=-id&page=2",
	    "CONTENT_TYPE=application/json",
	    "CONTENT_LENGTH=13",
	    "HTTP_AUTHORIZATION=Bearer abc.def.ghi",
	    "HTTP_IF_MATCH=\"3\"",
	    "REMOTE_ADDR=10.0.0.7",
	    "HTTP_HOST=hms.example.org",
	    "REQUEST_SCHEME=https",
	    "HTTP_X_REQUEST_ID=req-123_A.b",
	    NULL,
	};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert_eq(req.arena, arena);
	cr_assert_str_eq(req.method, "POST");
	cr_assert_str_eq(req.path, "/api/patients/");
	cr_assert_eq(req.param_count, 3);
	cr_assert_str_eq(http_request_param(&req, "search"), "J\xc3\xa9r\xc3\xb4me");
	cr_assert_str_eq(http_request_param(&req, "ordering"), "-id");
	cr_assert_str_eq(http_request_param(&req, "page"), "2");
	cr_assert_str_eq(req.content_type, "application/json");
	cr_assert_eq(req.content_length, 13);
	cr_assert_str_eq(req.authorization, "Bearer abc.def.ghi");
	cr_assert_str_eq(req.if_match, "\"3\"");
	cr_assert_str_eq(req.client_ip, "10.0.0.7");
	cr_assert_str_eq(req.request_id, "req-123_A.b");
	cr_assert_null(req.body);
	cr_assert_null(req.json);
	cr_assert_null(req.route);
	cr_assert_eq(req.id_count, 0);
}

Test(request_parse, minimal_request_defaults)
{
	const char *const envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/health/", NULL};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert_str_eq(req.path, "/api/health/");
	cr_assert_eq(req.param_count, 0);
	cr_assert_eq(req.content_length, -1);
	cr_assert_null(req.content_type);
	cr_assert_null(req.authorization);
	cr_assert_null(req.if_match);
	cr_assert_null(req.client_ip);
	cr_assert(is_hex32(req.request_id), "generated id '%s'", req.request_id);
}

Test(request_parse, empty_headers_count_as_absent)
{
	const char *const envp[] = {
	    "REQUEST_METHOD=GET",  "REQUEST_URI=/a/", "CONTENT_TYPE=",   "CONTENT_LENGTH=",
	    "HTTP_AUTHORIZATION=", "HTTP_IF_MATCH=",  "REQUEST_SCHEME=", NULL};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert_null(req.content_type);
	cr_assert_eq(req.content_length, -1);
	cr_assert_null(req.authorization);
	cr_assert_null(req.if_match);
}

Test(request_parse, path_is_decoded_plus_stays_literal)
{
	const char *const envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/api/a%20b/c+d/?q=c+d",
	                            NULL};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert_str_eq(req.path, "/api/a b/c+d/");
	cr_assert_str_eq(http_request_param(&req, "q"), "c d");
}

Test(request_parse, fragment_is_not_query)
{
	const char *const envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x/?a=1&b=2#frag&c=3", NULL};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert_eq(req.param_count, 2);
	cr_assert_str_eq(http_request_param(&req, "b"), "2");
	cr_assert_null(http_request_param(&req, "c"));
}

Test(request_parse, repeated_query_keys_first_wins_in_lookup)
{
	const char *const envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x/?s=1&s=2&S=3", NULL};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert_eq(req.param_count, 3);
	cr_assert_str_eq(http_request_param(&req, "s"), "1");
	cr_assert_str_eq(http_request_param(&req, "S"), "3", "keys are case-sensitive");
	cr_assert_str_eq(req.params[1].value, "2");
	cr_assert_null(http_request_param(&req, "missing"));
}

Test(request_parse, missing_method_or_uri_is_bad_request)
{
	const char *const no_method[] = {"REQUEST_URI=/a/", NULL};
	const char *const empty_method[] = {"REQUEST_METHOD=", "REQUEST_URI=/a/", NULL};
	const char *const no_uri[] = {"REQUEST_METHOD=GET", NULL};
	const char *const relative[] = {"REQUEST_METHOD=GET", "REQUEST_URI=api/a/", NULL};
	const char *const absolute[] = {"REQUEST_METHOD=GET", "REQUEST_URI=http://h/a/", NULL};
	const char *const empty[] = {NULL};

	cr_assert_eq(parse(no_method), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse(empty_method), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse(no_uri), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse(relative), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse(absolute), HMS_ERR_BAD_REQUEST);
	cr_assert_eq(parse(empty), HMS_ERR_BAD_REQUEST);
}

Test(request_parse, request_id_is_set_even_on_failure)
{
	const char *const with_id[] = {"HTTP_X_REQUEST_ID=abc-1", NULL};
	const char *const without_id[] = {"REQUEST_METHOD=GET", NULL};

	cr_assert_eq(parse(with_id), HMS_ERR_BAD_REQUEST);
	cr_assert_str_eq(req.request_id, "abc-1");
	cr_assert_eq(parse(without_id), HMS_ERR_BAD_REQUEST);
	cr_assert(is_hex32(req.request_id));
}

Test(request_parse, invalid_client_request_id_is_replaced)
{
	const char *const envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a/",
	                            "HTTP_X_REQUEST_ID=bad id\"<script>", NULL};

	cr_assert_eq(parse(envp), HMS_OK);
	cr_assert(is_hex32(req.request_id), "got '%s'", req.request_id);
}

Test(request_parse, content_length_values)
{
	static const struct {
		const char *value;
		enum hms_err err;
		long long length;
	} cases[] = {
	    {"0", HMS_OK, 0},
	    {"42", HMS_OK, 42},
	    {"9223372036854775807", HMS_OK, 9223372036854775807LL},
	    {"abc", HMS_ERR_BAD_REQUEST, 0},
	    {"-1", HMS_ERR_BAD_REQUEST, 0},
	    {"+5", HMS_ERR_BAD_REQUEST, 0},
	    {" 5", HMS_ERR_BAD_REQUEST, 0},
	    {"5 ", HMS_ERR_BAD_REQUEST, 0},
	    {"5x", HMS_ERR_BAD_REQUEST, 0},
	    {"0x10", HMS_ERR_BAD_REQUEST, 0},
	    {"99999999999999999999999", HMS_ERR_TOO_LARGE, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *cl = arena_printf(arena, "CONTENT_LENGTH=%s", cases[i].value);
		const char *const envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/a/", cl, NULL};

		cr_assert_eq(parse(envp), cases[i].err, "Content-Length '%s'", cases[i].value);
		if (cases[i].err == HMS_OK)
			cr_assert_eq(req.content_length, cases[i].length);
	}
}

static char *repeat(char c, size_t n)
{
	char *s = arena_alloc(arena, n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(request_parse, path_length_limit)
{
	char *ok_path = repeat('a', HTTP_MAX_PATH_BYTES);
	char *long_path = repeat('a', HTTP_MAX_PATH_BYTES + 1);
	const char *ok_uri;
	const char *long_uri;

	ok_path[0] = '/';
	long_path[0] = '/';
	ok_uri = arena_printf(arena, "REQUEST_URI=%s?a=1", ok_path);
	long_uri = arena_printf(arena, "REQUEST_URI=%s", long_path);
	{
		const char *const ok[] = {"REQUEST_METHOD=GET", ok_uri, NULL};
		const char *const too_long[] = {"REQUEST_METHOD=GET", long_uri, NULL};

		cr_assert_eq(parse(ok), HMS_OK);
		cr_assert_eq(strlen(req.path), HTTP_MAX_PATH_BYTES);
		cr_assert_eq(parse(too_long), HMS_ERR_URI_TOO_LONG);
	}
}

Test(request_parse, query_length_limit)
{
	char *ok_query = repeat('a', HTTP_MAX_QUERY_BYTES);
	char *long_query = repeat('a', HTTP_MAX_QUERY_BYTES + 1);
	const char *ok_uri;
	const char *long_uri;

	ok_query[0] = 'k';
	ok_query[1] = '=';
	long_query[0] = 'k';
	long_query[1] = '=';
	ok_uri = arena_printf(arena, "REQUEST_URI=/x/?%s", ok_query);
	long_uri = arena_printf(arena, "REQUEST_URI=/x/?%s", long_query);
	{
		const char *const ok[] = {"REQUEST_METHOD=GET", ok_uri, NULL};
		const char *const too_long[] = {"REQUEST_METHOD=GET", long_uri, NULL};

		cr_assert_eq(parse(ok), HMS_OK);
		cr_assert_eq(strlen(http_request_param(&req, "k")), HTTP_MAX_QUERY_BYTES - 2);
		cr_assert_eq(parse(too_long), HMS_ERR_URI_TOO_LONG);
	}
}

Test(request_parse, query_parameter_count_limit)
{
	char *q = arena_alloc(arena, 8 * (HTTP_MAX_QUERY_PARAMS + 1) + 1);
	size_t len = 0;

	for (int i = 0; i < HTTP_MAX_QUERY_PARAMS; i++)
		len += (size_t)sprintf(q + len, "%sp%d=1", i ? "&" : "", i);
	{
		const char *ok_uri = arena_printf(arena, "REQUEST_URI=/x/?%s", q);
		const char *many_uri = arena_printf(arena, "REQUEST_URI=/x/?%s&one=more", q);
		const char *const ok[] = {"REQUEST_METHOD=GET", ok_uri, NULL};
		const char *const many[] = {"REQUEST_METHOD=GET", many_uri, NULL};

		cr_assert_eq(parse(ok), HMS_OK);
		cr_assert_eq(req.param_count, HTTP_MAX_QUERY_PARAMS);
		cr_assert_eq(parse(many), HMS_ERR_BAD_REQUEST);
	}
}

Test(request_parse, bad_path_or_query_encoding_is_bad_request)
{
	static const char *const uris[] = {
	    "REQUEST_URI=/api/%zz/",    "REQUEST_URI=/api/a%00b/",     "REQUEST_URI=/api/%FF/",
	    "REQUEST_URI=/api/%C0%AF/", "REQUEST_URI=/api/%",          "REQUEST_URI=/x/?a=%G0",
	    "REQUEST_URI=/x/?a=%00",    "REQUEST_URI=/x/?%ED%A0%80=1",
	};

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		const char *const envp[] = {"REQUEST_METHOD=GET", uris[i], NULL};

		cr_assert_eq(parse(envp), HMS_ERR_BAD_REQUEST, "%s", uris[i]);
	}
}

/* --- body --- */

struct fake_input {
	const char *data;
	size_t len;
	size_t pos;
	size_t chunk; /* most bytes per call; 0 = no limit */
	bool fail;    /* every call fails */
	int calls;
};

static long fake_read(void *source, char *buf, size_t len)
{
	struct fake_input *in = source;
	size_t n = in->len - in->pos;

	in->calls++;
	if (in->fail)
		return -1;
	if (n > len)
		n = len;
	if (in->chunk != 0 && n > in->chunk)
		n = in->chunk;
	memcpy(buf, in->data + in->pos, n);
	in->pos += n;
	return (long)n;
}

/* A POST request with the given Content-Length (NULL = none). */
static void post_with_length(const char *length)
{
	const char *cl = length != NULL ? arena_printf(arena, "CONTENT_LENGTH=%s", length) : NULL;
	const char *const envp[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/api/x/",
	                            "CONTENT_TYPE=application/json", cl, NULL};

	cr_assert_eq(parse(envp), HMS_OK);
}

Test(read_body, exact_content_length)
{
	struct fake_input in = {.data = "{\"a\":1}", .len = 7};

	post_with_length("7");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 100), HMS_OK);
	cr_assert_eq(req.body_len, 7);
	cr_assert_str_eq(req.body, "{\"a\":1}");
	cr_assert_eq(req.body[7], '\0');
}

Test(read_body, assembles_short_reads)
{
	struct fake_input in = {.data = "hello world", .len = 11, .chunk = 1};

	post_with_length("11");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 100), HMS_OK);
	cr_assert_str_eq(req.body, "hello world");
	cr_assert_geq(in.calls, 11);
}

Test(read_body, content_length_over_limit_is_refused_unread)
{
	struct fake_input in = {.data = "0123456789", .len = 10};

	post_with_length("11");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 10), HMS_ERR_TOO_LARGE);
	cr_assert_eq(in.calls, 0, "nothing should be read when the length is too big");
}

Test(read_body, content_length_equal_to_limit_is_accepted)
{
	struct fake_input in = {.data = "0123456789", .len = 10};

	post_with_length("10");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 10), HMS_OK);
	cr_assert_eq(req.body_len, 10);
}

Test(read_body, body_longer_than_content_length_is_too_large)
{
	struct fake_input in = {.data = "hello world", .len = 11};

	post_with_length("5");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 100), HMS_ERR_TOO_LARGE);
}

Test(read_body, body_shorter_than_content_length_is_bad_request)
{
	struct fake_input in = {.data = "hel", .len = 3};

	post_with_length("5");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 100), HMS_ERR_BAD_REQUEST);
}

Test(read_body, read_error_is_bad_request)
{
	struct fake_input in = {.data = "hello", .len = 5, .fail = true};

	post_with_length("5");
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 100), HMS_ERR_BAD_REQUEST);
}

Test(read_body, zero_length)
{
	struct fake_input empty = {.data = "", .len = 0};
	struct fake_input extra = {.data = "x", .len = 1};

	post_with_length("0");
	cr_assert_eq(http_request_read_body(&req, fake_read, &empty, 100), HMS_OK);
	cr_assert_eq(req.body_len, 0);
	cr_assert_str_eq(req.body, "");
	post_with_length("0");
	cr_assert_eq(http_request_read_body(&req, fake_read, &extra, 100), HMS_ERR_TOO_LARGE);
}

Test(read_body, without_length_reads_to_end)
{
	struct fake_input in = {.data = "[1,2,3]", .len = 7, .chunk = 3};

	post_with_length(NULL);
	cr_assert_eq(req.content_length, -1);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 100), HMS_OK);
	cr_assert_eq(req.body_len, 7);
	cr_assert_str_eq(req.body, "[1,2,3]");
}

Test(read_body, without_length_limit_is_exact)
{
	struct fake_input at_limit = {.data = "0123456789", .len = 10};
	struct fake_input over = {.data = "0123456789A", .len = 11};

	post_with_length(NULL);
	cr_assert_eq(http_request_read_body(&req, fake_read, &at_limit, 10), HMS_OK);
	cr_assert_eq(req.body_len, 10);
	post_with_length(NULL);
	cr_assert_eq(http_request_read_body(&req, fake_read, &over, 10), HMS_ERR_TOO_LARGE);
}

Test(read_body, without_length_stops_one_byte_past_the_limit)
{
	char *big = repeat('z', 100000);
	struct fake_input in = {.data = big, .len = 100000};

	post_with_length(NULL);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 4096), HMS_ERR_TOO_LARGE);
	cr_assert_leq(in.pos, 4097, "read %zu bytes of an oversized body", in.pos);
}

Test(read_body, without_length_body_grows_past_first_buffer)
{
	char *text = repeat('q', 5000);
	struct fake_input in = {.data = text, .len = 5000, .chunk = 700};

	text[0] = 'A';
	text[4999] = 'Z';
	post_with_length(NULL);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 8192), HMS_OK);
	cr_assert_eq(req.body_len, 5000);
	cr_assert_eq(memcmp(req.body, text, 5000), 0);
	cr_assert_eq(req.body[5000], '\0');
}

Test(read_body, without_length_exactly_the_limit_after_growth)
{
	char *text = repeat('r', 4096);
	struct fake_input in = {.data = text, .len = 4096};

	post_with_length(NULL);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 4096), HMS_OK);
	cr_assert_eq(req.body_len, 4096);
	cr_assert_eq(req.body[4096], '\0');
}

Test(read_body, without_length_empty_body_is_cheap)
{
	struct fake_input in = {.data = "", .len = 0};
	size_t before;

	post_with_length(NULL);
	before = arena_used(arena);
	cr_assert_eq(http_request_read_body(&req, fake_read, &in, 64 * 1024 * 1024), HMS_OK);
	cr_assert_eq(req.body_len, 0);
	cr_assert_str_eq(req.body, "");
	/* A body-less GET must not reserve the body limit. */
	cr_assert_lt(arena_used(arena) - before, 4096, "used %zu bytes",
	             arena_used(arena) - before);
}

/* --- request ids --- */

Test(request_id, valid_ids)
{
	char max[HTTP_REQUEST_ID_MAX + 1];

	memset(max, 'a', HTTP_REQUEST_ID_MAX);
	max[HTTP_REQUEST_ID_MAX] = '\0';
	cr_assert(http_request_id_is_valid("a"));
	cr_assert(http_request_id_is_valid("abc-123_XYZ.z"));
	cr_assert(http_request_id_is_valid("0"));
	cr_assert(http_request_id_is_valid(max));
}

Test(request_id, invalid_ids)
{
	char over[HTTP_REQUEST_ID_MAX + 2];

	memset(over, 'a', HTTP_REQUEST_ID_MAX + 1);
	over[HTTP_REQUEST_ID_MAX + 1] = '\0';
	cr_assert_not(http_request_id_is_valid(NULL));
	cr_assert_not(http_request_id_is_valid(""));
	cr_assert_not(http_request_id_is_valid(over));
	cr_assert_not(http_request_id_is_valid("a b"));
	cr_assert_not(http_request_id_is_valid("a/b"));
	cr_assert_not(http_request_id_is_valid("a:b"));
	cr_assert_not(http_request_id_is_valid("a\nb"));
	cr_assert_not(http_request_id_is_valid("a\"b"));
	cr_assert_not(http_request_id_is_valid("caf\xc3\xa9"));
}

Test(request_id, generated_ids_are_32_hex_and_unique)
{
	char a[HTTP_REQUEST_ID_MAX + 1];
	char b[HTTP_REQUEST_ID_MAX + 1];

	http_request_id_generate(a);
	http_request_id_generate(b);
	cr_assert(is_hex32(a), "'%s'", a);
	cr_assert(is_hex32(b), "'%s'", b);
	cr_assert(http_request_id_is_valid(a));
	cr_assert_str_neq(a, b);
}

/* --- the path's {id} segments as text --- */

Test(path_id, each_id_as_decimal_text_in_the_arena)
{
	struct http_request r = {.arena = arena, .ids = {42, 7, INT64_MAX}, .id_count = 3};
	const char *first = http_request_id_text(&r, 0);

	cr_assert_str_eq(first, "42");
	cr_assert_str_eq(http_request_id_text(&r, 1), "7");
	cr_assert_str_eq(http_request_id_text(&r, 2), "9223372036854775807");
	/* Each call gives its own copy: the first is not overwritten. */
	cr_assert_str_eq(first, "42");
}

Test(path_id, past_the_ids_is_null)
{
	struct http_request r = {.arena = arena, .ids = {42, 7}, .id_count = 1};

	cr_assert_null(http_request_id_text(&r, 1), "ids[1] is not one of the path's");
	cr_assert_null(http_request_id_text(&r, ROUTE_MAX_IDS));
	r.id_count = 0;
	cr_assert_null(http_request_id_text(&r, 0));
}

/* --- content type --- */

Test(content_type, json_types_accepted)
{
	cr_assert(http_content_type_is_json("application/json"));
	cr_assert(http_content_type_is_json("Application/JSON"));
	cr_assert(http_content_type_is_json("application/json; charset=utf-8"));
	cr_assert(http_content_type_is_json("application/json;charset=UTF-8"));
	cr_assert(http_content_type_is_json("application/json ; charset=utf-8"));
	cr_assert(http_content_type_is_json("application/json;\tcharset=\"utf-8\""));
	cr_assert(http_content_type_is_json("application/json; charset=utf8"));
}

Test(content_type, other_types_refused)
{
	cr_assert_not(http_content_type_is_json(NULL));
	cr_assert_not(http_content_type_is_json(""));
	cr_assert_not(http_content_type_is_json("text/plain"));
	cr_assert_not(http_content_type_is_json("application/jsonp"));
	cr_assert_not(http_content_type_is_json("application/json-patch+json"));
	cr_assert_not(http_content_type_is_json("application/x-www-form-urlencoded"));
	cr_assert_not(http_content_type_is_json("multipart/form-data; boundary=x"));
	cr_assert_not(http_content_type_is_json("application/js"));
}

Test(content_type, only_a_utf8_charset_parameter_is_accepted)
{
	cr_assert_not(http_content_type_is_json("application/json; charset=latin1"));
	cr_assert_not(http_content_type_is_json("application/json; charset=utf-16"));
	cr_assert_not(http_content_type_is_json("application/json; boundary=x"));
	cr_assert_not(http_content_type_is_json("application/json; charset=utf-8x"));
	cr_assert_not(http_content_type_is_json("application/json, text/plain"));
}
