/* sha256.h - SHA-256 in hex through OpenSSL (migration checksums, audit chain). */
#ifndef HMS_SHA256_H
#define HMS_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Writes the lowercase hex digest of data and a NUL into out. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
