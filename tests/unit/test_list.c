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

static struct arena *arena;
static struct list_plan plan;
static struct json_object *errors;
static const char *query[32]; /* name, value, name, value, ..., NULL */

static void setup(void)
{
	arena = arena_new(64 * 1024, 0);
	memset(&plan, 0, sizeof(plan));
	memset(query, 0, sizeof(query));
	errors = NULL;
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
	return list_plan(arena, &spec, lookup, query, extra, extra_count, &plan, &errors);
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
	cr_assert_str_eq(plan.sql, SELECT_LIST
	                 ", (SELECT n FROM thing_counts) FROM things "
	                 "WHERE (NOT deleted) ORDER BY name ASC, id LIMIT $1 OFFSET $2");
	assert_params(2, "20", "0");
	cr_assert_eq(plan.page, 1);
	cr_assert_eq(plan.page_size, 20);
}

Test(list_plan, filters_bind_validated_values_in_declaration_order)
{
	cr_assert_eq(plan_for(NULL, 0, "owner", "7", "color", "green", "active", "True", "since",
	                      "2025-01-02", NULL),
	             LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST
	                 ", (SELECT count(*) FROM things WHERE (NOT deleted) AND "
	                 "(color = $1) AND (owner_id = $2::bigint) AND (active = "
	                 "$3::boolean) AND (at >= $4::timestamptz)) FROM things WHERE "
	                 "(NOT deleted) AND (color = $1) AND (owner_id = $2::bigint) AND "
	                 "(active = $3::boolean) AND (at >= $4::timestamptz) ORDER BY "
	                 "name ASC, id LIMIT $5 OFFSET $6");
	assert_params(6, "green", "7", "true", "2025-01-02T00:00:00Z", "20", "0");
}

Test(list_plan, a_handler_condition_comes_first)
{
	struct list_condition own = {"owner_id = $?::bigint", "42"};

	cr_assert_eq(plan_for(&own, 1, "tag", " x ", NULL), LIST_OK);
	cr_assert(strstr(plan.sql, "WHERE (NOT deleted) AND (owner_id = $1::bigint) AND (tag = "
	                           "$2)") != NULL,
	          "%s", plan.sql);
	/* A text filter is bound as given. */
	assert_params(4, "42", " x ", "20", "0");
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
	cr_assert_str_eq(
	    plan.sql, "WITH hits AS MATERIALIZED (SELECT id, lower(name), born FROM things WHERE "
	              "(NOT deleted) AND (((words @@ q($1)) AND (words @@ q($2))) OR (phone = "
	              "$3))), page AS (SELECT id FROM hits ORDER BY name ASC, id LIMIT $4 OFFSET "
	              "$5) " SELECT_LIST ", (SELECT count(*) FROM hits) FROM things WHERE id IN "
	              "(SELECT id FROM page) ORDER BY name ASC, id");
	assert_params(5, "ann", "kin", "ann  kin", "20", "0");
}

Test(list_plan, short_words_walk_the_ordering_instead)
{
	cr_assert_eq(plan_for(NULL, 0, "search", "an", NULL), LIST_OK);
	cr_assert(strncmp(plan.sql, SELECT_LIST ", (SELECT count(*) FROM things WHERE",
	                  strlen(SELECT_LIST) + 36) == 0,
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
	assert_params(2, "7", "14");
	cr_assert_eq(plan_for(NULL, 0, "page_size", "1000", NULL), LIST_OK);
	assert_params(2, "100", "0");
	/* A bad size is the default, a bad page is 404. */
	cr_assert_eq(plan_for(NULL, 0, "page_size", "-3", NULL), LIST_OK);
	assert_params(2, "20", "0");
	cr_assert_eq(plan_for(NULL, 0, "page", "0", NULL), LIST_BAD_PAGE);
	cr_assert_eq(plan_for(NULL, 0, "page", "x", NULL), LIST_BAD_PAGE);
	cr_assert_eq(plan_for(NULL, 0, "page", "+2", NULL), LIST_BAD_PAGE);
	cr_assert_eq(plan_for(NULL, 0, "page", "10000001", NULL), LIST_BAD_PAGE);
}

Test(list_plan, no_where_clause_without_conditions)
{
	struct list_spec open = spec;

	open.where = NULL;
	open.unfiltered_count = NULL;
	cr_assert_eq(list_plan(arena, &open, lookup, query, NULL, 0, &plan, &errors), LIST_OK);
	cr_assert_str_eq(plan.sql, SELECT_LIST ", (SELECT count(*) FROM things) FROM things ORDER "
	                                       "BY name ASC, id LIMIT $1 OFFSET $2");
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
