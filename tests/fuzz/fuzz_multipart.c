/*
 * fuzz_multipart.c - the multipart parser (src/http/multipart.c) and the
 * file name sanitizer (src/util/filename.c).
 *
 * The input is a Content-Type value, a newline, and a body. The boundary
 * comes from multipart_boundary() when the value gives one, else it is
 * "XyZ". The body is parsed twice: fed in one piece, and fed in chunks whose
 * sizes come from a generator seeded by the input. Both runs must end with
 * the same error and report the same parts with the same data (the record
 * escapes data so that data cannot pass for an event). Every part's name
 * and file name must be valid UTF-8, and every file name, as well as the
 * whole input, must sanitize to a safe name (valid UTF-8, no separator or
 * control character, no dot or space at either end, at most 255 bytes, the
 * same when sanitized again) and give a printable ASCII Content-Disposition.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/filename.h"
#include "hms/multipart.h"

#include "fuzz.h"

/* Small limits, so that inputs of a few KiB reach them. */
static const struct multipart_limits limits = {.max_header_bytes = 256, .max_parts = 4};

static struct arena *arena;

struct record {
	unsigned char *buf;
	size_t len, cap;
	size_t parts;
	size_t data_bytes;
	bool in_part;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	arena = arena_new(FUZZ_ARENA_BLOCK, FUZZ_ARENA_MAX);
	if (arena == NULL)
		abort();
	return 0;
}

static void put(struct record *r, const void *data, size_t len)
{
	if (r->cap - r->len < len) {
		r->cap = (r->len + len) * 2;
		r->buf = realloc(r->buf, r->cap);
		if (r->buf == NULL)
			abort();
	}
	memcpy(r->buf + r->len, data, len);
	r->len += len;
}

static void check_name(const char *name, size_t len)
{
	char out[FILENAME_SANITIZED_MAX + 1], again[FILENAME_SANITIZED_MAX + 1];
	size_t n = filename_sanitize(name, len, out);
	const unsigned char *u = (const unsigned char *)out;
	char *cd;

	FUZZ_CHECK(n >= 1 && n <= FILENAME_SANITIZED_MAX && strlen(out) == n);
	FUZZ_CHECK(fuzz_str_is_valid(out, n));
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(u[i] >= 0x20 && u[i] != 0x7f && u[i] != '/' && u[i] != '\\');
		/* C1 controls are U+0080..U+009F: C2 80..C2 9F */
		FUZZ_CHECK(!(u[i] == 0xc2 && i + 1 < n && u[i + 1] <= 0x9f));
	}
	FUZZ_CHECK(out[0] != '.' && out[0] != ' ' && out[n - 1] != '.' && out[n - 1] != ' ');
	FUZZ_CHECK(filename_sanitize(out, n, again) == n && memcmp(out, again, n + 1) == 0);

	cd = filename_content_disposition(arena, name, len);
	FUZZ_CHECK(cd != NULL);
	for (const unsigned char *c = (const unsigned char *)cd; *c != '\0'; c++)
		FUZZ_CHECK(*c >= 0x20 && *c < 0x7f);
}

static int on_begin(void *user, const struct multipart_part *part)
{
	struct record *r = user;

	FUZZ_CHECK(!r->in_part);
	FUZZ_CHECK(part->index == r->parts);
	FUZZ_CHECK(++r->parts <= limits.max_parts);
	r->in_part = true;
	FUZZ_CHECK(part->name != NULL && part->name[0] != '\0');
	FUZZ_CHECK(fuzz_str_is_valid(part->name, strlen(part->name)));
	put(r,
	    "\xff"
	    "B",
	    2);
	put(r, part->name, strlen(part->name) + 1);
	if (part->filename != NULL) {
		FUZZ_CHECK(fuzz_str_is_valid(part->filename, strlen(part->filename)));
		check_name(part->filename, strlen(part->filename));
		put(r, "F", 1);
		put(r, part->filename, strlen(part->filename) + 1);
	}
	if (part->content_type != NULL) {
		for (const char *c = part->content_type; *c != '\0'; c++)
			FUZZ_CHECK(*c >= 0x20 && *c < 0x7f);
		put(r, "T", 1);
		put(r, part->content_type, strlen(part->content_type) + 1);
	}
	return 0;
}

static int on_data(void *user, const char *data, size_t len)
{
	struct record *r = user;

	FUZZ_CHECK(r->in_part && len > 0);
	r->data_bytes += len;
	for (size_t i = 0; i < len; i++) {
		put(r, data + i, 1);
		if ((unsigned char)data[i] == 0xff)
			put(r, "\xff", 1); /* escaped, so data never looks like an event */
	}
	return 0;
}

static int on_end(void *user)
{
	struct record *r = user;

	FUZZ_CHECK(r->in_part);
	r->in_part = false;
	put(r,
	    "\xff"
	    "E",
	    2);
	return 0;
}

static const struct multipart_callbacks callbacks = {on_begin, on_data, on_end};

/* Parses body in chunks: all at once when seed is 0, else sizes from an
 * xorshift generator, mostly small, sometimes up to 4 KiB. */
static enum multipart_error parse(const char *boundary, const char *body, size_t len, uint32_t seed,
                                  struct record *r)
{
	struct multipart_parser *p;
	enum multipart_error e = multipart_parser_new(arena, boundary, &limits, &callbacks, r, &p);
	size_t at = 0;

	FUZZ_CHECK(e == MULTIPART_OK);
	while (e == MULTIPART_OK && at < len) {
		size_t chunk = len - at;

		if (seed != 0) {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			chunk = seed % 8 == 0 ? 1 + seed % 4096 : 1 + seed % 80;
			if (chunk > len - at)
				chunk = len - at;
		}
		e = multipart_feed(p, body + at, chunk);
		at += chunk;
	}
	if (e == MULTIPART_OK)
		e = multipart_finish(p);
	FUZZ_CHECK(multipart_feed(p, "x", 1) != MULTIPART_OK); /* failed or finished */
	FUZZ_CHECK(r->data_bytes <= len);
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	char boundary[MULTIPART_BOUNDARY_MAX + 1] = "XyZ";
	struct record one = {0}, chunked = {0};
	enum multipart_error e1, e2;
	const char *body = "";
	size_t body_len = 0;
	uint32_t seed = 2166136261u;

	if (nl != NULL) {
		char *ct = malloc((size_t)(nl - in) + 1);

		if (ct == NULL)
			abort();
		memcpy(ct, in, (size_t)(nl - in));
		ct[nl - in] = '\0';
		if (multipart_boundary(ct, boundary) != MULTIPART_OK) {
			FUZZ_CHECK(boundary[0] == '\0');
			strcpy(boundary, "XyZ");
		} else {
			FUZZ_CHECK(strlen(boundary) >= 1 &&
			           strlen(boundary) <= MULTIPART_BOUNDARY_MAX);
		}
		free(ct);
		body = nl + 1;
		body_len = size - (size_t)(nl + 1 - in);
	}
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	if (seed == 0)
		seed = 1;

	e1 = parse(boundary, body, body_len, 0, &one);
	e2 = parse(boundary, body, body_len, seed, &chunked);
	FUZZ_CHECK(e1 == e2);
	FUZZ_CHECK(one.len == chunked.len);
	FUZZ_CHECK(one.len == 0 || memcmp(one.buf, chunked.buf, one.len) == 0);
	FUZZ_CHECK(one.parts == chunked.parts && one.data_bytes == chunked.data_bytes);
	FUZZ_CHECK(e1 != MULTIPART_OK || (one.parts >= 1 && !one.in_part));
	FUZZ_CHECK(multipart_error_message(e1) != NULL);

	check_name(in, size);

	free(one.buf);
	free(chunked.buf);
	arena_reset(arena);
	return 0;
}
