/*
 * hmsctl.c - the operator's command line: migrations, the first admin
 * account, and the audit chain check.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/audit_seal.h"
#include "hms/audit_verify.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/log.h"
#include "hms/migrate.h"
#include "hms/password.h"
#include "hms/seed.h"
#include "hms/users.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: hmsctl [--config FILE] COMMAND [options]\n"
	             "commands:\n"
	             "  migrate [--schema-dir DIR]   apply schema/NNN_name.sql files in order\n"
	             "Configuration: --config FILE or $HMS_CONFIG, then HMS_* variables.\n");
}

/* hmsctl works as the owner role (migrations need it); admin_database_url
 * names it, else database_url. */
static struct db *open_db(const struct hms_config *cfg)
{
	const char *url = cfg->admin_database_url != NULL && *cfg->admin_database_url != '\0'
	                      ? cfg->admin_database_url
	                      : cfg->database_url;
	struct db *db = db_new(url);

	if (db == NULL || db_conn(db) == NULL) {
		fprintf(stderr, "hmsctl: cannot connect to the database (check database_url)\n");
		db_free(db);
		return NULL;
	}
	return db;
}

static int read_password(char *out, size_t size)
{
	const char *env = getenv("HMS_ADMIN_PASSWORD");
	size_t len;

	if (env != NULL && *env != '\0') {
		snprintf(out, size, "%s", env);
		return 0;
	}
	if (isatty(STDIN_FILENO) || fgets(out, (int)size, stdin) == NULL)
		return -1;
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	return len > 0 ? 0 : -1;
}

static int cmd_create_admin(struct hms_config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
	    {"username", required_argument, NULL, 'u'},
	    {"email", required_argument, NULL, 'e'},
	    {"if-none", no_argument, NULL, 'n'},
	    {"generate-password", no_argument, NULL, 'g'},
	    {NULL, 0, NULL, 0},
	};
	struct password_cost cost = password_cost_from_config(cfg);
	const char *username = NULL, *email = "";
	bool if_none = false, generate = false, generated = false;
	char password[PASSWORD_MAX_BYTES + 2] = "";
	char hash[PASSWORD_HASH_MAX];
	struct audit_entry entry = {.action = "create",
	                            .entity_type = "user",
	                            .request_id = "hmsctl-create-admin",
	                            .outcome = AUDIT_SUCCESS};
	struct arena *arena;
	PGresult *res = NULL;
	enum hms_err err;
	struct db *db;
	bool exists;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "u:e:ng", options, NULL)) != -1) {
		switch (opt) {
		case 'u':
			username = optarg;
			break;
		case 'e':
			email = optarg;
			break;
		case 'n':
			if_none = true;
			break;
		case 'g':
			generate = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (username == NULL || *username == '\0') {
		fprintf(stderr, "hmsctl: create-admin needs --username\n");
		return 2;
	}
	db = open_db(cfg);
	if (db == NULL)
		return 1;
	arena = arena_new(16 * 1024, 0);
	if (arena == NULL) {
		fprintf(stderr, "hmsctl: out of memory\n");
		db_free(db);
		return 1;
	}
	if (if_none && users_admin_exists(db, arena, &exists) == HMS_OK && exists) {
		printf("an admin account already exists; nothing to do\n");
		goto done;
	}
	if (read_password(password, sizeof(password)) != 0) {
		if (!generate || password_generate(password) != 0) {
			fprintf(stderr, "hmsctl: give the password in HMS_ADMIN_PASSWORD or on "
			                "stdin (or use --generate-password)\n");
			err = HMS_ERR_BAD_REQUEST;
			goto fail;
		}
		generated = true;
	}
	if (strlen(password) < PASSWORD_MIN_LENGTH || strlen(password) > PASSWORD_MAX_BYTES) {
		fprintf(stderr, "hmsctl: the password must have 10 to 1024 characters\n");
		err = HMS_ERR_BAD_REQUEST;
		goto fail;
	}
	if (password_hash(&cost, password, hash) != 0) {
		fprintf(stderr, "hmsctl: hashing the password failed\n");
		err = HMS_ERR_INTERNAL;
		goto fail;
	}
	err = db_begin(db);
	if (err == HMS_OK)
		err = users_insert(db, arena, username, hash, email, "", "", "admin", &res);
	if (err == HMS_ERR_BAD_REQUEST && db_result_is(res, "23505")) {
		fprintf(stderr, "hmsctl: the username '%s' is taken\n", username);
		goto fail;
	}
	if (err == HMS_ERR_BAD_REQUEST) {
		fprintf(stderr, "hmsctl: usernames are 1-150 letters, digits and @.+_-\n");
		goto fail;
	}
	if (err == HMS_OK) {
		entry.entity_id = atoll(PQgetvalue(res, 0, 0));
		err = audit_write(db, arena, &entry);
	}
	if (err == HMS_OK)
		err = db_commit(db);
	if (err != HMS_OK) {
		fprintf(stderr, "hmsctl: creating the account failed (%s)\n", hms_err_name(err));
		goto fail;
	}
	printf("created admin account '%s'\n", username);
	if (generated)
		printf("its password (shown once, store it now): %s\n", password);
done:
	explicit_bzero(password, sizeof(password));
	arena_free(arena);
	db_free(db);
	return 0;
fail:
	db_rollback(db);
	explicit_bzero(password, sizeof(password));
	arena_free(arena);
	db_free(db);
	return 1;
}

static void print_problem(void *arg, const char *problem)
{
	(void)arg;
	printf("AUDIT TRAIL BROKEN: %s\n", problem);
}

/* Checks the rows chained one by one before seals existed, then every seal
 * and the rows it covers; reports the unsealed tail. Exit 1 when anything
 * is wrong. */
static int cmd_audit_verify(struct hms_config *cfg)
{
	struct audit_seal_report report;
	struct db *db;
	long long rows;
	char head[65];
	char err[512];
	int rc;

	if (config_load_seal_keys(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hmsctl: audit-verify: %s\n", err);
		return 2;
	}
	db = open_db(cfg);
	if (db == NULL)
		return 1;
	rc = audit_verify_chain(db_conn(db), &rows, head, err, sizeof(err));
	if (rc == 0)
		printf("audit chain intact: %lld rows chained one by one; head hash %s\n", rows,
		       head);
	else if (rc == 1)
		printf("AUDIT TRAIL BROKEN: %s (after %lld intact chained rows)\n", err, rows);
	if (rc >= 0) {
		int seal_rc = audit_seal_verify(db_conn(db), cfg->seal, cfg->seal_key_count, head,
		                                &report, print_problem, NULL, err, sizeof(err));

		if (seal_rc >= 0)
			printf("audit seals %s: %lld seals over %lld rows; head MAC %s\n"
			       "unsealed: %lld rows, the oldest %.1f s old\n",
			       seal_rc == 0 ? "intact" : "BROKEN", report.seals, report.sealed_rows,
			       report.seals > 0 ? report.head : "(none yet)", report.unsealed_rows,
			       report.unsealed_seconds);
		rc = seal_rc < 0 ? -1 : rc > 0 ? rc : seal_rc;
	}
	if (rc < 0)
		fprintf(stderr, "hmsctl: audit-verify: %s\n", err);
	db_free(db);
	return rc == 0 ? 0 : 1;
}

/* Seals what has committed, now (what the sealer does every few hundred
 * milliseconds; for a database no hms is running against, or before a
 * backup). */
static int cmd_audit_seal(struct hms_config *cfg)
{
	struct audit_seal_result seal;
	long long seals = 0, rows = 0;
	struct db *db;
	char err[512];
	int rc;

	if (config_load_seal_keys(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hmsctl: audit-seal: %s\n", err);
		return 2;
	}
	db = open_db(cfg);
	if (db == NULL)
		return 1;
	do {
		rc = audit_seal_pass(db_conn(db), &cfg->seal[0], &seal, err, sizeof(err));
		seals += seal.seal_id > 0;
		rows += seal.rows;
	} while (rc == 0 && seal.rows >= AUDIT_SEAL_MAX_ROWS);
	if (rc == 0)
		printf("sealed %lld rows in %lld seals\n", rows, seals);
	else
		fprintf(stderr, "hmsctl: audit-seal: %s\n", err);
	db_free(db);
	return rc == 0 ? 0 : 1;
}

static int parse_count(const char *text, long *out)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < 0 || v > 100000000)
		return -1;
	*out = v;
	return 0;
}

static int cmd_seed(struct hms_config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
	    {"patients", required_argument, NULL, 'p'},
	    {"doctors", required_argument, NULL, 'd'},
	    {"random-seed", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	long patients = 0, doctors = 0, seed = 0;
	char err[1024];
	struct db *db;
	int opt, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:d:s:", options, NULL)) != -1) {
		long *target = opt == 'p' ? &patients : opt == 'd' ? &doctors : &seed;

		if ((opt != 'p' && opt != 'd' && opt != 's') || parse_count(optarg, target) != 0) {
			fprintf(stderr, "hmsctl: seed: counts are whole numbers up to 100000000\n");
			return 2;
		}
	}
	if (patients == 0 && doctors == 0) {
		fprintf(stderr, "hmsctl: seed: give --patients N and/or --doctors N\n");
		return 2;
	}
	db = open_db(cfg);
	if (db == NULL)
		return 1;
	if (doctors > 0)
		rc = seed_doctors(db_conn(db), doctors, (unsigned long long)seed, err, sizeof(err));
	if (rc == 0 && patients > 0)
		rc = seed_patients(db_conn(db), patients, (unsigned long long)seed, err,
		                   sizeof(err));
	if (rc != 0)
		fprintf(stderr, "hmsctl: seed: %s\n", err);
	else
		printf("seeded %ld patients and %ld doctors\n", patients, doctors);
	db_free(db);
	return rc == 0 ? 0 : 1;
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
	db = open_db(cfg);
	if (db == NULL)
		return 1;
	conn = db_conn(db);
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
	} else if (strcmp(argv[0], "create-admin") == 0) {
		rc = cmd_create_admin(&cfg, argc, argv);
	} else if (strcmp(argv[0], "seed") == 0) {
		rc = cmd_seed(&cfg, argc, argv);
	} else if (strcmp(argv[0], "audit-verify") == 0) {
		rc = cmd_audit_verify(&cfg);
	} else if (strcmp(argv[0], "audit-seal") == 0) {
		rc = cmd_audit_seal(&cfg);
	} else {
		fprintf(stderr, "hmsctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}
