/*
 * test_list.c - step 1 of every list (src/db/list.c): the SELECT that
 * list_plan() builds from a declaration and the client's parameters, and
 * the errors it answers instead. No database: the SQL text and its bound
 * parameters are the contract.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/columns.h"
#include "hms/list.h"

static const char *const colors[] = {"red", "green", NULL};

static const struct column columns[] = {
    {"id", "id", COL_INT},  {"name", "name", COL_TEXT},         {"born", "born", COL_DATE},
    {"at", "at", COL_TIME}, {"version", "version", COL_HIDDEN}, {NULL},
};

static const struct list_filter filters[] = {
    {{"color", FIELD_CHOICE, .choices = colors}, "color = $?"},
    {{"owner", FIELD_ID}, "owner_id = $?::bigint"},
    {{"active", FIELD_BOOL}, "active = $?::boolean"},
    {{"born", FIELD_DATE}, "born = $?::date"},
    {{"since", FIELD_DATETIME, .accepts_date = true}, "at >= $?::timestamptz"},
    {{"tag", FIELD_STRING, LIST_TEXT_FILTER}, "tag = $?"},
    {{NULL}},
};

static const struct list_ordering orderings[] = {
    {"name", "lower(name)"},
    {"born", "born"},
    {NULL, NULL},
};

static const struct list_spec spec = {
    .columns = columns,
    .from = "things",
    .where = "NOT deleted",
    .filters = filters,
    .orderings = orderings,
    .search_word = "words @@ q($?)",
    .search = "phone = $?",
    .default_order = "name ASC",
    .unfiltered_count = "SELECT n FROM thing_counts",
    .tiebreak = "id",
};

#define SELECT_LIST                                                                                \
	"SELECT id, name, to_char(born, 'YYYY-MM-DD'), "                                           \
	"to_char((at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), version"
/* The row's position in the default order (name, then the tiebreak). */
#define KEYS ", name, id"

static const struct list_limits limits = {.count_cap = 10000, .max_offset = 10000};

/* The same list with a word index (list.h), as patients declare one. */
static const struct list_word_index words = {
    .table = "thing_words",
    .word = "w($?)",
};

static struct list_spec indexed;

static struct arena *arena;
static struct list_plan plan;
static const struct list_spec *planned = &spec;
static struct json_object *errors;
static const char *query[32]; /* name, value, name, value, ..., NULL */

static void setup(void)
{
	arena = arena_new(64 * 1024, 0);
	memset(&plan, 0, sizeof(plan));
	memset(query, 0, sizeof(query));
	errors = NULL;
	planned = &spec;
	indexed = spec;
	indexed.word_index = &words;
	indexed.search_name = "words @@ q($?)";
	indexed.search_id = "code = upper($?)";
}

static void teardown(void)
{
	json_object_put(errors);
	arena_free(arena);
}

static const char *lookup(const void *source, const char *name)
{
	const char *const *q = source;

	for (size_t i = 0; q[i] != NULL; i += 2)
		if (strcmp(q[i], name) == 0)
			return q[i + 1];
	return NULL;
}

/* Plans spec for the given name/value pairs (NULL-terminated). */
static enum list_problem plan_for(const struct list_condition *extra, size_t extra_count, ...)
{
	va_list ap;
	size_t n = 0;
	const char *s;

	va_start(ap, extra_count);
	while ((s = va_arg(ap, const char *)) != NULL && n < 30)
		query[n++] = s;
	va_end(ap);
	query[n] = NULL;
	json_object_put(errors); /* of the previous plan in the same test */
	errors = NULL;
	return list_plan(arena, planned, &limits, lookup, query, extra, extra_count, &plan,
	                 &errors);
}

static void assert_params(int count, ...)
{
	va_list ap;

	cr_assert_eq(plan.param_count, count, "%d parameters, expected %d", plan.param_count,
	             count);
	va_start(ap, count);
	for (int i = 0; i < count; i++) {
		const char *want = va_arg(ap, const char *);

		cr_assert_str_eq(plan.params[i], want, "parameter $%d", i + 1);
	}
	va_end(ap);
}

static const char *error_of(const char *field)
{
	struct json_object *list;

	cr_assert(errors != NULL && json_object_object_get_ex(errors, field, &list),
	          "an error on %s: %s", field, json_object_to_json_string(errors));
	return json_object_get_string(json_object_array_get_idx(list, 0));
}

TestSuite(list_plan, .init = setup, .fini = teardown);

Test(list_plan, unfiltered_first_page_uses_the_counter)
{
	cr_assert_eq(plan_for(NULL, 0, NULL), LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS
	                 ", (SELECT n FROM thing_counts) FROM things "
	                 "WHERE (NOT deleted) ORDER BY name ASC, id LIMIT $1 OFFSET $2");
	/* One row more than the page: whether there is a next one. */
	assert_params(2, "21", "0");
	cr_assert_eq(plan.count_cap, 0, "a maintained counter is exact");
	cr_assert_eq(plan.key_column, 5);
	cr_assert_eq(plan.key_count, 2);
	cr_assert_not(plan.is_cursor);
	cr_assert_eq(plan.page, 1);
	cr_assert_eq(plan.page_size, 20);
}

Test(list_plan, filters_bind_validated_values_in_declaration_order)
{
	cr_assert_eq(plan_for(NULL, 0, "owner", "7", "color", "green", "active", "True", "since",
	                      "2025-01-02", NULL),
	             LIST_OK);
	/* The count stops at the cap + 1 rows. */
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS
	                 ", (SELECT count(*) FROM (SELECT FROM things WHERE (NOT deleted) AND "
	                 "(color = $1) AND (owner_id = $2::bigint) AND (active = "
	                 "$3::boolean) AND (at >= $4::timestamptz) LIMIT 10001) AS counted) "
	                 "FROM things WHERE "
	                 "(NOT deleted) AND (color = $1) AND (owner_id = $2::bigint) AND "
	                 "(active = $3::boolean) AND (at >= $4::timestamptz) ORDER BY "
	                 "name ASC, id LIMIT $5 OFFSET $6");
	assert_params(6, "green", "7", "true", "2025-01-02T00:00:00Z", "21", "0");
	cr_assert_eq(plan.count_cap, 10000);
}

Test(list_plan, a_handler_condition_comes_first)
{
	struct list_condition own = {"owner_id = $?::bigint", "42"};

	cr_assert_eq(plan_for(&own, 1, "tag", " x ", NULL), LIST_OK);
	cr_assert(strstr(plan.sql, "WHERE (NOT deleted) AND (owner_id = $1::bigint) AND (tag = "
	                           "$2)") != NULL,
	          "%s", plan.sql);
	/* A text filter is bound as given. */
	assert_params(4, "42", " x ", "21", "0");
}

Test(list_plan, invalid_filters_are_all_reported_and_no_sql_is_built)
{
	cr_assert_eq(plan_for(NULL, 0, "owner", "0", "color", "pink", "active", "yes", "born",
	                      "2023-02-29", "since", "tomorrow", "ordering", "-secret", NULL),
	             LIST_INVALID);
	cr_assert_str_eq(error_of("owner"), "Invalid pk - object does not exist.");
	cr_assert_str_eq(error_of("color"), "Select a valid choice.");
	cr_assert_str_eq(error_of("active"), "Must be a valid boolean.");
	cr_assert(strstr(error_of("born"), "Date has wrong format") != NULL);
	cr_assert(strstr(error_of("since"), "Datetime has wrong format") != NULL);
	cr_assert_str_eq(error_of("ordering"), "Unknown ordering field: 'secret'.");
	cr_assert_eq(json_object_object_length(errors), 6);
}

Test(list_plan, ids_beyond_64_bits_are_a_field_error)
{
	cr_assert_eq(plan_for(NULL, 0, "owner", "99999999999999999999", NULL), LIST_INVALID);
	cr_assert_str_eq(error_of("owner"), "Invalid pk - object does not exist.");
}

Test(list_plan, ordering_names_map_to_declared_expressions_only)
{
	cr_assert_eq(plan_for(NULL, 0, "ordering", "-born,name", NULL), LIST_OK);
	cr_assert(strstr(plan.sql, " ORDER BY born DESC, lower(name) ASC, id LIMIT") != NULL, "%s",
	          plan.sql);
	cr_assert_eq(plan_for(NULL, 0, "ordering", "name;DROP TABLE things", NULL), LIST_INVALID);
	cr_assert_eq(plan_for(NULL, 0, "ordering", ",", NULL), LIST_INVALID);
	cr_assert_eq(plan_for(NULL, 0, "ordering", "name,born,name,born,name", NULL), LIST_INVALID);
}

Test(list_plan, every_search_word_is_its_own_parameter)
{
	cr_assert_eq(plan_for(NULL, 0, "search", "  ann  kin ", NULL), LIST_OK);
	/* Three-letter words: the matches are gathered once through the index. */
	cr_assert_str_eq(plan.sql,
	                 "WITH hits AS MATERIALIZED (SELECT id, name AS k1 FROM things WHERE "
	                 "(NOT deleted) AND (((words @@ q($1)) AND (words @@ q($2))) OR (phone = "
	                 "$3))), page AS (SELECT id FROM hits ORDER BY k1 ASC, id LIMIT $4 OFFSET "
	                 "$5) " SELECT_LIST KEYS ", (SELECT count(*) FROM (SELECT FROM hits LIMIT "
	                 "10001) AS counted) FROM things WHERE id IN "
	                 "(SELECT id FROM page) ORDER BY name ASC, id");
	assert_params(5, "ann", "kin", "ann  kin", "21", "0");
}

Test(list_plan, short_words_walk_the_ordering_instead)
{
	cr_assert_eq(plan_for(NULL, 0, "search", "an", NULL), LIST_OK);
	cr_assert(strncmp(plan.sql, SELECT_LIST KEYS ", (SELECT count(*) FROM (SELECT FROM things",
	                  strlen(SELECT_LIST KEYS) + 42) == 0,
	          "%s", plan.sql);
}

Test(list_plan, blank_search_means_no_search)
{
	cr_assert_eq(plan_for(NULL, 0, "search", " \t ", NULL), LIST_OK);
	cr_assert(strstr(plan.sql, "thing_counts") != NULL, "%s", plan.sql);
}

Test(list_plan, search_limits)
{
	char long_text[260];

	cr_assert_eq(plan_for(NULL, 0, "search", "a b c d e f g h i", NULL), LIST_INVALID);
	cr_assert_str_eq(error_of("search"), "Use at most 8 words.");
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	cr_assert_eq(plan_for(NULL, 0, "search", long_text, NULL), LIST_INVALID);
	cr_assert_str_eq(error_of("search"), "Ensure this value has at most 200 characters.");
}

Test(list_plan, paging_as_drf_reads_it)
{
	cr_assert_eq(plan_for(NULL, 0, "page", "3", "page_size", "7", NULL), LIST_OK);
	assert_params(2, "8", "14");
	cr_assert_eq(plan_for(NULL, 0, "page_size", "1000", NULL), LIST_OK);
	assert_params(2, "101", "0");
	/* A bad size is the default, a bad page is 404. */
	cr_assert_eq(plan_for(NULL, 0, "page_size", "-3", NULL), LIST_OK);
	assert_params(2, "21", "0");
	cr_assert_eq(plan_for(NULL, 0, "page", "0", NULL), LIST_BAD_PAGE);
	cr_assert_eq(plan_for(NULL, 0, "page", "x", NULL), LIST_BAD_PAGE);
	cr_assert_eq(plan_for(NULL, 0, "page", "+2", NULL), LIST_BAD_PAGE);
	cr_assert_eq(plan_for(NULL, 0, "page", "99999999999999999999", NULL), LIST_BAD_PAGE);
}

Test(list_plan, no_where_clause_without_conditions)
{
	struct list_spec open = spec;

	open.where = NULL;
	open.unfiltered_count = NULL;
	cr_assert_eq(list_plan(arena, &open, &limits, lookup, query, NULL, 0, &plan, &errors),
	             LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS
	                 ", (SELECT count(*) FROM (SELECT FROM things LIMIT 10001) AS counted) "
	                 "FROM things ORDER BY name ASC, id LIMIT $1 OFFSET $2");
}

Test(list_plan, many_conditions_grow_the_parameters)
{
	struct list_condition extra[40];

	for (size_t i = 0; i < 40; i++) {
		extra[i].sql = "x <> $?";
		extra[i].value = arena_printf(arena, "%zu", i);
	}
	cr_assert_eq(plan_for(extra, 40, NULL), LIST_OK);
	cr_assert_eq(plan.param_count, 42);
	cr_assert_str_eq(plan.params[39], "39");
	cr_assert(strstr(plan.sql, "(x <> $40) ORDER BY") != NULL, "%s", plan.sql);
}

/* --- offset limits and deeper pages ------------------------------------------ */

Test(list_plan, a_page_past_the_offset_cap_names_the_cursor)
{
	/* Page 501 of 20 starts at row 10000: still allowed; 502 is not. */
	cr_assert_eq(plan_for(NULL, 0, "page", "501", NULL), LIST_OK);
	cr_assert_eq(plan_for(NULL, 0, "page", "502", NULL), LIST_INVALID);
	cr_assert(strstr(error_of("page"), "?cursor=") != NULL, "%s", error_of("page"));
	cr_assert_eq(plan_for(NULL, 0, "page", "101", "page_size", "100", NULL), LIST_OK);
	cr_assert_eq(plan_for(NULL, 0, "page", "102", "page_size", "100", NULL), LIST_INVALID);
	cr_assert_eq(plan_for(NULL, 0, "page", "10000001", NULL), LIST_INVALID);
	/* With a cursor, page means nothing. */
	cr_assert_eq(plan_for(NULL, 0, "page", "10000001", "cursor", "", NULL), LIST_OK);
}

Test(list_plan, a_deeper_page_skips_rows_in_the_index_alone)
{
	cr_assert_eq(plan_for(NULL, 0, "page", "3", NULL), LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS ", (SELECT n FROM thing_counts) FROM things "
	                                            "WHERE id IN (SELECT id FROM things WHERE (NOT "
	                                            "deleted) ORDER BY name ASC, id LIMIT $1 "
	                                            "OFFSET $2) ORDER BY name ASC, id");
	assert_params(2, "21", "40");
}

/* --- cursors ------------------------------------------------------------------- */

/* base64url of text, as a client would send it. */
static const char *encode(const char *text)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t len = strlen(text);
	char *out = arena_alloc(arena, len * 2 + 4);
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)(unsigned char)text[i] << 16;

		if (i + 1 < len)
			v |= (unsigned)(unsigned char)text[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)text[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = alphabet[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
	return out;
}

Test(list_plan, an_empty_cursor_starts_a_walk_without_a_count)
{
	cr_assert_eq(plan_for(NULL, 0, "cursor", "", NULL), LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS
	                 " FROM things WHERE (NOT deleted) ORDER BY name ASC, id LIMIT $1");
	assert_params(1, "21");
	cr_assert(plan.is_cursor);
	cr_assert_null(plan.position);
}

Test(list_plan, a_cursor_continues_with_a_row_comparison)
{
	cr_assert_eq(
	    plan_for(NULL, 0, "cursor", encode("[\"n\",\"Kintu\",\"42\"]"), "color", "red", NULL),
	    LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS " FROM things WHERE (NOT deleted) AND (color = "
	                                            "$1) AND ((name, id) > ($2::text, $3::bigint)) "
	                                            "ORDER BY name ASC, id LIMIT $4");
	assert_params(4, "red", "Kintu", "42", "21");
	cr_assert_not(plan.is_backward);
}

Test(list_plan, a_previous_cursor_reads_backwards)
{
	cr_assert_eq(plan_for(NULL, 0, "cursor", encode("[\"p\",\"Kintu\",\"42\"]"), NULL),
	             LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST KEYS " FROM things WHERE (NOT deleted) AND ((name, "
	                                            "id) < ($1::text, $2::bigint)) ORDER BY name "
	                                            "DESC, id DESC LIMIT $3");
	cr_assert(plan.is_backward);
}

Test(list_plan, mixed_directions_spell_the_comparison_out)
{
	cr_assert_eq(plan_for(NULL, 0, "ordering", "-born", "cursor",
	                      encode("[\"n\",\"2020-02-29\",\"7\"]"), NULL),
	             LIST_OK);
	cr_assert_str_eq(plan.sql,
	                 SELECT_LIST ", to_char(born, 'YYYY-MM-DD'), id FROM things WHERE (NOT "
	                             "deleted) AND (born <= $1::date AND (born < $1::date OR (born "
	                             "= $1::date AND id > $2::bigint))) ORDER BY born DESC, id "
	                             "LIMIT $3");
	assert_params(3, "2020-02-29", "7", "21");
}

Test(list_plan, a_unique_key_ends_the_position)
{
	struct list_spec by_id = spec;

	by_id.default_order = "id DESC";
	cr_assert_eq(list_plan(arena, &by_id, &limits, lookup,
	                       (const char *[]){"cursor", encode("[\"n\",\"99\"]"), NULL}, NULL, 0,
	                       &plan, &errors),
	             LIST_OK);
	cr_assert(strstr(plan.sql, "AND (id < $1::bigint) ORDER BY id DESC, id LIMIT $2") != NULL,
	          "%s", plan.sql);
	cr_assert_eq(plan.key_count, 1);
}

Test(list_plan, times_in_a_cursor_keep_microseconds)
{
	static const struct list_ordering by_at[] = {{"at", "at"}, {NULL, NULL}};
	struct list_spec timed = spec;

	timed.orderings = by_at;
	cr_assert_eq(list_plan(arena, &timed, &limits, lookup,
	                       (const char *[]){
	                           "ordering", "at", "cursor",
	                           encode("[\"n\",\"2025-12-06T12:00:00.123456Z\",\"3\"]"), NULL},
	                       NULL, 0, &plan, &errors),
	             LIST_OK);
	cr_assert(strstr(plan.sql, ", to_char((at) AT TIME ZONE 'UTC', "
	                           "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), id FROM") != NULL,
	          "%s", plan.sql);
	cr_assert(strstr(plan.sql, "((at, id) > ($1::timestamptz, $2::bigint))") != NULL, "%s",
	          plan.sql);
}

Test(list_plan, a_search_takes_a_cursor_inside_the_matches)
{
	cr_assert_eq(
	    plan_for(NULL, 0, "search", "kin", "cursor", encode("[\"n\",\"K\",\"1\"]"), NULL),
	    LIST_OK);
	cr_assert(strstr(plan.sql,
	                 "OR (phone = $2)) AND ((name, id) > ($3::text, $4::bigint))), "
	                 "page AS (SELECT id FROM hits ORDER BY k1 ASC, id LIMIT $5)") != NULL,
	          "%s", plan.sql);
	cr_assert(strstr(plan.sql, "count(*)") == NULL, "%s", plan.sql);
}

Test(list_plan, every_malformed_or_tampered_cursor_is_invalid)
{
	const char *bad[] = {
	    "abc",                                    /* not base64url of anything */
	    "WyJuIiwiS2ludHUiLCI0MiJd=",              /* padding */
	    "!!!!",                                   /* not the alphabet */
	    encode("{\"n\":1}"),                      /* not an array */
	    encode("[\"n\",\"Kintu\"]"),              /* too few values */
	    encode("[\"n\",\"Kintu\",\"42\",\"x\"]"), /* too many */
	    encode("[\"x\",\"Kintu\",\"42\"]"),       /* no direction */
	    encode("[\"n\",\"Kintu\",\"4 2\"]"),      /* the id is not a number */
	    encode("[\"n\",\"Kintu\",\"1e3\"]"),
	    encode("[\"n\",\"Kintu\",\"99999999999999999999\"]"),
	    encode("[\"n\",\"Kintu\",42]"),                  /* not a string */
	    encode("[\"n\",null,\"42\"]"),                   /* null */
	    encode("[\"n\",\"Kin\\u0000tu\",\"42\"]"),       /* a NUL inside */
	    encode("[\"n\",\"Kin\xff\",\"42\"]"),            /* not UTF-8 */
	    encode("[\"n\",\"Kintu\",\"42\"] x"),            /* trailing text */
	    encode("[\"n\",\"Kintu\",\"42\"'); DROP TABLE"), /* not JSON */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(plan_for(NULL, 0, "cursor", bad[i], NULL), LIST_INVALID, "cursor %zu",
		             i);
		cr_assert_str_eq(error_of("cursor"), "Invalid cursor.");
	}
	/* Dates and times are checked as dates and times. */
	cr_assert_eq(plan_for(NULL, 0, "ordering", "born", "cursor",
	                      encode("[\"n\",\"2023-02-29\",\"1\"]"), NULL),
	             LIST_INVALID);
	cr_assert_eq(plan_for(NULL, 0, "ordering", "born", "cursor",
	                      encode("[\"n\",\"Kintu\",\"1\"]"), NULL),
	             LIST_INVALID);
	/* A cursor of one ordering does not fit another. */
	cr_assert_eq(plan_for(NULL, 0, "ordering", "born,name", "cursor",
	                      encode("[\"n\",\"2020-01-01\",\"1\"]"), NULL),
	             LIST_INVALID);
}

/* --- a one-word search through the word index ------------------------------ */

Test(list_plan, one_word_reads_each_matching_word_in_order)
{
	planned = &indexed;
	cr_assert_eq(plan_for(NULL, 0, "search", " kin ", NULL), LIST_OK);
	cr_assert_str_eq(
	    plan.sql,
	    /* the words the search word starts, one index descent each */
	    "WITH RECURSIVE matched(word) AS (SELECT min(word) FROM thing_words WHERE word ^@ "
	    "w($3) UNION ALL SELECT (SELECT min(word) FROM thing_words WHERE word ^@ w($3) AND "
	    "word > matched.word) FROM matched WHERE matched.word IS NOT NULL), "
	    /* each word's first rows in the page's order, and what the index lacks */
	    "hits AS MATERIALIZED (SELECT m.* FROM matched CROSS JOIN LATERAL (SELECT id, name AS "
	    "k1 FROM thing_words WHERE word = matched.word ORDER BY name ASC, id LIMIT $5) AS m "
	    "UNION SELECT id, name FROM things WHERE (NOT deleted) AND ((w($3) IS NULL AND "
	    "(words @@ q($3))) OR (code = upper($3)) OR (phone = $4))), "
	    "page AS (SELECT id FROM hits ORDER BY k1 ASC, id LIMIT $1 OFFSET $2) " SELECT_LIST KEYS
	    /* the count: distinct rows among the range's first rows, else all */
	    ", (SELECT least(CASE WHEN c.n > 10000 OR c.by_word < 20002 THEN c.n ELSE (SELECT "
	    "count(*) FROM (SELECT id FROM thing_words WHERE word ^@ w($3) UNION SELECT id FROM "
	    "things WHERE (NOT deleted) AND ((w($3) IS NULL AND (words @@ q($3))) OR (code = "
	    "upper($3)) OR (phone = $4))) AS a) END, 10001) FROM (SELECT count(DISTINCT id) AS n, "
	    "count(*) FILTER (WHERE by_word) AS by_word FROM ((SELECT id, true AS by_word FROM "
	    "thing_words WHERE word ^@ w($3) LIMIT 20002) UNION ALL (SELECT id, false FROM things "
	    "WHERE (NOT deleted) AND ((w($3) IS NULL AND (words @@ q($3))) OR (code = upper($3)) "
	    "OR (phone = $4)) LIMIT 20002)) AS r) AS c) "
	    "FROM things WHERE id IN (SELECT id FROM page) ORDER BY name ASC, id");
	assert_params(5, "21", "0", "kin", "kin", "21");
	cr_assert_eq(plan.count_cap, 10000);
}

Test(list_plan, a_word_search_page_reads_each_word_as_deep_as_the_page)
{
	planned = &indexed;
	cr_assert_eq(plan_for(NULL, 0, "search", "kin", "page", "3", "page_size", "10", "ordering",
	                      "-born", NULL),
	             LIST_OK);
	cr_assert(strstr(plan.sql, "(SELECT id, born AS k1 FROM thing_words WHERE word = "
	                           "matched.word ORDER BY born DESC, id LIMIT $5) AS m") != NULL,
	          "%s", plan.sql);
	cr_assert(strstr(plan.sql, "ORDER BY k1 DESC, id LIMIT $1 OFFSET $2)") != NULL, "%s",
	          plan.sql);
	assert_params(5, "11", "20", "kin", "kin", "31");
}

Test(list_plan, a_word_search_cursor_narrows_both_sides)
{
	planned = &indexed;
	cr_assert_eq(
	    plan_for(NULL, 0, "search", "kin", "cursor", encode("[\"p\",\"K\",\"7\"]"), NULL),
	    LIST_OK);
	/* Backward: each word read backward before the position. */
	cr_assert(strstr(plan.sql,
	                 "FROM thing_words WHERE word = matched.word AND ((name, id) < "
	                 "($7::text, $8::bigint)) ORDER BY name DESC, id DESC LIMIT $6)") != NULL,
	          "%s", plan.sql);
	cr_assert(strstr(plan.sql, "WHERE (NOT deleted) AND ((name, id) < ($1::text, $2::bigint)) "
	                           "AND ((w($4) IS NULL") != NULL,
	          "%s", plan.sql);
	cr_assert(strstr(plan.sql, "count(") == NULL, "%s", plan.sql);
	assert_params(8, "K", "7", "21", "kin", "kin", "21", "K", "7");
}

Test(list_plan, the_word_index_answers_only_one_word_alone)
{
	const struct list_condition mine = {"owner_id = $?::bigint", "7"};
	const char *gin[][4] = {
	    {"search", "ann kin", NULL, NULL}, /* two words: the text index, both at once */
	    {"search", "k.i", NULL, NULL},     /* short words of punctuation: the ordering index */
	    {"search", "kin", "color", "red"}, /* filtered */
	};

	planned = &indexed;
	for (size_t i = 0; i < sizeof(gin) / sizeof(gin[0]); i++) {
		cr_assert_eq(plan_for(NULL, 0, gin[i][0], gin[i][1], gin[i][2], gin[i][3], NULL),
		             LIST_OK);
		cr_assert(strstr(plan.sql, "thing_words") == NULL, "%s", plan.sql);
	}
	/* A short plain word: its prefix is a range like any other. */
	cr_assert_eq(plan_for(NULL, 0, "search", "k", NULL), LIST_OK);
	cr_assert(strstr(plan.sql, "thing_words") != NULL, "%s", plan.sql);
	cr_assert_eq(plan_for(&mine, 1, "search", "kin", NULL), LIST_OK);
	cr_assert(strstr(plan.sql, "thing_words") == NULL, "%s", plan.sql);
	/* Without the declaration, the same search keeps the text index. */
	planned = &spec;
	cr_assert_eq(plan_for(NULL, 0, "search", "kin", NULL), LIST_OK);
	cr_assert(strncmp(plan.sql, "WITH hits AS MATERIALIZED", 25) == 0, "%s", plan.sql);
}

Test(list_plan, several_words_are_all_names_or_some_identifier)
{
	planned = &indexed;
	cr_assert_eq(plan_for(NULL, 0, "search", "ann kin", NULL), LIST_OK);
	/* One text-index scan for every word as a name; the identifiers whole. */
	cr_assert(strstr(plan.sql,
	                 "WHERE (NOT deleted) AND ((((words @@ q($1)) AND (words @@ "
	                 "q($2))) OR (((words @@ q($1)) AND (words @@ q($2))) AND ((code = "
	                 "upper($1)) OR (code = upper($2))))) OR (phone = $3))") != NULL,
	          "%s", plan.sql);
	assert_params(5, "ann", "kin", "ann kin", "21", "0");
}
