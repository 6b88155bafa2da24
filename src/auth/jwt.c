/*
 * jwt.c - HS256 tokens (see include/hms/jwt.h for the verification order).
 *
 * Only one algorithm exists here, so "alg" is compared, never dispatched
 * on: there is no code path by which a token can choose how it is checked.
 */
#include "hms/jwt.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/base64url.h"
#include "hms/json.h"
#include "hms/random.h"
#include "hms/validate.h"

#define HS256_BYTES 32

struct jwt_keyring jwt_keyring_from_config(const struct hms_config *cfg)
{
	struct jwt_keyring ring = {cfg->jwt, cfg->jwt_key_count, cfg->jwt_issuer,
	                           cfg->jwt_audience};

	return ring;
}

static int hs256(const struct config_jwt_key *key, const char *data, size_t len,
                 unsigned char mac[HS256_BYTES])
{
	unsigned int mac_len = 0;

	if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len, (const unsigned char *)data, len,
	         mac, &mac_len) == NULL ||
	    mac_len != HS256_BYTES)
		return -1;
	return 0;
}

/* Appends the base64url of text to out at *pos. */
static int append_segment(const char *text, size_t len, char *out, size_t out_size, size_t *pos)
{
	if (BASE64URL_ENCODED_SIZE(len) > out_size - *pos)
		return -1;
	*pos += base64url_encode((const unsigned char *)text, len, out + *pos);
	return 0;
}

int jwt_sign(const struct jwt_keyring *ring, const struct jwt_claims *claims, char *out,
             size_t out_size)
{
	struct json_object *header, *payload;
	unsigned char mac[HS256_BYTES];
	char sub[24];
	const char *text;
	size_t len, pos = 0;
	int rc = -1;

	if (ring->count == 0 || out_size == 0)
		return -1;
	header = json_object_new_object();
	json_object_object_add(header, "alg", json_object_new_string("HS256"));
	json_object_object_add(header, "kid", json_object_new_string(ring->keys[0].kid));
	json_object_object_add(header, "typ", json_object_new_string("JWT"));

	snprintf(sub, sizeof(sub), "%lld", (long long)claims->sub);
	payload = json_object_new_object();
	json_object_object_add(payload, "sub", json_object_new_string(sub));
	json_object_object_add(payload, "role", json_object_new_string(claims->role));
	json_object_object_add(payload, "iat", json_object_new_int64(claims->iat));
	json_object_object_add(payload, "exp", json_object_new_int64(claims->exp));
	json_object_object_add(payload, "jti", json_object_new_string(claims->jti));
	json_object_object_add(payload, "iss", json_object_new_string(ring->issuer));
	json_object_object_add(payload, "aud", json_object_new_string(ring->audience));
	if (claims->password_changed != 0)
		json_object_object_add(payload, "pwc",
		                       json_object_new_int64(claims->password_changed));
	json_object_object_add(
	    payload, "type",
	    json_object_new_string(claims->type == JWT_ACCESS ? "access" : "refresh"));

	text = json_object_to_json_string_length(header, JSON_C_TO_STRING_PLAIN, &len);
	if (append_segment(text, len, out, out_size, &pos) != 0 || pos + 1 >= out_size)
		goto out;
	out[pos++] = '.';
	text = json_object_to_json_string_length(payload, JSON_C_TO_STRING_PLAIN, &len);
	if (append_segment(text, len, out, out_size, &pos) != 0 || pos + 1 >= out_size)
		goto out;
	if (hs256(&ring->keys[0], out, pos, mac) != 0)
		goto out;
	out[pos++] = '.';
	if (append_segment((const char *)mac, sizeof(mac), out, out_size, &pos) != 0)
		goto out;
	rc = 0;
out:
	json_object_put(header);
	json_object_put(payload);
	if (rc != 0)
		out[0] = '\0';
	return rc;
}

/* Decodes one segment into a JSON object owned by the arena. */
static struct json_object *decode_object(struct arena *arena, const char *seg, size_t len)
{
	unsigned char *raw = arena_alloc(arena, len * 3 / 4 + 1);
	struct json_object *obj = NULL;
	const char *detail;
	long n;

	if (raw == NULL)
		return NULL;
	n = base64url_decode(seg, len, raw);
	if (n <= 0)
		return NULL;
	if (json_parse(arena, (const char *)raw, (size_t)n, 4, &obj, &detail) != HMS_OK ||
	    !json_object_is_type(obj, json_type_object))
		return NULL;
	return obj;
}

static const char *string_member(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool int_member(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) && json_int64(v, out);
}

static bool audience_matches(struct json_object *payload, const char *audience)
{
	struct json_object *aud;

	if (!json_object_object_get_ex(payload, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), audience) == 0;
	if (json_object_is_type(aud, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(aud); i++) {
			struct json_object *a = json_object_array_get_idx(aud, i);

			if (json_object_is_type(a, json_type_string) &&
			    strcmp(json_object_get_string(a), audience) == 0)
				return true;
		}
	}
	return false;
}

enum jwt_error jwt_verify(const struct jwt_keyring *ring, struct arena *arena, const char *token,
                          enum jwt_type expected, int64_t now, struct jwt_claims *claims)
{
	const char *dot1, *dot2, *sig;
	struct json_object *header, *payload;
	const struct config_jwt_key *key = NULL;
	unsigned char mac[HS256_BYTES], given[HS256_BYTES + 3];
	const char *alg, *kid, *type, *s;
	size_t len = strnlen(token, JWT_MAX_BYTES + 1);
	int64_t nbf;

	memset(claims, 0, sizeof(*claims));
	if (len > JWT_MAX_BYTES)
		return JWT_TOO_LARGE;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot1 == NULL || dot2 == NULL || dot1 == token || dot2 == dot1 + 1)
		return JWT_MALFORMED;
	sig = dot2 + 1;
	if (*sig == '\0' || memchr(sig, '.', len - (size_t)(sig - token)) != NULL)
		return JWT_MALFORMED;

	/* The header alone decides whether we go on. */
	header = decode_object(arena, token, (size_t)(dot1 - token));
	if (header == NULL)
		return JWT_MALFORMED;
	alg = string_member(header, "alg");
	if (alg == NULL || strcmp(alg, "HS256") != 0)
		return JWT_BAD_ALGORITHM;
	if (json_object_object_get_ex(header, "crit", NULL))
		return JWT_MALFORMED; /* extensions we do not implement must not be ignored */
	kid = string_member(header, "kid");
	for (size_t i = 0; kid != NULL && i < ring->count; i++)
		if (strcmp(ring->keys[i].kid, kid) == 0)
			key = &ring->keys[i];
	if (key == NULL)
		return JWT_UNKNOWN_KEY;

	if (strlen(sig) != 43 || base64url_decode(sig, strlen(sig), given) != HS256_BYTES)
		return JWT_BAD_SIGNATURE;
	if (hs256(key, token, (size_t)(dot2 - token), mac) != 0 ||
	    CRYPTO_memcmp(mac, given, HS256_BYTES) != 0)
		return JWT_BAD_SIGNATURE;

	/* Signed by us: now the claims. */
	payload = decode_object(arena, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (payload == NULL)
		return JWT_MALFORMED;
	if (!int_member(payload, "exp", &claims->exp) || !int_member(payload, "iat", &claims->iat))
		return JWT_BAD_CLAIMS;
	if (now >= claims->exp)
		return JWT_EXPIRED;
	if (claims->iat > now + JWT_LEEWAY_SECONDS)
		return JWT_NOT_YET_VALID;
	if (json_object_object_get_ex(payload, "nbf", NULL)) {
		if (!int_member(payload, "nbf", &nbf))
			return JWT_BAD_CLAIMS;
		if (nbf > now + JWT_LEEWAY_SECONDS)
			return JWT_NOT_YET_VALID;
	}
	s = string_member(payload, "iss");
	if (s == NULL || strcmp(s, ring->issuer) != 0)
		return JWT_BAD_ISSUER;
	if (!audience_matches(payload, ring->audience))
		return JWT_BAD_AUDIENCE;
	type = string_member(payload, "type");
	if (type == NULL)
		return JWT_BAD_CLAIMS;
	if (strcmp(type, expected == JWT_ACCESS ? "access" : "refresh") != 0)
		return JWT_WRONG_TYPE;
	if (!validate_parse_id(string_member(payload, "sub"), &claims->sub))
		return JWT_BAD_CLAIMS;
	s = string_member(payload, "role");
	if (s == NULL || strlen(s) >= sizeof(claims->role))
		return JWT_BAD_CLAIMS;
	strcpy(claims->role, s);
	s = string_member(payload, "jti");
	if (s == NULL || strlen(s) != JWT_JTI_LEN)
		return JWT_BAD_CLAIMS;
	strcpy(claims->jti, s);
	if (json_object_object_get_ex(payload, "pwc", NULL) &&
	    (!int_member(payload, "pwc", &claims->password_changed) ||
	     claims->password_changed <= 0))
		return JWT_BAD_CLAIMS;
	claims->type = expected;
	return JWT_OK;
}

const char *jwt_error_name(enum jwt_error err)
{
	static const char *const names[] = {
	    "ok",          "malformed",     "too_large",  "bad_algorithm",
	    "unknown_key", "bad_signature", "expired",    "not_yet_valid",
	    "bad_issuer",  "bad_audience",  "wrong_type", "bad_claims",
	};

	return (unsigned)err < sizeof(names) / sizeof(names[0]) ? names[err] : "unknown";
}

int jwt_new_jti(char out[JWT_JTI_LEN + 1])
{
	unsigned char b[16];

	if (random_bytes(b, sizeof(b)) != 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, JWT_JTI_LEN + 1,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
	return 0;
}
