/*
 * fuzz_jwt_verify.c - jwt_verify (src/auth/jwt.c) with a configured key
 * ring of two keys, as the workers check every bearer token.
 *
 * The first byte chooses how the rest of the input makes a token (its low
 * four bits modulo 3), the type of token asked for (bit 0x10: refresh) and,
 * in mode 2, the signing key (bit 0x20):
 *
 *   0  the bytes are the token, as a client may send anything;
 *   1  the bytes are claims (sub, role, iat, exp, type, pwc, jti) that
 *      jwt_sign() signs with the ring's first key, and then edits (replace,
 *      insert or delete a byte, or replace one with a base64url character)
 *      applied to the signed text;
 *   2  the bytes are a header and a payload of arbitrary JSON text, split
 *      at the first newline, that the harness encodes and signs with one of
 *      the ring's keys (its own HMAC), so the claim checks see signed but
 *      hostile documents.
 *
 * Whatever the mode, a token that is accepted must carry, as its third
 * segment, the base64url HMAC-SHA256 of its first two under one of the
 * ring's keys (recomputed here), its header must say alg HS256 with a
 * configured kid, and the claims handed back must be within what the
 * verifier promises (not expired, not issued in the future, a positive
 * sub, a 36-character jti, the type asked for). In mode 1 the untouched
 * token must verify exactly as its claims say it should (accepted with the
 * same claims, or expired, not yet valid, of the wrong type), must be
 * refused by a ring without its key or with another secret under its kid,
 * and an edited token may be accepted only if the edits left the signed
 * bytes as they were.
 */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/base64url.h"
#include "hms/config.h"
#include "hms/json.h"
#include "hms/jwt.h"

#include "fuzz.h"

#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */
#define ISS "hms-fuzz"
#define AUD "hms-api-fuzz"

static unsigned char secret_1[] = "fuzz-secret-1-0123456789abcdef0123456789abcdef";
static unsigned char secret_2[] = "fuzz-secret-2-fedcba9876543210fedcba9876543210";
static unsigned char secret_1_other[] = "fuzz-secret-1-but-another-one-0123456789abcdef";

static const struct config_jwt_key keys[] = {
    {"k1", secret_1, sizeof(secret_1) - 1},
    {"k2", secret_2, sizeof(secret_2) - 1},
};
static const struct config_jwt_key key_2_only[] = {{"k2", secret_2, sizeof(secret_2) - 1}};
static const struct config_jwt_key key_1_other[] = {
    {"k1", secret_1_other, sizeof(secret_1_other) - 1}};

static const struct jwt_keyring ring = {keys, 2, ISS, AUD};
static const struct jwt_keyring ring_without_k1 = {key_2_only, 1, ISS, AUD};
static const struct jwt_keyring ring_other_secret = {key_1_other, 1, ISS, AUD};

static const char *const roles[] = {"admin",        "doctor",  "nurse",
                                    "receptionist", "patient", "a-sixteen-chars!"};

static struct arena *arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	arena = arena_new(FUZZ_ARENA_BLOCK, FUZZ_ARENA_MAX);
	if (arena == NULL)
		abort();
	return 0;
}

/* The input as a byte stream; reads past its end give zeros. */
struct reader {
	const uint8_t *data;
	size_t size, at;
};

static uint64_t take(struct reader *r, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes; i++)
		v = v << 8 | (r->at < r->size ? r->data[r->at++] : 0);
	return v;
}

/* The base64url HMAC-SHA256 of data under key, in out (44 bytes). */
static void mac_text(const struct config_jwt_key *key, const char *data, size_t len, char out[44])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len, (const unsigned char *)data, len,
	         mac, &mac_len) == NULL ||
	    mac_len != 32)
		abort();
	FUZZ_CHECK(base64url_encode(mac, 32, out) == 43);
}

/* Decodes one segment and parses it, as an independent reading of what was
 * accepted; NULL when it is not a JSON object. */
static struct json_object *segment_object(const char *seg, size_t len)
{
	unsigned char *raw = arena_alloc(arena, len * 3 / 4 + 1);
	struct json_object *obj = NULL;
	const char *detail;
	long n;

	FUZZ_CHECK(raw != NULL);
	n = base64url_decode(seg, len, raw);
	if (n <= 0 || json_parse(arena, (const char *)raw, (size_t)n, 4, &obj, &detail) != HMS_OK ||
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

/* What must hold of every token jwt_verify accepted. */
static void check_accepted(const char *token, enum jwt_type expected,
                           const struct jwt_claims *claims)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	struct json_object *header, *payload;
	const char *alg, *kid, *iss;
	bool signed_by_ring = false;
	char mac[44];

	FUZZ_CHECK(strlen(token) <= JWT_MAX_BYTES);
	FUZZ_CHECK(dot1 != NULL && dot2 != NULL && strchr(dot2 + 1, '.') == NULL);
	for (size_t i = 0; i < ring.count; i++) {
		mac_text(&ring.keys[i], token, (size_t)(dot2 - token), mac);
		if (strcmp(mac, dot2 + 1) == 0)
			signed_by_ring = true;
	}
	FUZZ_CHECK(signed_by_ring);

	header = segment_object(token, (size_t)(dot1 - token));
	FUZZ_CHECK(header != NULL);
	alg = string_member(header, "alg");
	kid = string_member(header, "kid");
	FUZZ_CHECK(alg != NULL && strcmp(alg, "HS256") == 0);
	FUZZ_CHECK(kid != NULL && (strcmp(kid, "k1") == 0 || strcmp(kid, "k2") == 0));
	FUZZ_CHECK(!json_object_object_get_ex(header, "crit", NULL));
	payload = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	FUZZ_CHECK(payload != NULL);
	iss = string_member(payload, "iss");
	FUZZ_CHECK(iss != NULL && strcmp(iss, ISS) == 0);

	FUZZ_CHECK(claims->exp > NOW);
	FUZZ_CHECK(claims->iat <= NOW + JWT_LEEWAY_SECONDS);
	FUZZ_CHECK(claims->sub > 0);
	FUZZ_CHECK(strlen(claims->role) < sizeof(claims->role));
	FUZZ_CHECK(fuzz_str_is_valid(claims->role, strlen(claims->role)));
	FUZZ_CHECK(strlen(claims->jti) == JWT_JTI_LEN);
	FUZZ_CHECK(claims->type == expected);
	FUZZ_CHECK(claims->password_changed >= 0);
}

static enum jwt_error verify(const struct jwt_keyring *with, const char *token,
                             enum jwt_type expected, struct jwt_claims *claims)
{
	enum jwt_error err = jwt_verify(with, arena, token, expected, NOW, claims);

	FUZZ_CHECK((unsigned)err <= JWT_BAD_CLAIMS);
	FUZZ_CHECK(strcmp(jwt_error_name(err), "unknown") != 0);
	if (err == JWT_OK && with == &ring)
		check_accepted(token, expected, claims);
	return err;
}

/* Mode 0: the input is the token. */
static void raw_token(const uint8_t *data, size_t size, enum jwt_type expected)
{
	char *token = malloc(size + 1);
	struct jwt_claims claims;

	if (token == NULL)
		abort();
	memcpy(token, data, size);
	token[size] = '\0';
	verify(&ring, token, expected, &claims);
	free(token);
}

/* Mode 1: signed by jwt_sign, then edited. */
static void signed_and_edited(struct reader *r, enum jwt_type expected)
{
	static const char hex[] = "0123456789abcdef";
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct jwt_claims want = {0}, got;
	char token[JWT_MAX_BYTES + 1];
	char edited[JWT_MAX_BYTES + 2];
	size_t len;
	enum jwt_error err, should;

	want.sub = (int64_t)(take(r, 8) & INT64_MAX);
	if (want.sub == 0)
		want.sub = 1;
	strcpy(want.role, roles[take(r, 1) % (sizeof(roles) / sizeof(roles[0]))]);
	want.iat = NOW + (int8_t)take(r, 1);
	want.exp = want.iat + (int16_t)take(r, 2);
	want.type = take(r, 1) % 2 == 0 ? JWT_ACCESS : JWT_REFRESH;
	want.password_changed = (int64_t)(take(r, 8) & INT64_MAX);
	for (size_t i = 0; i < JWT_JTI_LEN; i++)
		want.jti[i] = hex[take(r, 1) % 16];
	want.jti[JWT_JTI_LEN] = '\0';
	FUZZ_CHECK(jwt_sign(&ring, &want, token, sizeof(token)) == 0);
	len = strlen(token);

	/* The token as signed. */
	if (NOW >= want.exp)
		should = JWT_EXPIRED;
	else if (want.iat > NOW + JWT_LEEWAY_SECONDS)
		should = JWT_NOT_YET_VALID;
	else if (want.type != expected)
		should = JWT_WRONG_TYPE;
	else
		should = JWT_OK;
	err = verify(&ring, token, expected, &got);
	FUZZ_CHECK(err == should);
	if (err == JWT_OK) {
		FUZZ_CHECK(got.sub == want.sub && got.iat == want.iat && got.exp == want.exp);
		FUZZ_CHECK(strcmp(got.role, want.role) == 0 && strcmp(got.jti, want.jti) == 0);
		FUZZ_CHECK(got.type == want.type && got.password_changed == want.password_changed);
	}
	FUZZ_CHECK(verify(&ring_without_k1, token, expected, &got) == JWT_UNKNOWN_KEY);
	FUZZ_CHECK(verify(&ring_other_secret, token, expected, &got) == JWT_BAD_SIGNATURE);

	/* Edits: (what, where, byte) from the rest of the input, 4 bytes each. */
	memcpy(edited, token, len + 1);
	while (r->at < r->size) {
		unsigned what = (unsigned)take(r, 1) % 4;
		size_t where = (size_t)take(r, 2);
		char byte = (char)take(r, 1);

		/* Bit 15 counts from the end, where the signature is. */
		if (where & 0x8000)
			where = len - (where & 0x7fff) % (len + 1);
		if (what == 3) /* replace with a base64url character */
			byte = alphabet[(unsigned char)byte % 64];
		if ((what == 0 || what == 3) && len > 0) { /* replace */
			edited[where % len] = byte;
		} else if (what == 1 && len <= JWT_MAX_BYTES) { /* insert */
			where %= len + 1;
			memmove(edited + where + 1, edited + where, len - where + 1);
			edited[where] = byte;
			len++;
		} else if (what == 2 && len > 0) { /* delete */
			where %= len;
			memmove(edited + where, edited + where + 1, len - where);
			len--;
		}
	}
	edited[len] = '\0';
	err = verify(&ring, edited, expected, &got);
	if (strcmp(edited, token) == 0)
		FUZZ_CHECK(err == should);
	else
		FUZZ_CHECK(err != JWT_OK);
}

/* Mode 2: arbitrary header and payload text, correctly signed. */
static void signed_documents(const uint8_t *data, size_t size, enum jwt_type expected, unsigned key)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t header_len = nl != NULL ? (size_t)(nl - data) : size;
	size_t payload_len = nl != NULL ? size - header_len - 1 : 0;
	char *token = malloc(BASE64URL_ENCODED_SIZE(header_len) +
	                     BASE64URL_ENCODED_SIZE(payload_len) + 44 + 2);
	struct jwt_claims claims;
	size_t pos;

	if (token == NULL)
		abort();
	pos = base64url_encode(data, header_len, token);
	token[pos++] = '.';
	pos += base64url_encode(nl != NULL ? nl + 1 : data, payload_len, token + pos);
	mac_text(&ring.keys[key % ring.count], token, pos, token + pos + 1);
	token[pos] = '.';
	verify(&ring, token, expected, &claims);
	free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = {data, size, 0};
	unsigned mode;
	enum jwt_type expected;

	if (size < 1)
		return 0;
	mode = (data[0] & 0x0f) % 3;
	expected = data[0] & 0x10 ? JWT_REFRESH : JWT_ACCESS;
	if (mode == 0) {
		raw_token(data + 1, size - 1, expected);
	} else if (mode == 1) {
		r.at = 1;
		signed_and_edited(&r, expected);
	} else {
		signed_documents(data + 1, size - 1, expected, data[0] >> 5 & 1);
	}
	arena_reset(arena);
	return 0;
}
