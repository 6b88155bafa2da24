/* base64url.h - unpadded base64url (RFC 4648 section 5), as JWTs use it. */
#ifndef HMS_BASE64URL_H
#define HMS_BASE64URL_H

#include <stddef.h>

/* Bytes needed to encode len bytes, including the NUL. */
#define BASE64URL_ENCODED_SIZE(len) (((len)*4 + 2) / 3 + 1)

/* Encodes; out must hold BASE64URL_ENCODED_SIZE(len). Returns the length. */
size_t base64url_encode(const unsigned char *in, size_t len, char *out);

/* Strict decode: only [A-Za-z0-9_-], no padding, no white space, and unused
 * trailing bits must be zero (one canonical text per value, so a signature
 * cannot be altered without changing the bytes). out must hold len * 3 / 4
 * bytes. Returns the decoded length, or -1. */
long base64url_decode(const char *in, size_t len, unsigned char *out);

#endif
