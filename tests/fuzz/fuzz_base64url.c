/*
 * fuzz_base64url.c - the strict base64url codec (src/util/base64url.c) that
 * JWT segments, download links and list cursors go through.
 *
 * The input is used twice. As text to decode: the decoder's verdict must
 * equal a reference written here from RFC 4648 section 5 (every character
 * in the URL-safe alphabet, no padding, a length that is not 1 modulo 4,
 * and zero unused bits in the last character), and a decoded value must
 * have exactly len * 3 / 4 bytes and encode back to the very same text: one
 * text per value, so that a signature cannot be re-spelled. As bytes to
 * encode: the text must have the promised length, use only the alphabet,
 * end with a NUL, and decode back to the same bytes. The output buffers are
 * allocated at exactly the documented sizes, so a write past them is an
 * AddressSanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/base64url.h"

#include "fuzz.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c in the URL-safe alphabet, or -1. */
static int sextet(unsigned char c)
{
	const char *at = c != '\0' ? strchr(alphabet, c) : NULL;

	return at != NULL ? (int)(at - alphabet) : -1;
}

/* RFC 4648 section 5 without padding, canonical: the reference verdict. */
static bool reference_accepts(const unsigned char *in, size_t len)
{
	int last;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (sextet(in[i]) < 0)
			return false;
	if (len % 4 == 0)
		return true;
	/* 2 characters carry 1 byte (4 bits unused), 3 carry 2 (2 unused). */
	last = sextet(in[len - 1]);
	return len % 4 == 2 ? (last & 0x0f) == 0 : (last & 0x03) == 0;
}

static void check_decode(const uint8_t *data, size_t size)
{
	size_t cap = size * 3 / 4;
	unsigned char *out = malloc(cap > 0 ? cap : 1);
	long n;

	if (out == NULL)
		abort();
	n = base64url_decode((const char *)data, size, out);
	FUZZ_CHECK(n == -1 || n >= 0);
	FUZZ_CHECK((n >= 0) == reference_accepts(data, size));
	if (n >= 0) {
		char *again = malloc(BASE64URL_ENCODED_SIZE((size_t)n));

		if (again == NULL)
			abort();
		FUZZ_CHECK((size_t)n == cap);
		FUZZ_CHECK(base64url_encode(out, (size_t)n, again) == size);
		FUZZ_CHECK(memcmp(again, data, size) == 0 && again[size] == '\0');
		free(again);
	}
	free(out);
}

static void check_encode(const uint8_t *data, size_t size)
{
	size_t cap = BASE64URL_ENCODED_SIZE(size);
	char *text = malloc(cap);
	unsigned char *back;
	size_t len;
	long n;

	if (text == NULL)
		abort();
	len = base64url_encode(data, size, text);
	FUZZ_CHECK(len == cap - 1 && text[len] == '\0');
	FUZZ_CHECK(len % 4 != 1);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(sextet((unsigned char)text[i]) >= 0);
	back = malloc(len * 3 / 4 > 0 ? len * 3 / 4 : 1);
	if (back == NULL)
		abort();
	n = base64url_decode(text, len, back);
	FUZZ_CHECK(n >= 0 && (size_t)n == size);
	FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);
	free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
