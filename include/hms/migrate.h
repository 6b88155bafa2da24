/*
 * migrate.h - applies schema/NNN_name.sql files in order.
 *
 * Each file runs in its own transaction and is recorded with its SHA-256 in
 * schema_migrations; a second run does nothing; a file changed after it was
 * applied stops the run. An advisory lock keeps two hosts from migrating at
 * once.
 */
#ifndef HMS_MIGRATE_H
#define HMS_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct migrate_result {
	int applied; /* files applied by this run */
	int skipped; /* files already applied */
};

/* Applies the migrations in dir. Returns 0, or -1 with a message in err. */
int migrate_run(PGconn *conn, const char *dir, struct migrate_result *result, char *err,
                size_t errlen);

/* True for a migration file name: NNN_name.sql (digits, then [a-z0-9_]). */
int migrate_name_is_valid(const char *name);

#endif
