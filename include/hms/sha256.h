/* sha256.h - SHA-256 in hex through OpenSSL (migration checksums, audit chain,
 * attachments). */
#ifndef HMS_SHA256_H
#define HMS_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Writes the lowercase hex digest of data and a NUL into out. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

/* The digest of data that arrives in pieces (an upload, as it streams).
 * begin, update any number of times, then end (which frees) or free. Each
 * returns 0, or -1 when OpenSSL fails. */
struct sha256_stream {
	void *ctx;
};

int sha256_stream_begin(struct sha256_stream *s);
int sha256_stream_update(struct sha256_stream *s, const void *data, size_t len);
int sha256_stream_end(struct sha256_stream *s, char out[SHA256_HEX_LEN + 1]);
void sha256_stream_free(struct sha256_stream *s);

#endif
