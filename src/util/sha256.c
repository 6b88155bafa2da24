/* sha256.c - hex SHA-256 through OpenSSL's EVP digests. */
#include "hms/sha256.h"

#include <openssl/evp.h>

static void to_hex(const unsigned char *md, char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned int i = 0; i < SHA256_HEX_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[SHA256_HEX_LEN] = '\0';
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
		out[0] = '\0';
		return;
	}
	to_hex(md, out);
}

int sha256_stream_begin(struct sha256_stream *s)
{
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL)
		return -1;
	if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		sha256_stream_free(s);
		return -1;
	}
	return 0;
}

int sha256_stream_update(struct sha256_stream *s, const void *data, size_t len)
{
	return EVP_DigestUpdate(s->ctx, data, len) == 1 ? 0 : -1;
}

int sha256_stream_end(struct sha256_stream *s, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int ok = EVP_DigestFinal_ex(s->ctx, md, &md_len) == 1 && md_len == 32;

	sha256_stream_free(s);
	if (!ok)
		return -1;
	to_hex(md, out);
	return 0;
}

void sha256_stream_free(struct sha256_stream *s)
{
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}
