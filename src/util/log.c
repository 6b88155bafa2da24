/*
 * log.c - one JSON line per event on stderr. Each line is written with a
 * single write() so lines from the master and workers never interleave.
 *
 * Under systemd, stderr is a stream to journald (JOURNAL_STREAM names it):
 * each line then starts with its syslog priority, "<6>" for info, which
 * journald strips and keeps as the entry's PRIORITY (sd-daemon(3)), so
 * `journalctl -u hms -p warning` shows warnings and errors. The line keeps
 * its own "ts" (UTC, milliseconds): it is the message, and stays
 * self-contained when exported (journalctl -o cat, a log shipper), whereas
 * journald's timestamp is metadata beside it. Written anywhere else (a file,
 * a terminal) the lines are plain JSON.
 */
#include "hms/log.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *component_name = "hms";

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char level_priorities[] = {'7', '6', '4', '3'}; /* syslog's */
static bool to_journal;

/* JOURNAL_STREAM is "device:inode" of the stream systemd connected; it is
 * inherited by children whose stderr may be elsewhere, hence the fstat. */
static bool stderr_is_journal(void)
{
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return stream != NULL && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_init(enum log_level level, const char *component)
{
	min_level = level;
	component_name = component;
	to_journal = stderr_is_journal();
}

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_event(enum log_level level, const char *event, ...)
{
	char ts[64];
	struct timespec now;
	struct tm tm;
	struct json_object *line;
	const char *key;
	const char *text;
	size_t len;
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long)(now.tv_nsec / 1000000) % 1000);

	line = json_object_new_object();
	json_object_object_add(line, "ts", json_object_new_string(ts));
	json_object_object_add(line, "level", json_object_new_string(level_names[level]));
	json_object_object_add(line, "component", json_object_new_string(component_name));
	json_object_object_add(line, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(line, "event", json_object_new_string(event));

	va_start(ap, event);
	while ((key = va_arg(ap, const char *)) != NULL) {
		struct json_object *value = NULL;

		if (strlen(key) < 3 || key[1] != ':')
			break; /* a malformed key ends the list rather than misreading va_args */
		switch (key[0]) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			value = s != NULL ? json_object_new_string(s) : NULL;
			break;
		}
		case 'i':
			value = json_object_new_int(va_arg(ap, int));
			break;
		case 'l':
			value = json_object_new_int64(va_arg(ap, long long));
			break;
		case 'f':
			value = json_object_new_double(va_arg(ap, double));
			break;
		default:
			va_end(ap);
			goto out;
		}
		json_object_object_add(line, key + 2, value);
	}
	va_end(ap);
out:
	text = json_object_to_json_string_length(
	    line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	{
		char buf[4096];
		size_t at = 0;

		if (to_journal) {
			buf[at++] = '<';
			buf[at++] = level_priorities[level];
			buf[at++] = '>';
		}
		if (at + len + 1 < sizeof(buf)) {
			memcpy(buf + at, text, len);
			buf[at + len] = '\n';
			if (write(STDERR_FILENO, buf, at + len + 1) < 0) {
				/* Nowhere left to report a failed log write. */
			}
		} else {
			fprintf(stderr, "%.*s%s\n", (int)at, buf, text);
		}
	}
	json_object_put(line);
}
