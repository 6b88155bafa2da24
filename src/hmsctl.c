/*
 * hmsctl.c - the operator's command line: migrations, the first admin
 * account, the audit chain check, the attachment files' check, demo data
 * and the installation check.
 *
 * One table lists the commands with their help; help never needs a
 * configuration, so `hmsctl COMMAND --help` works on a machine where
 * nothing is set up yet. Exit codes (also in --help and hmsctl(8)):
 * 0 done, 1 failed or found a problem, 2 usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hms/arena.h"
#include "hms/attachments_check.h"
#include "hms/audit.h"
#include "hms/audit_seal.h"
#include "hms/audit_verify.h"
#include "hms/check.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/log.h"
#include "hms/migrate.h"
#include "hms/password.h"
#include "hms/seed.h"
#include "hms/users.h"

/* The exit codes, the same for every command. */
enum {
	EXIT_DONE = 0,   /* done; for check, audit-verify, attachments-check: nothing wrong */
	EXIT_FAILED = 1, /* the command failed, or found a problem */
	EXIT_USAGE = 2,  /* bad command line, or a configuration that does not load */
};

static const char exit_codes_help[] =
    "Exit status: 0 done (check, audit-verify, attachments-check: nothing wrong); 1\n"
    "the command failed or found a problem (no database, a broken audit trail, an\n"
    "attachment file without a row or a row without its file, a check that failed);\n"
    "2 a usage error or a configuration that does not load or validate.\n";

static const char config_help[] =
    "Configuration: --config FILE, else $HMS_CONFIG, else /etc/hms/hms.conf (or\n"
    "conf/hms.conf in a checkout); HMS_* variables override its keys. hmsctl\n"
    "connects with admin_database_url when set, else database_url.\n";

struct command {
	const char *name;
	const char *args;    /* after the name, in the synopsis */
	const char *summary; /* one line in hmsctl --help */
	const char *help;    /* the rest of hmsctl COMMAND --help */
	bool loads_config;   /* false: the command reads the configuration itself */
	int (*run)(struct hms_config *cfg, const char *config_path, int argc, char **argv);
};

static const struct command *command_find(const char *name);
static void usage(FILE *out);

static void command_usage(const struct command *cmd, FILE *out)
{
	fprintf(out, "usage: hmsctl [--config FILE] %s%s%s\n", cmd->name, *cmd->args ? " " : "",
	        cmd->args);
}

static void command_help(const struct command *cmd, FILE *out)
{
	command_usage(cmd, out);
	fprintf(out, "\n%s.\n\n%s\n%s%s", cmd->summary, cmd->help, config_help, exit_codes_help);
}

/* Anything left after a command's options that it does not take. */
static bool extra_arguments(const struct command *cmd, int argc, char **argv)
{
	if (optind < argc) {
		fprintf(stderr, "hmsctl: %s: unexpected argument '%s'\n", cmd->name, argv[optind]);
		command_usage(cmd, stderr);
		return true;
	}
	return false;
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

static int cmd_create_admin(struct hms_config *cfg, const char *config_path, int argc, char **argv)
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
			command_usage(command_find("create-admin"), stderr);
			return EXIT_USAGE;
		}
	}
	(void)config_path;
	if (extra_arguments(command_find("create-admin"), argc, argv))
		return EXIT_USAGE;
	if (username == NULL || *username == '\0') {
		fprintf(stderr, "hmsctl: create-admin needs --username\n");
		return EXIT_USAGE;
	}
	db = open_db(cfg);
	if (db == NULL)
		return EXIT_FAILED;
	arena = arena_new(16 * 1024, 0);
	if (arena == NULL) {
		fprintf(stderr, "hmsctl: out of memory\n");
		db_free(db);
		return EXIT_FAILED;
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
	return EXIT_FAILED;
}

/* Takes no options nor arguments (--help is handled before). */
static int no_arguments(const char *name, int argc, char **argv)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};

	optind = 1;
	if (getopt_long(argc, argv, "", none, NULL) != -1) {
		command_usage(command_find(name), stderr);
		return -1;
	}
	return extra_arguments(command_find(name), argc, argv) ? -1 : 0;
}

static void print_problem(void *arg, const char *problem)
{
	(void)arg;
	printf("AUDIT TRAIL BROKEN: %s\n", problem);
}

/* Checks the rows chained one by one before seals existed, then every seal
 * and the rows it covers; reports the unsealed tail. Exit 1 when anything
 * is wrong. */
static int cmd_audit_verify(struct hms_config *cfg, const char *config_path, int argc, char **argv)
{
	struct audit_seal_report report;
	struct db *db;
	long long rows;
	char head[65];
	char err[512];
	int rc;

	(void)config_path;
	if (no_arguments("audit-verify", argc, argv) != 0)
		return EXIT_USAGE;
	if (config_load_seal_keys(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hmsctl: audit-verify: %s\n", err);
		return EXIT_USAGE;
	}
	db = open_db(cfg);
	if (db == NULL)
		return EXIT_FAILED;
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
static int cmd_audit_seal(struct hms_config *cfg, const char *config_path, int argc, char **argv)
{
	struct audit_seal_result seal;
	long long seals = 0, rows = 0;
	struct db *db;
	char err[512];
	int rc;

	(void)config_path;
	if (no_arguments("audit-seal", argc, argv) != 0)
		return EXIT_USAGE;
	if (config_load_seal_keys(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hmsctl: audit-seal: %s\n", err);
		return EXIT_USAGE;
	}
	db = open_db(cfg);
	if (db == NULL)
		return EXIT_FAILED;
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

/* The attachment directory against the attachments table: orphan files,
 * old temporary files, rows missing their file; --remove deletes the
 * first two. */
static int cmd_attachments_check(struct hms_config *cfg, const char *config_path, int argc,
                                 char **argv)
{
	static const struct option options[] = {
	    {"remove", no_argument, NULL, 'r'},
	    {"min-age", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	struct attachments_check_options check = {.dir = cfg->attachment_dir,
	                                          .min_age = ATTACHMENTS_CHECK_DEFAULT_MIN_AGE,
	                                          .out = stdout};
	bool dir_error;
	char err[1024];
	struct db *db;
	char *end;
	int opt, rc;

	(void)config_path;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "rm:", options, NULL)) != -1) {
		if (opt == 'r') {
			check.remove = true;
		} else if (opt == 'm') {
			check.min_age = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' ||
			    check.min_age < ATTACHMENTS_CHECK_MIN_MIN_AGE ||
			    check.min_age > 100L * 365 * 86400) {
				fprintf(
				    stderr,
				    "hmsctl: attachments-check: --min-age takes seconds, at "
				    "least %d (a younger file may be an upload committing now)\n",
				    ATTACHMENTS_CHECK_MIN_MIN_AGE);
				return EXIT_USAGE;
			}
		} else {
			command_usage(command_find("attachments-check"), stderr);
			return EXIT_USAGE;
		}
	}
	if (extra_arguments(command_find("attachments-check"), argc, argv))
		return EXIT_USAGE;
	if (check.dir == NULL || *check.dir == '\0') {
		fprintf(stderr, "hmsctl: attachments-check: attachment_dir is not set\n");
		return EXIT_USAGE;
	}
	db = open_db(cfg);
	if (db == NULL)
		return EXIT_FAILED;
	rc = attachments_check_run(db_conn(db), &check, &dir_error, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "hmsctl: attachments-check: %s\n", err);
	db_free(db);
	return rc == 0 ? EXIT_DONE : rc > 0 || !dir_error ? EXIT_FAILED : EXIT_USAGE;
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

static int cmd_seed(struct hms_config *cfg, const char *config_path, int argc, char **argv)
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

		if (opt != 'p' && opt != 'd' && opt != 's') {
			command_usage(command_find("seed"), stderr);
			return EXIT_USAGE;
		}
		if (parse_count(optarg, target) != 0) {
			fprintf(stderr, "hmsctl: seed: counts are whole numbers up to 100000000\n");
			return EXIT_USAGE;
		}
	}
	(void)config_path;
	if (extra_arguments(command_find("seed"), argc, argv))
		return EXIT_USAGE;
	if (patients == 0 && doctors == 0) {
		fprintf(stderr, "hmsctl: seed: give --patients N and/or --doctors N\n");
		return EXIT_USAGE;
	}
	db = open_db(cfg);
	if (db == NULL)
		return EXIT_FAILED;
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

static int cmd_migrate(struct hms_config *cfg, const char *config_path, int argc, char **argv)
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
			command_usage(command_find("migrate"), stderr);
			return EXIT_USAGE;
		}
		dir = optarg;
	}
	(void)config_path;
	if (extra_arguments(command_find("migrate"), argc, argv))
		return EXIT_USAGE;
	db = open_db(cfg);
	if (db == NULL)
		return EXIT_FAILED;
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

static long parse_megabytes(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return *text != '\0' && *end == '\0' && v >= 0 && v <= 1L << 30 ? v : -1;
}

/* Loads the configuration itself, so that a file that does not load is one
 * of the problems it lists. */
static int cmd_check(struct hms_config *cfg, const char *config_path, int argc, char **argv)
{
	static const struct option options[] = {
	    {"min-free-mb", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	struct check_options check = {.config_path = config_path,
	                              .min_free_mb = CHECK_DEFAULT_MIN_FREE_MB};
	int opt;

	(void)cfg;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "m:", options, NULL)) != -1) {
		if (opt != 'm' || (check.min_free_mb = parse_megabytes(optarg)) < 0) {
			if (opt == 'm')
				fprintf(stderr,
				        "hmsctl: check: --min-free-mb takes a number of MiB\n");
			command_usage(command_find("check"), stderr);
			return EXIT_USAGE;
		}
	}
	if (extra_arguments(command_find("check"), argc, argv))
		return EXIT_USAGE;
	return check_run(&check, stdout) == 0 ? EXIT_DONE : EXIT_FAILED;
}

static int cmd_help(struct hms_config *cfg, const char *config_path, int argc, char **argv)
{
	const struct command *cmd;

	(void)cfg;
	(void)config_path;
	if (argc < 2) {
		usage(stdout);
		return EXIT_DONE;
	}
	cmd = command_find(argv[1]);
	if (cmd == NULL || argc > 2) {
		fprintf(stderr, "hmsctl: help: %s '%s'\n",
		        cmd == NULL ? "no command" : "one command",
		        cmd == NULL ? argv[1] : argv[2]);
		usage(stderr);
		return EXIT_USAGE;
	}
	command_help(cmd, stdout);
	return EXIT_DONE;
}

static const struct command commands[] = {
    {"check", "[--min-free-mb N]", "Check that this installation is ready to serve",
     "Validates the configuration (every key hms itself needs, the keys included),\n"
     "connects to the database with database_url (and admin_database_url when set),\n"
     "compares schema_migrations with schema_dir (every file applied, checksums\n"
     "unchanged, nothing applied that schema_dir lacks), looks at attachment_dir\n"
     "(writable by this user, closed to others; with socket_group: of that group,\n"
     "group-readable and setgid, so that nginx can serve the files) and its free\n"
     "space, and at the modes of the configuration file and the key files (no\n"
     "access for others, no group write, not readable by socket_group), and names\n"
     "the FastCGI listener (socket_path, or listen_address with\n"
     "fastcgi_allowed_peers) and the instance_name. Prints one\n"
     "line per item: ok, skip (an earlier problem prevents looking), or FAIL with\n"
     "what is wrong and how to put it right. Changes nothing. Run it as the user\n"
     "hms runs as: sudo -u hms hmsctl check.\n"
     "\n"
     "  --min-free-mb N   less free space in attachment_dir is a problem (default\n"
     "                    1024)\n",
     false, cmd_check},
    {"migrate", "[--schema-dir DIR]", "Apply the schema migrations not yet applied",
     "Applies schema_dir's NNN_name.sql files in order, each in its own transaction\n"
     "with its row in schema_migrations. Running it again does nothing; a file\n"
     "changed after it was applied stops the run (its SHA-256 is recorded). An\n"
     "advisory lock makes concurrent runs from several hosts safe.\n"
     "\n"
     "  --schema-dir DIR   the migrations' directory (default: schema_dir)\n",
     true, cmd_migrate},
    {"create-admin", "--username NAME [--email ADDR] [--if-none] [--generate-password]",
     "Create an admin account",
     "The password comes from $HMS_ADMIN_PASSWORD, else the first line of stdin\n"
     "(not a terminal), else, with --generate-password, is generated and printed\n"
     "once. 10 to 1024 characters. The creation is written to the audit trail.\n"
     "\n"
     "  --username NAME       1-150 letters, digits and @.+_-\n"
     "  --email ADDR          the account's e-mail address\n"
     "  --if-none             do nothing when an active admin exists\n"
     "  --generate-password   generate a password when none is given\n",
     true, cmd_create_admin},
    {"audit-verify", "", "Verify the audit trail's hash chain and seals",
     "Checks the rows chained one by one before seals existed, then every seal\n"
     "(sequence, links, HMAC with audit_seal_keys) and every sealed row, naming\n"
     "each row changed, removed or inserted after sealing; prints the head MAC and\n"
     "the unsealed tail. Needs the audit sealing keys: run it as hms with\n"
     "/etc/hms/hms.conf. Exit 1 when the trail is broken.\n",
     true, cmd_audit_verify},
    {"audit-seal", "", "Seal every committed audit row now",
     "What hms's sealer process does every audit_seal_interval_ms, at once: for a\n"
     "database no hms runs against, or before a backup. Needs the audit sealing\n"
     "keys.\n",
     true, cmd_audit_seal},
    {"attachments-check", "[--remove] [--min-age SECONDS]",
     "Find attachment files without a row, and rows without a file",
     "Reads attachment_dir and the attachments table and reports, by storage name\n"
     "(random hex, never a file name): stored files with no row last written more\n"
     "than --min-age ago (a worker killed between the rename and the commit, a\n"
     "commit whose outcome was unknown), temporary upload files older than that (a\n"
     "host killed mid-upload; any instance's), rows whose file is missing or not a\n"
     "regular file (a bad restore, a storage fault), and a count of entries that\n"
     "are none of these (left alone). Younger files are not looked at: they may be\n"
     "uploads committing now.\n"
     "\n"
     "  --remove          remove the orphan and temporary files found, re-checking\n"
     "                    each orphan against the table just before; never a file\n"
     "                    with a row or a younger one. Prints each one removed.\n"
     "  --min-age SECONDS how old a file must be to count (default 3600, at least\n"
     "                    60)\n"
     "\n"
     "Needs read, write and search permission on attachment_dir (it never opens a\n"
     "file) and SELECT on attachments; run it daily as hms with /etc/hms/hms.conf,\n"
     "on one host only when hosts share the directory. Exit 0 when nothing is\n"
     "wrong (with --remove: all found was removed and no row misses its file), 1\n"
     "when something needs an operator, 2 when attachment_dir cannot be read.\n",
     true, cmd_attachments_check},
    {"seed", "[--patients N] [--doctors N] [--random-seed S]", "Load demo data",
     "Inserts N made-up patients and doctors through COPY (a progress bar on a\n"
     "terminal); 1,000,000 patients take a few minutes. For demonstrations and\n"
     "benchmarks, never for a production database.\n"
     "\n"
     "  --patients N      patients to add (up to 100000000)\n"
     "  --doctors N       doctors to add\n"
     "  --random-seed S   the same S gives the same data (default 0)\n",
     true, cmd_seed},
    {"help", "[COMMAND]", "Show the commands, or one command's help",
     "The same as hmsctl --help, or hmsctl COMMAND --help.\n", false, cmd_help},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: hmsctl [--config FILE] COMMAND [options]\n"
	             "       hmsctl COMMAND --help\n"
	             "\n"
	             "The operator's command line of HMS.\n"
	             "\n"
	             "commands:\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n"
	        "options:\n"
	        "  -c, --config FILE   the configuration file\n"
	        "  -h, --help          this help\n"
	        "\n"
	        "%s%sSee hmsctl(8).\n",
	        config_help, exit_codes_help);
}

/* -h or --help among a command's arguments (before a "--"). */
static bool asks_for_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
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
	const struct command *cmd;
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
			return EXIT_DONE;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argv += optind;
	argc -= optind;
	cmd = command_find(argv[0]);
	if (cmd == NULL) {
		fprintf(stderr, "hmsctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}
	/* Help before anything else: it needs no configuration. */
	if (asks_for_help(argc, argv)) {
		command_help(cmd, stdout);
		return EXIT_DONE;
	}
	log_init(LOG_WARN, "hmsctl");
	config_init(&cfg);
	if (cmd->loads_config &&
	    (config_load(&cfg, config_path, err, sizeof(err)) != 0 ||
	     config_validate(&cfg, CONFIG_FOR_DATABASE, err, sizeof(err)) != 0)) {
		fprintf(stderr, "hmsctl: configuration error: %s\n", err);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	rc = cmd->run(&cfg, config_path, argc, argv);
	config_free(&cfg);
	return rc;
}
