/*
 * columns.c - SELECT lists and row JSON from column tables (see
 * include/hms/columns.h).
 *
 * A SELECT list is built once per table and process: the tables are
 * static, and prepared statements keep pointing at the text.
 */
#include "hms/columns.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/db.h"

#define MAX_TABLES 32

static struct {
	const struct column *columns;
	char *select;
} built[MAX_TABLES];

/* The expression as the API writes its kind. */
static int render(char *out, size_t size, const struct column *c)
{
	switch (c->kind) {
	case COL_DATE:
		return snprintf(out, size, "to_char(%s, 'YYYY-MM-DD')", c->sql);
	case COL_TIME:
		return snprintf(out, size, SQL_UTC("%s"), c->sql);
	case COL_JSON:
		return snprintf(out, size, "(%s)::text", c->sql);
	default:
		return snprintf(out, size, "%s", c->sql);
	}
}

static char *build(const struct column *columns)
{
	size_t len = 0;
	char *text, *p;

	for (const struct column *c = columns; c->name != NULL; c++)
		len += (size_t)render(NULL, 0, c) + 2;
	text = malloc(len + 1);
	if (text == NULL)
		return NULL;
	p = text;
	*p = '\0';
	for (const struct column *c = columns; c->name != NULL; c++) {
		if (p != text) {
			memcpy(p, ", ", 3);
			p += 2;
		}
		p += render(p, len + 1 - (size_t)(p - text), c);
	}
	return text;
}

const char *columns_select(const struct column *columns)
{
	size_t i;

	for (i = 0; i < MAX_TABLES && built[i].columns != NULL; i++)
		if (built[i].columns == columns)
			return built[i].select;
	if (i == MAX_TABLES)
		return NULL; /* more tables than declared here: the caller answers 500 */
	built[i].select = build(columns);
	if (built[i].select != NULL)
		built[i].columns = columns;
	return built[i].select;
}

int columns_index(const struct column *columns, const char *name)
{
	for (int i = 0; columns[i].name != NULL; i++)
		if (strcmp(columns[i].name, name) == 0)
			return i;
	return -1;
}

struct json_object *columns_row_json(const struct column *columns, const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; columns[i].name != NULL; i++) {
		struct json_object *v = NULL;

		switch (columns[i].kind) {
		case COL_INT:
			v = db_json_int(res, row, i);
			break;
		case COL_BOOL:
			v = db_json_bool(res, row, i);
			break;
		case COL_JSON:
			/* Written by PostgreSQL from validated input. */
			v = PQgetisnull(res, row, i) ? NULL
			                             : json_tokener_parse(PQgetvalue(res, row, i));
			break;
		case COL_HIDDEN:
			continue;
		default:
			v = db_json_text(res, row, i);
			break;
		}
		json_object_object_add(o, columns[i].name, v);
	}
	return o;
}
