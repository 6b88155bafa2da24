/*
 * download_url.c - signing and checking attachment download URLs.
 */
#include "hms/download_url.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/base64url.h"
#include "hms/config.h"

#define MAC_BYTES   32
#define MAC_CHARS   43 /* base64url of 32 bytes, unpadded */
#define MESSAGE_MAX 96

/* The signed message names its purpose and version, so that a MAC made
 * for anything else with the same key can never pass as a download. */
static int mac(const struct config_jwt_key *key, int64_t attachment, int64_t user, int64_t expires,
               unsigned char out[MAC_BYTES])
{
	char message[MESSAGE_MAX];
	int len = snprintf(message, sizeof(message),
	                   "hms-download-v1\n%" PRId64 "\n%" PRId64 "\n%" PRId64, attachment, user,
	                   expires);
	unsigned int out_len = 0;

	if (len < 0 || (size_t)len >= sizeof(message))
		return -1;
	if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len, (const unsigned char *)message,
	         (size_t)len, out, &out_len) == NULL ||
	    out_len != MAC_BYTES)
		return -1;
	return 0;
}

const char *download_url_sign(struct arena *arena, const struct hms_config *cfg, int64_t attachment,
                              int64_t user, int64_t expires)
{
	unsigned char raw[MAC_BYTES];
	char encoded[BASE64URL_ENCODED_SIZE(MAC_BYTES)];

	if (cfg->download_key_count == 0 ||
	    mac(&cfg->download[0], attachment, user, expires, raw) != 0)
		return NULL;
	base64url_encode(raw, sizeof(raw), encoded);
	return arena_printf(arena, "%s.%s", cfg->download[0].kid, encoded);
}

enum download_check download_url_verify(const struct hms_config *cfg, int64_t attachment,
                                        int64_t user, int64_t expires, const char *signature,
                                        int64_t now)
{
	const char *dot = strchr(signature, '.');
	const struct config_jwt_key *key = NULL;
	unsigned char given[MAC_BYTES + 2], expected[MAC_BYTES];
	size_t kid_len;

	if (dot == NULL || strlen(dot + 1) != MAC_CHARS)
		return DOWNLOAD_MALFORMED;
	kid_len = (size_t)(dot - signature);
	for (size_t i = 0; i < cfg->download_key_count; i++)
		if (strlen(cfg->download[i].kid) == kid_len &&
		    memcmp(cfg->download[i].kid, signature, kid_len) == 0)
			key = &cfg->download[i];
	if (key == NULL)
		return DOWNLOAD_UNKNOWN_KEY;
	if (base64url_decode(dot + 1, MAC_CHARS, given) != MAC_BYTES)
		return DOWNLOAD_MALFORMED;
	if (mac(key, attachment, user, expires, expected) != 0 ||
	    CRYPTO_memcmp(given, expected, MAC_BYTES) != 0)
		return DOWNLOAD_BAD_SIGNATURE;
	return expires < now ? DOWNLOAD_EXPIRED : DOWNLOAD_OK;
}
