/*
 * strbuf.c - a growing string in the request arena (see
 * include/hms/strbuf.h). The arena frees everything at the end of the
 * request, so growing copies the text and leaves the old block behind;
 * doubling keeps the total linear.
 */
#include "hms/strbuf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hms/arena.h"

void strbuf_init(struct strbuf *b, struct arena *arena)
{
	*b = (struct strbuf){.arena = arena, .text = ""};
}

static bool reserve(struct strbuf *b, size_t more)
{
	size_t cap;
	char *grown;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap > 0 ? b->cap : 64;
	while (cap < b->len + more + 1)
		cap *= 2;
	grown = arena_alloc(b->arena, cap);
	if (grown == NULL) {
		b->failed = true;
		return false;
	}
	memcpy(grown, b->text, b->len + 1);
	b->text = grown;
	b->cap = cap;
	return true;
}

void strbuf_append_n(struct strbuf *b, const char *text, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->text + b->len, text, n);
	b->len += n;
	b->text[b->len] = '\0';
}

void strbuf_append(struct strbuf *b, const char *text)
{
	strbuf_append_n(b, text, strlen(text));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->text + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void strbuf_append_param(struct strbuf *b, const char *text, int number)
{
	const char *mark;

	while ((mark = strstr(text, "$?")) != NULL) {
		strbuf_append_n(b, text, (size_t)(mark - text));
		strbuf_printf(b, "$%d", number);
		text = mark + 2;
	}
	strbuf_append(b, text);
}

void strbuf_append_url_encoded(struct strbuf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *text != '\0'; text++) {
		unsigned char c = (unsigned char)*text;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			strbuf_append_n(b, (const char *)&c, 1);
		} else {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

			strbuf_append_n(b, enc, 3);
		}
	}
}

const char *strbuf_text(const struct strbuf *b)
{
	return b->failed ? NULL : b->text;
}
