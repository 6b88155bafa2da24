/*
 * test_base64url.c - base64url_encode / base64url_decode (src/util/base64url.c):
 * the RFC 4648 vectors in their unpadded URL-safe form, round trips of every
 * length up to 64, and the strictness JWT verification relies on (no
 * padding, no '+' or '/', no white space, no impossible lengths, and only
 * the canonical text of each value).
 *
 * Buffers are malloc'd at exactly the documented size so that ASan catches
 * a write past it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/base64url.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes len bytes into an exactly sized heap buffer (caller frees). */
static char *encode(const void *in, size_t len)
{
	char *out = malloc(BASE64URL_ENCODED_SIZE(len));
	size_t n;

	cr_assert_not_null(out);
	n = base64url_encode(in, len, out);
	cr_assert_eq(n, strlen(out), "returned length %zu, text length %zu", n, strlen(out));
	return out;
}

/* Decodes text into an exactly sized heap buffer (len * 3 / 4 bytes, at
 * least one so malloc never returns NULL); *out is the caller's to free. */
static long decode(const char *text, size_t len, unsigned char **out)
{
	size_t size = len * 3 / 4;

	*out = malloc(size > 0 ? size : 1);
	cr_assert_not_null(*out);
	return base64url_decode(text, len, *out);
}

/* base64url_decode of a NUL-terminated string; -1 or the length. */
static long decode_str(const char *text)
{
	unsigned char *buf;
	long n = decode(text, strlen(text), &buf);

	free(buf);
	return n;
}

/* Deterministic bytes (an LCG), so failures reproduce. */
static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

Test(base64url, rfc4648_vectors_unpadded)
{
	static const struct {
		const char *plain;
		const char *encoded;
	} v[] = {
	    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *enc = encode(v[i].plain, strlen(v[i].plain));
		unsigned char *dec;
		long n;

		cr_assert_str_eq(enc, v[i].encoded, "encode(\"%s\")", v[i].plain);
		free(enc);

		n = decode(v[i].encoded, strlen(v[i].encoded), &dec);
		cr_assert_eq(n, (long)strlen(v[i].plain), "decode(\"%s\") = %ld", v[i].encoded, n);
		cr_assert_eq(memcmp(dec, v[i].plain, (size_t)n), 0, "decode(\"%s\")", v[i].encoded);
		free(dec);
	}
}

Test(base64url, url_safe_alphabet_for_62_and_63)
{
	/* 0xfb 0xff 0xbf is "+/+/" in standard base64. */
	static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
	static const unsigned char zeros[] = {0, 0, 0};
	static const unsigned char ones[] = {0xff, 0xff, 0xff};
	char *enc;

	enc = encode(bytes, sizeof(bytes));
	cr_assert_str_eq(enc, "-_-_");
	free(enc);
	enc = encode(zeros, sizeof(zeros));
	cr_assert_str_eq(enc, "AAAA");
	free(enc);
	enc = encode(ones, sizeof(ones));
	cr_assert_str_eq(enc, "____");
	free(enc);
}

Test(base64url, every_byte_value_round_trips)
{
	unsigned char all[256];
	unsigned char *dec;
	char *enc;
	long n;

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	enc = encode(all, sizeof(all));
	cr_assert_eq(strlen(enc), (sizeof(all) * 4 + 2) / 3);
	cr_assert_eq(strspn(enc, alphabet), strlen(enc), "only base64url characters: %s", enc);
	n = decode(enc, strlen(enc), &dec);
	cr_assert_eq(n, 256);
	cr_assert_eq(memcmp(dec, all, sizeof(all)), 0);
	free(dec);
	free(enc);
}

Test(base64url, round_trips_of_0_to_64_bytes)
{
	for (size_t len = 0; len <= 64; len++) {
		unsigned char in[64];
		unsigned char *dec;
		char *enc;
		long n;

		fill(in, len, (uint32_t)(len * 7919u + 1));
		enc = encode(in, len);
		/* Unpadded: ceil(4 * len / 3) characters, no '='. */
		cr_assert_eq(strlen(enc), (len * 4 + 2) / 3, "len %zu: \"%s\"", len, enc);
		cr_assert_eq(strlen(enc) + 1, BASE64URL_ENCODED_SIZE(len), "len %zu", len);
		cr_assert_eq(strspn(enc, alphabet), strlen(enc), "len %zu: \"%s\"", len, enc);
		cr_assert_neq(strlen(enc) % 4, 1, "len %zu", len);

		n = decode(enc, strlen(enc), &dec);
		cr_assert_eq(n, (long)len, "len %zu: decoded %ld bytes", len, n);
		cr_assert_eq(memcmp(dec, in, len), 0, "len %zu: bytes differ", len);
		free(dec);
		free(enc);
	}
}

Test(base64url, decode_of_empty_text_is_zero_bytes)
{
	unsigned char buf[1] = {0xaa};

	cr_assert_eq(base64url_decode("", 0, buf), 0);
	cr_assert_eq(buf[0], 0xaa, "nothing written");
}

Test(base64url, decode_uses_the_given_length_not_the_nul)
{
	/* Only the first 4 characters count; the rest is another segment. */
	unsigned char buf[3];

	cr_assert_eq(base64url_decode("Zm9v.Zm9v", 4, buf), 3);
	cr_assert_eq(memcmp(buf, "foo", 3), 0);
}

Test(base64url, padding_is_refused)
{
	cr_assert_eq(decode_str("Zg=="), -1);
	cr_assert_eq(decode_str("Zm8="), -1);
	cr_assert_eq(decode_str("Zg="), -1);
	cr_assert_eq(decode_str("===="), -1);
	cr_assert_eq(decode_str("Zm9vYg=="), -1);
}

Test(base64url, standard_alphabet_characters_are_refused)
{
	cr_assert_eq(decode_str("+/+/"), -1);
	cr_assert_eq(decode_str("-_-+"), -1);
	cr_assert_eq(decode_str("Zm9/"), -1);
	cr_assert_eq(decode_str("Zm9+"), -1);
	/* The same value in the URL alphabet is fine. */
	cr_assert_eq(decode_str("-_-_"), 3);
}

Test(base64url, white_space_and_other_bytes_are_refused)
{
	static const char *const bad[] = {
	    "Zm9v ", " Zm9v", "Zm 9v", "Zm9v\n",  "Zm\r\n9v", "Zm9v\t",
	    "Zm.9v", "Zm9v!", "Zm*v",  "Zm9\x80", "Zm9\xff",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(decode_str(bad[i]), -1, "\"%s\" should be refused", bad[i]);
}

Test(base64url, embedded_nul_is_refused)
{
	unsigned char buf[3];

	cr_assert_eq(base64url_decode("Zm\0v", 4, buf), -1);
}

Test(base64url, length_one_more_than_a_multiple_of_four_is_refused)
{
	/* 6 bits cannot make a byte: no encoder produces such a length. */
	cr_assert_eq(decode_str("A"), -1);
	cr_assert_eq(decode_str("Q"), -1);
	cr_assert_eq(decode_str("Zm9vY"), -1);
	cr_assert_eq(decode_str("Zm9vYmFyZ"), -1);
	cr_assert_eq(decode_str("AAAAA"), -1);
}

Test(base64url, non_canonical_trailing_bits_are_refused)
{
	/* One byte 'A' (0x41): "QQ" is canonical; "QR".."QZ" etc. differ only
	 * in the 4 unused bits. */
	cr_assert_eq(decode_str("QQ"), 1);
	cr_assert_eq(decode_str("QR"), -1);
	cr_assert_eq(decode_str("QT"), -1);
	cr_assert_eq(decode_str("Q_"), -1);
	/* Two bytes "AB": "QUI" is canonical; "QUJ" sets an unused bit. */
	cr_assert_eq(decode_str("QUI"), 2);
	cr_assert_eq(decode_str("QUJ"), -1);
	cr_assert_eq(decode_str("QUL"), -1);
	/* After full groups too. */
	cr_assert_eq(decode_str("Zm9vYg"), 4);
	cr_assert_eq(decode_str("Zm9vYh"), -1);
}

Test(base64url, exactly_the_canonical_texts_decode)
{
	/* For every 2- and 3-character text: it decodes if and only if
	 * encoding the result gives the same text back. */
	char text[4] = {0};

	for (int a = 0; a < 64; a++) {
		for (int b = 0; b < 64; b++) {
			for (int c = -1; c < 64; c++) {
				unsigned char buf[2];
				char again[BASE64URL_ENCODED_SIZE(2)];
				size_t len = c < 0 ? 2 : 3;
				long n;

				text[0] = alphabet[a];
				text[1] = alphabet[b];
				text[2] = c < 0 ? '\0' : alphabet[c];
				n = base64url_decode(text, len, buf);
				if (n < 0) {
					/* Refused only when some unused bit is set. */
					int unused = c < 0 ? (b & 0x0f) : (c & 0x03);

					cr_assert_neq(unused, 0, "\"%s\" refused", text);
					continue;
				}
				cr_assert_eq(n, (long)len - 1, "\"%s\"", text);
				base64url_encode(buf, (size_t)n, again);
				cr_assert_str_eq(again, text, "\"%s\" is not canonical", text);
			}
		}
	}
}
