/*
 * attachments_check.h - hmsctl attachments-check: the attachment directory
 * against the attachments table.
 *
 * A stored file can outlive its upload with no row (a worker killed between
 * the rename and the COMMIT, a COMMIT whose outcome was unknown), and a
 * host killed mid-upload leaves temporary files that only a master's
 * start-up sweep removes; both hold patient data nothing references. A row
 * whose file is missing (a bad restore, a storage fault) fails a clinician
 * later. This finds both, and with remove set deletes the old orphans and
 * old temporary files (never a file with a row, never anything younger
 * than min_age, never anything a missing row names).
 */
#ifndef HMS_ATTACHMENTS_CHECK_H
#define HMS_ATTACHMENTS_CHECK_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Longer than any upload's rename-to-commit, so a younger file without a
 * row may be committing right now. */
#define ATTACHMENTS_CHECK_DEFAULT_MIN_AGE 3600
#define ATTACHMENTS_CHECK_MIN_MIN_AGE     60

struct attachments_check_options {
	const char *dir; /* attachment_dir */
	long min_age;    /* seconds */
	bool remove;
	FILE *out; /* the report: counts and storage names, never a file name */
};

/* Returns 0 when nothing is wrong (with remove: everything found was
 * removed and no row misses its file), 1 when something needs an operator,
 * -1 when the check could not run (message in err; *dir_error set when the
 * directory is the cause, a configuration matter). */
int attachments_check_run(PGconn *conn, const struct attachments_check_options *opt,
                          bool *dir_error, char *err, size_t errlen);

#endif
