/*
 * attachments_check.c - hmsctl attachments-check: the attachment directory
 * against the attachments table (see include/hms/attachments_check.h).
 *
 * It sits in the database layer beside audit_verify.c, migrate.c and
 * seed.c: like them an operator's pass over one table through a bare
 * PGconn, with no request, session or permission involved; its two
 * statements read attachments and nothing else. What a name means (a
 * stored file, a temporary one) is file_store.c's knowledge, asked here.
 *
 * Memory stays bounded by the findings, not by the directory or the table:
 * the directory is read once, the old stored names looked up in batches
 * of BATCH (a text[] parameter of validated names), and the rows streamed
 * one at a time. A file is written before its row commits and the API
 * never removes one, so the two passes need no common snapshot.
 */
#include "hms/attachments_check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hms/file_store.h"

#define BATCH 500

/* Which of $1 (stored names, validated) have a row. */
static const char existing_sql[] =
    "SELECT storage_name FROM attachments WHERE storage_name = ANY($1::text[])";

/* Every row's file, in id order. */
static const char rows_sql[] = "SELECT id::text, storage_name FROM attachments ORDER BY id";

typedef char stored_name[FILE_STORE_NAME_LEN + 1];
typedef char temp_name[FILE_STORE_TEMP_MAX];

struct check {
	const struct attachments_check_options *opt;
	PGconn *conn;
	int dir_fd;
	char *err;
	size_t errlen;

	/* The batch being looked up: old regular files, and stored-looking
	 * entries that are not regular files (reported by the rows' pass when
	 * a row names them, else unexpected). */
	stored_name batch[BATCH];
	bool batch_regular[BATCH];
	size_t batch_len;

	stored_name *orphans;
	size_t orphan_count, orphan_cap;
	temp_name *temps;
	size_t temp_count, temp_cap;

	long long stored, young, young_temps, unexpected, rows, missing;
	long long removed_orphans, removed_temps, failed_removals;
};

static void *grow(void *items, size_t *cap, size_t size)
{
	size_t next = *cap == 0 ? 64 : *cap * 2;
	void *p = realloc(items, next * size);

	if (p != NULL)
		*cap = next;
	return p;
}

static bool is_old(const struct stat *st, time_t cutoff)
{
	return st->st_mtime <= cutoff;
}

/* "{a,b,...}": the names are validated hex, so nothing needs quoting. */
static char *text_array(const stored_name *names, size_t n)
{
	char *out = malloc(n * (FILE_STORE_NAME_LEN + 1) + 3);
	size_t len = 0;

	if (out == NULL)
		return NULL;
	out[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			out[len++] = ',';
		memcpy(out + len, names[i], FILE_STORE_NAME_LEN);
		len += FILE_STORE_NAME_LEN;
	}
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

/* has_row[i]: whether names[i] has a row. 0, or -1 with c->err. */
static int lookup(struct check *c, const stored_name *names, size_t n, bool *has_row)
{
	const char *params[1];
	PGresult *res;
	char *array;

	memset(has_row, 0, n * sizeof(*has_row));
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!file_store_is_name(names[i])) { /* never reached: checked when read */
			snprintf(c->err, c->errlen, "internal error: an unchecked name");
			return -1;
		}
	array = text_array(names, n);
	if (array == NULL) {
		snprintf(c->err, c->errlen, "out of memory");
		return -1;
	}
	params[0] = array;
	res = PQexecParams(c->conn, existing_sql, 1, NULL, params, NULL, NULL, 0);
	free(array);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(c->err, c->errlen, "reading attachments: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	for (int r = 0; r < PQntuples(res); r++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(PQgetvalue(res, r, 0), names[i]) == 0)
				has_row[i] = true;
	PQclear(res);
	return 0;
}

static int flush_batch(struct check *c)
{
	bool has_row[BATCH];

	if (lookup(c, c->batch, c->batch_len, has_row) != 0)
		return -1;
	for (size_t i = 0; i < c->batch_len; i++) {
		if (has_row[i])
			continue;
		if (!c->batch_regular[i]) {
			c->unexpected++;
			continue;
		}
		if (c->orphan_count == c->orphan_cap) {
			stored_name *p = grow(c->orphans, &c->orphan_cap, sizeof(*p));

			if (p == NULL) {
				snprintf(c->err, c->errlen, "out of memory");
				return -1;
			}
			c->orphans = p;
		}
		memcpy(c->orphans[c->orphan_count++], c->batch[i], sizeof(stored_name));
		fprintf(c->opt->out, "orphan %s: a stored file with no row\n", c->batch[i]);
	}
	c->batch_len = 0;
	return 0;
}

static int add_temp(struct check *c, const char *name)
{
	if (c->temp_count == c->temp_cap) {
		temp_name *p = grow(c->temps, &c->temp_cap, sizeof(*p));

		if (p == NULL) {
			snprintf(c->err, c->errlen, "out of memory");
			return -1;
		}
		c->temps = p;
	}
	/* The caller checked that it fits. */
	memcpy(c->temps[c->temp_count++], name, strlen(name) + 1);
	fprintf(c->opt->out, "temporary %s: an upload's temporary file, left behind\n", name);
	return 0;
}

/* The directory, once: stored files looked up in batches, temporary files
 * by age, the rest counted. */
static int scan_directory(struct check *c, DIR *d)
{
	time_t cutoff = time(NULL) - c->opt->min_age;
	struct dirent *e;

	for (;;) {
		enum file_store_kind kind;
		struct stat st;

		errno = 0;
		e = readdir(d);
		if (e == NULL)
			break;
		kind = file_store_classify(e->d_name);
		if (kind == FILE_STORE_IGNORED)
			continue;
		if (kind == FILE_STORE_UNEXPECTED) {
			c->unexpected++;
			continue;
		}
		if (fstatat(c->dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone since readdir: an upload finished or was swept */
		if (kind == FILE_STORE_TEMPORARY) {
			if (!S_ISREG(st.st_mode))
				c->unexpected++;
			else if (!is_old(&st, cutoff))
				c->young_temps++;
			else if (strlen(e->d_name) >= sizeof(temp_name))
				c->unexpected++; /* longer than file_store ever names one */
			else if (add_temp(c, e->d_name) != 0)
				return -1;
			continue;
		}
		c->stored++;
		if (S_ISREG(st.st_mode) && !is_old(&st, cutoff)) {
			c->young++;
			continue;
		}
		memcpy(c->batch[c->batch_len], e->d_name, sizeof(stored_name));
		c->batch_regular[c->batch_len++] = S_ISREG(st.st_mode);
		if (c->batch_len == BATCH && flush_batch(c) != 0)
			return -1;
	}
	if (errno != 0) {
		snprintf(c->err, c->errlen, "reading %s: %s", c->opt->dir, strerror(errno));
		return -1;
	}
	return flush_batch(c);
}

/* Every row's file is there and a regular file. */
static int check_rows(struct check *c)
{
	PGresult *res;
	int rc = 0;

	if (!PQsendQuery(c->conn, rows_sql) || !PQsetSingleRowMode(c->conn)) {
		snprintf(c->err, c->errlen, "reading attachments: %s", PQerrorMessage(c->conn));
		return -1;
	}
	while ((res = PQgetResult(c->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE) {
			const char *id = PQgetvalue(res, 0, 0), *name = PQgetvalue(res, 0, 1);
			struct stat sb;

			c->rows++;
			if (!file_store_is_name(name)) {
				/* Not a name hms generates: never put it in a path. */
				fprintf(c->opt->out,
				        "missing attachment %s: its storage name is not a stored "
				        "file's name\n",
				        id);
				c->missing++;
			} else if (fstatat(c->dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
				fprintf(c->opt->out, "missing attachment %s: %s %s\n", id, name,
				        errno == ENOENT ? "is not there" : strerror(errno));
				c->missing++;
			} else if (!S_ISREG(sb.st_mode)) {
				fprintf(c->opt->out,
				        "missing attachment %s: %s is not a regular file\n", id,
				        name);
				c->missing++;
			}
		} else if (st != PGRES_TUPLES_OK) {
			snprintf(c->err, c->errlen, "reading attachments: %s",
			         PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* Removes what is still an old regular file at the name. */
static bool remove_if_old(struct check *c, const char *name, const char *what, time_t cutoff)
{
	struct stat st;

	if (fstatat(c->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT) /* removed meanwhile (a master's sweep) */
			return true;
		fprintf(c->opt->out, "NOT removed %s %s: %s\n", what, name, strerror(errno));
		c->failed_removals++;
		return false;
	}
	if (!S_ISREG(st.st_mode) || !is_old(&st, cutoff)) {
		fprintf(c->opt->out, "kept %s %s: changed since the scan\n", what, name);
		return false;
	}
	if (unlinkat(c->dir_fd, name, 0) != 0 && errno != ENOENT) {
		fprintf(c->opt->out, "NOT removed %s %s: %s\n", what, name, strerror(errno));
		c->failed_removals++;
		return false;
	}
	fprintf(c->opt->out, "removed %s %s\n", what, name);
	return true;
}

/* The orphans, each re-checked against the table just before (a batch at
 * a time), then the temporary files; then the directory fsynced. */
static int remove_found(struct check *c)
{
	time_t cutoff = time(NULL) - c->opt->min_age;
	bool has_row[BATCH];

	for (size_t at = 0; at < c->orphan_count; at += BATCH) {
		size_t n = c->orphan_count - at < BATCH ? c->orphan_count - at : BATCH;

		if (lookup(c, c->orphans + at, n, has_row) != 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (has_row[i])
				fprintf(c->opt->out, "kept orphan %s: it has a row now\n",
				        c->orphans[at + i]);
			else
				c->removed_orphans +=
				    remove_if_old(c, c->orphans[at + i], "orphan", cutoff);
		}
	}
	for (size_t i = 0; i < c->temp_count; i++)
		c->removed_temps += remove_if_old(c, c->temps[i], "temporary", cutoff);
	if ((c->removed_orphans > 0 || c->removed_temps > 0) && fsync(c->dir_fd) != 0) {
		fprintf(c->opt->out, "fsync of %s failed: %s\n", c->opt->dir, strerror(errno));
		c->failed_removals++;
	}
	return 0;
}

/* What is left for an operator: with remove, a kept orphan (it has a row
 * now, or changed since the scan) is no orphan any more. */
static long long left_behind(const struct check *c)
{
	return c->opt->remove ? c->failed_removals
	                      : (long long)c->orphan_count + (long long)c->temp_count;
}

static void report(const struct check *c)
{
	FILE *out = c->opt->out;
	long long left = left_behind(c);

	fprintf(out,
	        "checked %lld rows and %lld stored files in %s (%lld younger than %ld s, not "
	        "looked up); %lld uploads in progress\n",
	        c->rows, c->stored, c->opt->dir, c->young, c->opt->min_age, c->young_temps);
	fprintf(out,
	        "found %zu orphan files (no row), %zu old temporary files, %lld rows missing "
	        "their file, %lld unexpected entries\n",
	        c->orphan_count, c->temp_count, c->missing, c->unexpected);
	if (c->opt->remove)
		fprintf(out, "removed %lld orphan files and %lld temporary files\n",
		        c->removed_orphans, c->removed_temps);
	else if (left > 0)
		fprintf(out, "hmsctl attachments-check --remove removes the orphan and temporary "
		             "files\n");
	if (c->missing > 0)
		fprintf(out, "a row missing its file: restore the file from a backup "
		             "(deploy/README.md)\n");
	if (c->unexpected > 0)
		fprintf(out, "unexpected entries are left alone: see what they are with ls -la "
		             "in the directory\n");
	if (left + c->missing + c->unexpected == 0)
		fprintf(out, "attachments-check: nothing wrong\n");
	else
		fprintf(out, "attachments-check: %lld problems need an operator\n",
		        left + c->missing + c->unexpected);
}

int attachments_check_run(PGconn *conn, const struct attachments_check_options *opt,
                          bool *dir_error, char *err, size_t errlen)
{
	struct check *c = calloc(1, sizeof(*c));
	DIR *d;
	int rc;

	*dir_error = false;
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->opt = opt;
	c->conn = conn;
	c->err = err;
	c->errlen = errlen;
	d = opendir(opt->dir);
	if (d == NULL) {
		snprintf(err, errlen, "attachment_dir '%s': %s", opt->dir, strerror(errno));
		*dir_error = true;
		free(c);
		return -1;
	}
	c->dir_fd = dirfd(d);
	rc = scan_directory(c, d);
	if (rc == 0)
		rc = check_rows(c);
	if (rc == 0 && opt->remove)
		rc = remove_found(c);
	if (rc == 0) {
		report(c);
		rc = left_behind(c) + c->missing + c->unexpected > 0;
	}
	closedir(d);
	free(c->orphans);
	free(c->temps);
	free(c);
	return rc;
}
