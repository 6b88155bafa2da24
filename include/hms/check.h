/*
 * check.h - `hmsctl check`: is this installation ready to serve?
 *
 * Validates the configuration, connects to the database, compares the
 * applied migrations with schema_dir, and looks at the attachment
 * directory (permissions, free space) and the modes of the files holding
 * secrets. Each item gets one line: "ok    ...", "skip  ..." when it cannot
 * be looked at because of an earlier problem, or "FAIL  ..." saying what
 * is wrong and how to put it right.
 */
#ifndef HMS_CHECK_H
#define HMS_CHECK_H

#include <stdio.h>

#define CHECK_DEFAULT_MIN_FREE_MB 1024

struct check_options {
	const char *config_path; /* NULL or "": no file, the environment only */
	long min_free_mb;        /* less free space in attachment_dir is a problem */
};

/* Runs every check, writing one line each to out, then a summary line.
 * Returns the number of problems found. */
int check_run(const struct check_options *options, FILE *out);

#endif
