/*
 * validate.c - the field-table validator (see include/hms/validate.h).
 * Messages follow DRF's wording so existing API clients understand them.
 */
#include "hms/validate.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h> /* isfinite */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/json.h"

void validate_add_error(struct json_object **errors, const char *field, const char *message)
{
	struct json_object *list;

	if (*errors == NULL)
		*errors = json_object_new_object();
	if (!json_object_object_get_ex(*errors, field, &list)) {
		list = json_object_new_array();
		json_object_object_add(*errors, field, list);
	}
	json_object_array_add(list, json_object_new_string(message));
}

int validate_field_index(const struct field *fields, const char *name)
{
	for (int i = 0; fields[i].name != NULL; i++)
		if (strcmp(fields[i].name, name) == 0)
			return i;
	return -1;
}

bool validate_parse_id(const char *text, int64_t *out)
{
	char *end;
	long long v;

	if (text == NULL || *text < '1' || *text > '9' || strlen(text) > 19)
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return false;
	*out = v;
	return true;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int number(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool day_exists(int year, int month, int day)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (year < 1 || month < 1 || month > 12 || day < 1)
		return false;
	return day <= days[month - 1] + (month == 2 && leap);
}

bool validate_date(const char *s)
{
	return s != NULL && strlen(s) == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) &&
	       s[7] == '-' && digits(s + 8, 2) &&
	       day_exists(number(s, 4), number(s + 5, 2), number(s + 8, 2));
}

bool validate_datetime(const char *s)
{
	size_t i = 16;
	size_t len;

	if (s == NULL || (len = strlen(s)) < 17 || len > 40)
		return false;
	if (!validate_date(
	        (char[11]){s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], '\0'}))
		return false;
	if ((s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || number(s + 11, 2) > 23 || number(s + 14, 2) > 59)
		return false;
	if (s[i] == ':') {
		if (!digits(s + i + 1, 2) || number(s + i + 1, 2) > 59)
			return false;
		i += 3;
		if (s[i] == '.') {
			size_t f = 0;

			i++;
			while (isdigit((unsigned char)s[i + f]))
				f++;
			if (f == 0 || f > 6)
				return false;
			i += f;
		}
	}
	/* An offset is required: a time without one is ambiguous. */
	if (s[i] == 'Z' && s[i + 1] == '\0')
		return true;
	if ((s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':' &&
	    digits(s + i + 4, 2) && s[i + 6] == '\0')
		return number(s + i + 1, 2) <= 14 && number(s + i + 4, 2) <= 59;
	return false;
}

bool validate_email(const char *s)
{
	const char *at = strchr(s, '@');
	const char *dot;
	size_t len = strlen(s);

	/* Deliberately simple: one @, a non-empty local part, a dotted domain of
	 * letters, digits and hyphens, no spaces or control characters. */
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL || len > 254)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',' || *p == ';' || *p == '<' ||
		    *p == '>' || *p == '(' || *p == ')' || *p == '"' || *p == '\\')
			return false;
	dot = strrchr(at + 1, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0' || strlen(dot + 1) < 2)
		return false;
	for (const char *p = at + 1; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    (unsigned char)*p < 0x80)
			return false;
	return strstr(at, "..") == NULL && at[1] != '.' && at[1] != '-';
}

const char *validate_check_phone(const char *value, struct json_object *raw)
{
	(void)raw;
	if (strspn(value, "0123456789+()-. ") != strlen(value))
		return "Enter a valid phone number (digits, spaces and + ( ) - . only).";
	return NULL;
}

/* Characters, not bytes: the body is known to be valid UTF-8. */
static size_t utf8_length(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The length in bytes of the white-space character at s (Unicode
 * White_Space, as DRF's strip() removes it), or 0. s is valid UTF-8. */
static size_t space_at(const unsigned char *s)
{
	unsigned cp;

	if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		return 1;
	if (s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2; /* NEL, NO-BREAK SPACE */
	if ((s[0] & 0xf0) != 0xe0 || s[1] == 0 || s[2] == 0)
		return 0;
	cp = ((unsigned)(s[0] & 0x0f) << 12) | ((unsigned)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
	if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return 3;
	return 0;
}

const char *validate_trim(struct arena *arena, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len, n;

	while ((n = space_at(s)) > 0)
		s += n;
	len = strlen((const char *)s);
	/* From the end: step back over whole characters. */
	for (;;) {
		size_t back = 1;

		while (back <= len && back <= 3 && (s[len - back] & 0xc0) == 0x80)
			back++;
		if (back > len || space_at(s + len - back) != back)
			break;
		len -= back;
	}
	return arena_strndup(arena, (const char *)s, len);
}

/* --- one parser per kind ----------------------------------------------------
 * Each takes the value as text (a query parameter, or a JSON string) or, for
 * integers and booleans, the decoded JSON value, and returns the text to
 * bind or NULL with a message in DRF's words. */

static const char *check_string(struct arena *arena, const struct field *f, const char *s,
                                const char **message)
{
	if (!f->keep_whitespace)
		s = validate_trim(arena, s);
	if (s == NULL) {
		*message = "Out of memory.";
		return NULL;
	}
	if (*s == '\0' && !f->allow_blank) {
		*message = "This field may not be blank.";
		return NULL;
	}
	if (f->max_len > 0 && utf8_length(s) > f->max_len) {
		*message = arena_printf(arena, "Ensure this field has no more than %zu characters.",
		                        f->max_len);
		return NULL;
	}
	if (f->type == FIELD_EMAIL && *s != '\0' && !validate_email(s)) {
		*message = "Enter a valid email address.";
		return NULL;
	}
	return s;
}

/* An integer already decoded; overflow is -1 or +1 when the client's number
 * lay below or above the 64-bit range (its exact value is gone). */
static const char *check_integer(struct arena *arena, const struct field *f, int64_t n,
                                 int overflow, const char **message)
{
	bool bounded = f->min < f->max;
	int64_t lo = bounded ? f->min : INT64_MIN + 1, hi = bounded ? f->max : INT64_MAX;

	if (f->type == FIELD_ID && (overflow != 0 || n <= 0)) {
		*message = "Invalid pk - object does not exist.";
		return NULL;
	}
	/* INT64_MIN itself is where json-c clamps every smaller number, so it
	 * counts as below the range. */
	if (overflow < 0 || n < lo) {
		*message = arena_printf(
		    arena, "Ensure this value is greater than or equal to %lld.", (long long)lo);
		return NULL;
	}
	if (overflow > 0 || n > hi) {
		*message = arena_printf(arena, "Ensure this value is less than or equal to %lld.",
		                        (long long)hi);
		return NULL;
	}
	return arena_printf(arena, "%lld", (long long)n);
}

/* A number as field f (FIELD_DECIMAL): finite, within min..max, with at
 * most decimal_places places; the text to bind has exactly that many. */
static const char *check_number(struct arena *arena, const struct field *f, double d,
                                const char **message)
{
	double scale = 1.0, scaled, rounded;

	for (int i = 0; i < f->decimal_places; i++)
		scale *= 10.0;
	scaled = d * scale;
	/* Finite and small enough to round through a long long (no libm). */
	if (!isfinite(d) || scaled > 1e15 || scaled < -1e15) {
		*message = "A valid number is required.";
		return NULL;
	}
	if (f->min < f->max && d < (double)f->min) {
		*message =
		    arena_printf(arena, "Ensure this value is greater than or equal to %lld.",
		                 (long long)f->min);
		return NULL;
	}
	if (f->min < f->max && d > (double)f->max) {
		*message = arena_printf(arena, "Ensure this value is less than or equal to %lld.",
		                        (long long)f->max);
		return NULL;
	}
	rounded = (double)(long long)(scaled + (scaled < 0 ? -0.5 : 0.5));
	/* 36.6 is 365.99999999999994 tenths in binary: allow that much. */
	if (scaled - rounded > 1e-6 || rounded - scaled > 1e-6) {
		*message =
		    arena_printf(arena, "Ensure that there are no more than %d decimal places.",
		                 f->decimal_places);
		return NULL;
	}
	return arena_printf(arena, "%.*f", f->decimal_places, rounded / scale);
}

/* Numeric text: an optional minus, digits, an optional fraction and
 * exponent (no spaces, no "inf" or "nan", no hex). */
static const char *check_decimal_text(struct arena *arena, const struct field *f, const char *s,
                                      const char **message)
{
	char *end;
	double d;

	if (s == NULL || strspn(s, "0123456789.-+eE") != strlen(s) ||
	    !isdigit((unsigned char)s[*s == '-' ? 1 : 0])) {
		*message = "A valid number is required.";
		return NULL;
	}
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0' || errno == ERANGE) {
		*message = "A valid number is required.";
		return NULL;
	}
	return check_number(arena, f, d, message);
}

static const char *check_choice(const struct field *f, const char *s, const char **message)
{
	for (size_t i = 0; s != NULL && f->choices[i] != NULL; i++)
		if (strcmp(s, f->choices[i]) == 0)
			return s;
	*message = "Select a valid choice.";
	return NULL;
}

static const char *check_date(const char *s, const char **message)
{
	if (s == NULL || !validate_date(s)) {
		*message = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
		return NULL;
	}
	return s;
}

static const char *check_datetime(struct arena *arena, const struct field *f, const char *s,
                                  const char **message)
{
	if (s != NULL && f->accepts_date && validate_date(s))
		return arena_printf(arena, "%sT00:00:00Z", s);
	if (s == NULL || !validate_datetime(s)) {
		*message = "Datetime has wrong format. Use ISO 8601 with an offset, e.g. "
		           "2025-12-06T12:00:00Z.";
		return NULL;
	}
	return s;
}

const char *validate_text(struct arena *arena, const struct field *f, const char *text,
                          const char **message)
{
	switch (f->type) {
	case FIELD_STRING:
	case FIELD_EMAIL:
		return check_string(arena, f, text, message);
	case FIELD_INT:
	case FIELD_ID: {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(text, &end, 10);
		if (end == text || *end != '\0' ||
		    !(isdigit((unsigned char)*text) || *text == '-')) {
			*message = "A valid integer is required.";
			return NULL;
		}
		return check_integer(arena, f, n, errno == ERANGE ? (n < 0 ? -1 : 1) : 0, message);
	}
	case FIELD_BOOL:
		if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 ||
		    strcmp(text, "1") == 0)
			return "true";
		if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 ||
		    strcmp(text, "0") == 0)
			return "false";
		*message = "Must be a valid boolean.";
		return NULL;
	case FIELD_CHOICE:
		return check_choice(f, text, message);
	case FIELD_DATE:
		return check_date(text, message);
	case FIELD_DATETIME:
		return check_datetime(arena, f, text, message);
	case FIELD_DECIMAL:
		return check_decimal_text(arena, f, text, message);
	case FIELD_JSON:
	case FIELD_OBJECT:
		break;
	}
	*message = "Invalid value.";
	return NULL;
}

/* A JSON value as field f: the JSON type is checked here, the value by the
 * kind's parser above. */
static const char *check_json(struct arena *arena, const struct field *f, struct json_object *v,
                              const char **message)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

	switch (f->type) {
	case FIELD_STRING:
	case FIELD_EMAIL:
		if (s == NULL) {
			*message = "Not a valid string.";
			return NULL;
		}
		return check_string(arena, f, s, message);
	case FIELD_INT:
	case FIELD_ID: {
		int overflow = 0;
		int64_t n;

		if (!json_object_is_type(v, json_type_int)) {
			*message = "A valid integer is required.";
			return NULL;
		}
		/* Beyond 64 bits (json-c clamped it): an error on this field in
		 * DRF's words, not a refusal of the whole body. */
		if (!json_int64(v, &n)) {
			n = json_object_get_int64(v);
			overflow = n < 0 ? -1 : 1;
		}
		return check_integer(arena, f, n, overflow, message);
	}
	case FIELD_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			*message = "Must be a valid boolean.";
			return NULL;
		}
		return json_object_get_boolean(v) ? "true" : "false";
	case FIELD_CHOICE:
		return check_choice(f, s, message);
	case FIELD_DATE:
		return check_date(s, message);
	case FIELD_DATETIME:
		return check_datetime(arena, f, s, message);
	case FIELD_DECIMAL:
		if (json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double))
			return check_number(arena, f, json_object_get_double(v), message);
		return check_decimal_text(arena, f, s, message);
	case FIELD_JSON:
		return arena_strdup(arena,
		                    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	case FIELD_OBJECT:
		break; /* validate_body walks it */
	}
	*message = "Invalid value.";
	return NULL;
}

/* DRF's name for the type a client sent where an object belongs. */
static const char *python_type(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return "bool";
	case json_type_int:
		return "int";
	case json_type_double:
		return "float";
	case json_type_array:
		return "list";
	default:
		return "str";
	}
}

/* errors[name] = {"non_field_errors": [message]} (a nested object's own
 * rule, as DRF nests it). */
static void add_nested_error(struct json_object **errors, const char *name, const char *message)
{
	struct json_object *nested = NULL;

	validate_add_error(&nested, "non_field_errors", message);
	if (*errors == NULL)
		*errors = json_object_new_object();
	json_object_object_add(*errors, name, nested);
}

/* A nested object as field f: its members through the same walk; the
 * value to bind is a JSON object of the given members' texts (null for a
 * null). Returns false after adding its errors to *errors. */
static bool check_object(struct arena *arena, const struct field *f, struct json_object *v,
                         enum validate_mode mode, const char **value, struct json_object **errors)
{
	struct json_object *sub_errors, *out;
	struct validated sub;
	const char *message;

	if (!json_object_is_type(v, json_type_object)) {
		validate_add_error(errors, f->name,
		                   arena_printf(arena,
		                                "Invalid data. Expected a dictionary, but got %s.",
		                                python_type(v)));
		return false;
	}
	sub_errors = validate_body(arena, f->fields, v, mode, &sub);
	if (sub_errors != NULL) {
		if (*errors == NULL)
			*errors = json_object_new_object();
		json_object_object_add(*errors, f->name, sub_errors);
		return false;
	}
	out = json_object_new_object();
	for (size_t i = 0; i < sub.count; i++)
		if (sub.present[i])
			json_object_object_add(
			    out, f->fields[i].name,
			    sub.values[i] != NULL ? json_object_new_string(sub.values[i]) : NULL);
	*value = arena_strdup(arena, json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	if (*value == NULL) {
		validate_add_error(errors, "non_field_errors", "Out of memory.");
		return false;
	}
	message = f->check != NULL ? f->check(*value, v) : NULL;
	if (message != NULL) {
		add_nested_error(errors, f->name, message);
		return false;
	}
	return true;
}

struct json_object *validate_body(struct arena *arena, const struct field *fields,
                                  struct json_object *body, enum validate_mode mode,
                                  struct validated *out)
{
	struct json_object *errors = NULL;
	size_t n = 0;

	while (fields[n].name != NULL)
		n++;
	out->count = n;
	out->mode = mode;
	out->values = arena_calloc(arena, n + 1, sizeof(*out->values));
	out->present = arena_calloc(arena, n + 1, sizeof(*out->present));
	if (out->values == NULL || out->present == NULL) {
		validate_add_error(&errors, "non_field_errors", "Out of memory.");
		return errors;
	}
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		struct json_object *v;
		const char *message = NULL;
		const char *value;

		if (f->read_only)
			continue;
		if (!json_object_object_get_ex(body, f->name, &v)) {
			if (f->required && mode != VALIDATE_UPDATE)
				validate_add_error(&errors, f->name, "This field is required.");
			continue;
		}
		if (v == NULL) { /* JSON null */
			if (!f->nullable)
				validate_add_error(&errors, f->name, "This field may not be null.");
			else
				out->present[i] = true;
			continue;
		}
		if (f->type == FIELD_OBJECT) {
			if (check_object(arena, f, v, mode, &value, &errors)) {
				out->values[i] = value;
				out->present[i] = true;
			}
			continue;
		}
		value = check_json(arena, f, v, &message);
		if (value != NULL && f->check != NULL)
			message = f->check(value, v);
		if (value == NULL || message != NULL) {
			validate_add_error(&errors, f->name, message);
			continue;
		}
		out->values[i] = value;
		out->present[i] = true;
	}
	return errors;
}
