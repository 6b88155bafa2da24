/*
 * validate.c - the field-table validator (see include/hms/validate.h).
 * Messages follow DRF's wording so existing API clients understand them.
 */
#include "hms/validate.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
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

/* A decimal number as the client spelled it, read exactly: never through
 * a double, so that "0.1" is one tenth and a price is never off by a
 * binary fraction. */
struct decimal {
	bool is_negative;
	/* The significant digits without leading or trailing zeros ("" for
	 * zero) and the power of ten of the last one: 19.990 is "1999", -2. */
	char digits[48];
	int exponent;
	bool is_long; /* more significant digits than fit: too large or too precise */
};

#define DECIMAL_MAX_EXPONENT 308 /* as far as a double would reach */

/* Parses [-]digits[.[digits]][(e|E)[+|-]digits] into *d. */
static bool parse_decimal(const char *s, struct decimal *d)
{
	size_t n = 0;
	long exponent = 0;
	int fraction = 0;
	bool seen_digit = false;

	memset(d, 0, sizeof(*d));
	if (*s == '-') {
		d->is_negative = true;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return false;
	for (bool in_fraction = false;; s++) {
		if (*s == '.' && !in_fraction) {
			in_fraction = true;
			continue;
		}
		if (!isdigit((unsigned char)*s))
			break;
		seen_digit = true;
		if (in_fraction)
			fraction++;
		if (n == 0 && *s == '0')
			continue; /* a leading zero */
		if (n < sizeof(d->digits) - 1)
			d->digits[n++] = *s;
		else if (*s != '0')
			d->is_long = true;
		else if (!in_fraction)
			exponent++; /* a trailing zero of the integer part beyond the buffer */
		else
			fraction--; /* a zero beyond the buffer in the fraction: no value */
		if (fraction > 1000)
			return false;
	}
	if (!seen_digit)
		return false;
	if (*s == 'e' || *s == 'E') {
		long e = 0;
		bool negative = false;

		s++;
		if (*s == '+' || *s == '-')
			negative = *s++ == '-';
		if (!isdigit((unsigned char)*s))
			return false;
		for (; isdigit((unsigned char)*s); s++)
			if ((e = e * 10 + (*s - '0')) > DECIMAL_MAX_EXPONENT)
				return false;
		exponent += negative ? -e : e;
	}
	if (*s != '\0')
		return false;
	/* Digits kept past the buffer in the integer part count as places. */
	exponent -= fraction;
	while (n > 0 && d->digits[n - 1] == '0') {
		d->digits[--n] = '\0';
		exponent++;
	}
	if (n > 0 && (exponent + (long)n > DECIMAL_MAX_EXPONENT ||
	              exponent + (long)n < -DECIMAL_MAX_EXPONENT))
		return false;
	d->exponent = n > 0 ? (int)exponent : 0;
	if (n == 0)
		d->is_negative = false; /* -0 is 0 */
	return true;
}

/* -1, 0 or 1 as the magnitude of d is below, equal to or above bound
 * (bound >= 0, whole units). */
static int compare_magnitude(const struct decimal *d, int64_t bound)
{
	int n = (int)strlen(d->digits);
	int whole = n + d->exponent; /* digits before the decimal point */
	uint64_t integer = 0;
	bool has_fraction = d->exponent < 0;

	if (n == 0)
		return bound == 0 ? 0 : -1;
	if (whole > 19 || d->is_long)
		return 1; /* beyond every bound (is_long: 47 significant digits) */
	for (int i = 0; i < whole; i++) {
		uint64_t digit = i < n ? (uint64_t)(d->digits[i] - '0') : 0;

		if (integer > (UINT64_MAX - digit) / 10)
			return 1;
		integer = integer * 10 + digit;
	}
	if (whole >= n)
		has_fraction = false;
	if (integer != (uint64_t)bound)
		return integer < (uint64_t)bound ? -1 : 1;
	return has_fraction ? 1 : 0;
}

/* -1, 0 or 1 as d is below, equal to or above the whole number bound. */
static int compare_decimal(const struct decimal *d, int64_t bound)
{
	if (!d->is_negative && bound >= 0)
		return compare_magnitude(d, bound);
	if (d->is_negative && bound < 0)
		return -compare_magnitude(d, bound == INT64_MIN ? INT64_MAX : -bound);
	return d->is_negative ? -1 : (d->digits[0] == '\0' ? (bound < 0 ? 1 : 0) : 1);
}

/* The text to bind: exactly `places` places, "-" only when below zero. */
static const char *decimal_text(struct arena *arena, const struct decimal *d, int places)
{
	int n = (int)strlen(d->digits);
	int whole = n + d->exponent;
	char out[128];
	size_t k = 0;

	if (d->is_negative)
		out[k++] = '-';
	if (whole <= 0)
		out[k++] = '0';
	for (int i = 0; i < whole; i++)
		out[k++] = i < n ? d->digits[i] : '0';
	if (places > 0)
		out[k++] = '.';
	for (int i = 0; i < places; i++) {
		int at = whole + i;

		out[k++] = at >= 0 && at < n ? d->digits[at] : '0';
	}
	out[k] = '\0';
	return arena_strdup(arena, out);
}

/* Numeric text or a JSON number's own spelling as field f (FIELD_DECIMAL):
 * within min..max, above zero when f->positive, with at most
 * decimal_places places (trailing zeros are not places: 19.990 is 19.99),
 * checked in that order, as DRF's DecimalField does. */
static const char *check_decimal_text(struct arena *arena, const struct field *f, const char *s,
                                      const char **message)
{
	struct decimal d;
	int places;

	if (s == NULL || !parse_decimal(s, &d)) {
		*message = "A valid number is required.";
		return NULL;
	}
	places = d.exponent < 0 ? -d.exponent : 0;
	if (f->positive && (d.is_negative || d.digits[0] == '\0')) {
		*message = arena_printf(
		    arena, "Ensure this value is greater than or equal to %s.",
		    decimal_text(arena,
		                 &(struct decimal){.digits = "1", .exponent = -f->decimal_places},
		                 f->decimal_places));
		return NULL;
	}
	if (f->min < f->max && compare_decimal(&d, f->min) < 0) {
		*message =
		    arena_printf(arena, "Ensure this value is greater than or equal to %lld.",
		                 (long long)f->min);
		return NULL;
	}
	if (f->min < f->max && compare_decimal(&d, f->max) > 0) {
		*message = arena_printf(arena, "Ensure this value is less than or equal to %lld.",
		                        (long long)f->max);
		return NULL;
	}
	if (d.is_long || places > f->decimal_places) {
		*message =
		    arena_printf(arena, "Ensure that there are no more than %d decimal places.",
		                 f->decimal_places);
		return NULL;
	}
	if ((int)strlen(d.digits) + d.exponent > 30) {
		*message = "A valid number is required."; /* unbounded and absurdly large */
		return NULL;
	}
	return decimal_text(arena, &d, f->decimal_places);
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
	case FIELD_LIST:
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
		/* A JSON number as the client wrote it: json-c keeps a
		 * number's own text, so 0.1 is read as one tenth. */
		if (json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double))
			return check_decimal_text(arena, f, json_object_get_string(v), message);
		return check_decimal_text(arena, f, s, message);
	case FIELD_JSON:
		return arena_strdup(arena,
		                    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	case FIELD_OBJECT:
	case FIELD_LIST:
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

/* A list of nested objects as field f: each element through the same walk
 * as a whole object; the value to bind is a JSON array of objects of the
 * members' texts. Returns false after adding its errors to *errors: the
 * list's own (not a list, too few or too many elements) as messages, an
 * element's as DRF's ListSerializer nests them, one entry per element. */
static bool check_list(struct arena *arena, const struct field *f, struct json_object *v,
                       const char **value, struct json_object **errors)
{
	struct json_object *out, *element_errors;
	const char *message;
	size_t count;
	bool is_valid = true;

	if (!json_object_is_type(v, json_type_array)) {
		validate_add_error(
		    errors, f->name,
		    arena_printf(arena, "Expected a list of items but got type \"%s\".",
		                 json_object_is_type(v, json_type_object) ? "dict"
		                                                          : python_type(v)));
		return false;
	}
	count = json_object_array_length(v);
	if (f->min < f->max && count < (size_t)f->min) {
		validate_add_error(errors, f->name,
		                   count == 0 ? "This list may not be empty."
		                              : arena_printf(arena,
		                                             "Ensure this field has at least %lld "
		                                             "elements.",
		                                             (long long)f->min));
		return false;
	}
	if (f->min < f->max && count > (size_t)f->max) {
		validate_add_error(errors, f->name,
		                   arena_printf(arena,
		                                "Ensure this field has no more than %lld elements.",
		                                (long long)f->max));
		return false;
	}
	out = json_object_new_array_ext((int)count);
	element_errors = json_object_new_array_ext((int)count);
	for (size_t i = 0; i < count; i++) {
		struct json_object *element = json_object_array_get_idx(v, i);
		struct json_object *sub_errors = NULL, *bound;
		struct validated sub;

		if (!json_object_is_type(element, json_type_object)) {
			validate_add_error(
			    &sub_errors, "non_field_errors",
			    arena_printf(arena, "Invalid data. Expected a dictionary, but got %s.",
			                 element == NULL ? "NoneType" : python_type(element)));
		} else {
			sub_errors =
			    validate_body(arena, f->fields, element, VALIDATE_CREATE, &sub);
		}
		if (sub_errors != NULL) {
			is_valid = false;
			json_object_array_add(element_errors, sub_errors);
			continue;
		}
		json_object_array_add(element_errors, json_object_new_object());
		bound = json_object_new_object();
		for (size_t k = 0; k < sub.count; k++)
			if (sub.present[k])
				json_object_object_add(bound, f->fields[k].name,
				                       sub.values[k] != NULL
				                           ? json_object_new_string(sub.values[k])
				                           : NULL);
		json_object_array_add(out, bound);
	}
	if (is_valid)
		*value = arena_strdup(arena,
		                      json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	json_object_put(out);
	if (!is_valid) {
		if (*errors == NULL)
			*errors = json_object_new_object();
		json_object_object_add(*errors, f->name, element_errors);
		return false;
	}
	json_object_put(element_errors);
	if (*value == NULL) {
		validate_add_error(errors, "non_field_errors", "Out of memory.");
		return false;
	}
	message = f->check != NULL ? f->check(*value, v) : NULL;
	if (message != NULL) {
		validate_add_error(errors, f->name, message);
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
		if (f->type == FIELD_OBJECT || f->type == FIELD_LIST) {
			if (f->type == FIELD_OBJECT
			        ? check_object(arena, f, v, mode, &value, &errors)
			        : check_list(arena, f, v, &value, &errors)) {
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
