/*
 * columns.h - a row's shape, declared once: the JSON name, the SQL
 * expression and the kind of each column. From one table come both the
 * SELECT list (with times rendered as the API writes them) and the row's
 * JSON, so the two can never drift apart.
 */
#ifndef HMS_COLUMNS_H
#define HMS_COLUMNS_H

#include <libpq-fe.h>

struct json_object;

enum column_kind {
	COL_INT,    /* an integer (or NULL) */
	COL_TEXT,   /* text (or NULL) */
	COL_BOOL,   /* a boolean */
	COL_DATE,   /* a date, written "YYYY-MM-DD" */
	COL_TIME,   /* a timestamptz, written in UTC "2025-12-06T12:00:00Z" */
	COL_JSON,   /* JSON text made by PostgreSQL, returned as JSON */
	COL_HIDDEN, /* selected for the server (a version, an owner), not returned */
};

struct column {
	const char *name; /* the JSON key; NULL ends the table */
	const char *sql;  /* an expression over the row, e.g. "patient_id" */
	enum column_kind kind;
};

/* The SELECT list of a column table: "id, to_char(...), ...". Built on first
 * use and kept for the life of the process (tables are static). */
const char *columns_select(const struct column *columns);

/* The index of the column named name, or -1. */
int columns_index(const struct column *columns, const char *name);

/* One row as a JSON object, in table order, without COL_HIDDEN columns. */
struct json_object *columns_row_json(const struct column *columns, const PGresult *res, int row);

#endif
