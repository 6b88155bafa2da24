/*
 * test_migrate.c - `hmsctl migrate` against the test cluster: order, one
 * transaction per file, idempotence, edited files refused, bad names.
 * Each test works in a database of its own.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static char dbname[64];
static char schema_dir[256];

static PGconn *connect_to(const char *db)
{
	char conninfo[1024];
	PGconn *conn;

	snprintf(conninfo, sizeof(conninfo), "%s dbname=%s", client_env("HMS_TEST_ADMIN_URL"), db);
	conn = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
	return conn;
}

static void sql(PGconn *conn, const char *text)
{
	PGresult *res = PQexec(conn, text);

	cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
	          "%s: %s", text, PQerrorMessage(conn));
	PQclear(res);
}

static long count(const char *query)
{
	PGconn *conn = connect_to(dbname);
	PGresult *res = PQexec(conn, query);
	long n;

	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return n;
}

static void write_migration(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", schema_dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs hmsctl migrate on the test database; returns its exit status. */
static int migrate(char **output)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
	         "HMS_CONFIG= HMS_DATABASE_URL='%s dbname=%s' '%s' migrate --schema-dir '%s' 2>&1",
	         client_env("HMS_TEST_ADMIN_URL"), dbname, client_env("HMS_TEST_HMSCTL_BIN"),
	         schema_dir);
	return client_run(cmd, output);
}

static void setup(void)
{
	char cmd[600];
	PGconn *admin;

	snprintf(dbname, sizeof(dbname), "migtest_%d", (int)getpid());
	snprintf(schema_dir, sizeof(schema_dir), "/tmp/hms-migrate-XXXXXX");
	cr_assert_not_null(mkdtemp(schema_dir));
	admin = connect_to("postgres");
	snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s", dbname);
	sql(admin, cmd);
	snprintf(cmd, sizeof(cmd), "CREATE DATABASE %s", dbname);
	sql(admin, cmd);
	PQfinish(admin);
	write_migration("001_first.sql", "CREATE TABLE first_table (id int PRIMARY KEY);\n");
	write_migration("002_second.sql",
	                "CREATE TABLE second_table (id int REFERENCES first_table);\n");
}

static void teardown(void)
{
	char cmd[600];
	PGconn *admin = connect_to("postgres");

	snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	sql(admin, cmd);
	PQfinish(admin);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", schema_dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(migrate, .init = setup, .fini = teardown);

Test(migrate, applies_in_order_and_records_checksums)
{
	char *out;

	/* 002 references 001's table: it only works in order. */
	cr_assert_eq(migrate(&out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "applied 001_first.sql"), "%s", out);
	free(out);
	cr_assert_eq(count("SELECT count(*) FROM schema_migrations"), 2);
	cr_assert_eq(count("SELECT count(*) FROM schema_migrations WHERE length(checksum) = 64"),
	             2);
	cr_assert_eq(count("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
	                   "('first_table', 'second_table')"),
	             2);
}

Test(migrate, second_run_does_nothing)
{
	char *out;

	cr_assert_eq(migrate(&out), 0, "%s", out);
	free(out);
	cr_assert_eq(migrate(&out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "up to date"), "%s", out);
	cr_assert_null(strstr(out, "applied 0"), "%s", out);
	free(out);
	cr_assert_eq(count("SELECT count(*) FROM schema_migrations"), 2);
}

Test(migrate, failing_file_leaves_nothing_behind)
{
	char *out;

	write_migration("003_broken.sql", "CREATE TABLE third_table (id int);\n"
	                                  "SELECT no_such_column FROM first_table;\n");
	cr_assert_neq(migrate(&out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "003_broken.sql"), "%s", out);
	free(out);
	/* The earlier files stay applied; nothing of 003 does. */
	cr_assert_eq(count("SELECT count(*) FROM schema_migrations"), 2);
	cr_assert_eq(count("SELECT count(*) FROM information_schema.tables WHERE table_name = "
	                   "'third_table'"),
	             0);
}

Test(migrate, edited_applied_file_stops_the_run)
{
	char *out;

	cr_assert_eq(migrate(&out), 0, "%s", out);
	free(out);
	write_migration("001_first.sql", "CREATE TABLE first_table (id bigint PRIMARY KEY);\n");
	write_migration("003_later.sql", "CREATE TABLE later_table (id int);\n");
	cr_assert_neq(migrate(&out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "001_first.sql was changed after it was applied"), "%s",
	                   out);
	free(out);
	/* Nothing after the edited file ran. */
	cr_assert_eq(count("SELECT count(*) FROM schema_migrations"), 2);
}

Test(migrate, badly_named_file_is_refused)
{
	char *out;

	write_migration("3_oops.sql", "SELECT 1;\n");
	cr_assert_neq(migrate(&out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "NNN_name.sql"), "%s", out);
	free(out);
}

Test(migrate, project_schema_is_applied_to_the_stack)
{
	PGconn *conn = connect_to("hms");
	PGresult *res = PQexec(conn, "SELECT version FROM schema_migrations ORDER BY version");

	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	cr_assert_geq(PQntuples(res), 1);
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "001");
	PQclear(res);
	PQfinish(conn);
}
