/*
 * validate.h - declared field tables and the one validator that walks them.
 *
 * A resource lists its writable fields once (type, required, bounds,
 * choices, a custom check); validate_body() reads a JSON object against the
 * table and either fills one text value per field, ready to bind as a SQL
 * parameter, or returns DRF field errors ({"field": ["message"]}). Unknown
 * fields and fields marked read_only are ignored, as DRF does. For PATCH
 * only the fields given are checked; for POST and PUT every required field
 * must be present.
 *
 * A nested object (FIELD_OBJECT) is validated by the same walk over its own
 * sub-table, and its `check` sees the whole object (rules across members);
 * a list of such objects (FIELD_LIST) walks each element the same way.
 *
 * Query parameters (list filters, a handler's own parameters) are declared
 * with the same struct field and checked by validate_text(): there is one
 * parser per kind (integer, id, boolean, date, date-time, choice, string),
 * whether the value came as JSON or as text.
 */
#ifndef HMS_VALIDATE_H
#define HMS_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct json_object;

enum field_type {
	FIELD_STRING,
	FIELD_INT,
	FIELD_BOOL,
	FIELD_EMAIL,
	FIELD_CHOICE,
	FIELD_DATE,
	FIELD_DATETIME,
	FIELD_ID,   /* a positive 64-bit id */
	FIELD_JSON, /* any JSON value, checked by `check` and bound as its text */
	/* A number with at most decimal_places places (JSON number or numeric
	 * text), within min..max when min < max, above zero when `positive`;
	 * read exactly from the client's own digits (never through a double,
	 * so it is fit for money) and bound as its text with exactly
	 * decimal_places places ("19.99", "5.00"). */
	FIELD_DECIMAL,
	/* A nested object whose members are the sub-table `fields` (each
	 * validated as a field of its own; errors nest as DRF's do:
	 * {"vitals": {"pulse_bpm": ["..."]}}). Bound as a JSON object of the
	 * given members' texts; crud.c stores each member in its own column. */
	FIELD_OBJECT,
	/* A list of nested objects, each validated against the sub-table
	 * `fields` as a whole (as for a POST), with min..max elements when
	 * min < max. Errors nest as DRF's ListSerializer's do: a list with one
	 * entry per element, {} for a valid one. Bound as a JSON array of
	 * objects of the members' texts; stored as jsonb by crud.c. */
	FIELD_LIST,
};

enum validate_mode {
	VALIDATE_CREATE,  /* POST: required fields must be present */
	VALIDATE_REPLACE, /* PUT: likewise */
	VALIDATE_UPDATE,  /* PATCH: only what is given */
};

struct field {
	const char *name; /* NULL ends the table */
	enum field_type type;
	bool required;
	bool read_only; /* accepted from the client and ignored */
	bool nullable;
	bool allow_blank; /* "" allowed for strings (stored as "") */
	/* Strings are trimmed of surrounding white space, as DRF does, unless
	 * this is set (passwords). */
	bool keep_whitespace;
	/* Query parameters: a date alone is accepted for a date-time and means
	 * its midnight UTC. */
	bool accepts_date;
	size_t max_len;   /* strings: characters (not bytes) */
	int64_t min, max; /* ints and decimals: bounds when min < max; lists: elements */
	int decimal_places;
	/* Decimals: above zero, at least one step of the last place (0.01). */
	bool positive;
	const char *const *choices;
	/* Extra rule: returns NULL when the value is fine, else a message. The
	 * value is the text that would be bound. */
	const char *(*check)(const char *value, struct json_object *raw);
	/* Storage (resource.h): the column when it differs from name, and the
	 * SQL value expression with "$?" for the bound text (default: "$?"
	 * with a cast that fits the type). */
	const char *column;
	const char *sql;
	/* FIELD_OBJECT, FIELD_LIST: the members (a table ending with a NULL
	 * name). */
	const struct field *fields;
};

/* The values of one validated body, parallel to the field table. */
struct validated {
	const char **values; /* NULL = SQL NULL */
	bool *present;       /* whether the client gave the field */
	size_t count;
	enum validate_mode mode; /* how the body was validated */
};

/* Validates body against fields. Returns NULL and fills out on success;
 * otherwise a new error object for http_respond_field_errors(). */
struct json_object *validate_body(struct arena *arena, const struct field *fields,
                                  struct json_object *body, enum validate_mode mode,
                                  struct validated *out);

/* Checks one value given as text (a query parameter) as field f. Returns
 * the text to bind, or NULL with *message set. A boolean is true/false
 * (also True/False, 1/0), as DRF's BooleanField reads query strings. */
const char *validate_text(struct arena *arena, const struct field *f, const char *text,
                          const char **message);

/* The index of a field by name in a table, or -1. */
int validate_field_index(const struct field *fields, const char *name);

/* Adds message to errors[field] (creating both as needed). */
void validate_add_error(struct json_object **errors, const char *field, const char *message);

/* A field check: digits, spaces and + ( ) - . only. */
const char *validate_check_phone(const char *value, struct json_object *raw);

/* text without leading and trailing Unicode white space, in the arena. */
const char *validate_trim(struct arena *arena, const char *text);

/* Value checks shared with query filters. */
bool validate_parse_id(const char *text, int64_t *out);
bool validate_date(const char *text);     /* YYYY-MM-DD, a real calendar day */
bool validate_datetime(const char *text); /* ISO 8601 with Z or +HH:MM */
bool validate_email(const char *text);

#endif
