/*
 * hmsctl.c - the operator's command line: database migrations now; account
 * and demo-data commands join it as their modules arrive.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/config.h"
#include "hms/db.h"
#include "hms/log.h"
#include "hms/migrate.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: hmsctl [--config FILE] COMMAND [options]\n"
	             "commands:\n"
	             "  migrate [--schema-dir DIR]   apply schema/NNN_name.sql files in order\n"
	             "Configuration: --config FILE or $HMS_CONFIG, then HMS_* variables.\n");
}

static int cmd_migrate(struct hms_config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
	    {"schema-dir", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = cfg->schema_dir;
	struct migrate_result result;
	char err[1024];
	struct db *db;
	PGconn *conn;
	int opt;
	int rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:", options, NULL)) != -1) {
		if (opt != 's') {
			usage(stderr);
			return 2;
		}
		dir = optarg;
	}
	db = db_new(cfg->database_url);
	conn = db != NULL ? db_conn(db) : NULL;
	if (conn == NULL) {
		fprintf(stderr, "hmsctl: cannot connect to the database (check database_url)\n");
		db_free(db);
		return 1;
	}
	rc = migrate_run(conn, dir, &result, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "hmsctl: migrate: %s\n", err);
	else if (result.applied == 0)
		printf("database is up to date (%d migrations)\n", result.skipped);
	else
		printf("applied %d migration(s); %d already applied\n", result.applied,
		       result.skipped);
	db_free(db);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path =
		getenv("HMS_CONFIG") != NULL ? getenv("HMS_CONFIG") : config_default_path();
	struct hms_config cfg;
	char err[CONFIG_ERROR_MAX];
	int opt;
	int rc;

	/* Options before the command belong to hmsctl; the rest to the command. */
	while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	log_init(LOG_WARN, "hmsctl");
	config_init(&cfg);
	if (config_load(&cfg, config_path, err, sizeof(err)) != 0 ||
	    config_validate(&cfg, CONFIG_FOR_DATABASE, err, sizeof(err)) != 0) {
		fprintf(stderr, "hmsctl: configuration error: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	argv += optind;
	argc -= optind;
	if (strcmp(argv[0], "migrate") == 0) {
		rc = cmd_migrate(&cfg, argc, argv);
	} else {
		fprintf(stderr, "hmsctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}
