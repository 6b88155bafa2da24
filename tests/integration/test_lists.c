/*
 * test_lists.c - the two ways to page a large list, through nginx: offset
 * pages (?page=) whose count says whether it is exact and which stop at
 * list_max_offset rows, and cursor pages (?cursor=, keyset) that walk any
 * depth. The rows are made with SQL (a few thousand patients in one
 * statement); every one carries a token of its own as its last name, so a
 * search for the token is this test's list alone.
 *
 * The limits are the stack's: list_count_cap and list_max_offset from
 * HMS_LIST_COUNT_CAP / HMS_LIST_MAX_OFFSET when tests/run.sh sets them,
 * else the defaults (1000 and 10000).
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "client.h"
#include "hms/arena.h"
#include "hms/crud.h"
#include "hms/db.h"
#include "hms/err.h"
#include "hms/list.h"
#include "hms/patients.h"

#define MAX_ROWS 20000

static long limit_of(const char *env, long fallback)
{
	const char *v = getenv(env);

	return v != NULL && *v != '\0' ? atol(v) : fallback;
}

/* A search token: letters only, so it is one word of a name. */
static void new_token(char *out, size_t size)
{
	static unsigned counter;
	struct timeval tv;
	unsigned long long n;

	gettimeofday(&tv, NULL);
	n = ((unsigned long long)getpid() * 1000u + ++counter) * 1000000ULL +
	    (unsigned long long)tv.tv_usec;
	cr_assert_geq(size, 16);
	out[0] = 'z';
	out[1] = 'l';
	for (int i = 2; i < 14; i++, n /= 26)
		out[i] = (char)('a' + n % 26);
	out[14] = '\0';
}

/* n patients named <first> <token>: three first names, four birth dates
 * and one created_at (one statement), so every ordering has ties that
 * only the id breaks. */
static void insert_patients(const char *token, int n)
{
	char *sql = client_format(
	    "INSERT INTO patients (first_name, last_name, date_of_birth, gender) "
	    "SELECT (ARRAY['Ann', 'Bob', 'Cy'])[g %% 3 + 1], '%s', DATE '1990-01-01' + g %% 4, "
	    "(ARRAY['female', 'male'])[g %% 2 + 1] FROM generate_series(1, %d) g RETURNING id",
	    token, n);
	char *id = client_sql_value(sql);

	cr_assert_not_null(id);
	free(id);
	free(sql);
}

/* The path of an absolute next/previous link. */
static const char *path_of(const char *url)
{
	const char *p = strstr(url, "/api/");

	cr_assert_not_null(p, "%s", url);
	return p;
}

static const char *link_of(const struct client_response *res, const char *name)
{
	struct json_object *v = json_object_object_get(res->json, name);

	return v != NULL ? json_object_get_string(v) : NULL;
}

/* Appends the ids of a page's results to ids[*n]. */
static void collect(const struct client_response *res, long long *ids, size_t *n)
{
	struct json_object *results = client_list_results(res);

	for (size_t i = 0; i < json_object_array_length(results); i++) {
		cr_assert_lt(*n, MAX_ROWS);
		ids[(*n)++] = json_object_get_int64(
		    json_object_object_get(json_object_array_get_idx(results, i), "id"));
	}
}

/* Every row of /api/patients/?query by offset pages, in order. */
static size_t walk_pages(const char *query, long long *ids)
{
	size_t n = 0;

	for (int page = 1;; page++) {
		struct client_response res;
		char *path = client_format("/api/patients/?%s&page=%d", query, page);
		const char *next;

		client_get_auth(path, client_admin_token(), &res);
		free(path);
		cr_assert(json_object_object_get_ex(res.json, "count", NULL), "%s", res.body);
		collect(&res, ids, &n);
		next = link_of(&res, "next");
		if (next != NULL)
			cr_assert(strstr(next, "page=") != NULL, "%s", next);
		client_response_free(&res);
		if (next == NULL)
			return n;
	}
}

/* Every row by cursor pages: forward from an empty cursor following next,
 * then back from the last page following previous. Both must give the
 * same rows; returns how many. */
static size_t walk_cursors(const char *query, long long *ids, int page_size)
{
	static long long back[MAX_ROWS];
	struct client_response res;
	char *path = client_format("/api/patients/?%s&cursor=", query);
	char *previous = NULL;
	size_t n = 0, b, last_page = 0;

	for (;;) {
		const char *next;
		size_t before = n;

		client_get_auth(path, client_admin_token(), &res);
		cr_assert_not(json_object_object_get_ex(res.json, "count", NULL), "%s", res.body);
		collect(&res, ids, &n);
		cr_assert_leq(n - before, (size_t)page_size);
		if (before == 0)
			cr_assert_null(link_of(&res, "previous"), "a walk's first page: %s",
			               res.body);
		next = link_of(&res, "next");
		free(path);
		path = next != NULL ? strdup(path_of(next)) : NULL;
		if (next != NULL) {
			/* The link keeps the other parameters. */
			cr_assert(strstr(next, "page_size=") != NULL, "%s", next);
			cr_assert(strstr(next, "&page=") == NULL, "%s", next);
		}
		free(previous);
		previous = link_of(&res, "previous") != NULL
		               ? strdup(path_of(link_of(&res, "previous")))
		               : NULL;
		last_page = n - before;
		client_response_free(&res);
		if (path == NULL)
			break;
	}
	/* Backwards: each previous page ends where the one after it began. */
	b = n - last_page;
	while (previous != NULL) {
		struct json_object *results;
		size_t count;

		client_get_auth(previous, client_admin_token(), &res);
		results = client_list_results(&res);
		count = json_object_array_length(results);
		cr_assert_geq(b, count, "%s", res.body);
		b -= count;
		for (size_t i = 0; i < count; i++)
			back[b + i] = json_object_get_int64(
			    json_object_object_get(json_object_array_get_idx(results, i), "id"));
		free(previous);
		previous = link_of(&res, "previous") != NULL
		               ? strdup(path_of(link_of(&res, "previous")))
		               : NULL;
		cr_assert(link_of(&res, "next") != NULL, "%s", res.body);
		client_response_free(&res);
	}
	cr_assert_eq(b, 0, "walking back stopped %zu rows short", b);
	for (size_t i = 0; i < n - last_page; i++)
		cr_assert_eq(back[i], ids[i], "row %zu backwards", i);
	return n;
}

Test(lists, cursors_walk_the_same_rows_as_offset_pages_both_ways)
{
	static const char *const orderings[] = {
	    "",
	    "&ordering=-date_of_birth",
	    "&ordering=date_of_birth,-first_name",
	    "&ordering=created_at",
	    "&ordering=-last_name,first_name",
	};
	static long long by_page[MAX_ROWS], by_cursor[MAX_ROWS];
	char token[16];

	new_token(token, sizeof(token));
	insert_patients(token, 45);
	for (size_t o = 0; o < sizeof(orderings) / sizeof(orderings[0]); o++) {
		for (int filtered = 0; filtered < 2; filtered++) {
			char *query = client_format("search=%s&page_size=7%s%s", token,
			                            orderings[o], filtered ? "&gender=female" : "");
			size_t pages = walk_pages(query, by_page);
			size_t cursors = walk_cursors(query, by_cursor, 7);

			cr_assert_eq(pages, filtered ? 22 : 45, "%s", query);
			cr_assert_eq(cursors, pages, "%s", query);
			for (size_t i = 0; i < pages; i++)
				cr_assert_eq(by_cursor[i], by_page[i], "%s: row %zu", query, i);
			free(query);
		}
	}
}

Test(lists, a_tampered_cursor_is_400_never_500)
{
	struct client_response res;
	char token[16], *path, *tampered;
	const char *next;
	static const char *const bad[] = {
	    "abc",
	    "%25%25%25",
	    "WyJuIiwiWCIsIjEiXQ%3D%3D",
	    /* ["n","x","1; DROP TABLE patients"] */
	    "WyJuIiwieCIsIngiLCIxOyBEUk9QIFRBQkxFIHBhdGllbnRzIl0",
	    /* ["n","x","x","99999999999999999999"] */
	    "WyJuIiwieCIsIngiLCI5OTk5OTk5OTk5OTk5OTk5OTk5OSJd",
	};

	new_token(token, sizeof(token));
	insert_patients(token, 5);
	path = client_format("/api/patients/?search=%s&page_size=2&cursor=", token);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	next = link_of(&res, "next");
	cr_assert_not_null(next, "%s", res.body);
	/* One character changed in the middle of a real cursor. */
	tampered = strdup(path_of(next));
	tampered[strlen(tampered) - 5] = tampered[strlen(tampered) - 5] == 'A' ? 'B' : 'A';
	client_response_free(&res);
	client_get_auth(tampered, client_admin_token(), &res);
	client_assert_status(&res, 400);
	cr_assert_str_eq(res.body, "{\"cursor\":[\"Invalid cursor.\"]}");
	client_response_free(&res);
	free(tampered);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = client_format("/api/patients/?search=%s&cursor=%s", token, bad[i]);
		client_get_auth(path, client_admin_token(), &res);
		free(path);
		client_assert_status(&res, 400);
		cr_assert(client_has_field_error(&res, "cursor"), "%s", res.body);
		client_response_free(&res);
	}
	/* A cursor of one ordering (name, name, id) does not fit another
	 * (date of birth, id). */
	path = client_format("/api/patients/?search=%s&page_size=2&cursor=", token);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	path = client_format("%s&ordering=date_of_birth", path_of(link_of(&res, "next")));
	client_response_free(&res);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	client_assert_status(&res, 400);
	cr_assert(client_has_field_error(&res, "cursor"), "%s", res.body);
	client_response_free(&res);
}

Test(lists, counts_past_the_cap_say_so_and_deep_offsets_point_to_the_cursor)
{
	long cap = limit_of("HMS_LIST_COUNT_CAP", 1000);
	long max_offset = limit_of("HMS_LIST_MAX_OFFSET", 10000);
	long rows = (cap > max_offset ? cap : max_offset) + 30;
	long last_page = max_offset / 20 + 1; /* the deepest page of 20 allowed */
	struct client_response res;
	char token[16], *path;
	const char *next;

	new_token(token, sizeof(token));
	insert_patients(token, (int)rows);

	/* Past the cap: the count is the cap and says it is not exact. */
	path = client_format("/api/patients/?search=%s", token);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	client_list_results(&res);
	cr_assert_eq(client_count_of(&res), cap, "%s", res.body);
	cr_assert_not(client_json_flag(res.json, "count_is_exact"), "%s", res.body);
	cr_assert_not_null(link_of(&res, "next"));
	client_response_free(&res);
	/* Under it: exact. */
	path =
	    client_format("/api/patients/?search=%s&date_of_birth=1990-01-02&gender=female", token);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	client_list_results(&res);
	cr_assert(client_json_flag(res.json, "count_is_exact"), "%s", res.body);
	cr_assert_lt(client_count_of(&res), cap);
	client_response_free(&res);
	/* The unfiltered list counts with its maintained counter: exact. */
	client_get_auth("/api/patients/", client_admin_token(), &res);
	client_list_results(&res);
	cr_assert(client_json_flag(res.json, "count_is_exact"), "%s", res.body);
	cr_assert_geq(client_count_of(&res), rows);
	client_response_free(&res);

	/* The deepest offset page is served; its next is a cursor. */
	path = client_format("/api/patients/?search=%s&page=%ld", token, last_page);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 20, "%s", res.body);
	next = link_of(&res, "next");
	cr_assert(next != NULL && strstr(next, "cursor=") != NULL, "%s", res.body);
	path = strdup(path_of(next));
	client_response_free(&res);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	cr_assert_eq(json_object_array_length(client_list_results(&res)),
	             (size_t)(rows - last_page * 20), "%s", res.body);
	cr_assert_null(link_of(&res, "next"), "%s", res.body);
	client_response_free(&res);

	/* One page deeper is a 400 that names the cursor. */
	path = client_format("/api/patients/?search=%s&page=%ld", token, last_page + 1);
	client_get_auth(path, client_admin_token(), &res);
	free(path);
	client_assert_status(&res, 400);
	cr_assert(client_has_field_error(&res, "page"), "%s", res.body);
	cr_assert(strstr(res.body, "?cursor=") != NULL, "%s", res.body);
	client_response_free(&res);
	/* On every list, as deep as the client asks. */
	client_get_auth("/api/audit/?page=99999999", client_admin_token(), &res);
	client_assert_status(&res, 400);
	cr_assert(client_has_field_error(&res, "page"), "%s", res.body);
	client_response_free(&res);
}

Test(lists, every_list_takes_a_cursor)
{
	static const char *const lists[] = {"/api/patients/",  "/api/doctors/",      "/api/users/",
	                                    "/api/resources/", "/api/appointments/", "/api/audit/"};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct client_response res;
		char *path = client_format("%s?cursor=&page_size=2", lists[i]);
		const char *next;

		client_get_auth(path, client_admin_token(), &res);
		free(path);
		client_list_results(&res);
		cr_assert_not(json_object_object_get_ex(res.json, "count", NULL), "%s", res.body);
		next = link_of(&res, "next");
		if (next != NULL) {
			path = strdup(path_of(next));
			client_response_free(&res);
			client_get_auth(path, client_admin_token(), &res);
			free(path);
			client_list_results(&res);
			cr_assert_not_null(link_of(&res, "previous"), "%s: %s", lists[i], res.body);
		}
		client_response_free(&res);
	}
}

/* statement_timeout_ms reaches every session through the connection's
 * startup options: a statement past it is cancelled by PostgreSQL
 * (57014), reported as HMS_ERR_TIMEOUT (a 503 that says so), and the
 * connection serves the next statement. The same db.c code the workers
 * run, against the test stack's database. */
Test(statement_timeout, a_slow_statement_is_cancelled_and_the_session_goes_on)
{
	char *conninfo = client_format("%s dbname=hms", client_env("HMS_TEST_ADMIN_URL"));
	struct db *db = db_new(conninfo);
	struct arena *arena = arena_new(16 * 1024, 0);
	PGresult *res;

	cr_assert_not_null(db);
	db_set_time_zone(db, "Africa/Kampala");
	db_set_statement_timeout(db, 50);
	cr_assert_eq(
	    db_exec_sql(db, arena, "SELECT current_setting('statement_timeout')", 0, NULL, &res),
	    HMS_OK);
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "50ms");
	cr_assert_eq(db_exec_sql(db, arena, "SELECT pg_sleep(2)", 0, NULL, &res), HMS_ERR_TIMEOUT);
	cr_assert_eq(hms_err_status(HMS_ERR_TIMEOUT), 503);
	cr_assert_eq(db_exec_sql(db, arena, "SELECT current_setting('TimeZone')", 0, NULL, &res),
	             HMS_OK);
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "Africa/Kampala");
	arena_free(arena);
	db_free(db);
	free(conninfo);
}

/* --- one-word searches: the word index against the text index ------------- */

/* What the client asks: pages of three; page or cursor NULL when not asked. */
struct word_query {
	const char *search, *ordering, *page, *cursor;
};

static const char *query_value(const void *source, const char *name)
{
	const struct word_query *q = source;

	return strcmp(name, "search") == 0      ? q->search
	       : strcmp(name, "ordering") == 0  ? q->ordering
	       : strcmp(name, "page_size") == 0 ? "3"
	       : strcmp(name, "page") == 0      ? q->page
	       : strcmp(name, "cursor") == 0    ? q->cursor
	                                        : NULL;
}

/* The ids (and, for an offset page, the count) of one page of the patient
 * list planned with spec for query; *next: the cursor continuing it, or
 * NULL. */
static size_t plan_page(struct db *db, struct arena *arena, const struct list_spec *spec,
                        const struct word_query *query, long long *ids, long long *count,
                        const char **next)
{
	const struct list_limits limits = {.count_cap = 4, .max_offset = 10000};
	struct list_plan plan;
	struct list_page page;
	struct json_object *errors = NULL;

	cr_assert_eq(list_plan(arena, spec, &limits, query_value, query, NULL, 0, &plan, &errors),
	             LIST_OK);
	cr_assert_eq(list_fetch(db, arena, &plan, &page), HMS_OK, "%s", plan.sql);
	for (int i = 0; i < page.count_shown; i++)
		ids[i] = atoll(PQgetvalue(page.rows, list_page_row(&page, i), 0));
	*count = plan.is_cursor ? -1 : page.count * (page.count_is_exact ? 1 : -1);
	*next =
	    page.has_more ? list_cursor(arena, &plan, &page, page.count_shown - 1, false) : NULL;
	return (size_t)page.count_shown;
}

/* Every search, ordering and way to page the same through the word index
 * (schema/009) as through the text index (and several words spelled for
 * one text-index scan as word by word): the same rows in the same order,
 * the same count. The names hold the token as a whole word, as a prefix of
 * longer words, accented, hyphenated, twice in one patient (once in each
 * name, or in both parts of one); one such patient is deleted, one renamed
 * out of the matches, one renamed into them. */
Test(lists, a_one_word_search_finds_through_the_word_index_what_the_text_index_finds)
{
	static const char *const orderings[] = {
	    "",
	    "-last_name",
	    "first_name",
	    "-date_of_birth",
	    "created_at",
	    "-created_at",
	    "last_name,-first_name",
	};
	char token[16], upper[16], *sql, *wanted[16];
	char *conninfo = client_format("%s dbname=hms", client_env("HMS_TEST_ADMIN_URL"));
	struct db *db = db_new(conninfo);
	struct list_spec indexed = *patients_resource.list, plain = indexed;
	size_t searches = 0;

	plain.word_index = NULL; /* and several words each as search_word alone */
	plain.search_name = NULL;
	plain.search_id = NULL;
	cr_assert_not_null(indexed.word_index);
	new_token(token, sizeof(token));
	for (size_t i = 0; token[i] != '\0'; i++)
		upper[i] = (char)(token[i] - 'a' + 'A'), upper[i + 1] = '\0';
	sql = client_format(
	    "INSERT INTO patients (first_name, last_name, date_of_birth, gender, contact_email) "
	    "VALUES ('Ann', '%1$s', '1990-01-01', 'female', ''), "
	    "('Bob', '%1$sa', '1990-01-02', 'male', ''), "
	    "('%1$sb', '%1$sa', '1990-01-01', 'male', ''), "          /* twice */
	    "('Élodie %2$sÉ', 'Smith', '1980-05-05', 'female', ''), " /* accented */
	    "('Cy', '%1$sc-%1$sd', '1970-01-01', 'other', ''), "      /* hyphenated */
	    "('Dee', 'O''%1$s', '1990-01-02', 'female', '%1$s@example.org'), "
	    "('Eve', '%1$sa', '1990-01-03', 'female', ''), " /* deleted below */
	    "('Fay', '%1$sz', '1990-01-04', 'female', ''), " /* renamed out below */
	    "('Gil', 'Jones', '1990-01-05', 'male', 'gil.%1$s@example.org'), " /* renamed in */
	    "('Hal', 'Nobody', '1990-01-06', 'male', '') RETURNING id",
	    token, upper);
	free(client_sql_value(sql));
	free(sql);
	sql =
	    client_format("UPDATE patients SET is_deleted = true, deleted_at = now() "
	                  "WHERE first_name = 'Eve' AND last_name = '%1$sa'; "
	                  "UPDATE patients SET last_name = 'Elsewhere' WHERE last_name = '%1$sz'; "
	                  "UPDATE patients SET last_name = '%1$sb' "
	                  "WHERE contact_email = 'gil.%1$s@example.org' RETURNING id",
	                  token);
	free(client_sql_value(sql));
	free(sql);
	wanted[0] = client_format("%s", token);
	wanted[1] = client_format("%sa", token);
	wanted[2] = client_format("%s", upper);
	wanted[3] = client_format("%sé", token);
	wanted[4] = client_format("%sc-%.3s", token, token);
	wanted[5] = client_format("%s@example.org", token);
	wanted[6] = client_format("o'%s", token);
	wanted[7] = client_format("%sz", token);
	wanted[8] = client_format("%sb", token);
	wanted[9] = client_format("%s!", token);
	wanted[10] = client_format("%s ann", token); /* several words */
	wanted[11] = client_format("Élodie %sé", upper);
	wanted[12] = client_format("%s@example.org dee", token); /* an identifier and a name */
	wanted[13] = client_format("%1$s@example.org %1$s", token);
	wanted[14] = NULL;
	for (size_t w = 0; wanted[w] != NULL; w++) {
		for (size_t o = 0; o < sizeof(orderings) / sizeof(orderings[0]); o++) {
			for (int paging = 0; paging < 3; paging++) {
				/* page_size 3: page 1, page 2, and a cursor walk */
				struct word_query query = {wanted[w], orderings[o],
				                           paging == 0   ? "1"
				                           : paging == 1 ? "2"
				                                         : NULL,
				                           paging == 2 ? "" : NULL};
				const char *next_a = NULL, *next_b = NULL;
				char *cursor = NULL;
				int steps = 0;

				do {
					struct arena *arena = arena_new(64 * 1024, 0);
					long long a[3], b[3], count_a, count_b;
					size_t n_a = plan_page(db, arena, &indexed, &query, a,
					                       &count_a, &next_a);
					size_t n_b = plan_page(db, arena, &plain, &query, b,
					                       &count_b, &next_b);

					cr_assert_eq(n_a, n_b, "search=%s ordering=%s paging %d",
					             wanted[w], orderings[o], paging);
					for (size_t i = 0; i < n_a; i++)
						cr_assert_eq(a[i], b[i],
						             "search=%s ordering=%s row %zu",
						             wanted[w], orderings[o], i);
					cr_assert_eq(count_a, count_b, "search=%s ordering=%s",
					             wanted[w], orderings[o]);
					cr_assert_eq(next_a == NULL, next_b == NULL);
					if (next_a != NULL)
						cr_assert_str_eq(next_a, next_b);
					free(cursor);
					cursor = NULL;
					if (paging == 2 && next_a != NULL)
						query.cursor = cursor = client_format("%s", next_a);
					arena_free(arena);
					searches++;
				} while (cursor != NULL && ++steps < 10);
				free(cursor);
			}
		}
	}
	/* What the token finds: all but the deleted, the renamed-out and Hal. */
	{
		struct arena *arena = arena_new(64 * 1024, 0);
		const struct word_query query = {token, NULL, NULL, NULL};
		long long ids[3], count;
		const char *next;

		plan_page(db, arena, &indexed, &query, ids, &count, &next);
		cr_assert_eq(count, -4, "more than the cap: 7 patients match"); /* capped */
		arena_free(arena);
	}
	cr_assert_gt(searches, 200);
	for (size_t w = 0; wanted[w] != NULL; w++)
		free(wanted[w]);
	db_free(db);
	free(conninfo);
}
