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

/* Where a database stands against the files of a schema directory. */
struct migrate_status {
	int files;   /* NNN_name.sql files in the directory */
	int applied; /* recorded in schema_migrations with the file's checksum */
	int pending; /* not recorded yet: hmsctl migrate would apply them */
	int changed; /* recorded with another checksum: edited after it was applied */
	int unknown; /* recorded, but the directory has no file of that number */
	char first_pending[64], first_changed[64], first_unknown[64]; /* names */
};

/* Compares dir with schema_migrations, changing nothing (hmsctl check). No
 * schema_migrations table counts every file pending. Returns 0 whatever it
 * found, or -1 with a message in err when it could not look. */
int migrate_status(PGconn *conn, const char *dir, struct migrate_status *status, char *err,
                   size_t errlen);

/* True for a migration file name: NNN_name.sql (digits, then [a-z0-9_]). */
int migrate_name_is_valid(const char *name);

#endif
