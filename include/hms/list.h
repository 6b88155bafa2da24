/*
 * list.h - the one list/filter/order/paginate builder behind every list
 * endpoint, in three steps:
 *
 *   list_plan()   a pure function: the client's parameters and the
 *                 resource's declaration -> one parameterised SELECT (or
 *                 field errors); unit-tested without a database;
 *   list_fetch()  runs it: the page's rows and the total;
 *   the api layer renders the DRF page {"count", "next", "previous",
 *   "results"} (src/api/crud.c).
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
#include <stddef.h>

#include "hms/err.h"
#include "hms/validate.h"

struct arena;
struct column;
struct db;
struct json_object;

#define LIST_DEFAULT_PAGE_SIZE 20
#define LIST_MAX_PAGE_SIZE     100
#define LIST_MAX_PAGE          10000000L

/* The options of a text filter: any text up to 200 characters, as given. */
#define LIST_TEXT_FILTER .allow_blank = true, .keep_whitespace = true, .max_len = 200

struct list_filter {
	struct field param; /* the query parameter: name and kind; param.name NULL ends */
	const char *sql;    /* a condition with one "$?", e.g. "actor = $?::bigint" */
};

struct list_ordering {
	const char *name; /* what ?ordering= says; NULL ends the table */
	const char *sql;  /* the expression ordered by */
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
	const char *default_order; /* "id DESC" */
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

/* One SELECT of a page: its rows' columns, then the total as the last one. */
struct list_plan {
	const char *sql;
	const char **params;
	int param_count;
	long page, page_size;
};

enum list_problem {
	LIST_OK,
	LIST_INVALID,  /* *errors holds DRF field errors (400) */
	LIST_BAD_PAGE, /* page is not a page number (404 "Invalid page.") */
	LIST_NOMEM,
};

/* Step 1: the query for one page of spec, narrowed by extra[0..count) and
 * by what the client asked (page, page_size, filters, search, ordering). */
enum list_problem list_plan(struct arena *arena, const struct list_spec *spec, list_param_fn param,
                            const void *source, const struct list_condition *extra,
                            size_t extra_count, struct list_plan *out, struct json_object **errors);

/* Step 2: runs a plan. *rows has the page; *count the total (0 when the
 * page is empty). */
enum hms_err list_fetch(struct db *db, struct arena *arena, const struct list_plan *plan,
                        PGresult **rows, long long *count);

#endif
