/*
 * test_log.c - the log lines (src/util/log.c): one JSON object per line,
 * and the syslog priority prefix only when stderr is journald's stream.
 *
 * Each test points stderr at a temporary file; Criterion runs each test in
 * its own process, so neither that nor setenv() leaks into another test.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hms/log.h"

static char path[] = "/tmp/hms-test-log-XXXXXX";
static int saved_stderr = -1;

/* stderr into a new temporary file; JOURNAL_STREAM names that file when
 * as_journal (as systemd names the stream it connected). */
static void capture(bool as_journal)
{
	int fd = mkstemp(path);
	struct stat st;
	char stream[64];

	cr_assert_geq(fd, 0);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + (as_journal ? 0 : 1));
	setenv("JOURNAL_STREAM", stream, 1);
}

/* The captured text, malloc'd; restores stderr. */
static char *captured(void)
{
	char *text = calloc(1, 8192);
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f);
	cr_assert_not_null(text);
	cr_assert_gt(fread(text, 1, 8191, f), 0);
	fclose(f);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	unlink(path);
	return text;
}

Test(log, a_line_is_one_json_object_with_the_fields)
{
	struct json_object *line;
	char *text;

	capture(false);
	log_init(LOG_INFO, "worker");
	log_event(LOG_INFO, "request", "s:route", "/api/patients/{id}/", "i:status", 200,
	          "l:user_id", 42LL, LOG_END);
	log_event(LOG_DEBUG, "dropped", LOG_END); /* under the level */
	text = captured();
	cr_assert_eq(strchr(text, '\n'), text + strlen(text) - 1, "one line: %s", text);
	line = json_tokener_parse(text);
	cr_assert_not_null(line, "%s", text);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(line, "level")), "info");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(line, "component")),
	                 "worker");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(line, "route")),
	                 "/api/patients/{id}/");
	cr_assert_eq(json_object_get_int(json_object_object_get(line, "status")), 200);
	cr_assert_eq(json_object_get_int64(json_object_object_get(line, "user_id")), 42);
	cr_assert_not_null(json_object_object_get(line, "ts"));
	json_object_put(line);
	free(text);
}

Test(log, journald_gets_the_priority_prefix)
{
	char *text;

	capture(true);
	log_init(LOG_DEBUG, "master");
	log_event(LOG_WARN, "slow", LOG_END);
	log_event(LOG_ERROR, "broken", LOG_END);
	log_event(LOG_INFO, "fine", LOG_END);
	log_event(LOG_DEBUG, "detail", LOG_END);
	text = captured();
	cr_assert_eq(strncmp(text, "<4>{", 4), 0, "%s", text);
	cr_assert_not_null(strstr(text, "\n<3>{"), "%s", text);
	cr_assert_not_null(strstr(text, "\n<6>{"), "%s", text);
	cr_assert_not_null(strstr(text, "\n<7>{"), "%s", text);
	free(text);
}

Test(log, no_prefix_when_stderr_is_not_the_journal_stream)
{
	char *text;

	capture(false); /* JOURNAL_STREAM set, inherited, but names another stream */
	log_init(LOG_INFO, "master");
	log_event(LOG_WARN, "slow", LOG_END);
	text = captured();
	cr_assert_eq(text[0], '{', "%s", text);
	free(text);
}
