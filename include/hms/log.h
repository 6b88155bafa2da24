/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 * Fields are given as typed key/value pairs ending with NULL; the key's
 * first two characters say the type: "s:" string, "i:" int, "l:" long long,
 * "f:" double. Example:
 *
 *	log_event(LOG_INFO, "worker_started", "i:pid", (int)pid, LOG_END);
 *
 * Never log PHI: no names, bodies, query strings or raw paths.
 */
#ifndef HMS_LOG_H
#define HMS_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Ends the field list (a typed null pointer, as variadic sentinels must be). */
#define LOG_END ((const char *)NULL)

/* Sets the lowest level written and the component name ("master", "worker",
 * "hmsctl") put on every line. */
void log_init(enum log_level min_level, const char *component);

/* Parses "debug", "info", "warn", "error"; -1 when unknown. */
int log_level_parse(const char *name);

void log_event(enum log_level level, const char *event, ...) __attribute__((sentinel));

#endif
