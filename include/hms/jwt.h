/*
 * jwt.h - HS256 JSON Web Tokens with key ids, signed and verified with
 * OpenSSL's HMAC.
 *
 * Verification is strict and ordered: size and shape first, then the
 * header, whose "alg" must be exactly HS256 (anything else, "none"
 * included, is refused before any other work), then the signature (constant
 * time, with the key named by "kid"), and only then the claims: exp, iat and
 * nbf (with a small leeway for clock skew), iss, aud and type.
 */
#ifndef HMS_JWT_H
#define HMS_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "hms/config.h"

struct arena;

#define JWT_MAX_BYTES      4096
#define JWT_LEEWAY_SECONDS 30
#define JWT_JTI_LEN        36 /* a UUID in text form */

enum jwt_type { JWT_ACCESS, JWT_REFRESH };

enum jwt_error {
	JWT_OK = 0,
	JWT_MALFORMED,     /* not three base64url segments of JSON objects */
	JWT_TOO_LARGE,     /* over JWT_MAX_BYTES */
	JWT_BAD_ALGORITHM, /* alg is not HS256 */
	JWT_UNKNOWN_KEY,   /* kid missing or not configured */
	JWT_BAD_SIGNATURE,
	JWT_EXPIRED,
	JWT_NOT_YET_VALID, /* iat or nbf in the future */
	JWT_BAD_ISSUER,
	JWT_BAD_AUDIENCE,
	JWT_WRONG_TYPE, /* an access token where a refresh token belongs, or back */
	JWT_BAD_CLAIMS, /* a required claim missing or of the wrong type */
};

struct jwt_claims {
	int64_t sub; /* user id */
	char role[17];
	int64_t iat;
	int64_t exp;
	char jti[JWT_JTI_LEN + 1];
	enum jwt_type type;
	/* "pwc": when the account's password last changed (microseconds since
	 * the epoch) as of signing. A password change moves it, which ends
	 * every earlier token exactly, even one from the same second. 0 when
	 * the claim is absent. */
	int64_t password_changed;
};

struct jwt_keyring {
	const struct config_jwt_key *keys; /* keys[0] signs; all verify */
	size_t count;
	const char *issuer;
	const char *audience;
};

/* The keyring of a validated configuration. */
struct jwt_keyring jwt_keyring_from_config(const struct hms_config *cfg);

/* Signs claims (iss and aud from the keyring) into out. Returns 0, or -1
 * when out is too small or crypto fails. */
int jwt_sign(const struct jwt_keyring *ring, const struct jwt_claims *claims, char *out,
             size_t out_size);

/* Verifies token as of now (Unix seconds) and fills claims. */
enum jwt_error jwt_verify(const struct jwt_keyring *ring, struct arena *arena, const char *token,
                          enum jwt_type expected, int64_t now, struct jwt_claims *claims);

/* A short stable name for logs and tests. */
const char *jwt_error_name(enum jwt_error err);

/* Writes a random UUID (version 4) in text form. Returns 0 or -1. */
int jwt_new_jti(char out[JWT_JTI_LEN + 1]);

#endif
