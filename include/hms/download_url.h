/*
 * download_url.h - the signature of an attachment's download URL.
 *
 * A download URL lets a browser or a PACS viewer fetch a file without the
 * bearer token: /api/attachments/{id}/download/?user=U&expires=E&signature=S.
 * S is "<kid>.<base64url HMAC-SHA256>" over the attachment id, the user id
 * and the expiry (seconds since the epoch), with a key of download_keys: the
 * first key signs, every key verifies, so keys rotate like the JWT keys. A
 * URL is worth nothing to another user (the user is signed) and nothing
 * after its expiry; the worker still checks, at download time, that the user
 * is active and allowed.
 */
#ifndef HMS_DOWNLOAD_URL_H
#define HMS_DOWNLOAD_URL_H

#include <stdint.h>

struct arena;
struct hms_config;

enum download_check {
	DOWNLOAD_OK,
	DOWNLOAD_MALFORMED,   /* not "<kid>.<43 base64url characters>" */
	DOWNLOAD_UNKNOWN_KEY, /* a kid we do not hold (retired, or forged) */
	DOWNLOAD_BAD_SIGNATURE,
	DOWNLOAD_EXPIRED,
};

/* The signature for (attachment, user, expires) with the first download
 * key, in arena; NULL when out of memory or no key is configured. */
const char *download_url_sign(struct arena *arena, const struct hms_config *cfg, int64_t attachment,
                              int64_t user, int64_t expires);

/* Checks signature for (attachment, user, expires) at time now. The MAC is
 * compared in constant time; the expiry only once the MAC is good, so an
 * answer never tells a forger more than "no". */
enum download_check download_url_verify(const struct hms_config *cfg, int64_t attachment,
                                        int64_t user, int64_t expires, const char *signature,
                                        int64_t now);

#endif
