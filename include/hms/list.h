/*
 * list.h - the one list/filter/order/paginate builder behind every list
 * endpoint, in three steps:
 *
 *   list_plan()   a pure function: the client's parameters and the
 *                 resource's declaration -> one parameterised SELECT (or
 *                 field errors); unit-tested without a database;
 *   list_fetch()  runs it: the page's rows and the total;
 *   the api layer renders the DRF page {"count", "count_is_exact", "next",
 *   "previous", "results"}, or with ?cursor= the cursor page {"next",
 *   "previous", "results"} (src/api/crud.c).
 *
 * Two ways to page. ?page=N (offset) answers a count, exact up to the
 * configured cap and then capped, saying which; it reaches at most
 * list_max_offset rows deep. ?cursor= (keyset, DRF's CursorPagination
 * shape) walks any depth at the cost of one index range scan: the cursor
 * is base64url of a small JSON array, the direction ("n" next, "p"
 * previous) and the sort values of the row it continues from (the
 * ordering's keys, then the tiebreak). It is opaque to clients; what it
 * holds is checked against the ordering's key types before it is bound as
 * parameters, and a cursor that does not fit is 400 {"cursor": ["Invalid
 * cursor."]}. An empty ?cursor= starts a walk at the beginning.
 *
 * A resource declares, as data, its columns (columns.h) and FROM clause,
 * its filters (a query parameter declared like a body field, validated by
 * the one validator, and an SQL condition), the names `ordering` may use
 * and a default order. User text only ever travels as a bound parameter;
 * SQL fragments come only from these declarations.
 *
 * In SQL fragments, "$?" stands for the fragment's one parameter (it may
 * appear several times).
 */
#ifndef HMS_LIST_H
#define HMS_LIST_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "hms/err.h"
#include "hms/validate.h"

struct arena;
struct column;
struct db;
struct json_object;

#define LIST_DEFAULT_PAGE_SIZE 20
#define LIST_MAX_PAGE_SIZE     100
#define LIST_MAX_SORT_KEYS     5 /* four ?ordering= fields and the tiebreak */

/* The options of a text filter: any text up to 200 characters, as given. */
#define LIST_TEXT_FILTER .allow_blank = true, .keep_whitespace = true, .max_len = 200

struct list_filter {
	struct field param; /* the query parameter: name and kind; param.name NULL ends */
	const char *sql;    /* a condition with one "$?", e.g. "actor = $?::bigint" */
};

/* A cursor holds the sort values of a row; their type, which a cursor's
 * values are checked against, is the kind of the column (columns.h) with
 * the same SQL expression (int, date, time), else text. */
struct list_ordering {
	const char *name; /* what ?ordering= says; NULL ends the table */
	const char *sql;  /* the expression ordered by */
};

/* A table that answers a one-word ?search= from B-tree ranges already in the
 * page's order (schema/009_patient_name_words.sql): one row per word of each
 * row spec->where keeps, in a column "word" (collated "C", so a prefix is a
 * range), with the tiebreak and every ordering's column under the names
 * spec->orderings use, and a B-tree per ordering on (word, its keys). For
 * each word the search word starts, the page reads that word's first rows
 * in order; the count reads at most a few cap's worth of the range. */
struct list_word_index {
	const char *table; /* "patient_name_words" */
	/* The word of the table a search word ("$?") stands for: NULL when none
	 * does (then search_word, over spec->from, answers the search),
	 * e.g. "hms_name_word($?)". What else a word matches is search_id. */
	const char *word;
};

struct list_spec {
	const struct column *columns; /* the row (columns.h) */
	const char *from;             /* "audit_log" or a join */
	const char *where;            /* a fixed condition, or NULL */
	const struct list_filter *filters;
	const struct list_ordering *orderings;
	/* ?search=: every word of the user's text must meet search_word (its
	 * "$?" is the word), e.g. "search_vector @@ hms_prefix_query($?) OR
	 * mrn = upper($?)"; or the whole text may meet search (for values with
	 * spaces, such as phone numbers), which may be NULL. search_word NULL:
	 * the resource has no search. */
	const char *search_word;
	const char *search;
	/* search_word as search_name OR search_id (each with one "$?", the
	 * word), or both NULL: the names by prefix and the identifiers that
	 * match whole. Several words then match as "every word a name" (one
	 * text-index scan for all the words) or "some word an identifier and
	 * every word search_word". Required with word_index. */
	const char *search_name;
	const char *search_id;
	/* A one-word search with no filter or extra condition, or NULL. Lists
	 * whose where differs from spec->where's rows (include_deleted) must
	 * drop it. */
	const struct list_word_index *word_index;
	const char *default_order; /* "id DESC", "last_name ASC, first_name ASC" */
	/* A cheap exact count when no filter, search or extra condition
	 * narrows spec->where (a maintained counter), or NULL. */
	const char *unfiltered_count;
	const char *tiebreak; /* a unique column appended to every order: "id" */
	/* Lists of patient data are audited: one row per answer naming this
	 * entity type and the ids returned (audit.h). NULL: not audited. */
	const char *audit_entity;
};

/* A condition the handler adds (an own-only rule, a path id). */
struct list_condition {
	const char *sql; /* with one "$?" */
	const char *value;
};

/* How list_plan reads the client's query parameters: the first value of
 * name, or NULL. */
typedef const char *(*list_param_fn)(const void *source, const char *name);

/* What the configuration allows (list_count_cap, list_max_offset). */
struct list_limits {
	long count_cap;  /* count at most this many rows (then say it is capped) */
	long max_offset; /* ?page= may start at most this many rows in */
};

/* One SELECT of a page: the resource's columns, then key_count sort
 * values (text, a cursor's position), then for an offset page the count.
 * It asks for page_size + 1 rows: the extra one says whether there is
 * more in the direction read. */
struct list_plan {
	const char *sql;
	const char **params;
	int param_count;
	long page, page_size;
	int key_column, key_count;
	bool is_cursor;        /* ?cursor=: no count, links are cursors */
	bool is_backward;      /* a "previous" cursor: the rows come last first */
	const char **position; /* the cursor's values; NULL on a walk's first page */
	/* The count is capped past this (0: it is exact, a maintained counter). */
	long count_cap;
	long max_offset;
};

enum list_problem {
	LIST_OK,
	LIST_INVALID,  /* *errors holds DRF field errors (400): filters,
	                  ordering, search, a bad cursor, a page too deep */
	LIST_BAD_PAGE, /* page is not a page number (404 "Invalid page.") */
	LIST_NOMEM,
};

/* Step 1: the query for one page of spec, narrowed by extra[0..count) and
 * by what the client asked (page or cursor, page_size, filters, search,
 * ordering). */
enum list_problem list_plan(struct arena *arena, const struct list_spec *spec,
                            const struct list_limits *limits, list_param_fn param,
                            const void *source, const struct list_condition *extra,
                            size_t extra_count, struct list_plan *out, struct json_object **errors);

/* A fetched page, in the order the client sees it. */
struct list_page {
	PGresult *rows;
	int first, step; /* row i of the answer is rows[first + i * step] */
	int count_shown; /* at most page_size */
	bool has_more;   /* a row beyond them in the direction read */
	long long count; /* offset pages: the total, or count_cap when capped */
	bool count_is_exact;
};

/* Step 2: runs a plan. */
enum hms_err list_fetch(struct db *db, struct arena *arena, const struct list_plan *plan,
                        struct list_page *page);

/* The row index of the i-th row of the answer. */
int list_page_row(const struct list_page *page, int i);

/* The cursor continuing from answer row i of page (i < 0: from the plan's
 * own position), forward or backward; NULL when out of memory. */
const char *list_cursor(struct arena *arena, const struct list_plan *plan,
                        const struct list_page *page, int i, bool backward);

#endif
