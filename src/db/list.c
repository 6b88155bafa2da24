/*
 * list.c - list/filter/order/paginate (see include/hms/list.h).
 *
 * The count comes from a scalar subquery of the same statement, so a page
 * costs one round trip; an empty page past the first is 404 without needing
 * the count. Filters are validated by the one validator before any SQL is
 * built; every invalid one is reported in DRF shape.
 */
#include "hms/list.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/columns.h"
#include "hms/db.h"
#include "hms/strbuf.h"

#define MAX_ORDER_FIELDS 4
#define MAX_SEARCH_WORDS 8
#define MAX_SEARCH_TEXT  200

/* The parameters of the statement being built; grows in the arena. */
struct params {
	struct arena *arena;
	const char **values;
	int count, cap;
	bool failed;
};

/* Adds a value; returns its number ($n), or 0 when out of memory. */
static int bind(struct params *p, const char *value)
{
	if (p->count == p->cap) {
		int cap = p->cap > 0 ? p->cap * 2 : 16;
		const char **grown = arena_alloc(p->arena, (size_t)cap * sizeof(*grown));

		if (grown == NULL) {
			p->failed = true;
			return 0;
		}
		if (p->count > 0)
			memcpy(grown, p->values, (size_t)p->count * sizeof(*grown));
		p->values = grown;
		p->cap = cap;
	}
	p->values[p->count++] = value;
	return p->count;
}

/* Appends "(fragment)" with its "$?" bound to value. */
static void append_condition(struct strbuf *b, struct params *p, const char *sql, const char *value)
{
	strbuf_append(b, "(");
	strbuf_append_param(b, sql, bind(p, value));
	strbuf_append(b, ")");
}

/* page and page_size as DRF reads them: a bad page is 404, a bad size is
 * the default, a big size is clamped. */
static bool read_paging(list_param_fn param, const void *source, long *page, long *size)
{
	const char *p = param(source, "page");
	const char *s = param(source, "page_size");
	char *end;

	*page = 1;
	*size = LIST_DEFAULT_PAGE_SIZE;
	if (p != NULL) {
		errno = 0;
		*page = strtol(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' || *page < 1 || *page > LIST_MAX_PAGE ||
		    !isdigit((unsigned char)p[0]))
			return false;
	}
	if (s != NULL) {
		long v;

		errno = 0;
		v = strtol(s, &end, 10);
		if (errno == 0 && end != s && *end == '\0' && v > 0 && isdigit((unsigned char)s[0]))
			*size = v > LIST_MAX_PAGE_SIZE ? LIST_MAX_PAGE_SIZE : v;
	}
	return true;
}

/* " ORDER BY ..." from ?ordering=; NULL (with *bad) on unknown names. */
static const char *ordering_clause(struct arena *arena, const struct list_spec *spec,
                                   const char *ordering, const char **bad)
{
	struct strbuf b;
	char *copy, *save = NULL, *name;
	int fields = 0;

	strbuf_init(&b, arena);
	strbuf_append(&b, " ORDER BY ");
	if (ordering == NULL || *ordering == '\0') {
		strbuf_append(&b, spec->default_order);
		strbuf_append(&b, ", ");
		strbuf_append(&b, spec->tiebreak);
		return strbuf_text(&b);
	}
	copy = arena_strdup(arena, ordering);
	if (copy == NULL)
		return NULL;
	for (name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
		bool descending = name[0] == '-';
		const struct list_ordering *o = spec->orderings;

		if (descending)
			name++;
		while (o != NULL && o->name != NULL && strcmp(o->name, name) != 0)
			o++;
		if (o == NULL || o->name == NULL || ++fields > MAX_ORDER_FIELDS) {
			*bad = name;
			return NULL;
		}
		strbuf_append(&b, o->sql);
		strbuf_append(&b, descending ? " DESC, " : " ASC, ");
	}
	if (fields == 0) {
		*bad = "";
		return NULL;
	}
	strbuf_append(&b, spec->tiebreak);
	return strbuf_text(&b);
}

/* Every word of the search must match spec->search_word: the words are
 * ANDed, each its own bound parameter. False when there are too many. */
static bool append_search_words(struct strbuf *b, struct params *p, struct arena *arena,
                                const char *word_sql, const char *text)
{
	int words = 0;

	while (*text != '\0') {
		size_t n;

		text += strspn(text, " \t");
		n = strcspn(text, " \t");
		if (n == 0)
			break;
		if (++words > MAX_SEARCH_WORDS)
			return false;
		if (words > 1)
			strbuf_append(b, " AND ");
		append_condition(b, p, word_sql, arena_strndup(arena, text, n));
		text += n;
	}
	return true;
}

/* The length of the shortest word of a search (1- and 2-letter prefixes
 * match so many rows that walking the ordering index is the better plan). */
static size_t shortest_word(const char *text)
{
	size_t shortest = SIZE_MAX;

	while (*text != '\0') {
		size_t n;

		text += strspn(text, " \t,.-");
		n = strcspn(text, " \t,.-");
		if (n > 0 && n < shortest)
			shortest = n;
		text += n;
	}
	return shortest == SIZE_MAX ? 0 : shortest;
}

/* " WHERE ..." from the fixed condition, the handler's, the filters and
 * the search; "" when nothing narrows the list. */
static const char *where_clause(struct arena *arena, const struct list_spec *spec,
                                list_param_fn param, const void *source,
                                const struct list_condition *extra, size_t extra_count,
                                struct params *p, bool *searching, struct json_object **errors)
{
	struct strbuf b;
	bool any = false;

	strbuf_init(&b, arena);
	if (spec->where != NULL) {
		strbuf_append(&b, " WHERE (");
		strbuf_append(&b, spec->where);
		strbuf_append(&b, ")");
		any = true;
	}
	for (size_t i = 0; i < extra_count; i++) {
		strbuf_append(&b, any ? " AND " : " WHERE ");
		append_condition(&b, p, extra[i].sql, extra[i].value);
		any = true;
	}
	for (const struct list_filter *f = spec->filters; f != NULL && f->param.name != NULL; f++) {
		const char *raw = param(source, f->param.name);
		const char *message = NULL;
		const char *value;

		if (raw == NULL)
			continue;
		value = validate_text(arena, &f->param, raw, &message);
		if (value == NULL) {
			validate_add_error(errors, f->param.name, message);
			continue;
		}
		strbuf_append(&b, any ? " AND " : " WHERE ");
		append_condition(&b, p, f->sql, value);
		any = true;
	}
	if (spec->search_word != NULL) {
		const char *text = param(source, "search");

		/* Surrounding blanks never belong to an identifier or a name. */
		if (text != NULL)
			text = validate_trim(arena, text);
		if (text != NULL && strlen(text) > MAX_SEARCH_TEXT) {
			validate_add_error(errors, "search",
			                   "Ensure this value has at most 200 characters.");
		} else if (text != NULL && *text != '\0') {
			strbuf_append(&b, any ? " AND ((" : " WHERE ((");
			if (!append_search_words(&b, p, arena, spec->search_word, text))
				validate_add_error(errors, "search", "Use at most 8 words.");
			strbuf_append(&b, ")");
			if (spec->search != NULL) {
				strbuf_append(&b, " OR ");
				append_condition(&b, p, spec->search, text);
			}
			strbuf_append(&b, ")");
			*searching = shortest_word(text) >= 3;
		}
	}
	return strbuf_text(&b);
}

enum list_problem list_plan(struct arena *arena, const struct list_spec *spec, list_param_fn param,
                            const void *source, const struct list_condition *extra,
                            size_t extra_count, struct list_plan *out, struct json_object **errors)
{
	struct params p = {.arena = arena};
	struct strbuf b;
	const char *where, *order, *columns = columns_select(spec->columns);
	const char *bad_order = NULL;
	bool searching = false;
	int limit, offset;

	*errors = NULL;
	if (!read_paging(param, source, &out->page, &out->page_size))
		return LIST_BAD_PAGE;
	where =
	    where_clause(arena, spec, param, source, extra, extra_count, &p, &searching, errors);
	order = ordering_clause(arena, spec, param(source, "ordering"), &bad_order);
	if (order == NULL && bad_order != NULL)
		validate_add_error(
		    errors, "ordering",
		    arena_printf(arena, "Unknown ordering field: '%.64s'.", bad_order));
	if (*errors != NULL)
		return LIST_INVALID;
	if (where == NULL || order == NULL || columns == NULL)
		return LIST_NOMEM;
	limit = bind(&p, arena_printf(arena, "%ld", out->page_size));
	offset = bind(&p, arena_printf(arena, "%ld", (out->page - 1) * out->page_size));

	strbuf_init(&b, arena);
	if (searching) {
		/* A selective text search: find the matches once through the GIN
		 * index, keeping only the sort keys, then count them, take the page
		 * and fetch just its rows. Without this the count and the page
		 * would each read every match, or the planner would walk the
		 * ordering index filtering row by row - slow when the matches sit
		 * far along it. */
		strbuf_printf(&b, "WITH hits AS MATERIALIZED (SELECT %s", spec->tiebreak);
		for (const struct list_ordering *o = spec->orderings; o != NULL && o->name != NULL;
		     o++)
			strbuf_printf(&b, ", %s", o->sql);
		strbuf_printf(&b,
		              " FROM %s%s), page AS (SELECT %s FROM hits%s LIMIT $%d OFFSET $%d) ",
		              spec->from, where, spec->tiebreak, order, limit, offset);
		strbuf_printf(&b,
		              "SELECT %s, (SELECT count(*) FROM hits) FROM %s WHERE %s IN "
		              "(SELECT %s FROM page)%s",
		              columns, spec->from, spec->tiebreak, spec->tiebreak, order);
	} else {
		/* The count is an uncorrelated scalar subquery (an InitPlan, run
		 * once with its own plan - an index-only scan where it can), not a
		 * window over the page query, which would materialise every
		 * matching row; or a maintained counter when nothing narrows the
		 * list. */
		strbuf_printf(&b, "SELECT %s, ", columns);
		if (p.count == 2 && spec->unfiltered_count != NULL)
			strbuf_printf(&b, "(%s)", spec->unfiltered_count);
		else
			strbuf_printf(&b, "(SELECT count(*) FROM %s%s)", spec->from, where);
		strbuf_printf(&b, " FROM %s%s%s LIMIT $%d OFFSET $%d", spec->from, where, order,
		              limit, offset);
	}
	out->sql = strbuf_text(&b);
	out->params = p.values;
	out->param_count = p.count;
	return out->sql == NULL || p.failed ? LIST_NOMEM : LIST_OK;
}

enum hms_err list_fetch(struct db *db, struct arena *arena, const struct list_plan *plan,
                        PGresult **rows, long long *count)
{
	enum hms_err err = db_exec_sql(db, arena, plan->sql, plan->param_count, plan->params, rows);

	*count = 0;
	if (err == HMS_OK && PQntuples(*rows) > 0)
		*count = atoll(PQgetvalue(*rows, 0, PQnfields(*rows) - 1));
	return err;
}
