/*
 * list.h - the one list/filter/order/paginate builder behind every list
 * endpoint.
 *
 * A resource declares, as data, the columns and FROM clause, its filters
 * (query parameter, typed value, SQL condition), the names `ordering` may
 * use and a default order; list_respond() turns the request's page,
 * page_size, filters and ordering into one parameterised query (with the
 * total from a window count) and writes the DRF page
 * {"count", "next", "previous", "results"}. User text only ever travels as
 * a bound parameter; SQL fragments come only from these declarations.
 *
 * In SQL fragments, "$?" stands for the fragment's one parameter (it may
 * appear several times).
 */
#ifndef HMS_LIST_H
#define HMS_LIST_H

#include <libpq-fe.h>
#include <stddef.h>

struct http_request;
struct http_response;
struct json_object;

#define LIST_DEFAULT_PAGE_SIZE 20
#define LIST_MAX_PAGE_SIZE     100
#define LIST_MAX_CONDITIONS    24

enum list_value {
	LIST_INT,      /* a positive 64-bit id or count */
	LIST_TEXT,     /* any text up to 200 bytes */
	LIST_BOOL,     /* true/false (also 1/0) */
	LIST_DATE,     /* YYYY-MM-DD */
	LIST_DATETIME, /* ISO 8601 with offset, or a date (midnight UTC) */
	LIST_CHOICE,   /* one of choices */
};

struct list_filter {
	const char *param; /* query parameter name; NULL ends the table */
	enum list_value type;
	const char *sql; /* a condition with one "$?", e.g. "actor = $?" */
	const char *const *choices;
};

struct list_ordering {
	const char *name; /* what ?ordering= says; NULL ends the table */
	const char *sql;  /* the expression ordered by */
};

struct list_spec {
	const char *columns; /* "id, at, actor" - read by row() */
	const char *from;    /* "audit_log" or a join */
	const char *where;   /* a fixed condition, or NULL */
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
	struct json_object *(*row)(const PGresult *res, int row);
};

/* A condition the handler adds (an own-only rule, a path id). */
struct list_condition {
	const char *sql; /* with one "$?" */
	const char *value;
};

/* Answers the request with one page of spec, narrowed by extra[0..count). */
void list_respond(struct http_request *req, struct http_response *res, const struct list_spec *spec,
                  const struct list_condition *extra, size_t extra_count);

#endif
