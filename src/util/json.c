/*
 * json.c - parses untrusted JSON text (request bodies, token segments) into
 * a json-c tree owned by an arena, and checks UTF-8 (see
 * include/hms/json.h).
 *
 * json-c only builds the tree: the text is checked before json-c sees it
 * (UTF-8, then RFC 8259's grammar, by the scanner below) and the tree after
 * (no infinite number, no NUL inside a string), so what is accepted does
 * not depend on the json-c release.
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

/* --- RFC 8259 syntax ----------------------------------------------------------
 *
 * This check is the one authority on what is JSON. json-c's
 * JSON_TOKENER_STRICT is not used: what it refuses changes from release to
 * release (its header says so), and json-c 0.18's strict mode refuses every
 * byte from 0x80 up inside a string (its new check for control characters
 * reads a signed char) and every integer beyond 64 bits, so on Debian 13 a
 * name with an accent was "not valid JSON". json-c's lenient mode, which
 * would also take comments, single quotes, NaN or trailing commas, then
 * only builds the tree of a text already known to be JSON. */

struct json_scan {
	const char *text;
	size_t len;
	size_t pos;
};

static const char *const JSON_INVALID = "JSON parse error - the body is not valid JSON.";

static void scan_space(struct json_scan *s)
{
	while (s->pos < s->len && (s->text[s->pos] == ' ' || s->text[s->pos] == '\t' ||
	                           s->text[s->pos] == '\n' || s->text[s->pos] == '\r'))
		s->pos++;
}

static bool scan_char(struct json_scan *s, char c)
{
	if (s->pos < s->len && s->text[s->pos] == c) {
		s->pos++;
		return true;
	}
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex_digit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t scan_digits(struct json_scan *s)
{
	size_t start = s->pos;

	while (s->pos < s->len && is_digit(s->text[s->pos]))
		s->pos++;
	return s->pos - start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? of any magnitude: one beyond
 * 64 bits is the field's error to report (json_int64), one beyond a double
 * the body's (json_values_are_sane). */
static bool scan_number(struct json_scan *s)
{
	scan_char(s, '-');
	if (!scan_char(s, '0') && scan_digits(s) == 0)
		return false;
	if (scan_char(s, '.') && scan_digits(s) == 0)
		return false;
	if (scan_char(s, 'e') || scan_char(s, 'E')) {
		if (!scan_char(s, '+'))
			scan_char(s, '-');
		if (scan_digits(s) == 0)
			return false;
	}
	return true;
}

/* A string, from its opening quote: no raw control characters, only the
 * escapes RFC 8259 names, and no \u0000 (it would cut a C string short). */
static const char *scan_string(struct json_scan *s)
{
	if (!scan_char(s, '"'))
		return JSON_INVALID;
	while (s->pos < s->len) {
		unsigned char c = (unsigned char)s->text[s->pos++];

		if (c == '"')
			return NULL;
		if (c < 0x20)
			return JSON_INVALID;
		if (c != '\\')
			continue;
		if (s->pos == s->len)
			break;
		c = (unsigned char)s->text[s->pos++];
		if (c == 'u') {
			if (s->len - s->pos < 4)
				break;
			for (size_t k = 0; k < 4; k++)
				if (!is_hex_digit(s->text[s->pos + k]))
					return JSON_INVALID;
			if (strncmp(s->text + s->pos, "0000", 4) == 0)
				return "JSON parse error - \\u0000 is not allowed in strings.";
			s->pos += 4;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
			return JSON_INVALID;
		}
	}
	return JSON_INVALID;
}

static bool scan_literal(struct json_scan *s, const char *word)
{
	size_t n = strlen(word);

	if (s->len - s->pos < n || memcmp(s->text + s->pos, word, n) != 0)
		return false;
	s->pos += n;
	return true;
}

/* An object member's name and its ':'. */
static const char *scan_member_name(struct json_scan *s)
{
	const char *problem;

	scan_space(s);
	problem = scan_string(s);
	if (problem != NULL)
		return problem;
	scan_space(s);
	return scan_char(s, ':') ? NULL : JSON_INVALID;
}

/* NULL when text is one JSON text with nothing but white space after it,
 * else the detail to answer. Depth is counted as json-c counts it: every
 * value is one level deeper than the container around it. The text is
 * valid UTF-8 without NUL (checked before). */
static const char *json_syntax_problem(const char *text, size_t len, int max_depth)
{
	struct json_scan s = {text, len, 0};
	bool in_object[JSON_MAX_DEPTH];
	int open = 0; /* containers not closed yet */
	const char *problem;

	if (max_depth > JSON_MAX_DEPTH)
		max_depth = JSON_MAX_DEPTH;
	for (;;) {
		/* A value. */
		scan_space(&s);
		if (open + 1 > max_depth)
			return "JSON parse error - nested too deeply.";
		if (scan_char(&s, '{') || scan_char(&s, '[')) {
			bool is_object = s.text[s.pos - 1] == '{';

			in_object[open++] = is_object;
			scan_space(&s);
			if (!scan_char(&s, is_object ? '}' : ']')) {
				if (is_object && (problem = scan_member_name(&s)) != NULL)
					return problem;
				continue; /* its first value */
			}
			open--; /* empty */
		} else if (s.pos < len && s.text[s.pos] == '"') {
			if ((problem = scan_string(&s)) != NULL)
				return problem;
		} else if (s.pos < len && (s.text[s.pos] == '-' || is_digit(s.text[s.pos]))) {
			if (!scan_number(&s))
				return JSON_INVALID;
		} else if (!scan_literal(&s, "true") && !scan_literal(&s, "false") &&
		           !scan_literal(&s, "null")) {
			return JSON_INVALID;
		}
		/* After a value: the end, a ',' before the next one, or the
		 * containers it closes. */
		for (;;) {
			scan_space(&s);
			if (open == 0)
				return s.pos == len ? NULL
				                    : "JSON parse error - unexpected data after "
				                      "the document.";
			if (scan_char(&s, ',')) {
				if (in_object[open - 1] && (problem = scan_member_name(&s)) != NULL)
					return problem;
				break;
			}
			if (!scan_char(&s, in_object[open - 1] ? '}' : ']'))
				return JSON_INVALID;
			open--;
		}
	}
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
	*detail = json_syntax_problem(text, len, max_depth);
	if (*detail != NULL)
		return HMS_ERR_BAD_REQUEST;
	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL)
		return HMS_ERR_NOMEM;
	/* Lenient mode on purpose: the text is JSON already (see above). */
	json_tokener_set_flags(tok, 0);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* A document ending in a bare number or literal ("42") is only
		 * complete once json-c sees the end of input. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);

	if (jerr == json_tokener_success && obj == NULL) {
		*detail = "JSON parse error - the body is null.";
		return HMS_ERR_BAD_REQUEST;
	}
	/* The scanner has settled syntax, depth and trailing data; json-c
	 * failing on such a text would be a json-c regression, refused all the
	 * same (and caught by tests/unit/test_json.c). */
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		*detail = JSON_INVALID;
		return HMS_ERR_BAD_REQUEST;
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
