/*
 * test_hmsctl.c - the operator's command line: help for every command
 * without any configuration, the exit codes, `hmsctl check` on the test
 * stack's configuration and on one thing broken at a time, and the man
 * pages (docs/man/) rendering without a warning; `hmsctl attachments-check`
 * on the stack's attachment directory, with real uploads and planted files.
 *
 * hmsctl runs with a clean environment (env -i), as an operator's shell
 * would have no HMS_* variables; check reads the stack's own hms.conf
 * ($HMS_TEST_STATE/hms.conf), with one HMS_* variable overriding one key.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static const char *const commands[] = {"check",      "migrate", "create-admin",      "audit-verify",
                                       "audit-seal", "seed",    "attachments-check", "help"};
#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* hmsctl ARGS with env (assignments, may be "") and nothing else. */
static int hmsctl(const char *env, const char *args, char **output)
{
	char *cmd =
	    client_format("cd / && env -i PATH=/usr/bin:/bin ASAN_OPTIONS=detect_leaks=1 %s "
	                  "'%s' %s 2>&1",
	                  env, client_env("HMS_TEST_HMSCTL_BIN"), args);
	int rc = client_run(cmd, output);

	free(cmd);
	return rc;
}

/* hmsctl check on the stack's configuration with env overriding it. */
static int check(const char *env, char **output)
{
	char *args = client_format("--config '%s/hms.conf' check", client_env("HMS_TEST_STATE"));
	int rc = hmsctl(env, args, output);

	free(args);
	return rc;
}

static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p += p != NULL)
		n += strncmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

/* The one FAIL line of output, asserted to be the only one and to contain
 * every needle. */
static void assert_one_problem(const char *output, const char *const *needles)
{
	const char *line = strstr(output, "FAIL ");

	cr_assert_eq(count_lines_starting(output, "FAIL "), 1, "%s", output);
	cr_assert_not_null(line, "%s", output);
	for (size_t i = 0; needles[i] != NULL; i++) {
		const char *end = strchr(line, '\n');
		char *copy = strndup(line, end != NULL ? (size_t)(end - line) : strlen(line));

		cr_assert_not_null(strstr(copy, needles[i]), "'%s' not in: %s", needles[i], copy);
		free(copy);
	}
	cr_assert_not_null(strstr(output, "hmsctl check: 1 problem found"), "%s", output);
}

/* --- help and exit codes ---------------------------------------------------- */

Test(hmsctl, help_lists_every_command_without_a_configuration)
{
	char *out;

	/* A configuration that cannot even be opened does not matter. */
	cr_assert_eq(hmsctl("HMS_CONFIG=/nonexistent/hms.conf", "--help", &out), 0, "%s", out);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		cr_assert_not_null(strstr(out, commands[i]), "%s not in: %s", commands[i], out);
	cr_assert_not_null(strstr(out, "Exit status"), "%s", out);
	free(out);
	cr_assert_eq(hmsctl("HMS_CONFIG=/nonexistent/hms.conf", "help", &out), 0, "%s", out);
	free(out);
}

Test(hmsctl, every_command_has_help_without_a_configuration)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		char *forms[] = {
		    client_format("%s --help", commands[i]),
		    client_format("%s -h", commands[i]),
		    client_format("help %s", commands[i]),
		    client_format("--config /nonexistent %s --help", commands[i]),
		};
		char *usage = client_format("usage: hmsctl [--config FILE] %s", commands[i]);

		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
			char *out;

			cr_assert_eq(hmsctl("HMS_CONFIG=/nonexistent/hms.conf", forms[f], &out), 0,
			             "hmsctl %s: %s", forms[f], out);
			cr_assert_eq(strncmp(out, usage, strlen(usage)), 0, "hmsctl %s: %s",
			             forms[f], out);
			cr_assert_null(strstr(out, "configuration error"), "%s", out);
			cr_assert_not_null(strstr(out, "Exit status"), "%s", out);
			free(out);
			free(forms[f]);
		}
		free(usage);
	}
}

Test(hmsctl, exit_codes)
{
	char *out;

	/* 2: usage errors, and a configuration that does not load. */
	cr_assert_eq(hmsctl("", "", &out), 2, "%s", out);
	free(out);
	cr_assert_eq(hmsctl("", "no-such-command", &out), 2, "%s", out);
	cr_assert_not_null(strstr(out, "unknown command 'no-such-command'"), "%s", out);
	free(out);
	cr_assert_eq(hmsctl("HMS_DATABASE_URL=dbname=x", "migrate --no-such-option", &out), 2, "%s",
	             out);
	free(out);
	cr_assert_eq(hmsctl("HMS_DATABASE_URL=dbname=x", "audit-seal extra", &out), 2, "%s", out);
	cr_assert_not_null(strstr(out, "unexpected argument 'extra'"), "%s", out);
	free(out);
	cr_assert_eq(hmsctl("HMS_CONFIG=/nonexistent/hms.conf", "migrate", &out), 2, "%s", out);
	cr_assert_not_null(strstr(out, "/nonexistent/hms.conf"), "%s", out);
	free(out);
	/* 1: the command ran and failed (here: no database there). */
	cr_assert_eq(hmsctl("HMS_DATABASE_URL='host=/nonexistent dbname=x'", "migrate", &out), 1,
	             "%s", out);
	free(out);
}

/* --- check ------------------------------------------------------------------- */

Test(hmsctl, check_passes_on_the_test_stack)
{
	char *out;

	cr_assert_eq(check("", &out), 0, "%s", out);
	cr_assert_eq(count_lines_starting(out, "FAIL"), 0, "%s", out);
	cr_assert_geq(count_lines_starting(out, "ok "), 8, "%s", out);
	cr_assert_not_null(strstr(out, "checksums match"), "%s", out);
	cr_assert_not_null(strstr(out, "no problem found"), "%s", out);
	free(out);
}

Test(hmsctl, check_names_a_wrong_database_url)
{
	const char *needles[] = {"database (database_url): cannot connect", NULL};
	char *out;

	cr_assert_eq(check("HMS_DATABASE_URL='host=/nonexistent dbname=hms' "
	                   "HMS_ADMIN_DATABASE_URL=",
	                   &out),
	             1, "%s", out);
	assert_one_problem(out, needles);
	cr_assert_not_null(strstr(out, "skip  migrations"), "%s", out);
	free(out);
}

Test(hmsctl, check_names_a_missing_migration)
{
	char dir[] = "/tmp/hms-check-schema-XXXXXX";
	const char *needles[] = {"migrations", "1 file(s)", "999_not_applied.sql", "hmsctl migrate",
	                         NULL};
	char *cmd, *env, *out;

	cr_assert_not_null(mkdtemp(dir));
	cmd = client_format(
	    "cp '%s'/schema/*.sql '%s'/ && echo 'SELECT 1;' > '%s'/999_not_applied.sql",
	    client_env("HMS_TEST_ROOT"), dir, dir);
	cr_assert_eq(client_run(cmd, NULL), 0);
	free(cmd);
	env = client_format("HMS_SCHEMA_DIR='%s'", dir);
	cr_assert_eq(check(env, &out), 1, "%s", out);
	assert_one_problem(out, needles);
	free(out);
	free(env);
	cmd = client_format("rm -rf '%s'", dir);
	cr_assert_eq(client_run(cmd, NULL), 0);
	free(cmd);
}

Test(hmsctl, check_names_an_attachment_dir_open_to_others)
{
	char dir[] = "/tmp/hms-check-attach-XXXXXX";
	const char *needles[] = {"attachment_dir", dir, "writable by others", NULL};
	char *env, *out;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0777), 0);
	env = client_format("HMS_ATTACHMENT_DIR='%s'", dir);
	cr_assert_eq(check(env, &out), 1, "%s", out);
	assert_one_problem(out, needles);
	free(out);
	free(env);
	rmdir(dir);
}

Test(hmsctl, check_names_a_key_file_readable_by_others)
{
	char path[] = "/tmp/hms-check-key-XXXXXX";
	const char *needles[] = {"jwt_keys_file", path, "mode 0644", "readable by others", NULL};
	char *cmd, *env, *out;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	cmd = client_format("cp '%s/secrets/jwt.keys' '%s'", client_env("HMS_TEST_STATE"), path);
	cr_assert_eq(client_run(cmd, NULL), 0);
	free(cmd);
	cr_assert_eq(chmod(path, 0644), 0);
	env = client_format("HMS_JWT_KEYS_FILE='%s'", path);
	cr_assert_eq(check(env, &out), 1, "%s", out);
	assert_one_problem(out, needles);
	free(out);
	free(env);
	unlink(path);
}

/* --- attachments-check -------------------------------------------------------- */

/* What the test planted and moved, for the cleanup whatever the outcome:
 * other suites upload into the same directory meanwhile, and
 * test_attachments.c waits for temporary files to go. */
static char attach_dir[256], planted[3][128], moved_from[512], moved_to[512];

static void attachments_check_cleanup(void)
{
	char path[1024];

	for (size_t i = 0; i < 3; i++)
		if (planted[i][0] != '\0') {
			snprintf(path, sizeof(path), "%s/%s", attach_dir, planted[i]);
			unlink(path);
		}
	if (moved_from[0] != '\0')
		rename(moved_to, moved_from);
}

/* hmsctl attachments-check ARGS on the stack's configuration, connected
 * as the application role (database_url), as deploy/README.md runs it: its
 * SELECT on attachments is all the command needs. */
static int attachments_check(const char *env, const char *args, char **output)
{
	char *all = client_format("--config '%s/hms.conf' attachments-check %s",
	                          client_env("HMS_TEST_STATE"), args);
	char *envs = client_format("HMS_ADMIN_DATABASE_URL= %s", env);
	int rc = hmsctl(envs, all, output);

	free(all);
	free(envs);
	return rc;
}

static bool in_dir(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", attach_dir, name);
	return access(path, F_OK) == 0;
}

/* A file in the directory, last written hours_ago hours ago. */
static void plant(size_t slot, const char *name, int hours_ago)
{
	char *cmd = client_format("cd '%s' && echo planted > '%s' && touch -d '%d hours ago' '%s'",
	                          attach_dir, name, hours_ago, name);

	snprintf(planted[slot], sizeof(planted[slot]), "%s", name);
	cr_assert_eq(client_run(cmd, NULL), 0);
	free(cmd);
}

/* An attachment uploaded through the API; returns its id and storage
 * name. */
static long long upload_attachment(struct client_session *doctor, long long record, char name[33])
{
	static const char form[] =
	    "--B0undary\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n%lld\r\n"
	    "--B0undary\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n"
	    "wrist of Jane Roe\r\n--B0undary\r\nContent-Disposition: form-data; name=\"file\"; "
	    "filename=\"jane-roe-wrist.txt\"\r\n\r\nfracture of the left wrist\r\n"
	    "--B0undary--\r\n";
	char *body = client_format(form, record);
	char *auth = client_format("Authorization: Bearer %s", doctor->tokens.access);
	const char *headers[] = {auth, "Content-Type: multipart/form-data; boundary=B0undary",
	                         NULL};
	struct client_response res;
	long long id;
	char *value;

	cr_assert_eq(client_request("POST", "/api/attachments/", headers, body, strlen(body), &res),
	             0);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body);
	free(auth);
	body = client_format("SELECT storage_name FROM attachments WHERE id = %lld", id);
	value = client_sql_value(body);
	free(body);
	cr_assert_not_null(value);
	cr_assert_eq(strlen(value), 32, "%s", value);
	snprintf(name, 33, "%s", value);
	free(value);
	return id;
}

/* Whether out has the line or text fmt makes (asserted either way). */
static void __attribute__((format(printf, 3, 4)))
assert_output(const char *out, bool has, const char *fmt, ...)
{
	char needle[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(needle, sizeof(needle), fmt, ap);
	va_end(ap);
	if (has)
		cr_assert_not_null(strstr(out, needle), "'%s' not in:\n%s", needle, out);
	else
		cr_assert_null(strstr(out, needle), "'%s' in:\n%s", needle, out);
}

#define assert_has(out, ...)   assert_output(out, true, __VA_ARGS__)
#define assert_lacks(out, ...) assert_output(out, false, __VA_ARGS__)

Test(hmsctl, attachments_check_finds_and_removes_orphans_and_names_missing_files,
     .fini = attachments_check_cleanup)
{
	struct client_session doctor;
	struct client_response res;
	char kept[33], lost[33], old_orphan[33], young_orphan[33], temp[100], *out, *cmd;
	long long record, kept_id, lost_id;
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

	out = client_stack_setting("attachment_dir");
	snprintf(attach_dir, sizeof(attach_dir), "%s", out);
	free(out);

	/* Two real attachments: one stays, one's file goes missing. */
	client_open_session("doctor", &doctor);
	cmd = client_format("/api/patients/%lld/records/", client_new_patient());
	client_post_json(cmd, doctor.tokens.access, "{\"record_type\":\"note\",\"title\":\"X\"}",
	                 &res);
	free(cmd);
	client_assert_status(&res, 201);
	record = client_json_int(res.json, "id");
	client_response_free(&res);
	kept_id = upload_attachment(&doctor, record, kept);
	lost_id = upload_attachment(&doctor, record, lost);
	snprintf(moved_from, sizeof(moved_from), "%s/%s", attach_dir, lost);
	snprintf(moved_to, sizeof(moved_to), "%s/.moved-%s", attach_dir, lost);
	cr_assert_eq(rename(moved_from, moved_to), 0);

	/* An old orphan, a young one, and an old temporary file of another
	 * host (planted last: test_attachments.c waits for temporary files). */
	snprintf(old_orphan, sizeof(old_orphan), "%08x%08x%08x%08x", seed, rand_r(&seed),
	         rand_r(&seed), rand_r(&seed));
	snprintf(young_orphan, sizeof(young_orphan), "%08x%08x%08x%08x", seed, rand_r(&seed),
	         rand_r(&seed), rand_r(&seed));
	snprintf(temp, sizeof(temp), ".upload-otherhost.4242.%08x%08x%08x%08x", seed, rand_r(&seed),
	         rand_r(&seed), rand_r(&seed));
	plant(0, old_orphan, 2);
	plant(1, young_orphan, 0);
	plant(2, temp, 2);

	/* The report: exit 1, each by its storage name, the young one and the
	 * real rows' files not named, and nothing of the upload's names. */
	cr_assert_eq(attachments_check("", "", &out), 1, "%s", out);
	assert_has(out, "orphan %s: a stored file with no row", old_orphan);
	assert_has(out, "temporary %s:", temp);
	assert_has(out, "missing attachment %lld: %s is not there", lost_id, lost);
	assert_lacks(out, "%s", young_orphan);
	assert_lacks(out, "%s", kept);
	assert_lacks(out, "removed");
	assert_lacks(out, "jane");
	assert_lacks(out, "Jane");
	assert_has(out, "problems need an operator");
	free(out);
	cr_assert(in_dir(old_orphan) && in_dir(temp));

	/* --remove: the old orphan and temporary file go; the young orphan and
	 * the real row's file stay; the missing row is still reported. */
	cr_assert_eq(attachments_check("", "--remove", &out), 1, "%s", out);
	assert_has(out, "removed orphan %s\n", old_orphan);
	assert_has(out, "removed temporary %s\n", temp);
	assert_has(out, "missing attachment %lld: %s is not there", lost_id, lost);
	assert_lacks(out, "%s", young_orphan);
	free(out);
	cr_assert_not(in_dir(old_orphan));
	cr_assert_not(in_dir(temp));
	cr_assert(in_dir(young_orphan));
	cr_assert(in_dir(kept));
	planted[0][0] = planted[2][0] = '\0';

	/* The file back, nothing else wrong (the young orphan is no problem
	 * yet): exit 0. */
	cr_assert_eq(rename(moved_to, moved_from), 0);
	moved_from[0] = '\0';
	cr_assert_eq(attachments_check("", "", &out), 0, "%s", out);
	assert_has(out, "attachments-check: nothing wrong");
	assert_lacks(out, "missing attachment %lld", lost_id);
	assert_lacks(out, "%s", kept);
	free(out);
	/* The kept attachment still serves. */
	cmd = client_format("/api/attachments/%lld/", kept_id);
	client_get_auth(cmd, doctor.tokens.access, &res);
	free(cmd);
	client_assert_status(&res, 200);
	client_response_free(&res);

	/* But with --min-age 60 the young orphan is not young; it is only
	 * reported, the file kept, without --remove. */
	cmd = client_format("touch -d '5 minutes ago' '%s/%s'", attach_dir, young_orphan);
	cr_assert_eq(client_run(cmd, NULL), 0);
	free(cmd);
	cr_assert_eq(attachments_check("", "--min-age 60", &out), 1, "%s", out);
	assert_has(out, "orphan %s:", young_orphan);
	free(out);
	cr_assert(in_dir(young_orphan));
	client_close_session(&doctor);
}

Test(hmsctl, attachments_check_usage_and_configuration_errors)
{
	char *out;

	cr_assert_eq(attachments_check("", "--min-age 5", &out), 2, "%s", out);
	assert_has(out, "--min-age");
	free(out);
	cr_assert_eq(attachments_check("", "--min-age soon", &out), 2, "%s", out);
	free(out);
	cr_assert_eq(attachments_check("", "extra", &out), 2, "%s", out);
	free(out);
	cr_assert_eq(attachments_check("HMS_ATTACHMENT_DIR=/nonexistent/attachments", "", &out), 2,
	             "%s", out);
	assert_has(out, "/nonexistent/attachments");
	free(out);
}

/* --- the man pages --------------------------------------------------------------- */

/* groff's output on stderr with every warning on (-ww), nothing rendered
 * (-z): empty when the page is clean. */
static char *man_warnings(const char *page)
{
	char *cmd = client_format("groff -man -Tutf8 -ww -z '%s/docs/man/%s' 2>&1",
	                          client_env("HMS_TEST_ROOT"), page);
	char *out = NULL;

	cr_assert_eq(client_run(cmd, &out), 0, "%s: %s", page, out != NULL ? out : "");
	free(cmd);
	return out;
}

Test(man, pages_render_without_warnings)
{
	const char *pages[] = {"hms.8", "hmsctl.8"};

	for (size_t i = 0; i < 2; i++) {
		char *out = man_warnings(pages[i]);
		char *cmd;

		cr_assert(out == NULL || *out == '\0', "%s: %s", pages[i], out);
		free(out);
		/* And man itself, as a reader would run it. */
		cmd =
		    client_format("MANWIDTH=80 man --warnings -l '%s/docs/man/%s' 2>&1 >/dev/null",
		                  client_env("HMS_TEST_ROOT"), pages[i]);
		cr_assert_eq(client_run(cmd, &out), 0, "%s", out);
		cr_assert(out == NULL || *out == '\0', "%s: %s", pages[i], out);
		free(out);
		free(cmd);
	}
}

Test(man, hmsctl_page_documents_every_command_and_the_exit_codes)
{
	char *cmd = client_format("MANWIDTH=200 man -l '%s/docs/man/hmsctl.8' 2>/dev/null",
	                          client_env("HMS_TEST_ROOT"));
	char *out;

	cr_assert_eq(client_run(cmd, &out), 0, "%s", out);
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		char *needle = client_format("hmsctl %s", commands[i]);

		cr_assert_not_null(strstr(out, needle), "%s not in hmsctl.8", needle);
		free(needle);
	}
	cr_assert_not_null(strstr(out, "EXIT STATUS"), "%s", out);
	free(out);
	free(cmd);
}

Test(man, make_install_installs_the_pages)
{
	char *cmd = client_format("env -u MAKEFLAGS -u MAKELEVEL make -s -n -C '%s' install "
	                          "DESTDIR=/tmp/x PREFIX=/usr 2>&1",
	                          client_env("HMS_TEST_ROOT"));
	char *out;

	cr_assert_eq(client_run(cmd, &out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "docs/man/hms.8"), "%s", out);
	cr_assert_not_null(strstr(out, "docs/man/hmsctl.8"), "%s", out);
	cr_assert_not_null(strstr(out, "/tmp/x/usr/share/man/man8"), "%s", out);
	free(out);
	free(cmd);
}
