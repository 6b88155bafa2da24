/*
 * fuzz_validate.c - a request body's way in: JSON text through json_parse
 * (src/util/json.c) into validate_body (src/util/validate.c), against a
 * field table with every kind of field the resources declare (modelled on
 * records.c and invoices.c): strings with max_len, blank allowed or not,
 * trimmed or kept, with a check; emails; choices; ids, nullable and
 * read-only; bounded and unbounded ints; booleans; dates; date-times;
 * decimals bounded, unbounded, negative and positive; raw JSON; a nested
 * object with a rule across its members; a list of nested objects.
 *
 * The first byte is the mode (its value modulo 3: POST, PUT, PATCH) and
 * how decimals are written back (bit 0x10: as JSON numbers, else strings);
 * the rest is the body.
 *
 * A refusal must be DRF's shape: an object whose keys are the table's
 * fields (or non_field_errors), each with a list of messages, a nested
 * object's errors nested the same way, a list's errors one entry per
 * element. A success must keep validate.h's promises: read-only fields
 * absent, required ones present (except for PATCH), null only where
 * nullable, and every value valid UTF-8, within its length, bounds and
 * choices, in its canonical spelling (ints and decimals as printed,
 * decimals with exactly their places, real calendar dates). Each scalar
 * value must read the same through validate_text(), as a query parameter
 * would. And the values, written back as a JSON body (ints as numbers,
 * booleans as booleans, nested objects rebuilt from their members' texts)
 * and parsed again, must validate again, in the same mode, to the very
 * same values: what we accept and store we would accept again.
 */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/json.h"
#include "hms/validate.h"

#include "fuzz.h"

#define FUZZ_JSON_DEPTH 32

static const char *const record_types[] = {
    "consultation", "diagnosis", "prescription", "lab_result", "vitals", "note", NULL};
static const char *const methods[] = {"cash", "card", "insurance", "transfer", NULL};

/* As records.c: both pressures given, systolic above diastolic. */
static const char *check_vitals(const char *value, struct json_object *raw)
{
	struct json_object *sys, *dia;

	(void)value;
	if (json_object_object_get_ex(raw, "bp_systolic", &sys) && sys != NULL &&
	    json_object_object_get_ex(raw, "bp_diastolic", &dia) && dia != NULL &&
	    json_object_get_int64(sys) <= json_object_get_int64(dia))
		return "bp_systolic must be greater than bp_diastolic.";
	return NULL;
}

static const struct field vitals_fields[] = {
    {"temperature_c", FIELD_DECIMAL, .nullable = true, .min = 25, .max = 45, .decimal_places = 1},
    {"pulse_bpm", FIELD_INT, .nullable = true, .min = 20, .max = 300},
    {"bp_systolic", FIELD_INT, .nullable = true, .min = 40, .max = 300},
    {"bp_diastolic", FIELD_INT, .nullable = true, .min = 20, .max = 200},
    {"taken_on", FIELD_DATE, .nullable = true},
    {NULL},
};

static const struct field item_fields[] = {
    {"description", FIELD_STRING, .required = true, .max_len = 20},
    {"quantity", FIELD_DECIMAL, .required = true, .positive = true, .min = 0, .max = 1000,
     .decimal_places = 2},
    {"unit_price", FIELD_DECIMAL, .required = true, .positive = true, .min = 0, .max = 1000000,
     .decimal_places = 2},
    {"method", FIELD_CHOICE, .choices = methods},
    {NULL},
};

static const struct field body_fields[] = {
    {"author", FIELD_ID, .read_only = true},
    {"patient", FIELD_ID, .required = true},
    {"appointment", FIELD_ID, .nullable = true},
    {"record_type", FIELD_CHOICE, .required = true, .choices = record_types},
    {"title", FIELD_STRING, .required = true, .max_len = 12},
    {"notes", FIELD_STRING, .nullable = true, .allow_blank = true, .max_len = 40},
    {"password", FIELD_STRING, .keep_whitespace = true, .max_len = 16},
    {"phone", FIELD_STRING, .allow_blank = true, .max_len = 20, .check = validate_check_phone},
    {"contact_email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    {"date_of_birth", FIELD_DATE, .nullable = true},
    {"start_time", FIELD_DATETIME},
    {"slot_minutes", FIELD_INT, .min = 5, .max = 240},
    {"offset", FIELD_INT},
    {"is_active", FIELD_BOOL},
    {"tax_rate", FIELD_DECIMAL, .min = 0, .max = 100, .decimal_places = 2},
    {"adjustment", FIELD_DECIMAL, .min = -1000, .max = 1000, .decimal_places = 2},
    {"balance", FIELD_DECIMAL, .nullable = true, .decimal_places = 3},
    {"amount", FIELD_DECIMAL, .positive = true, .min = 0, .max = 2000000000, .decimal_places = 2},
    {"extra", FIELD_JSON, .nullable = true},
    {"vitals", FIELD_OBJECT, .nullable = true, .fields = vitals_fields, .check = check_vitals},
    {"items", FIELD_LIST, .min = 1, .max = 4, .fields = item_fields},
    {NULL},
};

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

/* --- refusals ---------------------------------------------------------------- */

static void check_messages(struct json_object *list)
{
	FUZZ_CHECK(json_object_is_type(list, json_type_array));
	FUZZ_CHECK(json_object_array_length(list) >= 1);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *m = json_object_array_get_idx(list, i);

		FUZZ_CHECK(json_object_is_type(m, json_type_string));
		FUZZ_CHECK(json_object_get_string_len(m) > 0);
		FUZZ_CHECK(fuzz_str_is_valid(json_object_get_string(m),
		                             (size_t)json_object_get_string_len(m)));
	}
}

static void check_errors(const struct field *fields, struct json_object *errors,
                         struct json_object *body)
{
	struct json_object_iterator it = json_object_iter_begin(errors);
	struct json_object_iterator end = json_object_iter_end(errors);

	FUZZ_CHECK(json_object_is_type(errors, json_type_object));
	FUZZ_CHECK(json_object_object_length(errors) >= 1);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *e = json_object_iter_peek_value(&it);
		int i = validate_field_index(fields, name);
		struct json_object *given = NULL;

		if (i < 0) {
			FUZZ_CHECK(strcmp(name, "non_field_errors") == 0);
			check_messages(e);
			continue;
		}
		FUZZ_CHECK(!fields[i].read_only);
		json_object_object_get_ex(body, name, &given);
		if (fields[i].type == FIELD_OBJECT && json_object_is_type(e, json_type_object)) {
			FUZZ_CHECK(json_object_is_type(given, json_type_object));
			check_errors(fields[i].fields, e, given);
		} else if (fields[i].type == FIELD_LIST &&
		           json_object_is_type(given, json_type_array) &&
		           json_object_array_length(e) > 0 &&
		           json_object_is_type(json_object_array_get_idx(e, 0), json_type_object)) {
			/* One entry per element: {} for a valid one. */
			FUZZ_CHECK(json_object_array_length(e) == json_object_array_length(given));
			for (size_t k = 0; k < json_object_array_length(e); k++) {
				struct json_object *ek = json_object_array_get_idx(e, k);
				struct json_object *gk = json_object_array_get_idx(given, k);

				FUZZ_CHECK(json_object_is_type(ek, json_type_object));
				if (json_object_object_length(ek) == 0)
					FUZZ_CHECK(json_object_is_type(gk, json_type_object));
				else if (json_object_is_type(gk, json_type_object))
					check_errors(fields[i].fields, ek, gk);
				else
					check_errors(fields[i].fields, ek, NULL);
			}
		} else {
			check_messages(e);
		}
	}
}

/* --- accepted values ------------------------------------------------------------ */

static size_t characters(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool is_ascii_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* A real calendar day, written YYYY-MM-DD (year 1 or later). */
static bool is_date(const char *s)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;
	bool leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] + (m == 2 && leap);
}

/* -1, 0, 1 as the canonical decimal text s compares with the integer b. */
static int compare_to(const char *s, int64_t b)
{
	bool negative = *s == '-';
	const char *digits = s + negative;
	size_t whole = strcspn(digits, ".");
	bool has_fraction =
	    digits[whole] == '.' && strspn(digits + whole + 1, "0") != strlen(digits + whole + 1);
	long long w;
	int c;

	if (whole > 18)
		return negative ? -1 : 1; /* beyond every bound here */
	w = strtoll(digits, NULL, 10);
	if (negative)
		w = -w;
	c = w < b ? -1 : w > b ? 1 : 0;
	if (c == 0 && has_fraction)
		c = negative ? -1 : 1;
	return c;
}

/* -?(0|[1-9][0-9]*)(.[0-9]{places})?, no "-" for zero. */
static void check_decimal(const struct field *f, const char *s)
{
	bool negative = *s == '-';
	const char *d = s + negative;
	size_t whole = strspn(d, "0123456789");

	FUZZ_CHECK(whole >= 1 && whole <= 30 && (d[0] != '0' || whole == 1));
	if (f->decimal_places > 0) {
		FUZZ_CHECK(d[whole] == '.');
		FUZZ_CHECK(strspn(d + whole + 1, "0123456789") == (size_t)f->decimal_places);
		FUZZ_CHECK(d[whole + 1 + f->decimal_places] == '\0');
	} else {
		FUZZ_CHECK(d[whole] == '\0');
	}
	FUZZ_CHECK(!negative || strspn(d, "0.") != strlen(d)); /* no -0.00 */
	if (f->positive)
		FUZZ_CHECK(!negative && strspn(d, "0.") != strlen(d));
	if (f->min < f->max)
		FUZZ_CHECK(compare_to(s, f->min) >= 0 && compare_to(s, f->max) <= 0);
}

static void check_nested(const struct field *fields, struct json_object *obj,
                         struct json_object *raw, bool whole);

/* The exact value of a decimal text: its sign, its significant digits and
 * the power of ten of the last, "+1999e-2" for 19.990; NULL for a text
 * that is not a number or is far beyond anything accepted. */
static const char *exact(const char *s)
{
	bool negative = *s == '-';
	char digits[4096];
	size_t n = 0;
	long exponent = 0;
	bool in_fraction = false;

	s += negative;
	for (; isdigit((unsigned char)*s) || (*s == '.' && !in_fraction); s++) {
		if (*s == '.') {
			in_fraction = true;
			continue;
		}
		if (n == 0 && *s == '0') {
			exponent -= in_fraction;
			continue;
		}
		if (n == sizeof(digits) - 1)
			return NULL;
		digits[n++] = *s;
		exponent -= in_fraction;
	}
	if (*s == 'e' || *s == 'E') {
		long e = strtol(s + 1, NULL, 10);

		if (e > 100000 || e < -100000)
			return NULL;
		exponent += e;
	}
	while (n > 0 && digits[n - 1] == '0') {
		n--;
		exponent++;
	}
	if (n == 0)
		return "0";
	digits[n] = '\0';
	return arena_printf(arena, "%c%se%ld", negative ? '-' : '+', digits, exponent);
}

/* The bound text s says what the client's value raw said. */
static void check_faithful(const struct field *f, const char *s, struct json_object *raw)
{
	const char *given = json_object_get_string(raw);

	switch (f->type) {
	case FIELD_STRING:
	case FIELD_EMAIL: {
		const char *at = f->keep_whitespace ? given : strstr(given, s);

		/* Trimmed of white space at either end, and of nothing else. */
		FUZZ_CHECK(at != NULL);
		for (const char *c = given; c < at; c++)
			FUZZ_CHECK(is_ascii_space(*c) || (unsigned char)*c >= 0x80);
		for (const char *c = at + strlen(s); *c != '\0'; c++)
			FUZZ_CHECK(is_ascii_space(*c) || (unsigned char)*c >= 0x80);
		if (f->keep_whitespace)
			FUZZ_CHECK(strcmp(s, given) == 0);
		break;
	}
	case FIELD_INT:
	case FIELD_ID:
		FUZZ_CHECK(json_object_is_type(raw, json_type_int));
		FUZZ_CHECK(strtoll(s, NULL, 10) == json_object_get_int64(raw));
		break;
	case FIELD_BOOL:
		FUZZ_CHECK(json_object_is_type(raw, json_type_boolean));
		FUZZ_CHECK(strcmp(s, json_object_get_boolean(raw) ? "true" : "false") == 0);
		break;
	case FIELD_CHOICE:
	case FIELD_DATE:
	case FIELD_DATETIME:
		FUZZ_CHECK(json_object_is_type(raw, json_type_string) && strcmp(s, given) == 0);
		break;
	case FIELD_DECIMAL: {
		/* Never rounded, never through a double: the same number. */
		const char *want = exact(given), *got = exact(s);

		FUZZ_CHECK(want != NULL && got != NULL);
		if (strcmp(want, got) != 0) {
			fprintf(stderr, "%s: %s bound as %s\n", f->name, given, s);
			FUZZ_CHECK(!"a decimal bound as given");
		}
		break;
	}
	default:
		break;
	}
}

/* A value validate_body bound for field f (not NULL) from the client's
 * value raw. */
static void check_value(const struct field *f, const char *s, struct json_object *raw)
{
	const char *message = NULL, *again;
	char *end;
	long long n;

	FUZZ_CHECK(fuzz_str_is_valid(s, strlen(s)));
	switch (f->type) {
	case FIELD_STRING:
	case FIELD_EMAIL:
		FUZZ_CHECK(f->max_len == 0 || characters(s) <= f->max_len);
		FUZZ_CHECK(*s != '\0' || f->allow_blank);
		if (!f->keep_whitespace && *s != '\0')
			FUZZ_CHECK(!is_ascii_space(s[0]) && !is_ascii_space(s[strlen(s) - 1]));
		if (f->type == FIELD_EMAIL && *s != '\0') {
			const char *at = strchr(s, '@');

			FUZZ_CHECK(at != NULL && at != s && strchr(at + 1, '@') == NULL);
			FUZZ_CHECK(strchr(at, '.') != NULL &&
			           strpbrk(s, " \t\r\n,;<>()\"\\") == NULL);
		}
		if (f->check == validate_check_phone)
			FUZZ_CHECK(strspn(s, "0123456789+()-. ") == strlen(s));
		break;
	case FIELD_INT:
	case FIELD_ID:
		errno = 0;
		n = strtoll(s, &end, 10);
		FUZZ_CHECK(errno == 0 && *end == '\0' && end != s);
		FUZZ_CHECK(strcmp(arena_printf(arena, "%lld", n), s) == 0);
		if (f->type == FIELD_ID)
			FUZZ_CHECK(n > 0);
		if (f->min < f->max)
			FUZZ_CHECK(n >= f->min && n <= f->max);
		break;
	case FIELD_BOOL:
		FUZZ_CHECK(strcmp(s, "true") == 0 || strcmp(s, "false") == 0);
		break;
	case FIELD_CHOICE: {
		bool found = false;

		for (size_t i = 0; f->choices[i] != NULL; i++)
			found = found || strcmp(s, f->choices[i]) == 0;
		FUZZ_CHECK(found);
		break;
	}
	case FIELD_DATE:
		FUZZ_CHECK(is_date(s));
		break;
	case FIELD_DATETIME: {
		char day[11];

		FUZZ_CHECK(strlen(s) >= 17 && strlen(s) <= 40);
		memcpy(day, s, 10);
		day[10] = '\0';
		FUZZ_CHECK(is_date(day) && (s[10] == 'T' || s[10] == ' '));
		FUZZ_CHECK(s[strlen(s) - 1] == 'Z' || s[strlen(s) - 6] == '+' ||
		           s[strlen(s) - 6] == '-'); /* an offset, always */
		break;
	}
	case FIELD_DECIMAL:
		check_decimal(f, s);
		break;
	case FIELD_JSON: {
		struct json_object *v;
		const char *detail;

		FUZZ_CHECK(json_parse(arena, s, strlen(s), FUZZ_JSON_DEPTH + 1, &v, &detail) ==
		           HMS_OK);
		break;
	}
	case FIELD_OBJECT:
	case FIELD_LIST: {
		struct json_object *v;
		const char *detail;

		FUZZ_CHECK(json_parse(arena, s, strlen(s), 3, &v, &detail) == HMS_OK);
		if (f->type == FIELD_OBJECT) {
			FUZZ_CHECK(json_object_is_type(v, json_type_object));
			check_nested(f->fields, v, raw, false);
			break;
		}
		FUZZ_CHECK(json_object_is_type(v, json_type_array));
		FUZZ_CHECK(json_object_array_length(v) == json_object_array_length(raw));
		FUZZ_CHECK(f->min >= f->max || (json_object_array_length(v) >= (size_t)f->min &&
		                                json_object_array_length(v) <= (size_t)f->max));
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);

			FUZZ_CHECK(json_object_is_type(e, json_type_object));
			check_nested(f->fields, e, json_object_array_get_idx(raw, i), true);
		}
		break;
	}
	}
	/* A scalar says what the client said, and reads the same as a query
	 * parameter. */
	if (f->type != FIELD_JSON && f->type != FIELD_OBJECT && f->type != FIELD_LIST) {
		check_faithful(f, s, raw);
		again = validate_text(arena, f, s, &message);
		FUZZ_CHECK(again != NULL && strcmp(again, s) == 0);
	}
}

/* A bound nested object: members of the sub-table only, each a text that
 * is a valid value of its member given in raw, or null where nullable;
 * whole: every required member is there (list elements are validated as
 * for POST). */
static void check_nested(const struct field *fields, struct json_object *obj,
                         struct json_object *raw, bool whole)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		int i = validate_field_index(fields, json_object_iter_peek_name(&it));
		struct json_object *v = json_object_iter_peek_value(&it);

		struct json_object *given = NULL;

		FUZZ_CHECK(i >= 0 && !fields[i].read_only);
		FUZZ_CHECK(json_object_object_get_ex(raw, fields[i].name, &given));
		if (v == NULL) {
			FUZZ_CHECK(fields[i].nullable && given == NULL);
			continue;
		}
		FUZZ_CHECK(json_object_is_type(v, json_type_string));
		check_value(&fields[i], json_object_get_string(v), given);
	}
	for (size_t i = 0; whole && fields[i].name != NULL; i++)
		FUZZ_CHECK(!fields[i].required ||
		           json_object_object_get_ex(obj, fields[i].name, NULL));
}

/* --- writing the values back ---------------------------------------------------- */

static bool decimals_as_numbers;

/* A JSON value for the bound text s of field f, as a client would send it. */
static struct json_object *written(const struct field *f, const char *s);

static struct json_object *written_object(const struct field *fields, struct json_object *bound)
{
	struct json_object *out = json_object_new_object();
	struct json_object_iterator it = json_object_iter_begin(bound);
	struct json_object_iterator end = json_object_iter_end(bound);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);

		json_object_object_add(out, name,
		                       v == NULL
		                           ? NULL
		                           : written(&fields[validate_field_index(fields, name)],
		                                     json_object_get_string(v)));
	}
	return out;
}

static struct json_object *written(const struct field *f, const char *s)
{
	struct json_object *bound, *out;

	switch (f->type) {
	case FIELD_INT:
	case FIELD_ID:
		return json_object_new_int64(strtoll(s, NULL, 10));
	case FIELD_BOOL:
		return json_object_new_boolean(strcmp(s, "true") == 0);
	case FIELD_DECIMAL:
		if (decimals_as_numbers)
			return json_object_new_double_s(strtod(s, NULL), s);
		return json_object_new_string(s);
	case FIELD_JSON:
		return json_tokener_parse(s); /* NULL for null */
	case FIELD_OBJECT:
		bound = json_tokener_parse(s);
		out = written_object(f->fields, bound);
		json_object_put(bound);
		return out;
	case FIELD_LIST:
		bound = json_tokener_parse(s);
		out = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(bound); i++)
			json_object_array_add(
			    out, written_object(f->fields, json_object_array_get_idx(bound, i)));
		json_object_put(bound);
		return out;
	default:
		return json_object_new_string(s);
	}
}

/* The validated values as a body, as text, parsed and validated again. */
static void check_written_back(enum validate_mode mode, const struct validated *first)
{
	struct json_object *body = json_object_new_object(), *parsed = NULL, *errors;
	struct validated second;
	const char *text, *detail = NULL;
	size_t len;

	for (size_t i = 0; i < first->count; i++)
		if (first->present[i])
			json_object_object_add(body, body_fields[i].name,
			                       first->values[i] == NULL
			                           ? NULL
			                           : written(&body_fields[i], first->values[i]));
	text = arena_strdup(arena,
	                    json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &len));
	json_object_put(body);
	FUZZ_CHECK(text != NULL);
	if (json_parse(arena, text, len, FUZZ_JSON_DEPTH + 1, &parsed, &detail) != HMS_OK) {
		fprintf(stderr, "written back: %s\nnot parsed: %s\n", text, detail);
		FUZZ_CHECK(!"the values written back parse");
	}
	errors = validate_body(arena, body_fields, parsed, mode, &second);
	if (errors != NULL) {
		fprintf(stderr, "written back: %s\nrefused: %s\n", text,
		        json_object_to_json_string(errors));
		json_object_put(errors);
		FUZZ_CHECK(!"the values written back validate");
	}
	FUZZ_CHECK(second.count == first->count);
	for (size_t i = 0; i < first->count; i++) {
		const char *a = first->values[i], *b = second.values[i];

		FUZZ_CHECK(second.present[i] == first->present[i]);
		if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0)) {
			fprintf(stderr, "%s: %s, then %s\n", body_fields[i].name, a ? a : "null",
			        b ? b : "null");
			FUZZ_CHECK(!"the same values again");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum validate_mode modes[] = {VALIDATE_CREATE, VALIDATE_REPLACE,
	                                           VALIDATE_UPDATE};
	enum validate_mode mode;
	struct json_object *body = NULL, *errors;
	struct validated v;
	const char *detail = NULL;

	if (size < 1)
		return 0;
	mode = modes[(data[0] & 0x0f) % 3];
	decimals_as_numbers = (data[0] & 0x10) != 0;
	if (json_parse(arena, (const char *)data + 1, size - 1, FUZZ_JSON_DEPTH, &body, &detail) !=
	        HMS_OK ||
	    !json_object_is_type(body, json_type_object)) {
		arena_reset(arena); /* app.c answers 400 before any validation */
		return 0;
	}
	errors = validate_body(arena, body_fields, body, mode, &v);
	if (errors != NULL) {
		check_errors(body_fields, errors, body);
		json_object_put(errors);
		arena_reset(arena);
		return 0;
	}
	FUZZ_CHECK(v.count == sizeof(body_fields) / sizeof(body_fields[0]) - 1 && v.mode == mode);
	for (size_t i = 0; i < v.count; i++) {
		const struct field *f = &body_fields[i];
		struct json_object *given = NULL;

		FUZZ_CHECK(v.present[i] || v.values[i] == NULL);
		FUZZ_CHECK(!f->read_only || !v.present[i]);
		FUZZ_CHECK(!f->required || mode == VALIDATE_UPDATE || v.present[i]);
		FUZZ_CHECK(!v.present[i] || v.values[i] != NULL || f->nullable);
		FUZZ_CHECK(v.present[i] ==
		           (!f->read_only && json_object_object_get_ex(body, f->name, &given)));
		if (v.values[i] != NULL)
			check_value(f, v.values[i], given);
	}
	check_written_back(mode, &v);
	arena_reset(arena);
	return 0;
}
