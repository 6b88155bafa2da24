/*
 * test_hmsctl.c - the operator's command line: help for every command
 * without any configuration, the exit codes, `hmsctl check` on the test
 * stack's configuration and on one thing broken at a time, and the man
 * pages (docs/man/) rendering without a warning.
 *
 * hmsctl runs with a clean environment (env -i), as an operator's shell
 * would have no HMS_* variables; check reads the stack's own hms.conf
 * ($HMS_TEST_STATE/hms.conf), with one HMS_* variable overriding one key.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

static const char *const commands[] = {"check",      "migrate", "create-admin", "audit-verify",
                                       "audit-seal", "seed",    "help"};
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
