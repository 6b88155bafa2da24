/*
 * fuzz.h - what the libFuzzer targets in this directory share: an invariant
 * check that aborts (so libFuzzer saves the input), and a UTF-8 check
 * written independently of utf8_is_valid() so the two can be compared.
 */
#ifndef HMS_FUZZ_H
#define HMS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An arena like a worker's, with small blocks: anything over a quarter
 * block gets a malloc of its own, which AddressSanitizer can guard. */
#define FUZZ_ARENA_BLOCK 1024
#define FUZZ_ARENA_MAX   (64 * 1024 * 1024)

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Well-formed UTF-8 without NUL, after Table 3-7 of the Unicode standard:
 * the allowed range of the second byte depends on the first. */
static inline bool fuzz_utf8_is_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0; /* no overlongs */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* no overlongs */
		else if (c == 0xf4)
			hi = 0x8f; /* nothing past U+10FFFF */
		if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

static inline bool fuzz_str_is_valid(const char *s, size_t len)
{
	return fuzz_utf8_is_valid((const unsigned char *)s, len);
}

#endif
