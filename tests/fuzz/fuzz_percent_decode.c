/*
 * fuzz_percent_decode.c - http_percent_decode (src/http/request.c), in both
 * '+' modes, against a plain reference decoder written here.
 *
 * The output buffer is an exact-size malloc rather than arena memory, so
 * AddressSanitizer sees a write one byte past len + 1. Both modes must agree
 * on success and length ('+' decodes to one byte either way), and a success
 * must give exactly the reference bytes: valid UTF-8 without NUL.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/http.h"
#include "hms/json.h"

#include "fuzz.h"

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The rules of http.h, spelled out: %XX needs two hex digits, nothing may
 * be or decode to NUL, and the result must be UTF-8. */
static bool reference_decode(const uint8_t *in, size_t len, bool plus_is_space, unsigned char *out,
                             size_t *out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%') {
			int hi = i + 2 < len ? hex_digit(in[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit(in[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return false;
			out[o++] = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = plus_is_space && in[i] == '+' ? ' ' : in[i];
		}
	}
	*out_len = o;
	return fuzz_utf8_is_valid(out, o);
}

static void check_mode(const uint8_t *data, size_t size, bool plus_is_space, char *out,
                       unsigned char *expected, enum hms_err *err, size_t *out_len)
{
	size_t want_len = 0;
	bool want_ok = reference_decode(data, size, plus_is_space, expected, &want_len);

	*out_len = (size_t)-1;
	*err = http_percent_decode((const char *)data, size, plus_is_space, out, out_len);
	FUZZ_CHECK(*err == HMS_OK || *err == HMS_ERR_BAD_REQUEST);
	FUZZ_CHECK((*err == HMS_OK) == want_ok);
	if (*err != HMS_OK)
		return;
	FUZZ_CHECK(*out_len == want_len);
	FUZZ_CHECK(memcmp(out, expected, want_len) == 0);
	FUZZ_CHECK(out[*out_len] == '\0');
	FUZZ_CHECK(strlen(out) == *out_len);
	FUZZ_CHECK(utf8_is_valid(out, *out_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = malloc(size + 1);
	unsigned char *expected = malloc(size + 1);
	enum hms_err err_plain, err_plus;
	size_t len_plain, len_plus;

	if (out == NULL || expected == NULL)
		abort();
	check_mode(data, size, false, out, expected, &err_plain, &len_plain);
	check_mode(data, size, true, out, expected, &err_plus, &len_plus);
	FUZZ_CHECK(err_plain == err_plus);
	FUZZ_CHECK(err_plain != HMS_OK || len_plain == len_plus);
	free(expected);
	free(out);
	return 0;
}
