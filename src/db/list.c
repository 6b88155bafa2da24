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
#include "hms/base64url.h"
#include "hms/columns.h"
#include "hms/db.h"
#include "hms/json.h"
#include "hms/strbuf.h"
#include "hms/validate.h"

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
 * the default, a big size is clamped. With a cursor, page is ignored. */
static bool read_paging(list_param_fn param, const void *source, bool with_page, long *page,
                        long *size)
{
	const char *p = with_page ? param(source, "page") : NULL;
	const char *s = param(source, "page_size");
	char *end;

	*page = 1;
	*size = LIST_DEFAULT_PAGE_SIZE;
	if (p != NULL) {
		errno = 0;
		*page = strtol(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' || *page < 1 ||
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

/* --- the order and its keys ------------------------------------------------ */

struct sort_key {
	const char *sql;
	bool descending;
	enum column_kind kind; /* COL_INT, COL_DATE, COL_TIME or COL_TEXT */
};

struct order {
	struct sort_key keys[LIST_MAX_SORT_KEYS];
	int count;    /* the ordering's keys, then the tiebreak */
	int position; /* the keys a cursor holds: up to the first unique one */
};

/* The type of an ordering expression, from the column with the same SQL. */
static enum column_kind kind_of(const struct column *columns, const char *sql)
{
	for (const struct column *c = columns; c != NULL && c->name != NULL; c++)
		if (strcmp(c->sql, sql) == 0 &&
		    (c->kind == COL_INT || c->kind == COL_DATE || c->kind == COL_TIME))
			return c->kind;
	return COL_TEXT;
}

static void add_key(struct order *o, const struct list_spec *spec, const char *sql, bool descending)
{
	o->keys[o->count++] = (struct sort_key){sql, descending, kind_of(spec->columns, sql)};
}

/* The declared default order, "a ASC, b DESC", as keys. */
static bool default_keys(struct arena *arena, const struct list_spec *spec, struct order *o)
{
	char *copy = arena_strdup(arena, spec->default_order), *save = NULL, *part;

	if (copy == NULL)
		return false;
	for (part = strtok_r(copy, ",", &save); part != NULL; part = strtok_r(NULL, ",", &save)) {
		size_t n;
		bool descending = false;

		part += strspn(part, " ");
		n = strlen(part);
		while (n > 0 && part[n - 1] == ' ')
			part[--n] = '\0';
		if (n > 5 && strcmp(part + n - 5, " DESC") == 0) {
			descending = true;
			part[n - 5] = '\0';
		} else if (n > 4 && strcmp(part + n - 4, " ASC") == 0) {
			part[n - 4] = '\0';
		}
		if (o->count == LIST_MAX_SORT_KEYS - 1)
			return false;
		add_key(o, spec, part, descending);
	}
	return true;
}

/* The keys from ?ordering= (or the default), then the tiebreak; false with
 * *bad (the unknown name) when the client named something undeclared. */
static bool order_keys(struct arena *arena, const struct list_spec *spec, const char *ordering,
                       struct order *o, const char **bad)
{
	char *copy, *save = NULL, *name;

	o->count = 0;
	if (ordering == NULL || *ordering == '\0') {
		if (!default_keys(arena, spec, o))
			return false;
	} else {
		copy = arena_strdup(arena, ordering);
		if (copy == NULL)
			return false;
		for (name = strtok_r(copy, ",", &save); name != NULL;
		     name = strtok_r(NULL, ",", &save)) {
			bool descending = name[0] == '-';
			const struct list_ordering *d = spec->orderings;

			if (descending)
				name++;
			while (d != NULL && d->name != NULL && strcmp(d->name, name) != 0)
				d++;
			if (d == NULL || d->name == NULL || o->count == LIST_MAX_SORT_KEYS - 1) {
				*bad = name;
				return false;
			}
			add_key(o, spec, d->sql, descending);
		}
		if (o->count == 0) {
			*bad = "";
			return false;
		}
	}
	add_key(o, spec, spec->tiebreak, false);
	/* A key after a unique one never decides anything. */
	o->position = o->count;
	for (int i = 0; i < o->count - 1; i++)
		if (strcmp(o->keys[i].sql, spec->tiebreak) == 0) {
			o->position = i + 1;
			break;
		}
	return true;
}

/* " ORDER BY a ASC, b DESC, id", or every direction reversed. */
static const char *order_by(struct arena *arena, const struct order *o, bool reversed)
{
	struct strbuf b;

	strbuf_init(&b, arena);
	strbuf_append(&b, " ORDER BY ");
	for (int i = 0; i < o->count; i++) {
		bool last = i == o->count - 1;
		bool descending = o->keys[i].descending != reversed;

		strbuf_append(&b, o->keys[i].sql);
		if (!last)
			strbuf_append(&b, descending ? " DESC, " : " ASC, ");
		else if (descending)
			strbuf_append(&b, " DESC");
	}
	return strbuf_text(&b);
}

/* The SELECT-list entries that give a row's position as text a cursor
 * can carry and a parameter can be cast back from exactly. */
static void append_key_columns(struct strbuf *b, const struct order *o)
{
	for (int i = 0; i < o->position; i++) {
		const struct sort_key *k = &o->keys[i];

		if (k->kind == COL_DATE)
			strbuf_printf(b, ", to_char(%s, 'YYYY-MM-DD')", k->sql);
		else if (k->kind == COL_TIME)
			strbuf_printf(b,
			              ", to_char((%s) AT TIME ZONE 'UTC', "
			              "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
			              k->sql);
		else
			strbuf_printf(b, ", %s", k->sql);
	}
}

static const char *cast_of(enum column_kind kind)
{
	switch (kind) {
	case COL_INT:
		return "bigint";
	case COL_DATE:
		return "date";
	case COL_TIME:
		return "timestamptz";
	default:
		return "text";
	}
}

/* The rows after (or, backward, before) a position in the order: a row
 * comparison when every key runs the same way - one index range scan -
 * else the leading key as a range (the index still starts there) and the
 * rest spelled out. */
static void append_keyset(struct strbuf *b, struct params *p, const struct order *o,
                          const char **values, bool backward)
{
	int n[LIST_MAX_SORT_KEYS];
	bool same = true;

	for (int i = 0; i < o->position; i++) {
		n[i] = bind(p, values[i]);
		if (o->keys[i].descending != o->keys[0].descending)
			same = false;
	}
#define AFTER(k) (((k).descending != backward) ? "<" : ">")
	if (same && o->position > 1) {
		strbuf_append(b, "((");
		for (int i = 0; i < o->position; i++)
			strbuf_printf(b, "%s%s", i > 0 ? ", " : "", o->keys[i].sql);
		strbuf_printf(b, ") %s (", AFTER(o->keys[0]));
		for (int i = 0; i < o->position; i++)
			strbuf_printf(b, "%s$%d::%s", i > 0 ? ", " : "", n[i],
			              cast_of(o->keys[i].kind));
		strbuf_append(b, "))");
	} else if (o->position == 1) {
		strbuf_printf(b, "(%s %s $%d::%s)", o->keys[0].sql, AFTER(o->keys[0]), n[0],
		              cast_of(o->keys[0].kind));
	} else {
		strbuf_printf(b, "(%s %s= $%d::%s AND ", o->keys[0].sql, AFTER(o->keys[0]), n[0],
		              cast_of(o->keys[0].kind));
		for (int i = 0; i < o->position; i++) {
			const struct sort_key *k = &o->keys[i];

			if (i < o->position - 1)
				strbuf_printf(b, "(%s %s $%d::%s OR (%s = $%d::%s AND ", k->sql,
				              AFTER(*k), n[i], cast_of(k->kind), k->sql, n[i],
				              cast_of(k->kind));
			else
				strbuf_printf(b, "%s %s $%d::%s", k->sql, AFTER(*k), n[i],
				              cast_of(k->kind));
		}
		for (int i = 0; i < o->position - 1; i++)
			strbuf_append(b, "))");
		strbuf_append(b, ")");
	}
#undef AFTER
}

/* --- cursors ----------------------------------------------------------------- */

#define MAX_CURSOR_TEXT 2048

static bool is_number(const char *s)
{
	size_t digits;

	if (*s == '-')
		s++;
	digits = strspn(s, "0123456789");
	return digits > 0 && digits <= 18 && s[digits] == '\0';
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ", as append_key_columns writes it. */
static bool is_cursor_time(const char *s)
{
	char date[11];

	if (strlen(s) != 27 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
	    s[26] != 'Z')
		return false;
	for (int i = 11; i < 26; i++)
		if (i != 13 && i != 16 && i != 19 && !isdigit((unsigned char)s[i]))
			return false;
	memcpy(date, s, 10);
	date[10] = '\0';
	return validate_date(date) && (s[11] - '0') * 10 + (s[12] - '0') < 24 &&
	       (s[14] - '0') * 10 + (s[15] - '0') < 60 && (s[17] - '0') * 10 + (s[18] - '0') < 60;
}

static bool fits(enum column_kind kind, const char *value)
{
	switch (kind) {
	case COL_INT:
		return is_number(value);
	case COL_DATE:
		return validate_date(value);
	case COL_TIME:
		return is_cursor_time(value);
	default:
		return true;
	}
}

/* Reads a cursor for order o: its direction and values, each checked
 * against its key's type. False for anything else. The JSON goes through
 * the one parser for untrusted text (json.h). */
static bool read_cursor(struct arena *arena, const char *text, const struct order *o,
                        bool *backward, const char ***values)
{
	size_t len = strlen(text);
	unsigned char *raw;
	long n;
	struct json_object *array;
	const char *detail, *direction;

	if (len > MAX_CURSOR_TEXT || (raw = arena_alloc(arena, len * 3 / 4 + 1)) == NULL)
		return false;
	n = base64url_decode(text, len, raw);
	if (n <= 0 ||
	    json_parse(arena, (const char *)raw, (size_t)n, 2, &array, &detail) != HMS_OK ||
	    !json_object_is_type(array, json_type_array) ||
	    json_object_array_length(array) != (size_t)o->position + 1)
		return false;
	direction = json_object_get_string(json_object_array_get_idx(array, 0));
	*values = arena_alloc(arena, (size_t)o->position * sizeof(**values));
	if (*values == NULL || direction == NULL ||
	    (strcmp(direction, "n") != 0 && strcmp(direction, "p") != 0))
		return false;
	*backward = direction[0] == 'p';
	for (int i = 0; i < o->position; i++) {
		struct json_object *v = json_object_array_get_idx(array, (size_t)i + 1);
		const char *s = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) != strlen(s) ||
		    !utf8_is_valid(s, strlen(s)) || !fits(o->keys[i].kind, s) ||
		    ((*values)[i] = arena_strdup(arena, s)) == NULL)
			return false;
	}
	return true;
}

const char *list_cursor(struct arena *arena, const struct list_plan *plan,
                        const struct list_page *page, int i, bool backward)
{
	struct json_object *array = json_object_new_array();
	const char *json;
	char *out = NULL;

	if (array == NULL)
		return NULL;
	json_object_array_add(array, json_object_new_string(backward ? "p" : "n"));
	for (int k = 0; k < plan->key_count; k++)
		json_object_array_add(
		    array,
		    json_object_new_string(i >= 0 ? PQgetvalue(page->rows, list_page_row(page, i),
		                                               plan->key_column + k)
		                                  : plan->position[k]));
	json = json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (json != NULL &&
	    (out = arena_alloc(arena, BASE64URL_ENCODED_SIZE(strlen(json)))) != NULL)
		base64url_encode((const unsigned char *)json, strlen(json), out);
	json_object_put(array);
	return out;
}

/* Every word of the search must match spec->search_word: the words are
 * ANDed, each its own bound parameter. With search_name and search_id
 * declared, several words are spelled so the text index takes them all
 * at once (list.h). False when there are too many. */
static bool append_search_words(struct strbuf *b, struct params *p, struct arena *arena,
                                const struct list_spec *spec, const char *text)
{
	int n[MAX_SEARCH_WORDS], words = 0;
	bool split;

	while (*text != '\0') {
		size_t len;

		text += strspn(text, " \t");
		len = strcspn(text, " \t");
		if (len == 0)
			break;
		if (words == MAX_SEARCH_WORDS)
			return false;
		n[words++] = bind(p, arena_strndup(arena, text, len));
		text += len;
	}
	split = words > 1 && spec->search_name != NULL && spec->search_id != NULL;
	if (split)
		strbuf_append(b, "(");
	for (int i = 0; i < words; i++) {
		strbuf_append(b, i > 0 ? " AND (" : "(");
		strbuf_append_param(b, split ? spec->search_name : spec->search_word, n[i]);
		strbuf_append(b, ")");
	}
	if (!split)
		return true;
	strbuf_append(b, ") OR ((");
	for (int i = 0; i < words; i++) {
		strbuf_append(b, i > 0 ? " AND (" : "(");
		strbuf_append_param(b, spec->search_word, n[i]);
		strbuf_append(b, ")");
	}
	strbuf_append(b, ") AND (");
	for (int i = 0; i < words; i++) {
		strbuf_append(b, i > 0 ? " OR (" : "(");
		strbuf_append_param(b, spec->search_id, n[i]);
		strbuf_append(b, ")");
	}
	strbuf_append(b, "))");
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
                                bool with_search, struct params *p, bool *searching,
                                struct json_object **errors)
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
	if (with_search && spec->search_word != NULL) {
		const char *text = param(source, "search");

		/* Surrounding blanks never belong to an identifier or a name. */
		if (text != NULL)
			text = validate_trim(arena, text);
		if (text != NULL && strlen(text) > MAX_SEARCH_TEXT) {
			validate_add_error(errors, "search",
			                   "Ensure this value has at most 200 characters.");
		} else if (text != NULL && *text != '\0') {
			strbuf_append(&b, any ? " AND ((" : " WHERE ((");
			if (!append_search_words(&b, p, arena, spec, text))
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

/* Letters and digits only (any non-ASCII byte counts as a letter). */
static bool is_plain_word(const char *text)
{
	for (; *text != '\0'; text++)
		if (!isalnum((unsigned char)*text) && (unsigned char)*text < 0x80)
			return false;
	return true;
}

/* The search word a word index answers (list.h), or NULL: one word, and
 * nothing else narrowing the list. Its words start with a one- or
 * two-letter prefix as quickly as with a longer one; a short word with
 * punctuation (several lexemes: "o'b") keeps the ordering-index walk. */
static const char *indexed_search_word(struct arena *arena, const struct list_spec *spec,
                                       list_param_fn param, const void *source, size_t extra_count)
{
	const char *text = param(source, "search");

	if (spec->word_index == NULL || spec->search_word == NULL || spec->search_id == NULL ||
	    extra_count > 0 || text == NULL)
		return NULL;
	for (const struct list_filter *f = spec->filters; f != NULL && f->param.name != NULL; f++)
		if (param(source, f->param.name) != NULL)
			return NULL;
	text = validate_trim(arena, text);
	if (text == NULL || strlen(text) > MAX_SEARCH_TEXT || text[strcspn(text, " \t")] != '\0' ||
	    (shortest_word(text) < 3 && !is_plain_word(text)))
		return NULL;
	return text;
}

/* What a search word matches that the word index does not hold: the rows
 * of spec->from meeting spec->where and search_word when the index has no
 * word for it, or search_id, or the whole text the phone condition. */
static void append_unindexed(struct strbuf *b, const struct list_spec *spec, const char *where,
                             int word, int text)
{
	strbuf_append(b, where);
	strbuf_append(b, *where != '\0' ? " AND ((" : " WHERE ((");
	strbuf_append_param(b, spec->word_index->word, word);
	strbuf_append(b, " IS NULL AND (");
	strbuf_append_param(b, spec->search_word, word);
	strbuf_append(b, ")) OR (");
	strbuf_append_param(b, spec->search_id, word);
	strbuf_append(b, ")");
	if (text > 0) {
		strbuf_append(b, " OR (");
		strbuf_append_param(b, spec->search, text);
		strbuf_append(b, ")");
	}
	strbuf_append(b, ")");
}

/* " WHERE word ^@ <the index's word>". */
static void append_prefix(struct strbuf *b, const struct list_word_index *index, int word)
{
	strbuf_append(b, " WHERE word ^@ ");
	strbuf_append_param(b, index->word, word);
}

/* A one-word search through the word index. The words the search word
 * starts are found by skipping through the index (one descent each), each
 * word's first rows in the page's order come from its own B-tree range
 * (limit + offset of them suffice: a row ahead of another in the whole
 * order is ahead of it in every word's list too), and the union of those
 * and of what the index does not hold is ordered and cut to the page. */
static void append_word_search(struct strbuf *b, struct arena *arena, struct params *p,
                               const struct list_spec *spec, const char *where, const char *text,
                               const struct list_plan *out, const struct order *o,
                               const struct list_limits *limits, int limit, int offset)
{
	const struct list_word_index *index = spec->word_index;
	const char *table = index->table, *id = spec->tiebreak;
	int word = bind(p, text);
	int whole = spec->search != NULL ? bind(p, text) : 0;
	int reach =
	    bind(p, arena_printf(arena, "%ld",
	                         out->page_size + 1 +
	                             (out->is_cursor ? 0 : (out->page - 1) * out->page_size)));
	struct order renamed = *o;
	long sample = 2 * (limits->count_cap + 1);

	strbuf_printf(b, "WITH RECURSIVE matched(word) AS (SELECT min(word) FROM %s", table);
	append_prefix(b, index, word);
	strbuf_printf(b, " UNION ALL SELECT (SELECT min(word) FROM %s", table);
	append_prefix(b, index, word);
	strbuf_append(b, " AND word > matched.word) FROM matched WHERE matched.word IS NOT NULL), "
	                 "hits AS MATERIALIZED (SELECT m.*");
	strbuf_printf(b, " FROM matched CROSS JOIN LATERAL (SELECT %s", id);
	for (int i = 0; i < o->count - 1; i++)
		strbuf_printf(b, ", %s AS k%d", o->keys[i].sql, i + 1);
	strbuf_printf(b, " FROM %s WHERE word = matched.word", table);
	if (out->position != NULL) {
		strbuf_append(b, " AND ");
		append_keyset(b, p, o, out->position, out->is_backward);
	}
	strbuf_printf(b, "%s LIMIT $%d) AS m UNION SELECT %s", order_by(arena, o, out->is_backward),
	              reach, id);
	for (int i = 0; i < o->count - 1; i++)
		strbuf_printf(b, ", %s", o->keys[i].sql);
	strbuf_printf(b, " FROM %s", spec->from);
	append_unindexed(b, spec, where, word, whole); /* where holds the keyset */
	strbuf_printf(b, "), page AS (SELECT %s FROM hits", id);
	for (int i = 0; i < o->count - 1; i++)
		renamed.keys[i].sql = arena_printf(arena, "k%d", i + 1);
	strbuf_append(b, order_by(arena, &renamed, out->is_backward));
	strbuf_printf(b, " LIMIT $%d", limit);
	if (offset > 0)
		strbuf_printf(b, " OFFSET $%d", offset);
	strbuf_printf(b, ") SELECT %s", columns_select(spec->columns));
	append_key_columns(b, o);
	if (!out->is_cursor) {
		/* Distinct rows (a row may match by two words) among the first
		 * rows of the range and what the index does not hold: past the
		 * cap, or all of them, that is the answer; else (many rows matching
		 * twice) every match is counted. */
		strbuf_printf(
		    b,
		    ", (SELECT least(CASE WHEN c.n > %ld OR c.by_word < %ld THEN c.n ELSE "
		    "(SELECT count(*) FROM (SELECT %s FROM %s",
		    limits->count_cap, sample, id, table);
		append_prefix(b, index, word);
		strbuf_printf(b, " UNION SELECT %s FROM %s", id, spec->from);
		append_unindexed(b, spec, where, word, whole);
		strbuf_printf(
		    b,
		    ") AS a) END, %ld) FROM (SELECT count(DISTINCT %s) AS n, count(*) FILTER "
		    "(WHERE by_word) AS by_word FROM ((SELECT %s, true AS by_word FROM %s",
		    limits->count_cap + 1, id, id, table);
		append_prefix(b, index, word);
		strbuf_printf(b, " LIMIT %ld) UNION ALL (SELECT %s, false FROM %s", sample, id,
		              spec->from);
		append_unindexed(b, spec, where, word, whole);
		strbuf_printf(b, " LIMIT %ld)) AS r) AS c)", sample);
	}
	strbuf_printf(b, " FROM %s WHERE %s IN (SELECT %s FROM page)%s", spec->from, id, id,
	              order_by(arena, o, out->is_backward));
}

/* The count: a maintained counter when nothing narrows the list, else at
 * most count_cap + 1 rows counted (past the cap the answer says so). */
static void append_count(struct strbuf *b, const struct list_spec *spec, const char *where,
                         bool narrowed, long cap, struct list_plan *out)
{
	out->count_cap = 0;
	if (!narrowed && spec->unfiltered_count != NULL) {
		strbuf_printf(b, ", (%s)", spec->unfiltered_count);
		return;
	}
	out->count_cap = cap;
	strbuf_printf(b, ", (SELECT count(*) FROM (SELECT FROM %s%s LIMIT %ld) AS counted)",
	              spec->from, where, cap + 1);
}

enum list_problem list_plan(struct arena *arena, const struct list_spec *spec,
                            const struct list_limits *limits, list_param_fn param,
                            const void *source, const struct list_condition *extra,
                            size_t extra_count, struct list_plan *out, struct json_object **errors)
{
	struct params p = {.arena = arena};
	struct strbuf b, keyed;
	struct order o;
	const char *where, *order, *columns = columns_select(spec->columns);
	const char *cursor = param(source, "cursor");
	const char *bad_order = NULL;
	const char *word = indexed_search_word(arena, spec, param, source, extra_count);
	bool searching = false, narrowed;
	int limit, offset = 0;

	*errors = NULL;
	memset(out, 0, sizeof(*out));
	out->is_cursor = cursor != NULL;
	out->max_offset = limits->max_offset;
	if (!read_paging(param, source, !out->is_cursor, &out->page, &out->page_size))
		return LIST_BAD_PAGE;
	if (out->page - 1 > limits->max_offset / out->page_size)
		validate_add_error(
		    errors, "page",
		    arena_printf(arena,
		                 "Page %ld starts past row %ld, the deepest a ?page= may go; walk "
		                 "further with ?cursor= (start with an empty ?cursor= and follow "
		                 "\"next\").",
		                 out->page, limits->max_offset));
	where = where_clause(arena, spec, param, source, extra, extra_count, word == NULL, &p,
	                     &searching, errors);
	narrowed = p.count > 0; /* every filter, search and extra condition binds */
	if (!order_keys(arena, spec, param(source, "ordering"), &o, &bad_order)) {
		if (bad_order == NULL)
			return LIST_NOMEM;
		validate_add_error(
		    errors, "ordering",
		    arena_printf(arena, "Unknown ordering field: '%.64s'.", bad_order));
	} else if (cursor != NULL && *cursor != '\0' &&
	           !read_cursor(arena, cursor, &o, &out->is_backward, &out->position)) {
		validate_add_error(errors, "cursor", "Invalid cursor.");
	}
	if (*errors != NULL)
		return LIST_INVALID;
	if (where == NULL || columns == NULL)
		return LIST_NOMEM;
	if (out->position != NULL) {
		strbuf_init(&keyed, arena);
		strbuf_append(&keyed, where);
		strbuf_append(&keyed, *where != '\0' ? " AND " : " WHERE ");
		append_keyset(&keyed, &p, &o, out->position, out->is_backward);
		where = strbuf_text(&keyed);
	}
	order = order_by(arena, &o, out->is_backward);
	if (where == NULL || order == NULL)
		return LIST_NOMEM;
	limit = bind(&p, arena_printf(arena, "%ld", out->page_size + 1));
	if (!out->is_cursor)
		offset = bind(&p, arena_printf(arena, "%ld", (out->page - 1) * out->page_size));
	out->key_column = 0;
	while (spec->columns[out->key_column].name != NULL)
		out->key_column++;
	out->key_count = o.position;

	strbuf_init(&b, arena);
	if (word != NULL) {
		/* The count is the word search's own (out->count_cap: capped). */
		if (!out->is_cursor)
			out->count_cap = limits->count_cap;
		append_word_search(&b, arena, &p, spec, where, word, out, &o, limits, limit,
		                   offset);
	} else if (searching) {
		/* A selective text search: find the matches once through the GIN
		 * index, keeping only the sort keys, then count them (up to the
		 * cap), take the page and fetch just its rows. The planner cannot
		 * judge how many rows a prefix matches, so left to itself it walks
		 * the ordering index filtering row by row - for a rare prefix, the
		 * whole index. */
		strbuf_printf(&b, "WITH hits AS MATERIALIZED (SELECT %s", spec->tiebreak);
		for (int i = 0; i < o.count - 1; i++)
			strbuf_printf(&b, ", %s AS k%d", o.keys[i].sql, i + 1);
		strbuf_printf(&b, " FROM %s%s), page AS (SELECT %s FROM hits", spec->from, where,
		              spec->tiebreak);
		{
			/* The page's order over the CTE's columns. */
			struct order renamed = o;

			for (int i = 0; i < o.count - 1; i++)
				renamed.keys[i].sql = arena_printf(arena, "k%d", i + 1);
			strbuf_append(&b, order_by(arena, &renamed, out->is_backward));
		}
		strbuf_printf(&b, " LIMIT $%d", limit);
		if (offset > 0)
			strbuf_printf(&b, " OFFSET $%d", offset);
		strbuf_printf(&b, ") SELECT %s", columns);
		append_key_columns(&b, &o);
		if (!out->is_cursor) {
			out->count_cap = limits->count_cap;
			strbuf_printf(
			    &b, ", (SELECT count(*) FROM (SELECT FROM hits LIMIT %ld) AS counted)",
			    limits->count_cap + 1);
		}
		strbuf_printf(&b, " FROM %s WHERE %s IN (SELECT %s FROM page)%s", spec->from,
		              spec->tiebreak, spec->tiebreak, order);
	} else if (!out->is_cursor && out->page > 1) {
		/* A deeper offset page: skip the rows in the ordering index alone
		 * (an index-only scan where the index covers the order) and fetch
		 * only the page's rows. */
		strbuf_printf(&b, "SELECT %s", columns);
		append_key_columns(&b, &o);
		append_count(&b, spec, where, narrowed, limits->count_cap, out);
		strbuf_printf(&b,
		              " FROM %s WHERE %s IN (SELECT %s FROM %s%s%s LIMIT $%d OFFSET $%d)%s",
		              spec->from, spec->tiebreak, spec->tiebreak, spec->from, where, order,
		              limit, offset, order);
	} else {
		/* The count is an uncorrelated scalar subquery (an InitPlan, run
		 * once with its own plan), not a window over the page query, which
		 * would materialise every matching row. */
		strbuf_printf(&b, "SELECT %s", columns);
		append_key_columns(&b, &o);
		if (!out->is_cursor)
			append_count(&b, spec, where, narrowed, limits->count_cap, out);
		strbuf_printf(&b, " FROM %s%s%s LIMIT $%d", spec->from, where, order, limit);
		if (!out->is_cursor)
			strbuf_printf(&b, " OFFSET $%d", offset);
	}
	out->sql = strbuf_text(&b);
	out->params = p.values;
	out->param_count = p.count;
	return out->sql == NULL || p.failed ? LIST_NOMEM : LIST_OK;
}

int list_page_row(const struct list_page *page, int i)
{
	return page->first + i * page->step;
}

enum hms_err list_fetch(struct db *db, struct arena *arena, const struct list_plan *plan,
                        struct list_page *page)
{
	PGresult *rows;
	enum hms_err err =
	    db_exec_sql(db, arena, plan->sql, plan->param_count, plan->params, &rows);
	int n;

	memset(page, 0, sizeof(*page));
	if (err != HMS_OK)
		return err;
	page->rows = rows;
	n = PQntuples(page->rows);
	page->has_more = n > plan->page_size;
	page->count_shown = page->has_more ? (int)plan->page_size : n;
	page->step = plan->is_backward ? -1 : 1;
	page->first = plan->is_backward ? page->count_shown - 1 : 0;
	page->count_is_exact = true;
	if (!plan->is_cursor && n > 0) {
		page->count = atoll(PQgetvalue(page->rows, 0, PQnfields(page->rows) - 1));
		if (plan->count_cap > 0 && page->count > plan->count_cap) {
			page->count = plan->count_cap;
			page->count_is_exact = false;
		}
	}
	return HMS_OK;
}
