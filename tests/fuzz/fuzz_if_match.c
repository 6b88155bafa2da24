/*
 * fuzz_if_match.c - the If-Match parser, crud_expected_version()
 * (src/api/crud.c), which turns the header into the version a PUT, PATCH
 * or invoice transition requires of object <id>. Our ETags are
 * "\"<id>-<version>\"".
 *
 * The input is an id selector and a header value: the first byte picks
 * the object id (1..240, or the next eight bytes as a positive 64-bit id
 * when it is 0xff), the rest, up to a NUL, is the header.
 *
 * What must hold:
 * - the answer is "unconditional" (no version) exactly for "*", a version,
 *   or 412; never anything else;
 * - a version is 1 to 18 digits without a leading zero, and the header
 *   holds the tag "\"<id>-<version>\"" for exactly this id;
 * - a tag naming another object, put in front of the header or after it,
 *   changes nothing (the first tag for this object counts, and no other
 *   object's tag ever matches), and nor does a weak tag for this one;
 * - where the header is a well-formed list of entity tags (RFC 9110
 *   section 13.1.1: OWS, commas, W/ prefixes, quoted opaque tags), the
 *   answer is that of a reference written here from the RFC: the first
 *   strong tag whose opaque part is exactly "<id>-<version>".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/crud.h"
#include "hms/err.h"
#include "hms/http.h"

#include "fuzz.h"

#define MAX_HEADER 2048

static struct arena *arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	arena = arena_new(FUZZ_ARENA_BLOCK, FUZZ_ARENA_MAX);
	if (arena == NULL)
		abort();
	return 0;
}

struct answer {
	enum hms_err err;
	const char *version; /* NULL: unconditional (err == HMS_OK) */
};

static struct answer parse(const char *header, int64_t id)
{
	struct http_request req;
	struct answer a;

	memset(&req, 0, sizeof(req));
	req.arena = arena;
	req.if_match = header;
	a.version = "untouched";
	a.err = crud_expected_version(&req, id, &a.version);
	return a;
}

static bool same(struct answer a, struct answer b)
{
	if (a.err != b.err)
		return false;
	if (a.err != HMS_OK)
		return true;
	if (a.version == NULL || b.version == NULL)
		return a.version == b.version;
	return strcmp(a.version, b.version) == 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_star(const char *h)
{
	while (is_ows(*h))
		h++;
	if (*h++ != '*')
		return false;
	while (is_ows(*h))
		h++;
	return *h == '\0';
}

/* etagc (RFC 9110 section 8.8.3): %x21 / %x23-7E / obs-text. */
static bool is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* The reference: false when the header is not a well-formed If-Match;
 * else *want is what a correct parser answers. */
static bool reference(const char *h, int64_t id, struct answer *want, char *version)
{
	char own[32];
	size_t own_len = (size_t)snprintf(own, sizeof(own), "%lld-", (long long)id);
	bool seen_tag = false;

	want->err = HMS_ERR_PRECONDITION;
	want->version = NULL;
	if (is_star(h)) {
		want->err = HMS_OK;
		return true;
	}
	for (;;) {
		const char *opaque;
		size_t len;
		bool is_weak = false;

		while (is_ows(*h) || *h == ',')
			h++; /* empty list elements are allowed */
		if (*h == '\0')
			return seen_tag;
		if (h[0] == 'W' && h[1] == '/') {
			is_weak = true;
			h += 2;
		}
		if (*h++ != '"')
			return false;
		opaque = h;
		while (is_etagc((unsigned char)*h))
			h++;
		if (*h != '"')
			return false;
		len = (size_t)(h - opaque);
		h++;
		seen_tag = true;
		while (is_ows(*h))
			h++;
		if (*h != ',' && *h != '\0')
			return false;
		if (want->version != NULL || is_weak || len <= own_len ||
		    memcmp(opaque, own, own_len) != 0)
			continue;
		/* A version we could have issued: 1..18 digits, no leading zero. */
		if (len - own_len > 18 || opaque[own_len] == '0' ||
		    strspn(opaque + own_len, "0123456789") < len - own_len)
			continue;
		memcpy(version, opaque + own_len, len - own_len);
		version[len - own_len] = '\0';
		want->err = HMS_OK;
		want->version = version;
	}
}

/* The tag "\"<id>-<version>\"" occurs in header, at the start of the
 * header or after a space, tab or comma, or right after another quoted tag
 * (a list without its comma: malformed, but the tag still names <id>). */
static bool holds_tag(const char *header, int64_t id, const char *version)
{
	char tag[64];
	const char *at = header;

	snprintf(tag, sizeof(tag), "\"%lld-%s\"", (long long)id, version);
	while ((at = strstr(at, tag)) != NULL) {
		if (at == header || at[-1] == ' ' || at[-1] == '\t' || at[-1] == ',' ||
		    at[-1] == '"')
			return true;
		at++;
	}
	return false;
}

static void check_answer(const char *header, int64_t id, struct answer a)
{
	FUZZ_CHECK(a.err == HMS_OK || a.err == HMS_ERR_PRECONDITION);
	if (a.err != HMS_OK)
		return;
	if (a.version == NULL) {
		FUZZ_CHECK(header == NULL || is_star(header));
		return;
	}
	FUZZ_CHECK(header != NULL && !is_star(header));
	FUZZ_CHECK(strlen(a.version) >= 1 && strlen(a.version) <= 18);
	FUZZ_CHECK(strspn(a.version, "0123456789") == strlen(a.version));
	FUZZ_CHECK(a.version[0] != '0');
	FUZZ_CHECK(holds_tag(header, id, a.version));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char header[MAX_HEADER + 1], framed[MAX_HEADER + 128];
	static char version[32];
	struct answer a, b, want;
	int64_t id, other;
	size_t at = 1, len;

	if (size < 1)
		return 0;
	if (data[0] == 0xff) {
		uint64_t v = 0;

		for (; at < 9 && at < size; at++)
			v = v << 8 | data[at];
		id = (int64_t)(v & INT64_MAX);
		if (id == 0)
			id = 1;
	} else {
		id = 1 + data[0] % 240;
	}
	len = strnlen((const char *)data + at, size - at);
	if (len > MAX_HEADER)
		len = MAX_HEADER;
	memcpy(header, data + at, len);
	header[len] = '\0';
	other = id < INT64_MAX ? id + 1 : id - 1;

	FUZZ_CHECK(same(parse(NULL, id), (struct answer){HMS_OK, NULL}));

	a = parse(header, id);
	check_answer(header, id, a);
	if (reference(header, id, &want, version) && !same(a, want)) {
		fprintf(stderr, "If-Match: %s for %lld: got %d %s, want %d %s\n", header,
		        (long long)id, (int)a.err, a.version ? a.version : "-", (int)want.err,
		        want.version ? want.version : "-");
		FUZZ_CHECK(same(a, want));
	}

	/* The same header for a neighbouring object: its own answer, checked
	 * the same way (a version only from a tag naming it). */
	check_answer(header, other, parse(header, other));
	if (id >= 10)
		check_answer(header, id / 10, parse(header, id / 10));

	/* Another object's tag, or a weak tag for this one, in front. */
	snprintf(framed, sizeof(framed), "\"%lld-1\", W/\"%lld-2\", %s", (long long)other,
	         (long long)id, header);
	b = parse(framed, id);
	check_answer(framed, id, b);
	FUZZ_CHECK(is_star(header) ? b.err == HMS_ERR_PRECONDITION : same(a, b));

	/* And after it: the first tag for this object still counts. */
	snprintf(framed, sizeof(framed), "%s, \"%lld-1\", W/\"%lld-2\"", header, (long long)other,
	         (long long)id);
	b = parse(framed, id);
	check_answer(framed, id, b);
	FUZZ_CHECK(is_star(header) || a.err != HMS_OK ? b.err == HMS_ERR_PRECONDITION : same(a, b));

	/* This object's exact tag alone gives its version. */
	if (a.err == HMS_OK && a.version != NULL) {
		snprintf(framed, sizeof(framed), "\"%lld-%s\"", (long long)id, a.version);
		FUZZ_CHECK(same(parse(framed, id), a));
	}
	arena_reset(arena);
	return 0;
}
