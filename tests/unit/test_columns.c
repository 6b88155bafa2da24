/*
 * test_columns.c - column tables (src/db/columns.c): the SELECT list that
 * comes from them, and the growing string the SQL is built in
 * (src/util/strbuf.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/columns.h"
#include "hms/strbuf.h"

static const struct column row[] = {
    {"id", "p.id", COL_INT},
    {"name", "name", COL_TEXT},
    {"active", "is_active", COL_BOOL},
    {"born", "date_of_birth", COL_DATE},
    {"at", "created_at", COL_TIME},
    {"tags", "array_to_json(tags)", COL_JSON},
    {"version", "version", COL_HIDDEN},
    {NULL},
};

Test(columns, select_list_renders_each_kind)
{
	cr_assert_str_eq(columns_select(row),
	                 "p.id, name, is_active, to_char(date_of_birth, 'YYYY-MM-DD'), "
	                 "to_char((created_at) AT TIME ZONE 'UTC', "
	                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), (array_to_json(tags))::text, version");
}

Test(columns, select_list_is_built_once)
{
	cr_assert_eq(columns_select(row), columns_select(row));
}

Test(columns, index_by_name)
{
	cr_assert_eq(columns_index(row, "id"), 0);
	cr_assert_eq(columns_index(row, "version"), 6);
	cr_assert_eq(columns_index(row, "missing"), -1);
}

Test(strbuf, grows_and_replaces_parameter_marks)
{
	struct arena *arena = arena_new(4096, 0);
	struct strbuf b;

	strbuf_init(&b, arena);
	cr_assert_str_eq(strbuf_text(&b), "");
	for (int i = 0; i < 500; i++)
		strbuf_append(&b, "ab");
	cr_assert_eq(strlen(strbuf_text(&b)), 1000);
	strbuf_init(&b, arena);
	strbuf_append_param(&b, "x = $? OR y = lower($?)", 12);
	strbuf_printf(&b, " LIMIT %d", 5);
	cr_assert_str_eq(strbuf_text(&b), "x = $12 OR y = lower($12) LIMIT 5");
	strbuf_init(&b, arena);
	strbuf_append_url_encoded(&b, "a b&c=d/é~");
	cr_assert_str_eq(strbuf_text(&b), "a%20b%26c%3Dd%2F%C3%A9~");
	arena_free(arena);
}

Test(strbuf, a_failed_allocation_fails_the_whole_text)
{
	struct arena *arena = arena_new(256, 1024);
	struct strbuf b;

	strbuf_init(&b, arena);
	for (int i = 0; i < 100; i++)
		strbuf_append(&b, "0123456789abcdef");
	cr_assert_null(strbuf_text(&b));
	arena_free(arena);
}
