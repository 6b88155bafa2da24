/*
 * strbuf.h - a growing string in the request arena, for building SQL and
 * URLs piece by piece in linear time. A failed allocation marks the buffer
 * failed and later appends do nothing, so callers check once at the end.
 */
#ifndef HMS_STRBUF_H
#define HMS_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

struct strbuf {
	struct arena *arena;
	char *text; /* NUL-terminated once anything was appended */
	size_t len, cap;
	bool failed;
};

/* An empty buffer ("" even before the first append). */
void strbuf_init(struct strbuf *b, struct arena *arena);
void strbuf_append(struct strbuf *b, const char *text);
void strbuf_append_n(struct strbuf *b, const char *text, size_t n);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text with each "$?" replaced by "$<number>". */
void strbuf_append_param(struct strbuf *b, const char *text, int number);
/* Appends text percent-encoded for a URL query (RFC 3986 unreserved kept). */
void strbuf_append_url_encoded(struct strbuf *b, const char *text);
/* The text, or NULL when an allocation failed. */
const char *strbuf_text(const struct strbuf *b);

#endif
