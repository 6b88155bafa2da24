/*
 * migrate.c - applies schema/NNN_name.sql in order, once each.
 *
 * Each file runs in its own transaction together with its row in
 * schema_migrations, so a failing file leaves nothing half-applied. The
 * recorded SHA-256 catches a file edited after it was applied: history is
 * never rewritten silently; a new migration must be written instead.
 */
#include "hms/migrate.h"

#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/sha256.h"

#define MAX_MIGRATIONS      1000
#define MAX_MIGRATION_BYTES (4 * 1024 * 1024)
/* Any constant works; it only has to be the same on every host. */
#define MIGRATE_LOCK_KEY "7291044"

int migrate_name_is_valid(const char *name)
{
	size_t len = strlen(name);
	size_t i;

	if (len < 9 || strcmp(name + len - 4, ".sql") != 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	if (name[3] != '_')
		return 0;
	for (i = 4; i < len - 4; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return 0;
	return 1;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(MAX_MIGRATION_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, MAX_MIGRATION_BYTES + 1, f);
	fclose(f);
	if (n > MAX_MIGRATION_BYTES) {
		free(buf);
		snprintf(err, errlen, "%s is larger than %d bytes", path, MAX_MIGRATION_BYTES);
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		free(buf);
		snprintf(err, errlen, "%s contains a NUL byte", path);
		return NULL;
	}
	*len = n;
	return buf;
}

static int command(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

static int list_files(const char *dir, char ***names, size_t *count, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	char **list;

	if (d == NULL) {
		snprintf(err, errlen, "cannot open schema directory %s: %s", dir, strerror(errno));
		return -1;
	}
	list = calloc(MAX_MIGRATIONS, sizeof(*list));
	if (list == NULL) {
		closedir(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
			continue;
		if (!migrate_name_is_valid(e->d_name)) {
			snprintf(err, errlen,
			         "%s/%s: migration files are named NNN_name.sql (three digits, "
			         "then lowercase letters, digits and _)",
			         dir, e->d_name);
			goto fail;
		}
		if (n == MAX_MIGRATIONS) {
			snprintf(err, errlen, "more than %d migrations", MAX_MIGRATIONS);
			goto fail;
		}
		list[n] = strdup(e->d_name);
		if (list[n] == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		n++;
	}
	closedir(d);
	qsort(list, n, sizeof(*list), compare_names);
	for (size_t i = 1; i < n; i++) {
		if (strncmp(list[i - 1], list[i], 3) == 0) {
			snprintf(err, errlen, "%s and %s have the same number", list[i - 1],
			         list[i]);
			for (size_t k = 0; k < n; k++)
				free(list[k]);
			free(list);
			return -1;
		}
	}
	*names = list;
	*count = n;
	return 0;
fail:
	closedir(d);
	for (size_t k = 0; k < n; k++)
		free(list[k]);
	free(list);
	return -1;
}

/* Applies one file unless it is recorded; checks the checksum when it is. */
static int apply_one(PGconn *conn, const char *dir, const char *name, struct migrate_result *result,
                     char *err, size_t errlen)
{
	char path[4096];
	char version[4] = {name[0], name[1], name[2], '\0'};
	char sum[SHA256_HEX_LEN + 1];
	const char *params[3];
	PGresult *res;
	size_t len;
	char *sql;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = read_file(path, &len, err, errlen);
	if (sql == NULL)
		return -1;
	sha256_hex(sql, len, sum);

	params[0] = version;
	res = PQexecParams(conn, "SELECT checksum, name FROM schema_migrations WHERE version = $1",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		goto out;
	}
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), sum) != 0) {
			snprintf(
			    err, errlen,
			    "%s was changed after it was applied (recorded sha256 %.12s..., "
			    "file now %.12s...). Applied migrations must not be edited: restore "
			    "the file and put the change in a new migration.",
			    name, PQgetvalue(res, 0, 0), sum);
			goto out;
		}
		result->skipped++;
		rc = 0;
		goto out;
	}
	PQclear(res);
	res = NULL;

	if (command(conn, "BEGIN", err, errlen) != 0)
		goto out;
	if (command(conn, sql, err, errlen) != 0) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s failed: %s", name, msg);
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	params[1] = name;
	params[2] = sum;
	res = PQexecParams(conn,
	                   "INSERT INTO schema_migrations (version, name, checksum) "
	                   "VALUES ($1, $2, $3)",
	                   3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	if (command(conn, "COMMIT", err, errlen) != 0)
		goto out;
	result->applied++;
	printf("applied %s\n", name);
	rc = 0;
out:
	PQclear(res);
	free(sql);
	return rc;
}

int migrate_run(PGconn *conn, const char *dir, struct migrate_result *result, char *err,
                size_t errlen)
{
	char **names = NULL;
	size_t count = 0;
	int rc = 0;

	memset(result, 0, sizeof(*result));
	if (list_files(dir, &names, &count, err, errlen) != 0)
		return -1;
	if (command(conn, "SET client_min_messages = warning", err, errlen) != 0 ||
	    command(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) != 0 ||
	    command(conn,
	            "CREATE TABLE IF NOT EXISTS schema_migrations ("
	            " version text PRIMARY KEY,"
	            " name text NOT NULL,"
	            " checksum text NOT NULL,"
	            " applied_at timestamptz NOT NULL DEFAULT now())",
	            err, errlen) != 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = apply_one(conn, dir, names[i], result, err, errlen);
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* The row of schema_migrations recorded for version, or -1. */
static int find_version(const PGresult *res, const char *version)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), version) == 0)
			return i;
	return -1;
}

static void note_first(char *slot, size_t size, const char *name)
{
	if (*slot == '\0')
		snprintf(slot, size, "%s", name);
}

int migrate_status(PGconn *conn, const char *dir, struct migrate_status *status, char *err,
                   size_t errlen)
{
	char **names = NULL;
	size_t count = 0;
	PGresult *res;
	int rc = 0;

	memset(status, 0, sizeof(*status));
	if (list_files(dir, &names, &count, err, errlen) != 0)
		return -1;
	status->files = (int)count;
	res =
	    PQexec(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "42P01") == 0) { /* no table: nothing applied */
			status->pending = (int)count;
			if (count > 0)
				note_first(status->first_pending, sizeof(status->first_pending),
				           names[0]);
		} else {
			snprintf(err, errlen, "cannot read schema_migrations: %.*s",
			         (int)strcspn(PQerrorMessage(conn), "\n"), PQerrorMessage(conn));
			rc = -1;
		}
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		char version[4] = {names[i][0], names[i][1], names[i][2], '\0'};
		char sum[SHA256_HEX_LEN + 1];
		char path[4096];
		int row = find_version(res, version);
		size_t len;
		char *sql;

		if (row < 0) {
			status->pending++;
			note_first(status->first_pending, sizeof(status->first_pending), names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		sql = read_file(path, &len, err, errlen);
		if (sql == NULL) {
			rc = -1;
			goto out;
		}
		sha256_hex(sql, len, sum);
		free(sql);
		if (strcmp(PQgetvalue(res, row, 2), sum) == 0) {
			status->applied++;
		} else {
			status->changed++;
			note_first(status->first_changed, sizeof(status->first_changed), names[i]);
		}
	}
	for (int row = 0; row < PQntuples(res); row++) {
		const char *version = PQgetvalue(res, row, 0);
		bool has_file = false;

		for (size_t i = 0; i < count && !has_file; i++)
			has_file = strncmp(names[i], version, 3) == 0 && strlen(version) == 3;
		if (!has_file) {
			status->unknown++;
			note_first(status->first_unknown, sizeof(status->first_unknown),
			           PQgetvalue(res, row, 1));
		}
	}
out:
	PQclear(res);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}
