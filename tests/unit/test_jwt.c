/*
 * test_jwt.c - jwt_sign / jwt_verify / jwt_new_jti (src/auth/jwt.c).
 *
 * Round trips go through jwt_sign. Hostile tokens are built by hand: the
 * header and payload are arbitrary JSON text, base64url-encoded and signed
 * with HMAC-SHA256 (OpenSSL's HMAC()) under a key of our choosing, so each
 * test changes exactly one thing about an otherwise valid token and checks
 * the exact enum jwt_verify answers.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/base64url.h"
#include "hms/config.h"
#include "hms/jwt.h"

#define NOW       1767225600LL /* 2026-01-01T00:00:00Z */
#define ISS       "hms-test"
#define AUD       "hms-api-test"
#define JTI       "0b7c3b8e-3d0f-4c4e-9a8b-2f6e1d5c4b3a"
#define HEADER_OK "{\"alg\":\"HS256\",\"kid\":\"A\",\"typ\":\"JWT\"}"

static unsigned char secret_a[] = "secret-A-0123456789abcdef0123456789abcdef";
static unsigned char secret_b[] = "secret-B-fedcba9876543210fedcba9876543210";
static unsigned char secret_a_other[] = "secret-A-but-not-the-same-bytes-0123456789";

/* keys[0] = A (signs), keys[1] = B. */
static struct config_jwt_key keys[] = {
    {"A", secret_a, sizeof(secret_a) - 1},
    {"B", secret_b, sizeof(secret_b) - 1},
};
/* Same kid as A, another secret. */
static struct config_jwt_key key_a_other[] = {
    {"A", secret_a_other, sizeof(secret_a_other) - 1},
};

static struct arena *arena;
static struct jwt_claims got;

static void setup(void)
{
	arena = arena_new(16 * 1024, 0);
	cr_assert_not_null(arena);
	memset(&got, 0, sizeof(got));
}

static void teardown(void)
{
	arena_free(arena);
	arena = NULL;
}

TestSuite(jwt, .init = setup, .fini = teardown);

static struct jwt_keyring ring_of(const struct config_jwt_key *k, size_t n)
{
	struct jwt_keyring ring = {k, n, ISS, AUD};

	return ring;
}

/* The ring every hostile token is checked against: [A, B]. */
static enum jwt_error verify_as(const char *token, enum jwt_type type, int64_t now)
{
	struct jwt_keyring ring = ring_of(keys, 2);

	return jwt_verify(&ring, arena, token, type, now, &got);
}

static enum jwt_error verify(const char *token)
{
	return verify_as(token, JWT_ACCESS, NOW);
}

/* base64url of text, in the arena. */
static const char *b64(const char *text)
{
	size_t len = strlen(text);
	char *out = arena_alloc(arena, BASE64URL_ENCODED_SIZE(len));

	cr_assert_not_null(out);
	base64url_encode((const unsigned char *)text, len, out);
	return out;
}

/* signing_input + "." + base64url(HMAC-SHA256(key, signing_input)). */
static const char *sign_raw(const char *signing_input, const struct config_jwt_key *key)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char sig[BASE64URL_ENCODED_SIZE(EVP_MAX_MD_SIZE)];

	cr_assert_not_null(HMAC(EVP_sha256(), key->secret, (int)key->secret_len,
	                        (const unsigned char *)signing_input, strlen(signing_input), mac,
	                        &mac_len));
	cr_assert_eq(mac_len, 32);
	base64url_encode(mac, mac_len, sig);
	return arena_printf(arena, "%s.%s", signing_input, sig);
}

/* A token of arbitrary header and payload JSON text, signed with key. */
static const char *forge(const char *header, const char *payload, const struct config_jwt_key *key)
{
	return sign_raw(arena_printf(arena, "%s.%s", b64(header), b64(payload)), key);
}

/*
 * The payload of a valid access token (sub 42, doctor, iat NOW, exp NOW +
 * 600, our iss and aud), changed by edits: pairs of key and JSON value
 * text, NULL-terminated; a key written "-name" removes that claim.
 */
#define EDITS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *payload(const char *const *edits)
{
	struct json_object *p = json_object_new_object();
	const char *text;

	json_object_object_add(p, "sub", json_object_new_string("42"));
	json_object_object_add(p, "role", json_object_new_string("doctor"));
	json_object_object_add(p, "iat", json_object_new_int64(NOW));
	json_object_object_add(p, "exp", json_object_new_int64(NOW + 600));
	json_object_object_add(p, "jti", json_object_new_string(JTI));
	json_object_object_add(p, "iss", json_object_new_string(ISS));
	json_object_object_add(p, "aud", json_object_new_string(AUD));
	json_object_object_add(p, "type", json_object_new_string("access"));
	for (size_t i = 0; edits != NULL && edits[i] != NULL; i++) {
		if (edits[i][0] == '-') {
			cr_assert(json_object_object_get_ex(p, edits[i] + 1, NULL),
			          "no claim %s to remove", edits[i] + 1);
			json_object_object_del(p, edits[i] + 1);
			continue;
		}
		cr_assert_not_null(edits[i + 1], "claim %s has no value", edits[i]);
		struct json_object *v = json_tokener_parse(edits[i + 1]);

		cr_assert(v != NULL || strcmp(edits[i + 1], "null") == 0, "bad JSON: %s",
		          edits[i + 1]);
		json_object_object_add(p, edits[i], v);
		i++;
	}
	text = arena_strdup(arena, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
	json_object_put(p);
	return text;
}

/* A valid access token (signed with A) with the payload edited. */
static const char *token_with(const char *const *edits)
{
	return forge(HEADER_OK, payload(edits), &keys[0]);
}

static const char *num(long long v)
{
	return arena_printf(arena, "%lld", v);
}

/* Decodes one segment of a token into a json object (caller puts it). */
static struct json_object *segment_json(const char *token, int index)
{
	const char *start = token;
	const char *end;
	unsigned char *raw;
	long n;

	for (int i = 0; i < index; i++)
		start = strchr(start, '.') + 1;
	end = strchr(start, '.');
	if (end == NULL)
		end = start + strlen(start);
	raw = arena_alloc(arena, (size_t)(end - start) * 3 / 4 + 1);
	n = base64url_decode(start, (size_t)(end - start), raw);
	cr_assert_gt(n, 0);
	raw[n] = '\0';
	return json_tokener_parse((const char *)raw);
}

static struct jwt_claims sample_claims(enum jwt_type type)
{
	struct jwt_claims c;

	memset(&c, 0, sizeof(c));
	c.sub = 42;
	strcpy(c.role, "doctor");
	c.iat = NOW;
	c.exp = NOW + 900;
	cr_assert_eq(jwt_new_jti(c.jti), 0);
	c.type = type;
	return c;
}

/* --- round trips --------------------------------------------------------- */

Test(jwt, baseline_forged_token_is_valid)
{
	/* Every rejection below changes one thing about this token. */
	cr_assert_eq(verify(token_with(NULL)), JWT_OK);
	cr_assert_eq(got.sub, 42);
	cr_assert_str_eq(got.role, "doctor");
	cr_assert_str_eq(got.jti, JTI);
}

Test(jwt, access_token_round_trip_keeps_claims)
{
	struct jwt_keyring ring = ring_of(keys, 2);
	struct jwt_claims c = sample_claims(JWT_ACCESS);
	char token[JWT_MAX_BYTES];

	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_ACCESS, NOW, &got), JWT_OK);
	cr_assert_eq(got.sub, c.sub);
	cr_assert_str_eq(got.role, c.role);
	cr_assert_eq(got.iat, c.iat);
	cr_assert_eq(got.exp, c.exp);
	cr_assert_str_eq(got.jti, c.jti);
	cr_assert_eq(got.type, JWT_ACCESS);
}

Test(jwt, refresh_token_round_trip_keeps_claims)
{
	struct jwt_keyring ring = ring_of(keys, 2);
	struct jwt_claims c = sample_claims(JWT_REFRESH);
	char token[JWT_MAX_BYTES];

	c.sub = INT64_MAX;
	strcpy(c.role, "receptionist");
	c.exp = NOW + 14 * 86400;
	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_REFRESH, NOW + 86400, &got), JWT_OK);
	cr_assert_eq(got.sub, INT64_MAX);
	cr_assert_str_eq(got.role, "receptionist");
	cr_assert_eq(got.iat, c.iat);
	cr_assert_eq(got.exp, c.exp);
	cr_assert_str_eq(got.jti, c.jti);
	cr_assert_eq(got.type, JWT_REFRESH);
}

Test(jwt, signed_token_has_the_documented_header_and_claims)
{
	struct jwt_keyring ring = ring_of(keys, 2);
	struct jwt_claims c = sample_claims(JWT_REFRESH);
	char token[JWT_MAX_BYTES];
	struct json_object *h, *p, *v;

	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	h = segment_json(token, 0);
	p = segment_json(token, 1);
	cr_assert_not_null(h);
	cr_assert_not_null(p);

	cr_assert(json_object_object_get_ex(h, "alg", &v));
	cr_assert_str_eq(json_object_get_string(v), "HS256");
	cr_assert(json_object_object_get_ex(h, "kid", &v));
	cr_assert_str_eq(json_object_get_string(v), "A", "keys[0] signs");

	cr_assert(json_object_object_get_ex(p, "sub", &v));
	cr_assert(json_object_is_type(v, json_type_string), "sub is a string (RFC 7519)");
	cr_assert_str_eq(json_object_get_string(v), "42");
	cr_assert(json_object_object_get_ex(p, "iss", &v));
	cr_assert_str_eq(json_object_get_string(v), ISS);
	cr_assert(json_object_object_get_ex(p, "aud", &v));
	cr_assert_str_eq(json_object_get_string(v), AUD);
	cr_assert(json_object_object_get_ex(p, "type", &v));
	cr_assert_str_eq(json_object_get_string(v), "refresh");
	cr_assert(json_object_object_get_ex(p, "exp", &v));
	cr_assert(json_object_is_type(v, json_type_int));
	cr_assert_eq(json_object_get_int64(v), c.exp);
	json_object_put(h);
	json_object_put(p);
}

Test(jwt, valid_until_the_second_before_exp)
{
	struct jwt_keyring ring = ring_of(keys, 1);
	struct jwt_claims c = sample_claims(JWT_ACCESS);
	char token[JWT_MAX_BYTES];

	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_ACCESS, c.exp - 1, &got), JWT_OK);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_ACCESS, c.exp, &got), JWT_EXPIRED);
}

Test(jwt, sign_refuses_an_empty_ring_and_a_small_buffer)
{
	struct jwt_keyring empty = ring_of(keys, 0);
	struct jwt_keyring ring = ring_of(keys, 1);
	struct jwt_claims c = sample_claims(JWT_ACCESS);
	char token[JWT_MAX_BYTES];
	char small[64];
	size_t len;

	memset(small, 'x', sizeof(small));
	cr_assert_eq(jwt_sign(&empty, &c, token, sizeof(token)), -1);
	cr_assert_eq(jwt_sign(&ring, &c, small, sizeof(small)), -1);
	cr_assert_eq(small[0], '\0', "a failed sign leaves an empty string");

	/* Exactly the room needed (text + NUL) works; one byte less does not. */
	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	len = strlen(token);
	{
		char *exact = arena_alloc(arena, len + 1);

		cr_assert_eq(jwt_sign(&ring, &c, exact, len + 1), 0);
		cr_assert_str_eq(exact, token);
		cr_assert_eq(jwt_sign(&ring, &c, exact, len), -1);
	}
}

Test(jwt, keyring_from_config_uses_the_derived_keys)
{
	static char issuer[] = ISS, audience[] = AUD;
	struct hms_config cfg;
	struct jwt_keyring ring;

	memset(&cfg, 0, sizeof(cfg));
	cfg.jwt[0] = keys[1];
	cfg.jwt[1] = keys[0];
	cfg.jwt_key_count = 2;
	cfg.jwt_issuer = issuer;
	cfg.jwt_audience = audience;
	ring = jwt_keyring_from_config(&cfg);
	cr_assert_eq(ring.keys, cfg.jwt);
	cr_assert_eq(ring.count, 2);
	cr_assert_str_eq(ring.issuer, ISS);
	cr_assert_str_eq(ring.audience, AUD);
}

/* --- algorithm and header ------------------------------------------------ */

Test(jwt, alg_none_is_refused)
{
	const char *p = payload(NULL);

	cr_assert_eq(verify(forge("{\"alg\":\"none\",\"kid\":\"A\",\"typ\":\"JWT\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":\"None\",\"kid\":\"A\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	/* The classic form, with an empty signature: refused as well. */
	cr_assert_eq(verify(arena_printf(arena, "%s.%s.", b64("{\"alg\":\"none\"}"), b64(p))),
	             JWT_MALFORMED);
}

Test(jwt, other_algorithms_are_refused)
{
	const char *p = payload(NULL);

	cr_assert_eq(verify(forge("{\"alg\":\"HS512\",\"kid\":\"A\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":\"RS256\",\"kid\":\"A\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":\"hs256\",\"kid\":\"A\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256 \",\"kid\":\"A\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":\"\",\"kid\":\"A\"}", p, &keys[0])), JWT_BAD_ALGORITHM);
}

Test(jwt, alg_missing_or_not_a_string_is_refused)
{
	const char *p = payload(NULL);

	cr_assert_eq(verify(forge("{\"kid\":\"A\",\"typ\":\"JWT\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":256,\"kid\":\"A\"}", p, &keys[0])), JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":[\"HS256\"],\"kid\":\"A\"}", p, &keys[0])),
	             JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{\"alg\":null,\"kid\":\"A\"}", p, &keys[0])), JWT_BAD_ALGORITHM);
	cr_assert_eq(verify(forge("{}", p, &keys[0])), JWT_BAD_ALGORITHM);
}

Test(jwt, bad_algorithm_is_decided_before_the_key)
{
	/* alg wrong and kid unknown: the algorithm is checked first. */
	cr_assert_eq(verify(forge("{\"alg\":\"none\",\"kid\":\"nope\"}", payload(NULL), &keys[0])),
	             JWT_BAD_ALGORITHM);
}

Test(jwt, crit_header_is_refused)
{
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":\"A\",\"crit\":[\"exp\"]}",
	                          payload(NULL), &keys[0])),
	             JWT_MALFORMED);
	cr_assert_eq(
	    verify(forge("{\"alg\":\"HS256\",\"kid\":\"A\",\"crit\":[]}", payload(NULL), &keys[0])),
	    JWT_MALFORMED);
}

Test(jwt, kid_missing_or_unknown_is_refused)
{
	const char *p = payload(NULL);

	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, &keys[0])),
	             JWT_UNKNOWN_KEY);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":\"C\"}", p, &keys[0])),
	             JWT_UNKNOWN_KEY);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":\"a\"}", p, &keys[0])),
	             JWT_UNKNOWN_KEY);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":\"\"}", p, &keys[0])),
	             JWT_UNKNOWN_KEY);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":1}", p, &keys[0])), JWT_UNKNOWN_KEY);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":null}", p, &keys[0])),
	             JWT_UNKNOWN_KEY);
}

/* --- signature ----------------------------------------------------------- */

Test(jwt, every_altered_signature_character_is_refused)
{
	const char *good = token_with(NULL);
	size_t sig = (size_t)(strrchr(good, '.') - good) + 1;
	size_t len = strlen(good);

	cr_assert_eq(len - sig, 43, "HS256 signatures are 43 characters");
	for (size_t i = sig; i < len; i++) {
		char *bad = arena_strdup(arena, good);

		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		cr_assert_eq(verify(bad), JWT_BAD_SIGNATURE, "changed signature character %zu",
		             i - sig);
	}
}

Test(jwt, signature_with_non_canonical_trailing_bits_is_refused)
{
	/* 32 bytes take 43 characters with 2 unused bits; setting one keeps
	 * the same bytes in a lax decoder. */
	const char *good = token_with(NULL);
	char *bad = arena_strdup(arena, good);
	char *last = bad + strlen(bad) - 1;
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int v = (int)(strchr(alphabet, *last) - alphabet);

	cr_assert_eq(v & 3, 0, "canonical last character");
	*last = alphabet[v | 1];
	cr_assert_eq(verify(bad), JWT_BAD_SIGNATURE);
}

Test(jwt, signature_of_wrong_length_is_refused)
{
	const char *good = token_with(NULL);
	char *shorter = arena_strdup(arena, good);
	const char *sig = strrchr(good, '.') + 1;

	shorter[strlen(shorter) - 1] = '\0';
	cr_assert_eq(verify(shorter), JWT_BAD_SIGNATURE);
	cr_assert_eq(verify(arena_printf(arena, "%sA", good)), JWT_BAD_SIGNATURE);
	cr_assert_eq(verify(arena_printf(arena, "%s%s", good, sig)), JWT_BAD_SIGNATURE,
	             "an HS512-sized signature");
	cr_assert_eq(verify(arena_printf(arena, "%.*sAA", (int)(sig - good), good)),
	             JWT_BAD_SIGNATURE);
}

Test(jwt, signature_segment_that_is_not_base64url_is_refused)
{
	const char *good = token_with(NULL);
	char *bad = arena_strdup(arena, good);

	bad[strlen(bad) - 5] = '+';
	cr_assert_eq(verify(bad), JWT_BAD_SIGNATURE);
}

Test(jwt, empty_signature_segment_is_refused)
{
	const char *good = token_with(NULL);
	const char *sig = strrchr(good, '.') + 1;

	cr_assert_eq(verify(arena_printf(arena, "%.*s", (int)(sig - good), good)), JWT_MALFORMED);
}

Test(jwt, tampered_payload_keeps_old_signature_and_is_refused)
{
	const char *good = token_with(NULL);
	const char *dot1 = strchr(good, '.');
	const char *sig = strrchr(good, '.');
	const char *escalated = payload(EDITS("role", "\"admin\""));

	cr_assert_eq(verify(good), JWT_OK);
	cr_assert_eq(
	    verify(arena_printf(arena, "%.*s.%s%s", (int)(dot1 - good), good, b64(escalated), sig)),
	    JWT_BAD_SIGNATURE);
	/* The header too is covered by the signature. */
	cr_assert_eq(verify(arena_printf(arena, "%s%.*s", b64("{\"alg\":\"HS256\",\"kid\":\"A\"}"),
	                                 (int)strlen(dot1), dot1)),
	             JWT_BAD_SIGNATURE);
}

Test(jwt, token_signed_with_an_unknown_secret_is_refused)
{
	cr_assert_eq(verify(forge(HEADER_OK, payload(NULL), &key_a_other[0])), JWT_BAD_SIGNATURE);
}

/* --- key rotation -------------------------------------------------------- */

Test(jwt, token_of_the_second_key_verifies_with_the_ring)
{
	struct jwt_keyring signer = ring_of(&keys[1], 1);
	struct jwt_keyring both = ring_of(keys, 2);
	struct jwt_keyring only_a = ring_of(keys, 1);
	struct jwt_claims c = sample_claims(JWT_ACCESS);
	char token[JWT_MAX_BYTES];
	struct json_object *h, *kid;

	cr_assert_eq(jwt_sign(&signer, &c, token, sizeof(token)), 0);
	h = segment_json(token, 0);
	cr_assert(json_object_object_get_ex(h, "kid", &kid));
	cr_assert_str_eq(json_object_get_string(kid), "B");
	json_object_put(h);

	cr_assert_eq(jwt_verify(&both, arena, token, JWT_ACCESS, NOW, &got), JWT_OK);
	cr_assert_eq(got.sub, 42);
	cr_assert_eq(jwt_verify(&only_a, arena, token, JWT_ACCESS, NOW, &got), JWT_UNKNOWN_KEY);
}

Test(jwt, same_kid_with_another_secret_is_a_bad_signature)
{
	struct jwt_keyring ring = ring_of(keys, 1);
	struct jwt_keyring other = ring_of(key_a_other, 1);
	struct jwt_claims c = sample_claims(JWT_ACCESS);
	char token[JWT_MAX_BYTES];

	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_ACCESS, NOW, &got), JWT_OK);
	cr_assert_eq(jwt_verify(&other, arena, token, JWT_ACCESS, NOW, &got), JWT_BAD_SIGNATURE);
}

/* --- time claims --------------------------------------------------------- */

Test(jwt, expired_at_and_after_exp)
{
	const char *t = token_with(EDITS("exp", num(NOW)));

	cr_assert_eq(verify(t), JWT_EXPIRED, "now == exp");
	cr_assert_eq(verify_as(t, JWT_ACCESS, NOW + 3600), JWT_EXPIRED);
	cr_assert_eq(verify_as(t, JWT_ACCESS, NOW - 1), JWT_OK);
	/* No leeway on exp. */
	cr_assert_eq(verify_as(token_with(EDITS("exp", num(NOW - 1))), JWT_ACCESS, NOW),
	             JWT_EXPIRED);
}

Test(jwt, iat_in_the_future_beyond_leeway_is_refused)
{
	cr_assert_eq(verify(token_with(EDITS("iat", num(NOW + JWT_LEEWAY_SECONDS + 1)))),
	             JWT_NOT_YET_VALID);
	cr_assert_eq(verify(token_with(EDITS("iat", num(NOW + 300)))), JWT_NOT_YET_VALID);
}

Test(jwt, iat_in_the_future_within_leeway_is_accepted)
{
	cr_assert_eq(verify(token_with(EDITS("iat", num(NOW + JWT_LEEWAY_SECONDS)))), JWT_OK);
	cr_assert_eq(verify(token_with(EDITS("iat", num(NOW + 1)))), JWT_OK);
	cr_assert_eq(verify(token_with(EDITS("iat", num(NOW - 86400)))), JWT_OK);
}

Test(jwt, nbf_in_the_future_beyond_leeway_is_refused)
{
	cr_assert_eq(verify(token_with(EDITS("nbf", num(NOW + JWT_LEEWAY_SECONDS + 1)))),
	             JWT_NOT_YET_VALID);
	cr_assert_eq(verify(token_with(EDITS("nbf", num(NOW + JWT_LEEWAY_SECONDS)))), JWT_OK);
	cr_assert_eq(verify(token_with(EDITS("nbf", num(NOW - 10)))), JWT_OK);
}

Test(jwt, nbf_of_the_wrong_type_is_refused)
{
	cr_assert_eq(verify(token_with(EDITS("nbf", "\"0\""))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("nbf", "1.5"))), JWT_BAD_CLAIMS);
}

/* --- issuer, audience, type ---------------------------------------------- */

Test(jwt, wrong_or_missing_issuer_is_refused)
{
	cr_assert_eq(verify(token_with(EDITS("iss", "\"someone-else\""))), JWT_BAD_ISSUER);
	cr_assert_eq(verify(token_with(EDITS("iss", "\"" ISS " \""))), JWT_BAD_ISSUER);
	cr_assert_eq(verify(token_with(EDITS("-iss"))), JWT_BAD_ISSUER);
	cr_assert_eq(verify(token_with(EDITS("iss", "[\"" ISS "\"]"))), JWT_BAD_ISSUER);
}

Test(jwt, wrong_or_missing_audience_string_is_refused)
{
	cr_assert_eq(verify(token_with(EDITS("aud", "\"another-api\""))), JWT_BAD_AUDIENCE);
	cr_assert_eq(verify(token_with(EDITS("-aud"))), JWT_BAD_AUDIENCE);
	cr_assert_eq(verify(token_with(EDITS("aud", "1"))), JWT_BAD_AUDIENCE);
}

Test(jwt, audience_array_must_contain_ours)
{
	cr_assert_eq(verify(token_with(EDITS("aud", "[\"other\",\"" AUD "\"]"))), JWT_OK);
	cr_assert_eq(verify(token_with(EDITS("aud", "[\"" AUD "\"]"))), JWT_OK);
	cr_assert_eq(verify(token_with(EDITS("aud", "[\"other\",\"more\"]"))), JWT_BAD_AUDIENCE);
	cr_assert_eq(verify(token_with(EDITS("aud", "[]"))), JWT_BAD_AUDIENCE);
	cr_assert_eq(verify(token_with(EDITS("aud", "[[\"" AUD "\"]]"))), JWT_BAD_AUDIENCE);
}

Test(jwt, access_token_presented_as_refresh_is_wrong_type)
{
	struct jwt_keyring ring = ring_of(keys, 1);
	struct jwt_claims c = sample_claims(JWT_ACCESS);
	char token[JWT_MAX_BYTES];

	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_REFRESH, NOW, &got), JWT_WRONG_TYPE);
}

Test(jwt, refresh_token_presented_as_access_is_wrong_type)
{
	struct jwt_keyring ring = ring_of(keys, 1);
	struct jwt_claims c = sample_claims(JWT_REFRESH);
	char token[JWT_MAX_BYTES];

	cr_assert_eq(jwt_sign(&ring, &c, token, sizeof(token)), 0);
	cr_assert_eq(jwt_verify(&ring, arena, token, JWT_ACCESS, NOW, &got), JWT_WRONG_TYPE);
}

Test(jwt, unknown_or_missing_type)
{
	cr_assert_eq(verify(token_with(EDITS("type", "\"id\""))), JWT_WRONG_TYPE);
	cr_assert_eq(verify(token_with(EDITS("type", "\"Access\""))), JWT_WRONG_TYPE);
	cr_assert_eq(verify(token_with(EDITS("-type"))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("type", "0"))), JWT_BAD_CLAIMS);
}

/* --- required claims ----------------------------------------------------- */

Test(jwt, missing_required_claims_are_refused)
{
	static const char *const claims[] = {"-exp", "-iat", "-sub", "-jti", "-role"};

	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++)
		cr_assert_eq(verify(token_with(EDITS(claims[i]))), JWT_BAD_CLAIMS, "without %s",
		             claims[i] + 1);
}

Test(jwt, exp_and_iat_must_be_integers)
{
	cr_assert_eq(verify(token_with(EDITS("exp", arena_printf(arena, "%lld.0", NOW + 600)))),
	             JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("exp", arena_printf(arena, "%lld.5", NOW + 600)))),
	             JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("exp", arena_printf(arena, "\"%lld\"", NOW + 600)))),
	             JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("exp", "null"))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("exp", "true"))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("iat", arena_printf(arena, "%lld.0", NOW)))),
	             JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("iat", arena_printf(arena, "\"%lld\"", NOW)))),
	             JWT_BAD_CLAIMS);
}

Test(jwt, sub_must_be_a_positive_decimal_string)
{
	static const char *const bad[] = {
	    "\"0\"",
	    "\"-1\"",
	    "\"abc\"",
	    "\"\"",
	    "\"01\"",
	    "\"+1\"",
	    "\" 1\"",
	    "\"1 \"",
	    "\"1a\"",
	    "\"9223372036854775808\"",
	    "\"99999999999999999999\"",
	    "42",
	    "null",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(verify(token_with(EDITS("sub", bad[i]))), JWT_BAD_CLAIMS, "sub %s",
		             bad[i]);
	cr_assert_eq(verify(token_with(EDITS("sub", "\"1\""))), JWT_OK);
	cr_assert_eq(got.sub, 1);
	cr_assert_eq(verify(token_with(EDITS("sub", "\"9223372036854775807\""))), JWT_OK);
	cr_assert_eq(got.sub, INT64_MAX);
}

Test(jwt, role_and_jti_must_be_strings_that_fit)
{
	cr_assert_eq(verify(token_with(EDITS("role", "1"))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("role", "\"0123456789abcdef0\""))), JWT_BAD_CLAIMS,
	             "17 characters do not fit role[17]");
	cr_assert_eq(verify(token_with(EDITS("role", "\"0123456789abcdef\""))), JWT_OK);
	cr_assert_str_eq(got.role, "0123456789abcdef");

	cr_assert_eq(verify(token_with(EDITS("jti", "\"short\""))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("jti", "\"" JTI "0\""))), JWT_BAD_CLAIMS);
	cr_assert_eq(verify(token_with(EDITS("jti", "12345"))), JWT_BAD_CLAIMS);
}

/* --- shape --------------------------------------------------------------- */

Test(jwt, wrong_number_of_segments_is_malformed)
{
	const char *good = token_with(NULL);
	const char *sig = strrchr(good, '.');

	cr_assert_eq(verify(arena_printf(arena, "%.*s", (int)(sig - good), good)), JWT_MALFORMED,
	             "2 segments");
	cr_assert_eq(verify(arena_printf(arena, "%s.%s", good, sig + 1)), JWT_MALFORMED,
	             "4 segments");
	cr_assert_eq(verify(arena_printf(arena, "%s.", good)), JWT_MALFORMED, "trailing dot");
	cr_assert_eq(verify(b64(HEADER_OK)), JWT_MALFORMED, "1 segment");
}

Test(jwt, empty_segments_are_malformed)
{
	const char *h = b64(HEADER_OK);
	const char *p = b64(payload(NULL));
	const char *good = token_with(NULL);
	const char *sig = strrchr(good, '.') + 1;

	cr_assert_eq(verify(""), JWT_MALFORMED);
	cr_assert_eq(verify("."), JWT_MALFORMED);
	cr_assert_eq(verify(".."), JWT_MALFORMED);
	cr_assert_eq(verify("..."), JWT_MALFORMED);
	cr_assert_eq(verify(arena_printf(arena, ".%s.%s", p, sig)), JWT_MALFORMED, "no header");
	cr_assert_eq(verify(arena_printf(arena, "%s..%s", h, sig)), JWT_MALFORMED, "no payload");
	cr_assert_eq(verify(arena_printf(arena, "%s.%s.", h, p)), JWT_MALFORMED, "no signature");
}

Test(jwt, non_base64url_characters_are_malformed)
{
	const char *good = token_with(NULL);
	char *bad = arena_strdup(arena, good);

	bad[2] = '+';
	cr_assert_eq(verify(bad), JWT_MALFORMED, "'+' in the header");
	bad = arena_strdup(arena, good);
	bad[2] = '=';
	cr_assert_eq(verify(bad), JWT_MALFORMED, "'=' in the header");
	cr_assert_eq(verify(arena_printf(arena, "%s=", good)), JWT_BAD_SIGNATURE,
	             "padding on the signature");
	cr_assert_eq(verify(arena_printf(arena, " %s", good)), JWT_MALFORMED, "leading space");

	/* Correctly signed, but the payload segment is not base64url. */
	cr_assert_eq(
	    verify(sign_raw(arena_printf(arena, "%s.%s", b64(HEADER_OK), "eyJ!!!"), &keys[0])),
	    JWT_MALFORMED);
	cr_assert_eq(
	    verify(sign_raw(arena_printf(arena, "%s.%s==", b64(HEADER_OK), b64(payload(NULL))),
	                    &keys[0])),
	    JWT_MALFORMED);
}

Test(jwt, header_that_is_not_a_json_object_is_malformed)
{
	const char *p = payload(NULL);

	cr_assert_eq(verify(forge("not json", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge("[\"HS256\",\"A\"]", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge("\"HS256\"", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge("null", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":\"A\"", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge(HEADER_OK "x", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge("{'alg':'HS256','kid':'A'}", p, &keys[0])), JWT_MALFORMED);
	cr_assert_eq(verify(forge("{\"alg\":\"HS256\",\"kid\":\"\xff\"}", p, &keys[0])),
	             JWT_MALFORMED, "invalid UTF-8");
}

Test(jwt, payload_that_is_not_a_json_object_is_malformed)
{
	/* Each is correctly signed with A, so only the payload is wrong. */
	static const char *const bad[] = {
	    "[]", "[1,2]", "42", "\"sub\"", "null", "true", "not json", "{\"sub\":\"42\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(verify(forge(HEADER_OK, bad[i], &keys[0])), JWT_MALFORMED,
		             "payload %s", bad[i]);
}

/* A valid token with an extra "pad" claim of pad characters. */
static const char *padded_token(size_t pad)
{
	char *text = arena_alloc(arena, pad + 3);

	text[0] = '"';
	memset(text + 1, 'x', pad);
	text[pad + 1] = '"';
	text[pad + 2] = '\0';
	return token_with(EDITS("pad", text));
}

Test(jwt, oversized_token_is_too_large)
{
	const char *t;
	size_t pad = 0;

	/* The longest valid token within JWT_MAX_BYTES verifies... */
	while (strlen(padded_token(pad + 1)) <= JWT_MAX_BYTES)
		pad++;
	t = padded_token(pad);
	cr_assert_leq(strlen(t), JWT_MAX_BYTES);
	cr_assert_geq(strlen(t), JWT_MAX_BYTES - 3);
	cr_assert_eq(verify(t), JWT_OK, "%zu bytes", strlen(t));

	/* ...and the next size up is refused before anything else. */
	t = padded_token(pad + 1);
	cr_assert_gt(strlen(t), JWT_MAX_BYTES);
	cr_assert_eq(verify(t), JWT_TOO_LARGE, "%zu bytes", strlen(t));

	{
		char *junk = arena_alloc(arena, JWT_MAX_BYTES + 2);

		memset(junk, '.', JWT_MAX_BYTES + 1);
		junk[JWT_MAX_BYTES + 1] = '\0';
		cr_assert_eq(verify(junk), JWT_TOO_LARGE);
	}
}

/* --- names and jti ------------------------------------------------------- */

Test(jwt, error_names_are_distinct)
{
	static const char *const expected[] = {
	    "ok",          "malformed",     "too_large",  "bad_algorithm",
	    "unknown_key", "bad_signature", "expired",    "not_yet_valid",
	    "bad_issuer",  "bad_audience",  "wrong_type", "bad_claims",
	};

	for (int e = JWT_OK; e <= JWT_BAD_CLAIMS; e++)
		cr_assert_str_eq(jwt_error_name((enum jwt_error)e), expected[e]);
	cr_assert_str_eq(jwt_error_name((enum jwt_error)(JWT_BAD_CLAIMS + 1)), "unknown");
	cr_assert_str_eq(jwt_error_name((enum jwt_error) - 1), "unknown");
}

static void assert_uuid_v4(const char *s)
{
	cr_assert_eq(strlen(s), JWT_JTI_LEN, "\"%s\"", s);
	for (int i = 0; i < JWT_JTI_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			cr_assert_eq(s[i], '-', "\"%s\" at %d", s, i);
		else
			cr_assert_not_null(strchr("0123456789abcdef", s[i]), "\"%s\" at %d", s, i);
	}
	cr_assert_eq(s[14], '4', "version 4: \"%s\"", s);
	cr_assert_not_null(strchr("89ab", s[19]), "RFC 4122 variant: \"%s\"", s);
}

Test(jwt, new_jti_is_a_random_uuid_v4)
{
	char a[JWT_JTI_LEN + 1], b[JWT_JTI_LEN + 1];

	memset(a, 'z', sizeof(a));
	cr_assert_eq(jwt_new_jti(a), 0);
	cr_assert_eq(jwt_new_jti(b), 0);
	assert_uuid_v4(a);
	assert_uuid_v4(b);
	cr_assert_str_neq(a, b);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(jwt_new_jti(b), 0);
		assert_uuid_v4(b);
	}
}
