/*
 * list.c - list/filter/order/paginate (see include/hms/list.h).
 *
 * The count comes from a scalar subquery of the same statement, so a page
 * costs one round trip; an empty page past the first is 404 without needing
 * the count. Filters are validated by type before any SQL is built, and the
 * first invalid one answers 400 in DRF shape.
 */
#include "hms/list.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/validate.h"

#define MAX_ORDER_FIELDS 4
#define MAX_PAGE         10000000L
#define MAX_SEARCH_WORDS 8
#define MAX_FILTER_TEXT  200

struct builder {
	struct arena *arena;
	char *sql;
	size_t len, cap;
	const char *params[LIST_MAX_CONDITIONS + 2];
	int param_count;
	bool failed;
};

static void append(struct builder *b, const char *text)
{
	size_t n = strlen(text);

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap + n + 1) * 2;
		char *grown = arena_alloc(b->arena, cap);

		if (grown == NULL) {
			b->failed = true;
			return;
		}
		if (b->len > 0)
			memcpy(grown, b->sql, b->len);
		b->sql = grown;
		b->cap = cap;
	}
	memcpy(b->sql + b->len, text, n + 1);
	b->len += n;
}

/* Appends a fragment, replacing each "$?" with the next parameter number. */
static void append_condition(struct builder *b, const char *sql, const char *value)
{
	const char *p = sql;
	const char *mark;

	if (b->param_count >= LIST_MAX_CONDITIONS) {
		b->failed = true;
		return;
	}
	b->params[b->param_count++] = value;
	append(b, "(");
	while ((mark = strstr(p, "$?")) != NULL) {
		char num[16];

		append(b, arena_strndup(b->arena, p, (size_t)(mark - p)));
		snprintf(num, sizeof(num), "$%d", b->param_count);
		append(b, num);
		p = mark + 2;
	}
	append(b, p);
	append(b, ")");
}

/* Checks a filter value; returns the text to bind, or NULL with an error. */
static const char *filter_value(struct http_request *req, const struct list_filter *f,
                                const char *raw, const char **message)
{
	switch (f->type) {
	case LIST_INT: {
		int64_t v;

		if (!validate_parse_id(raw, &v)) {
			*message = "A valid integer is required.";
			return NULL;
		}
		return raw;
	}
	case LIST_TEXT:
		if (strlen(raw) > MAX_FILTER_TEXT) {
			*message = "Ensure this value has at most 200 characters.";
			return NULL;
		}
		return raw;
	case LIST_BOOL:
		if (strcmp(raw, "true") == 0 || strcmp(raw, "1") == 0 || strcmp(raw, "True") == 0)
			return "true";
		if (strcmp(raw, "false") == 0 || strcmp(raw, "0") == 0 || strcmp(raw, "False") == 0)
			return "false";
		*message = "Must be a valid boolean.";
		return NULL;
	case LIST_DATE:
		if (!validate_date(raw)) {
			*message = "Enter a valid date (YYYY-MM-DD).";
			return NULL;
		}
		return raw;
	case LIST_DATETIME:
		if (validate_date(raw))
			return arena_printf(req->arena, "%sT00:00:00Z", raw);
		if (!validate_datetime(raw)) {
			*message = "Enter a valid date/time (ISO 8601 with an offset).";
			return NULL;
		}
		return raw;
	case LIST_CHOICE:
		for (size_t i = 0; f->choices != NULL && f->choices[i] != NULL; i++)
			if (strcmp(f->choices[i], raw) == 0)
				return raw;
		*message = "Select a valid choice.";
		return NULL;
	}
	*message = "Invalid value.";
	return NULL;
}

/* page and page_size as DRF reads them: a bad page is 404, a bad size is
 * the default, a big size is clamped. */
static bool read_paging(const struct http_request *req, long *page, long *size)
{
	const char *p = http_request_param(req, "page");
	const char *s = http_request_param(req, "page_size");
	char *end;

	*page = 1;
	*size = LIST_DEFAULT_PAGE_SIZE;
	if (p != NULL) {
		errno = 0;
		*page = strtol(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' || *page < 1 || *page > MAX_PAGE ||
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

/* Builds ORDER BY from ?ordering=; false (with a message) on unknown names. */
static bool append_ordering(struct builder *b, const struct http_request *req,
                            const struct list_spec *spec, const char **bad)
{
	const char *ordering = http_request_param(req, "ordering");
	char *copy, *save = NULL, *name;
	int fields = 0;

	append(b, " ORDER BY ");
	if (ordering == NULL || *ordering == '\0') {
		append(b, spec->default_order);
		append(b, ", ");
		append(b, spec->tiebreak);
		return true;
	}
	copy = arena_strdup(b->arena, ordering);
	if (copy == NULL) {
		b->failed = true;
		return true;
	}
	for (name = strtok_r(copy, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
		bool descending = name[0] == '-';
		const struct list_ordering *o = spec->orderings;

		if (descending)
			name++;
		while (o != NULL && o->name != NULL && strcmp(o->name, name) != 0)
			o++;
		if (o == NULL || o->name == NULL || ++fields > MAX_ORDER_FIELDS) {
			*bad = name;
			return false;
		}
		append(b, o->sql);
		append(b, descending ? " DESC, " : " ASC, ");
	}
	if (fields == 0) {
		*bad = "";
		return false;
	}
	append(b, spec->tiebreak);
	return true;
}

static void append_escaped(struct arena *arena, char **out, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(text);
	char *enc = arena_alloc(arena, n * 3 + 1);
	size_t o = 0;

	if (enc == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			enc[o++] = (char)c;
		} else {
			enc[o++] = '%';
			enc[o++] = hex[c >> 4];
			enc[o++] = hex[c & 15];
		}
	}
	enc[o] = '\0';
	*out = arena_printf(arena, "%s%s", *out, enc);
}

/* The absolute URL of this list at another page (NULL for none). */
static struct json_object *page_url(struct http_request *req, long page)
{
	char *url;
	bool first = true;

	if (page < 1)
		return NULL;
	url = arena_printf(req->arena, "%s%s", http_request_origin(req), req->path);
	for (size_t i = 0; url != NULL && i < req->param_count; i++) {
		if (strcmp(req->params[i].key, "page") == 0)
			continue;
		url = arena_printf(req->arena, "%s%c", url, first ? '?' : '&');
		append_escaped(req->arena, &url, req->params[i].key);
		url = arena_printf(req->arena, "%s=", url);
		append_escaped(req->arena, &url, req->params[i].value);
		first = false;
	}
	if (url == NULL)
		return NULL;
	if (page > 1)
		url = arena_printf(req->arena, "%s%cpage=%ld", url, first ? '?' : '&', page);
	return url != NULL ? json_object_new_string(url) : NULL;
}

/* Every word of the search must match spec->search_word: the words are
 * ANDed, each its own bound parameter. False when there are too many. */
static bool append_search_words(struct builder *b, const char *word_sql, const char *text)
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
			append(b, " AND ");
		append_condition(b, word_sql, arena_strndup(b->arena, text, n));
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

void list_respond(struct http_request *req, struct http_response *res, const struct list_spec *spec,
                  const struct list_condition *extra, size_t extra_count)
{
	struct builder b = {.arena = req->arena};
	struct json_object *errors = NULL;
	struct json_object *body, *results;
	const char *bad_order = NULL;
	char limit[24], offset[24];
	long page, size;
	long long count = 0;
	bool any = false;
	bool searching = false;
	const char *where, *order;
	PGresult *result;
	enum hms_err err;
	int rows;

	if (!read_paging(req, &page, &size)) {
		http_respond_error(res, HMS_ERR_NOT_FOUND, "Invalid page.");
		return;
	}
	/* First the WHERE clause alone, used twice below. */
	append(&b, "");
	if (spec->where != NULL) {
		append(&b, " WHERE (");
		append(&b, spec->where);
		append(&b, ")");
		any = true;
	}
	for (size_t i = 0; i < extra_count; i++) {
		append(&b, any ? " AND " : " WHERE ");
		append_condition(&b, extra[i].sql, extra[i].value);
		any = true;
	}
	for (const struct list_filter *f = spec->filters; f != NULL && f->param != NULL; f++) {
		const char *raw = http_request_param(req, f->param);
		const char *message = NULL;
		const char *value;

		if (raw == NULL)
			continue;
		value = filter_value(req, f, raw, &message);
		if (value == NULL) {
			validate_add_error(&errors, f->param, message);
			continue;
		}
		append(&b, any ? " AND " : " WHERE ");
		append_condition(&b, f->sql, value);
		any = true;
	}
	if (spec->search_word != NULL) {
		const char *text = http_request_param(req, "search");

		/* Surrounding blanks never belong to an identifier or a name. */
		if (text != NULL)
			text = validate_trim(req->arena, text);
		if (text != NULL && strlen(text) > MAX_FILTER_TEXT) {
			validate_add_error(&errors, "search",
			                   "Ensure this value has at most 200 characters.");
		} else if (text != NULL && *text != '\0') {
			append(&b, any ? " AND ((" : " WHERE ((");
			if (!append_search_words(&b, spec->search_word, text))
				validate_add_error(&errors, "search", "Use at most 8 words.");
			append(&b, ")");
			if (spec->search != NULL) {
				append(&b, " OR ");
				append_condition(&b, spec->search, text);
			}
			append(&b, ")");
			any = true;
			searching = shortest_word(text) >= 3;
		}
	}
	where = b.failed ? NULL : arena_strdup(req->arena, b.sql);
	if (where == NULL)
		where = "";
	b.len = 0;
	append(&b, ""); /* the ORDER BY clause alone, used once or twice below */
	if (!append_ordering(&b, req, spec, &bad_order))
		validate_add_error(
		    &errors, "ordering",
		    arena_printf(req->arena, "Unknown ordering field: '%.64s'.", bad_order));
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	order = arena_strdup(req->arena, b.sql);
	snprintf(limit, sizeof(limit), "%ld", size);
	snprintf(offset, sizeof(offset), "%ld", (page - 1) * size);
	b.params[b.param_count++] = limit;
	b.params[b.param_count++] = offset;
	b.len = 0;
	if (searching) {
		/* A selective text search: find the matches once through the GIN
		 * index, keeping only the sort keys, then count them, take the page
		 * and fetch just its rows. Without this the count and the page
		 * would each read every match, or the planner would walk the
		 * ordering index filtering row by row - slow when the matches sit
		 * far along it. */
		append(&b, "WITH hits AS MATERIALIZED (SELECT ");
		append(&b, spec->tiebreak);
		for (const struct list_ordering *o = spec->orderings; o != NULL && o->name != NULL;
		     o++) {
			append(&b, ", ");
			append(&b, o->sql);
		}
		append(&b, " FROM ");
		append(&b, spec->from);
		append(&b, where);
		append(&b, "), page AS (SELECT ");
		append(&b, spec->tiebreak);
		append(&b, " FROM hits");
		append(&b, order);
		append(&b, arena_printf(req->arena, " LIMIT $%d OFFSET $%d) SELECT ",
		                        b.param_count - 1, b.param_count));
		append(&b, spec->columns);
		append(&b, ", (SELECT count(*) FROM hits) FROM ");
		append(&b, spec->from);
		append(&b, " WHERE ");
		append(&b, spec->tiebreak);
		append(&b, " IN (SELECT ");
		append(&b, spec->tiebreak);
		append(&b, " FROM page)");
		append(&b, order);
	} else {
		/* The count is an uncorrelated scalar subquery (an InitPlan, run
		 * once with its own plan - an index-only scan where it can), not a
		 * window over the page query, which would materialise every
		 * matching row; or a maintained counter when nothing narrows the
		 * list. */
		append(&b, "SELECT ");
		append(&b, spec->columns);
		if (b.param_count == 2 && spec->unfiltered_count != NULL) {
			append(&b, ", (");
			append(&b, spec->unfiltered_count);
			append(&b, ")");
		} else {
			append(&b, ", (SELECT count(*) FROM ");
			append(&b, spec->from);
			append(&b, where);
			append(&b, ")");
		}
		append(&b, " FROM ");
		append(&b, spec->from);
		append(&b, where);
		append(&b, order);
		append(&b, arena_printf(req->arena, " LIMIT $%d OFFSET $%d", b.param_count - 1,
		                        b.param_count));
	}
	if (b.failed) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return;
	}

	err = db_exec_sql(req->db, req->arena, b.sql, b.param_count, b.params, &result);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	rows = PQntuples(result);
	if (rows == 0 && page > 1) {
		http_respond_error(res, HMS_ERR_NOT_FOUND, "Invalid page.");
		return;
	}
	if (rows > 0)
		count = atoll(PQgetvalue(result, 0, PQnfields(result) - 1));
	body = json_object_new_object();
	results = json_object_new_array_ext(rows);
	for (int r = 0; r < rows; r++)
		json_object_array_add(results, spec->row(result, r));
	json_object_object_add(body, "count", json_object_new_int64(count));
	json_object_object_add(body, "next",
	                       (long long)page * size < count ? page_url(req, page + 1) : NULL);
	json_object_object_add(body, "previous", page > 1 ? page_url(req, page - 1) : NULL);
	json_object_object_add(body, "results", results);
	http_respond_json(res, 200, body);
}
