/*
 * test_config.c - configuration (src/config.c): defaults, the key = value
 * file, HMS_* environment overrides, and what config_validate() refuses.
 *
 * Every test starts with no HMS_* variable set and its own temporary
 * directory under /tmp (removed afterwards). Criterion runs each test in its
 * own process, so setenv() in one test cannot leak into another. Tests run
 * as root, where access(W_OK) always succeeds, so an unusable attachment
 * directory is a missing path or a regular file rather than a chmod.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hms/config.h"

/* Exactly CONFIG_MIN_SECRET_BYTES (32) bytes. */
#define SECRET_32  "0123456789abcdefGHIJKLMNOPQRSTUV"
#define SECRET_32B "zyxwvutsrqponmlkZYXWVUTSRQPONMLK"
#define SECRET_32C "SECRET-three-SECRET-three-SECRET"
/* One byte short, and recognisable in an error message. */
#define SECRET_31 "TOPSECRETtopsecretTOPSECRETtops"

extern char **environ;

static struct hms_config cfg;
static char err[CONFIG_ERROR_MAX];
static char tmpdir[64]; /* "/tmp/hms-unit-config-XXXXXX" */

static void clear_hms_env(void)
{
	for (;;) {
		char name[256];
		char **e;

		for (e = environ; *e != NULL; e++)
			if (strncmp(*e, "HMS_", 4) == 0)
				break;
		if (*e == NULL)
			return;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
		unsetenv(name);
	}
}

static void setup(void)
{
	clear_hms_env();
	strcpy(tmpdir, "/tmp/hms-unit-config-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	config_init(&cfg);
	/* Every server configuration needs a sealing key too; the tests of
	 * that key change it. */
	cr_assert_eq(config_set(&cfg, "audit_seal_keys", "seal1:" SECRET_32B, err, sizeof(err)), 0);
	/* And a download signing key and a public origin. */
	cr_assert_eq(config_set(&cfg, "download_keys", "dl1:" SECRET_32C, err, sizeof(err)), 0);
	cr_assert_eq(config_set(&cfg, "public_origin", "https://hms.example.org", err, sizeof(err)),
	             0);
	err[0] = '\0';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	config_free(&cfg);
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes text to a file in the test's directory; returns its path. */
static const char *write_file(const char *name, const char *text)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *path = paths[next++ % 8];
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void set(const char *key, const char *value)
{
	cr_assert_eq(config_set(&cfg, key, value, err, sizeof(err)), 0, "%s = %s: %s", key, value,
	             err);
}

static int validate(void)
{
	err[0] = '\0';
	return config_validate(&cfg, CONFIG_FOR_SERVER, err, sizeof(err));
}

static void make_valid(void)
{
	set("database_url", "host=db1 dbname=hms user=hms");
	set("jwt_keys", "k1:" SECRET_32);
	set("attachment_dir", tmpdir);
}

static void assert_err_has(const char *part)
{
	cr_assert_not_null(strstr(err, part), "error '%s' should mention '%s'", err, part);
}

static void assert_refused_with(const char *part)
{
	cr_assert_eq(validate(), -1, "should be refused (wanted '%s')", part);
	assert_err_has(part);
}

/* --- defaults and config_set --- */

Test(config, defaults)
{
	cr_assert_null(cfg.database_url);
	cr_assert_null(cfg.jwt_keys);
	cr_assert_null(cfg.jwt_keys_file);
	cr_assert_str_eq(cfg.jwt_issuer, "hms");
	cr_assert_str_eq(cfg.jwt_audience, "hms-api");
	cr_assert_eq(cfg.access_token_minutes, 10);
	cr_assert_eq(cfg.refresh_token_days, 7);
	cr_assert_str_eq(cfg.attachment_dir, "/var/lib/hms/attachments");
	cr_assert_eq(cfg.max_upload_bytes, 10485760);
	cr_assert_eq(cfg.max_body_bytes, 1048576);
	cr_assert_eq(cfg.json_max_depth, 32);
	cr_assert_eq(cfg.workers, 0);
	cr_assert_str_eq(cfg.socket_path, "/run/hms/hms.sock");
	cr_assert_eq(cfg.socket_mode, 0660);
	cr_assert_null(cfg.socket_group);
	cr_assert_eq(cfg.listen_backlog, 1024);
	cr_assert_str_eq(cfg.time_zone, "UTC");
	cr_assert_str_eq(cfg.log_level, "info");
	cr_assert_eq(cfg.shutdown_timeout_seconds, 10);
	cr_assert_not_null(cfg.schema_dir);
	cr_assert_eq(cfg.schema_dir[0], '/');
	cr_assert_eq(cfg.jwt_key_count, 0);
}

Test(config, unknown_key_is_refused)
{
	cr_assert_eq(config_set(&cfg, "colour", "blue", err, sizeof(err)), -1);
	assert_err_has("unknown configuration key 'colour'");
}

Test(config, string_values_replace_earlier_ones)
{
	set("jwt_issuer", "first");
	set("jwt_issuer", "second");
	cr_assert_str_eq(cfg.jwt_issuer, "second");
	set("time_zone", "");
	cr_assert_str_eq(cfg.time_zone, "");
}

Test(config, int_bounds_are_inclusive)
{
	set("access_token_minutes", "5");
	cr_assert_eq(cfg.access_token_minutes, 5);
	set("access_token_minutes", "15");
	cr_assert_eq(cfg.access_token_minutes, 15);
	set("workers", "0");
	set("workers", "256");
	cr_assert_eq(cfg.workers, 256);
	set("json_max_depth", "2");
	set("json_max_depth", "512");
	cr_assert_eq(cfg.json_max_depth, 512);
	set("max_body_bytes", "1024");
	cr_assert_eq(cfg.max_body_bytes, 1024);
}

Test(config, int_out_of_range_or_malformed_is_refused)
{
	static const struct {
		const char *key;
		const char *value;
	} bad[] = {
	    {"access_token_minutes", "4"},
	    {"access_token_minutes", "16"},
	    {"access_token_minutes", "-5"},
	    {"access_token_minutes", "abc"},
	    {"access_token_minutes", ""},
	    {"access_token_minutes", "10x"},
	    {"access_token_minutes", "1.5"},
	    {"workers", "257"},
	    {"json_max_depth", "1"},
	    {"json_max_depth", "513"},
	    {"max_body_bytes", "1023"},
	    {"refresh_token_days", "91"},
	    {"listen_backlog", "15"},
	    {"shutdown_timeout_seconds", "0"},
	    {"workers", "99999999999999999999999"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(config_set(&cfg, bad[i].key, bad[i].value, err, sizeof(err)), -1,
		             "%s = '%s' should be refused", bad[i].key, bad[i].value);
		assert_err_has(bad[i].key);
		assert_err_has("whole number");
	}
	/* Failed sets leave the previous values alone. */
	cr_assert_eq(cfg.access_token_minutes, 10);
	cr_assert_eq(cfg.workers, 0);
	cr_assert_eq(cfg.json_max_depth, 32);
}

Test(config, int_error_names_the_range_and_value)
{
	cr_assert_eq(config_set(&cfg, "access_token_minutes", "61", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "access_token_minutes must be a whole number from 5 to 15, not '61'");
}

Test(config, socket_mode_is_octal)
{
	set("socket_mode", "0600");
	cr_assert_eq(cfg.socket_mode, 0600);
	set("socket_mode", "0777");
	cr_assert_eq(cfg.socket_mode, 0777);
	set("socket_mode", "660");
	cr_assert_eq(cfg.socket_mode, 0660);
	set("socket_mode", "0");
	cr_assert_eq(cfg.socket_mode, 0);
}

Test(config, socket_mode_refuses_non_octal)
{
	static const char *const bad[] = {"01000", "0680", "0x1a4", "rw-rw----", "", "-1", "0660 "};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(config_set(&cfg, "socket_mode", bad[i], err, sizeof(err)), -1,
		             "socket_mode '%s' should be refused", bad[i]);
		assert_err_has("octal");
	}
	cr_assert_eq(cfg.socket_mode, 0660);
}

/* --- the file --- */

Test(config, file_with_comments_blank_lines_and_spacing)
{
	const char *path = write_file("hms.conf", "# HMS configuration\n"
	                                          "\n"
	                                          "   # an indented comment\n"
	                                          "\t\n"
	                                          "database_url = host=db1 dbname=hms\n"
	                                          "workers=4\n"
	                                          "\tsocket_mode   =   0600  \t\n"
	                                          "jwt_issuer =   issuer x  \n"
	                                          "time_zone=Africa/Kampala\r\n"
	                                          "log_level = debug");

	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), 0, "%s", err);
	/* Only the first '=' separates; the value keeps the rest. */
	cr_assert_str_eq(cfg.database_url, "host=db1 dbname=hms");
	cr_assert_eq(cfg.workers, 4);
	cr_assert_eq(cfg.socket_mode, 0600);
	cr_assert_str_eq(cfg.jwt_issuer, "issuer x");
	cr_assert_str_eq(cfg.time_zone, "Africa/Kampala");
	cr_assert_str_eq(cfg.log_level, "debug");
	/* Keys not in the file keep their defaults. */
	cr_assert_eq(cfg.listen_backlog, 1024);
}

Test(config, file_line_without_equals_reports_line_number)
{
	const char *path = write_file("bad.conf", "# comment\n"
	                                          "workers = 2\n"
	                                          "this line has no pair\n"
	                                          "workers = 3\n");
	char expect[PATH_MAX + 64];

	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:3: expected 'key = value'", path);
	cr_assert_str_eq(err, expect);
}

Test(config, file_unknown_key_reports_line_number)
{
	const char *path = write_file("unknown.conf", "\n\ncolour = blue\n");
	char expect[PATH_MAX + 64];

	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:3: unknown configuration key 'colour'", path);
	cr_assert_str_eq(err, expect);
}

Test(config, file_bad_value_reports_line_number)
{
	const char *path = write_file("range.conf", "workers = 2\n"
	                                            "# fine so far\n"
	                                            "access_token_minutes = 600\n");
	char expect[PATH_MAX + 8];

	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:3: ", path);
	cr_assert_eq(strncmp(err, expect, strlen(expect)), 0, "got '%s'", err);
	assert_err_has("access_token_minutes");
	assert_err_has("'600'");
}

Test(config, file_empty_key_is_refused)
{
	const char *path = write_file("empty-key.conf", " = value\n");

	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_err_has(":1:");
	assert_err_has("unknown configuration key ''");
}

Test(config, file_overlong_line_is_refused)
{
	char *text = malloc(6002);
	const char *path;

	cr_assert_not_null(text);
	memcpy(text, "jwt_issuer = ", 13);
	memset(text + 13, 'a', 6000 - 13);
	text[6000] = '\n';
	text[6001] = '\0';
	path = write_file("long.conf", text);
	free(text);
	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_err_has(":1:");
	assert_err_has("longer than");
}

Test(config, missing_file_is_an_error)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_err_has(path);
}

Test(config, no_file_means_environment_only)
{
	setenv("HMS_WORKERS", "5", 1);
	cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.workers, 5);
	setenv("HMS_WORKERS", "6", 1);
	cr_assert_eq(config_load(&cfg, "", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.workers, 6);
}

/* --- the environment --- */

Test(config, environment_overrides_file)
{
	const char *path = write_file("hms.conf", "database_url = dbname=fromfile\n"
	                                          "workers = 4\n"
	                                          "socket_mode = 0600\n"
	                                          "jwt_issuer = file-issuer\n");

	setenv("HMS_DATABASE_URL", "dbname=fromenv", 1);
	setenv("HMS_WORKERS", "8", 1);
	setenv("HMS_SOCKET_MODE", "0640", 1);
	cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.database_url, "dbname=fromenv");
	cr_assert_eq(cfg.workers, 8);
	cr_assert_eq(cfg.socket_mode, 0640);
	/* Not overridden: the file's value stays. */
	cr_assert_str_eq(cfg.jwt_issuer, "file-issuer");
}

Test(config, environment_names_are_upper_case_keys)
{
	setenv("HMS_JWT_KEYS", "env:" SECRET_32, 1);
	setenv("HMS_ACCESS_TOKEN_MINUTES", "15", 1);
	setenv("HMS_SHUTDOWN_TIMEOUT_SECONDS", "30", 1);
	setenv("hms_workers", "9", 1); /* lower case is not ours */
	cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.jwt_keys, "env:" SECRET_32);
	cr_assert_eq(cfg.access_token_minutes, 15);
	cr_assert_eq(cfg.shutdown_timeout_seconds, 30);
	cr_assert_eq(cfg.workers, 0);
}

Test(config, bad_environment_value_names_the_variable)
{
	setenv("HMS_WORKERS", "many", 1);
	cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), -1);
	assert_err_has("environment HMS_WORKERS");
	assert_err_has("'many'");
}

/* --- validation --- */

Test(config, valid_configuration)
{
	make_valid();
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, 1);
	cr_assert_str_eq(cfg.jwt[0].kid, "k1");
	cr_assert_eq(cfg.jwt[0].secret_len, 32);
	cr_assert_eq(memcmp(cfg.jwt[0].secret, SECRET_32, 32), 0);
}

Test(config, validating_twice_does_not_duplicate_keys)
{
	make_valid();
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, 1);
}

Test(config, missing_database_url)
{
	make_valid();
	free(cfg.database_url);
	cfg.database_url = NULL;
	assert_refused_with("database_url");
	set("database_url", "");
	assert_refused_with("database_url");
}

Test(config, unknown_log_level)
{
	make_valid();
	set("log_level", "verbose");
	assert_refused_with("log_level");
	assert_err_has("'verbose'");
}

Test(config, no_jwt_key)
{
	set("database_url", "dbname=hms");
	set("attachment_dir", tmpdir);
	assert_refused_with("no JWT signing key");
	set("jwt_keys", "");
	assert_refused_with("no JWT signing key");
	/* Only blank entries and comments: still no key. */
	set("jwt_keys", " , ,#k:" SECRET_32);
	assert_refused_with("no JWT signing key");
}

Test(config, secret_shorter_than_32_bytes_is_refused_without_echo)
{
	make_valid();
	set("jwt_keys", "weak:" SECRET_31);
	assert_refused_with("'weak'");
	assert_err_has("31 bytes");
	assert_err_has("at least 32");
	cr_assert_null(strstr(err, SECRET_31), "the secret leaked into the error: %s", err);
	cr_assert_null(strstr(err, "TOPSECRET"), "part of the secret leaked: %s", err);
}

Test(config, short_secret_after_a_good_key_is_refused)
{
	make_valid();
	set("jwt_keys", "good:" SECRET_32 ",weak:" SECRET_31);
	assert_refused_with("'weak'");
	cr_assert_null(strstr(err, SECRET_31));
	cr_assert_null(strstr(err, SECRET_32));
}

Test(config, key_without_colon_is_refused_without_echo)
{
	make_valid();
	set("jwt_keys", SECRET_31 SECRET_32);
	assert_refused_with("kid:secret");
	cr_assert_null(strstr(err, "TOPSECRET"), "the secret leaked into the error: %s", err);
}

Test(config, kid_rules)
{
	static const char *const bad[] = {
	    ":" SECRET_32,
	    "has space:" SECRET_32,
	    "sla/sh:" SECRET_32,
	    "caf\xc3\xa9:" SECRET_32,
	    "abcdefghijklmnopqrstuvwxyz0123456:" SECRET_32, /* 33 characters */
	};

	make_valid();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set("jwt_keys", bad[i]);
		assert_refused_with("key id");
		cr_assert_null(strstr(err, SECRET_32));
	}
	/* 32 characters of every allowed kind is fine. */
	set("jwt_keys", "Az09._-abcdefghijklmnopqrstuvwxy:" SECRET_32);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_str_eq(cfg.jwt[0].kid, "Az09._-abcdefghijklmnopqrstuvwxy");
}

Test(config, duplicate_kid_is_refused)
{
	make_valid();
	set("jwt_keys", "k1:" SECRET_32 ",k2:" SECRET_32B ",k1:" SECRET_32C);
	assert_refused_with("key id 'k1' is used twice");
	cr_assert_null(strstr(err, SECRET_32C));
}

Test(config, several_keys_are_kept_in_order)
{
	make_valid();
	set("jwt_keys", " new:" SECRET_32 " , old:" SECRET_32B ",, older:" SECRET_32C " ");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, 3);
	cr_assert_str_eq(cfg.jwt[0].kid, "new");
	cr_assert_str_eq(cfg.jwt[1].kid, "old");
	cr_assert_str_eq(cfg.jwt[2].kid, "older");
	cr_assert_eq(cfg.jwt[0].secret_len, 32);
	cr_assert_eq(memcmp(cfg.jwt[0].secret, SECRET_32, 32), 0);
	cr_assert_eq(memcmp(cfg.jwt[1].secret, SECRET_32B, 32), 0);
	cr_assert_eq(memcmp(cfg.jwt[2].secret, SECRET_32C, 32), 0);
}

Test(config, longer_secret_and_colons_in_secret_are_kept)
{
	make_valid();
	set("jwt_keys", "k:" SECRET_32 ":with:colons");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt[0].secret_len, 32 + 12);
	cr_assert_eq(memcmp(cfg.jwt[0].secret, SECRET_32 ":with:colons", 44), 0);
}

Test(config, at_most_eight_keys)
{
	char keys[1024] = "";

	make_valid();
	for (int i = 0; i < CONFIG_MAX_JWT_KEYS; i++) {
		size_t len = strlen(keys);

		snprintf(keys + len, sizeof(keys) - len, "%sk%d:%s", i ? "," : "", i, SECRET_32);
	}
	set("jwt_keys", keys);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, CONFIG_MAX_JWT_KEYS);
	strcat(keys, ",k8:" SECRET_32);
	set("jwt_keys", keys);
	assert_refused_with("at most 8 keys");
}

Test(config, jwt_keys_file)
{
	const char *path = write_file("jwt.keys", "# rotated 2024-05\n"
	                                          "\n"
	                                          "current:" SECRET_32 "\n"
	                                          "   \n"
	                                          "previous:" SECRET_32B "\r\n");

	make_valid();
	free(cfg.jwt_keys);
	cfg.jwt_keys = NULL;
	set("jwt_keys_file", path);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, 2);
	cr_assert_str_eq(cfg.jwt[0].kid, "current");
	cr_assert_str_eq(cfg.jwt[1].kid, "previous");
	cr_assert_eq(cfg.jwt[1].secret_len, 32);
	cr_assert_eq(memcmp(cfg.jwt[1].secret, SECRET_32B, 32), 0);
}

Test(config, jwt_keys_then_jwt_keys_file)
{
	const char *path = write_file("jwt.keys", "filekey:" SECRET_32B "\n");

	make_valid();
	set("jwt_keys_file", path);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, 2);
	cr_assert_str_eq(cfg.jwt[0].kid, "k1", "jwt_keys signs, so it comes first");
	cr_assert_str_eq(cfg.jwt[1].kid, "filekey");
}

Test(config, duplicate_kid_across_jwt_keys_and_file)
{
	const char *path = write_file("jwt.keys", "k1:" SECRET_32B "\n");

	make_valid();
	set("jwt_keys_file", path);
	assert_refused_with("'k1' is used twice");
}

Test(config, jwt_keys_file_missing)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/no.keys", tmpdir);
	make_valid();
	set("jwt_keys_file", path);
	assert_refused_with("jwt_keys_file: cannot open");
	assert_err_has(path);
}

Test(config, jwt_keys_file_weak_secret_not_echoed)
{
	const char *path = write_file("jwt.keys", "weak:" SECRET_31 "\n");

	make_valid();
	free(cfg.jwt_keys);
	cfg.jwt_keys = NULL;
	set("jwt_keys_file", path);
	assert_refused_with("jwt_keys_file");
	assert_err_has("'weak'");
	cr_assert_null(strstr(err, "TOPSECRET"), "the secret leaked into the error: %s", err);
}

Test(config, attachment_dir_missing)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/no-such-dir", tmpdir);
	make_valid();
	set("attachment_dir", path);
	assert_refused_with("is not a directory");
	assert_err_has(path);
}

Test(config, attachment_dir_is_a_file)
{
	const char *path = write_file("not-a-dir", "x");

	make_valid();
	set("attachment_dir", path);
	assert_refused_with("is not a directory");
	set("attachment_dir", "");
	assert_refused_with("attachment_dir");
}

Test(config, socket_path_rules)
{
	char long_path[128];

	make_valid();
	set("socket_path", "run/hms.sock");
	assert_refused_with("socket_path");
	memset(long_path, 'a', 101);
	long_path[0] = '/';
	long_path[101] = '\0';
	set("socket_path", long_path);
	assert_refused_with("socket_path");
	long_path[100] = '\0';
	set("socket_path", long_path);
	cr_assert_eq(validate(), 0, "100 bytes is allowed: %s", err);
}

Test(config, listen_address_is_a_literal_and_a_port)
{
	make_valid();
	set("fastcgi_allowed_peers", "10.0.0.2");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_not(config_listens_on_tcp(&cfg), "no listen_address: the unix socket");
	set("listen_address", "10.0.0.5:9000");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert(config_listens_on_tcp(&cfg));
	cr_assert_eq(cfg.listen_sockaddr.ss_family, AF_INET);
	set("listen_address", "[2001:db8::5]:9000");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.listen_sockaddr.ss_family, AF_INET6);
	set("listen_address", "hms1.example.org:9000");
	assert_refused_with("listen_address must be an IP address and a port");
	set("listen_address", "10.0.0.5:0");
	assert_refused_with("port 1 to 65535");
	set("listen_address", "10.0.0.5:65536");
	assert_refused_with("listen_address");
	set("listen_address", "10.0.0.5");
	assert_refused_with("listen_address");
	set("listen_address", "::1:9000");
	assert_refused_with("listen_address");
	cr_assert_not(config_listens_on_tcp(&cfg), "a refused address is not half-set");
	/* Empty means unset, as for every key. */
	set("listen_address", "");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_not(config_listens_on_tcp(&cfg));
}

Test(config, tcp_listener_needs_an_allow_list)
{
	make_valid();
	set("listen_address", "10.0.0.5:9000");
	assert_refused_with("set fastcgi_allowed_peers");
	assert_err_has("neither authentication nor encryption");
	set("fastcgi_allowed_peers", " , ");
	assert_refused_with("set fastcgi_allowed_peers");
	set("fastcgi_allowed_peers", "10.0.0.2, 10.0.0.3 2001:db8::2 10.0.1.0/24");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.peer_count, 4);
	/* The environment, as for every key. */
	setenv("HMS_FASTCGI_ALLOWED_PEERS", "nginx.example.org", 1);
	cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), 0, "%s", err);
	assert_refused_with("fastcgi_allowed_peers: 'nginx.example.org'");
	set("fastcgi_allowed_peers", "0.0.0.0/0");
	assert_refused_with("fastcgi_allowed_peers: '0.0.0.0/0'");
	set("fastcgi_allowed_peers", "10.0.0.2/33");
	assert_refused_with("fastcgi_allowed_peers");
}

Test(config, allow_list_without_listener_is_checked_and_unused)
{
	make_valid();
	set("fastcgi_allowed_peers", "10.0.0.2");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_not(config_listens_on_tcp(&cfg));
	set("fastcgi_allowed_peers", "not-an-address");
	assert_refused_with("fastcgi_allowed_peers");
}

Test(config, instance_name_defaults_to_the_host_name)
{
	char host[256] = "";

	make_valid();
	cr_assert_null(cfg.instance_name);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_not_null(cfg.instance_name);
	cr_assert_eq(gethostname(host, sizeof(host) - 1), 0);
	host[CONFIG_INSTANCE_NAME_MAX] = '\0';
	cr_assert_eq(strlen(cfg.instance_name), strlen(host));
	for (size_t i = 0; host[i] != '\0'; i++)
		cr_assert(cfg.instance_name[i] == host[i] || cfg.instance_name[i] == '_',
		          "%s vs %s", cfg.instance_name, host);
	cr_assert_eq(strspn(cfg.instance_name,
	                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                    "0123456789-_"),
	             strlen(cfg.instance_name));
}

Test(config, instance_name_rules)
{
	char long_name[CONFIG_INSTANCE_NAME_MAX + 2];

	make_valid();
	set("instance_name", "hms-2_b");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_str_eq(cfg.instance_name, "hms-2_b");
	set("instance_name", "hms.2");
	assert_refused_with("instance_name must be 1 to 63 letters");
	set("instance_name", "../x");
	assert_refused_with("instance_name");
	set("instance_name", "a b");
	assert_refused_with("instance_name");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	set("instance_name", long_name);
	assert_refused_with("instance_name");
	long_name[CONFIG_INSTANCE_NAME_MAX] = '\0';
	set("instance_name", long_name);
	cr_assert_eq(validate(), 0, "63 characters are allowed: %s", err);
}

Test(config, socket_group_must_exist)
{
	make_valid();
	set("socket_group", "hms-no-such-group-42");
	assert_refused_with("socket_group 'hms-no-such-group-42' does not exist");
	set("socket_group", "root");
	cr_assert_eq(validate(), 0, "%s", err);
}

Test(config, time_zone_and_issuer_must_be_sane)
{
	make_valid();
	set("time_zone", "../../etc/passwd");
	assert_refused_with("time_zone");
	set("time_zone", "Europe/Berlin");
	set("jwt_audience", "");
	assert_refused_with("jwt_audience");
}

Test(config, database_purpose_needs_only_the_database)
{
	/* No key, and the default attachment dir does not exist here. */
	set("database_url", "dbname=hms");
	set("attachment_dir", "/nonexistent/hms/attachments");
	cr_assert_eq(config_validate(&cfg, CONFIG_FOR_DATABASE, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.jwt_key_count, 0);
	cr_assert_eq(validate(), -1, "the server still needs the rest");
}

Test(config, database_purpose_still_needs_the_database)
{
	cr_assert_eq(config_validate(&cfg, CONFIG_FOR_DATABASE, err, sizeof(err)), -1);
	assert_err_has("database_url");
}

Test(config, worker_count)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	set("workers", "3");
	cr_assert_eq(config_worker_count(&cfg), 3);
	set("workers", "0");
	cr_assert_eq(config_worker_count(&cfg), CONFIG_WORKERS_PER_CPU * (cpus > 0 ? cpus : 1));
}

Test(config, free_clears_strings)
{
	make_valid();
	cr_assert_eq(validate(), 0, "%s", err);
	config_free(&cfg);
	cr_assert_null(cfg.database_url);
	cr_assert_null(cfg.jwt_issuer);
	cr_assert_eq(cfg.jwt_key_count, 0);
	cr_assert_null(cfg.jwt[0].secret);
	/* The fixture frees again: config_free must be safe to repeat. */
}

Test(config, an_audit_sealing_key_is_required)
{
	make_valid();
	set("audit_seal_keys", "");
	assert_refused_with("no audit sealing key");
	set("audit_seal_keys", "s:" SECRET_31);
	assert_refused_with("at least 32");
	cr_assert_null(strstr(err, SECRET_31), "the error repeats the secret: %s", err);
	set("audit_seal_keys", "new:" SECRET_32 ",old:" SECRET_32C);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.seal_key_count, 2);
	cr_assert_str_eq(cfg.seal[0].kid, "new");
	/* The JWT keys are a list of their own. */
	cr_assert_eq(cfg.jwt_key_count, 1);
	cr_assert_str_eq(cfg.jwt[0].kid, "k1");
}

Test(config, download_key_is_required)
{
	make_valid();
	set("download_keys", "");
	assert_refused_with("download signing key");
	set("download_keys", "weak:" SECRET_31);
	cr_assert_eq(validate(), -1);
	set("download_keys", "dl2:" SECRET_32 ",dl1:" SECRET_32B);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.download_key_count, 2);
	cr_assert_str_eq(cfg.download[0].kid, "dl2");
}

Test(config, fhir_identifier_systems_are_absolute_uris)
{
	static const char *const keys[] = {"fhir_mrn_system", "fhir_license_system"};
	static const char *const bad[] = {
	    "", "mrn", "/fhir/sid/mrn", ":x", "https:", "urn:oid:1.2 3", "1urn:x", "https://a\tb",
	};
	static const char *const good[] = {
	    "https://hospital.example.org/fhir/sid/mrn",
	    "urn:oid:1.2.840.113619.6.197",
	    "http://hl7.org/fhir/sid/us-npi",
	};

	make_valid();
	cr_assert_eq(validate(), 0, "unset (derived from public_origin): %s", err);
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			set(keys[k], bad[i]);
			assert_refused_with(keys[k]);
		}
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			set(keys[k], good[i]);
			cr_assert_eq(validate(), 0, "'%s' refused: %s", good[i], err);
		}
	}
}

Test(config, public_origin_is_required_and_bare)
{
	static const char *const bad[] = {
	    "",
	    "hms.example.org",
	    "ftp://hms.example.org",
	    "https://",
	    "https://hms.example.org/",
	    "https://hms.example.org/api",
	    "https://hms.example.org:0",
	    "https://hms.example.org:65536",
	    "https://hms.example.org:443x",
	    "https://user@hms.example.org",
	    "https://hms.example.org?x=1",
	    "https://[zz]",
	};
	static const char *const good[] = {
	    "https://hms.example.org",
	    "https://localhost:8443",
	    "http://127.0.0.1:8080",
	    "https://[::1]:8443",
	};

	make_valid();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set("public_origin", bad[i]);
		assert_refused_with("public_origin");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		set("public_origin", good[i]);
		cr_assert_eq(validate(), 0, "'%s' refused: %s", good[i], err);
	}
}

/* --- web_server: the one switch between nginx and Apache --- */

Test(config, web_server_defaults_to_nginx)
{
	make_valid();
	cr_assert_str_eq(cfg.web_server, "nginx");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.web_server_kind, WEB_SERVER_NGINX);
}

Test(config, web_server_apache)
{
	make_valid();
	set("web_server", "apache");
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.web_server_kind, WEB_SERVER_APACHE);
}

Test(config, web_server_from_the_environment)
{
	make_valid();
	setenv("HMS_WEB_SERVER", "apache", 1);
	cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(validate(), 0, "%s", err);
	cr_assert_eq(cfg.web_server_kind, WEB_SERVER_APACHE);
}

Test(config, web_server_unknown_is_refused)
{
	static const char *const bad[] = {"", "Apache", "httpd", "nginx ", "lighttpd"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_valid();
		set("web_server", bad[i]);
		assert_refused_with("web_server must be nginx or apache");
	}
}

Test(config, web_server_apache_needs_an_absolute_attachment_dir)
{
	make_valid();
	set("web_server", "apache");
	set("attachment_dir", "var/attachments");
	assert_refused_with("absolute path");
	set("attachment_dir", "/var/lib/hms/at%41tachments");
	assert_refused_with("'%'");
}
