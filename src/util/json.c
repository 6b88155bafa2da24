/*
 * json.c - parses untrusted JSON text (request bodies, token segments) into
 * a json-c tree owned by an arena, and checks UTF-8 (see
 * include/hms/json.h).
 *
 * json-c alone is not strict enough: it takes some text that is not JSON,
 * clamps out-of-range integers silently and lets NUL into strings, so the
 * text is checked before json-c sees it and the tree after.
 */
#include "hms/json.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hms/arena.h"

/* One code point from s[0..len) (Unicode Table 3-7: no overlongs,
 * surrogates or values past U+10FFFF). Returns its byte count, or 0 when s
 * does not start with a well-formed sequence. */
size_t utf8_decode(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	*cp = s[0] & (0xff >> (n + 1));
	for (size_t k = 1; k < n; k++) {
		if (k > 1 && (s[k] < 0x80 || s[k] > 0xbf))
			return 0;
		*cp = *cp << 6 | (s[k] & 0x3f);
	}
	return n;
}

bool utf8_is_valid(const char *str, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(str + i, len - i, &cp);

		if (n == 0 || cp == 0)
			return false;
		i += n;
	}
	return true;
}

bool json_int64(struct json_object *v, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return false;
	/* json-c keeps a number above INT64_MAX as an unsigned one (clamped at
	 * UINT64_MAX) and clamps one below INT64_MIN to INT64_MIN without a
	 * word: neither is the number the client sent. */
	n = json_object_get_int64(v);
	if ((n == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX) || n == INT64_MIN)
		return false;
	*out = n;
	return true;
}

/* json-c, even in strict mode, takes some text that is not JSON ('single
 * quotes, NaN, Infinity). Outside strings RFC 8259 allows only structure,
 * numbers and the three literals, so one pass over the text settles it. */
static const char *json_text_problem(const char *text, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\') {
				/* "\u0000" would put a NUL into a C string: refused. */
				if (i + 5 < len && text[i + 1] == 'u' &&
				    strncmp(text + i + 2, "0000", 4) == 0)
					return "JSON parse error - \\u0000 is not allowed in "
					       "strings.";
				i++;
			} else if (c == '"') {
				in_string = false;
			}
			continue;
		}
		if (c == '"') {
			in_string = true;
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			size_t end = i;

			/* A number of any size: one beyond 64 bits is the field's
			 * error to report (json_int64), not the whole body's. */
			while (end < len && strchr("-+.0123456789eE", text[end]) != NULL &&
			       text[end] != '\0')
				end++;
			i = end - 1;
			continue;
		}
		if (strchr(" \t\r\n{}[]:,", c) != NULL)
			continue;
		if (strchr("truefalsn", c) == NULL)
			return "JSON parse error - the body is not valid JSON.";
	}
	return NULL;
}

/* Values json-c accepted but our handlers must never see: non-finite
 * numbers (1e999 overflows to infinity) and strings with an embedded NUL,
 * which C code would cut short. Recursion is bounded by the depth limit. */
static bool json_values_are_sane(struct json_object *obj)
{
	switch (json_object_get_type(obj)) {
	case json_type_double:
		return isfinite(json_object_get_double(obj));
	case json_type_string:
		return strlen(json_object_get_string(obj)) ==
		       (size_t)json_object_get_string_len(obj);
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(obj); i++)
			if (!json_values_are_sane(json_object_array_get_idx(obj, i)))
				return false;
		return true;
	case json_type_object: {
		struct json_object_iterator it = json_object_iter_begin(obj);
		struct json_object_iterator end = json_object_iter_end(obj);

		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			if (!json_values_are_sane(json_object_iter_peek_value(&it)))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

static void put_json(void *obj)
{
	json_object_put(obj);
}

enum hms_err json_parse(struct arena *arena, const char *text, size_t len, int max_depth,
                        struct json_object **out, const char **detail)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t used;

	*out = NULL;
	if (len == 0) {
		*detail = "JSON parse error - the body is empty.";
		return HMS_ERR_BAD_REQUEST;
	}
	if (memchr(text, '\0', len) != NULL || !utf8_is_valid(text, len)) {
		*detail = "JSON parse error - the body is not valid UTF-8.";
		return HMS_ERR_BAD_REQUEST;
	}
	if (len > INT32_MAX) {
		*detail = "Request body is too large.";
		return HMS_ERR_TOO_LARGE;
	}
	*detail = json_text_problem(text, len);
	if (*detail != NULL)
		return HMS_ERR_BAD_REQUEST;
	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL)
		return HMS_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A document ending in a bare number or literal ("42") is only
		 * complete once json-c sees the end of input. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		used = len;
	}
	json_tokener_free(tok);

	if (jerr == json_tokener_success && obj == NULL) {
		*detail = "JSON parse error - the body is null.";
		return HMS_ERR_BAD_REQUEST;
	}
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		*detail = jerr == json_tokener_error_depth
		              ? "JSON parse error - nested too deeply."
		              : "JSON parse error - the body is not valid JSON.";
		return HMS_ERR_BAD_REQUEST;
	}
	/* Only white space may follow the document. */
	for (; used < len; used++) {
		char c = text[used];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(obj);
			*detail = "JSON parse error - unexpected data after the document.";
			return HMS_ERR_BAD_REQUEST;
		}
	}
	if (arena_defer(arena, put_json, obj) != 0)
		return HMS_ERR_NOMEM;
	if (!json_values_are_sane(obj)) {
		*detail = "JSON parse error - the body is not valid JSON.";
		return HMS_ERR_BAD_REQUEST;
	}
	*out = obj;
	return HMS_OK;
}
