/*
 * test_auth.c - login, refresh rotation and reuse detection, logout, the
 * current user, password change, registration, the per-account login
 * back-off, and forged or tampered tokens, through the real stack.
 *
 * Every test makes its own accounts (client_create_user), so the tests run
 * in parallel; the first admin is only used to register them. Tokens are
 * forged here with OpenSSL and the stack's own key file, and cross-checked
 * with an independent implementation (PyJWT, jwt_crosscheck.py).
 */
#include <argon2.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define BAD_CREDENTIALS "No active account found with the given credentials"
#define NEW_PASSWORD    "another-password-456"

static const char *const other_roles[] = {"doctor", "nurse", "receptionist", "billing"};

/* --- assertions ------------------------------------------------------------ */

/* status and a body that is exactly {"detail": detail}. */
static void assert_exact_detail(const struct client_response *res, long status, const char *detail)
{
	cr_assert_eq(res->status, status, "expected %ld, got %ld: %s", status, res->status,
	             res->body);
	cr_assert_not_null(res->json, "not JSON: %s", res->body);
	cr_assert(json_object_is_type(res->json, json_type_object), "%s", res->body);
	cr_assert_eq(json_object_object_length(res->json), 1, "%s", res->body);
	cr_assert_not_null(client_json_string(res, "detail"), "%s", res->body);
	cr_assert_str_eq(client_json_string(res, "detail"), detail);
}

/* status with a non-empty {"detail"}. */
static void assert_detail(const struct client_response *res, long status)
{
	const char *detail = client_json_string(res, "detail");

	cr_assert_eq(res->status, status, "expected %ld, got %ld: %s", status, res->status,
	             res->body);
	cr_assert(detail != NULL && *detail != '\0', "no detail: %s", res->body);
}

/* 401 with {"detail"} and WWW-Authenticate: Bearer. */
static void assert_unauthorized(const struct client_response *res)
{
	const char *www;

	assert_detail(res, 401);
	www = client_header(res, "WWW-Authenticate");
	cr_assert_not_null(www, "401 without WWW-Authenticate: %s", res->headers);
	cr_assert(strncmp(www, "Bearer", 6) == 0, "WWW-Authenticate: %s", www);
}

/* 400 with a DRF error on field. */
static void assert_field_error(const struct client_response *res, const char *field)
{
	cr_assert_eq(res->status, 400, "expected 400 on %s, got %ld: %s", field, res->status,
	             res->body);
	cr_assert(client_has_field_error(res, field), "no error on '%s': %s", field, res->body);
}

/* No password, hash or argon2 string anywhere in the answer. */
static void assert_no_secret(const struct client_response *res)
{
	cr_assert_null(strstr(res->body, "argon2"), "%s", res->body);
	cr_assert_null(strstr(res->body, "password_hash"), "%s", res->body);
	cr_assert_null(strstr(res->body, "\"password\""), "%s", res->body);
	cr_assert_null(strstr(res->body, "test-password"), "%s", res->body);
}

static void assert_me_status(const char *token, long status)
{
	struct client_response res;

	client_get_auth("/api/auth/me/", token, &res);
	cr_assert_eq(res.status, status, "GET /api/auth/me/: expected %ld, got %ld: %s", status,
	             res.status, res.body);
	if (status == 401)
		assert_unauthorized(&res);
	client_response_free(&res);
}

/* POST /api/auth/token/refresh/ {"refresh": token}; returns the status and,
 * on 200, the new pair. */
static long refresh(const char *token, struct client_tokens *out)
{
	char body[8192];
	struct client_response res;
	long status;

	memset(out, 0, sizeof(*out));
	snprintf(body, sizeof(body), "{\"refresh\": \"%s\"}", token);
	client_post_json("/api/auth/token/refresh/", NULL, body, &res);
	status = res.status;
	if (status == 200) {
		cr_assert_not_null(client_json_string(&res, "access"), "%s", res.body);
		cr_assert_not_null(client_json_string(&res, "refresh"), "%s", res.body);
		out->access = strdup(client_json_string(&res, "access"));
		out->refresh = strdup(client_json_string(&res, "refresh"));
	} else {
		cr_assert_eq(status, 401, "refresh: %ld %s", status, res.body);
		assert_unauthorized(&res);
	}
	client_response_free(&res);
	return status;
}

static void post_token_raw(const char *content_type, const char *body, size_t len,
                           struct client_response *res)
{
	char header[256];
	const char *headers[] = {header, NULL};

	snprintf(header, sizeof(header), "Content-Type: %s", content_type);
	cr_assert_eq(client_request("POST", "/api/auth/token/",
	                            content_type != NULL ? headers : NULL, body, len, res),
	             0);
}

/* --- JWT pieces (OpenSSL), for forged and tampered tokens ---------------- */

struct test_key {
	char kid[64];
	char secret[512];
	size_t secret_len;
};

/* The stack's signing key: the first line of secrets/jwt.keys, kid:secret. */
static void read_key(struct test_key *key)
{
	char path[1024], line[600];
	FILE *f;
	char *colon;

	snprintf(path, sizeof(path), "%s/secrets/jwt.keys", client_env("HMS_TEST_STATE"));
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot read %s", path);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	colon = strchr(line, ':');
	cr_assert_not_null(colon);
	*colon = '\0';
	cr_assert_lt(strlen(line), sizeof(key->kid));
	memcpy(key->kid, line, strlen(line) + 1);
	snprintf(key->secret, sizeof(key->secret), "%s", colon + 1);
	key->secret_len = strlen(key->secret);
	cr_assert_geq(key->secret_len, 32);
}

/* Unpadded base64url of len bytes, malloc'd. */
static char *b64url(const void *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	int n;

	cr_assert_not_null(out);
	n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (char *p = out; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return out;
}

/* Decodes a base64url segment of token (0 header, 1 payload) as JSON. */
static struct json_object *segment_json(const char *token, int index)
{
	const char *start = token;
	size_t len, padded;
	char *b64;
	unsigned char *raw;
	struct json_object *obj;
	int n;

	for (int i = 0; i < index; i++) {
		start = strchr(start, '.');
		cr_assert_not_null(start, "%s", token);
		start++;
	}
	len = strcspn(start, ".");
	padded = (len + 3) / 4 * 4;
	b64 = calloc(1, padded + 1);
	raw = calloc(1, padded + 1);
	cr_assert(b64 != NULL && raw != NULL);
	for (size_t i = 0; i < padded; i++)
		b64[i] = i >= len ? '=' : start[i] == '-' ? '+' : start[i] == '_' ? '/' : start[i];
	n = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)padded);
	cr_assert_gt(n, 0, "bad base64url in %s", token);
	n -= (int)(padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
	raw[n] = '\0';
	obj = json_tokener_parse((char *)raw);
	cr_assert_not_null(obj, "segment %d of %s is not JSON", index, token);
	free(b64);
	free(raw);
	return obj;
}

/* header.payload.signature; md NULL leaves the signature empty. */
static char *forge(const char *header, const char *payload, const EVP_MD *md, const void *key,
                   size_t key_len)
{
	char *h = b64url(header, strlen(header));
	char *p = b64url(payload, strlen(payload));
	size_t signing_len = strlen(h) + 1 + strlen(p);
	char *token = malloc(signing_len + 200);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	cr_assert_not_null(token);
	sprintf(token, "%s.%s", h, p);
	if (md != NULL) {
		char *s;

		cr_assert_not_null(HMAC(md, key, (int)key_len, (unsigned char *)token, signing_len,
		                        mac, &mac_len));
		s = b64url(mac, mac_len);
		sprintf(token + signing_len, ".%s", s);
		free(s);
	} else {
		strcpy(token + signing_len, ".");
	}
	free(h);
	free(p);
	return token;
}

static void new_jti(char out[37])
{
	unsigned char b[16];

	cr_assert_eq(RAND_bytes(b, sizeof(b)), 1);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

struct claims {
	long long sub;
	const char *role;
	long long iat, exp;
	const char *type;
	const char *iss, *aud;
};

static void payload_json(const struct claims *c, char *out, size_t size)
{
	char jti[37];

	new_jti(jti);
	snprintf(out, size,
	         "{\"sub\":\"%lld\",\"role\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\","
	         "\"iss\":\"%s\",\"aud\":\"%s\",\"type\":\"%s\"}",
	         c->sub, c->role, c->iat, c->exp, jti, c->iss != NULL ? c->iss : "hms",
	         c->aud != NULL ? c->aud : "hms-api", c->type != NULL ? c->type : "access");
}

static char *hs256_header(const struct test_key *key)
{
	char *h = malloc(256);

	cr_assert_not_null(h);
	snprintf(h, 256, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", key->kid);
	return h;
}

/* An access token for user signed with the stack's key, as hms would. */
static char *forge_access(const struct test_key *key, const struct claims *c)
{
	char payload[1024];
	char *header = hs256_header(key);
	char *token;

	payload_json(c, payload, sizeof(payload));
	token = forge(header, payload, EVP_sha256(), key->secret, key->secret_len);
	free(header);
	return token;
}

/* A user whose password was set an hour ago, so that tokens forged with an
 * iat in the past are refused only for the reason a test means. */
static void create_settled_user(const char *role, struct client_user *user)
{
	char sql[256];
	char *ok;

	client_create_user(role, user);
	snprintf(sql, sizeof(sql),
	         "UPDATE users SET password_changed_at = now() - interval '1 hour' WHERE id = %lld "
	         "RETURNING id",
	         user->id);
	ok = client_sql_value(sql);
	cr_assert_not_null(ok);
	free(ok);
}

/* --- POST /api/auth/token/ --------------------------------------------------- */

Test(token, success_shape)
{
	struct client_user user;
	struct client_tokens tokens;
	struct json_object *header, *payload, *v;
	struct test_key key;
	char body[512];
	struct client_response res;

	client_create_user("nurse", &user);
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"%s\"}", user.username,
	         user.password);
	client_post_json("/api/auth/token/", NULL, body, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert_str_eq(client_header(&res, "Content-Type"), "application/json");
	cr_assert_eq(json_object_object_length(res.json), 2, "%s", res.body);
	tokens.access = strdup(client_json_string(&res, "access"));
	tokens.refresh = strdup(client_json_string(&res, "refresh"));
	assert_no_secret(&res);
	client_response_free(&res);

	/* Three segments; an HS256 header naming the configured key. */
	read_key(&key);
	header = segment_json(tokens.access, 0);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(header, "alg")), "HS256");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(header, "kid")), key.kid);
	json_object_put(header);
	payload = segment_json(tokens.access, 1);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(payload, "type")), "access");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(payload, "role")), "nurse");
	cr_assert(json_object_object_get_ex(payload, "sub", &v) &&
	          json_object_is_type(v, json_type_string));
	cr_assert_eq(atoll(json_object_get_string(v)), user.id);
	json_object_put(payload);
	payload = segment_json(tokens.refresh, 1);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(payload, "type")),
	                 "refresh");
	json_object_put(payload);

	assert_me_status(tokens.access, 200);
	client_tokens_free(&tokens);
}

Test(token, wrong_password_is_401_with_the_drf_message)
{
	struct client_user user;
	struct client_tokens tokens;
	char body[512];
	struct client_response res;

	client_create_user("doctor", &user);
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"wrong-password-99\"}",
	         user.username);
	client_post_json("/api/auth/token/", NULL, body, &res);
	assert_exact_detail(&res, 401, BAD_CREDENTIALS);
	cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
	client_response_free(&res);
	/* An empty password is a wrong one, not a validation error. */
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"\"}", user.username);
	client_post_json("/api/auth/token/", NULL, body, &res);
	assert_exact_detail(&res, 401, BAD_CREDENTIALS);
	client_response_free(&res);
	cr_assert_eq(client_login(user.username, user.password, NULL, &tokens), 200);
	client_tokens_free(&tokens);
}

Test(token, unknown_user_gets_the_same_answer)
{
	char name[96];
	struct client_tokens tokens;
	char body[512];
	struct client_response res;

	client_unique_name("nobody", name, sizeof(name));
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"some-password-1\"}",
	         name);
	client_post_json("/api/auth/token/", NULL, body, &res);
	assert_exact_detail(&res, 401, BAD_CREDENTIALS);
	client_response_free(&res);
	cr_assert_eq(client_login(name, "", NULL, &tokens), 401);
}

Test(token, inactive_user_gets_the_same_answer)
{
	struct client_user user;
	struct client_tokens tokens;
	char path[64], body[512];
	struct client_response res;

	client_create_user("receptionist", &user);
	snprintf(path, sizeof(path), "/api/users/%lld/", user.id);
	client_patch_json(path, client_admin_token(), "{\"is_active\": false}", &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	client_response_free(&res);
	/* The right password, but the account is locked. */
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"%s\"}", user.username,
	         user.password);
	client_post_json("/api/auth/token/", NULL, body, &res);
	assert_exact_detail(&res, 401, BAD_CREDENTIALS);
	client_response_free(&res);
	cr_assert_eq(client_login(user.username, user.password, NULL, &tokens), 401);
}

Test(token, missing_fields_are_400_on_each)
{
	struct client_response res;

	client_post_json("/api/auth/token/", NULL, "{}", &res);
	assert_field_error(&res, "username");
	assert_field_error(&res, "password");
	client_response_free(&res);
	client_post_json("/api/auth/token/", NULL, "{\"username\": \"someone\"}", &res);
	assert_field_error(&res, "password");
	cr_assert(!client_has_field_error(&res, "username"), "%s", res.body);
	client_response_free(&res);
	client_post_json("/api/auth/token/", NULL, "{\"username\": null, \"password\": \"x\"}",
	                 &res);
	assert_field_error(&res, "username");
	client_response_free(&res);
}

Test(token, wrong_json_types_are_400_on_each)
{
	const char *bodies[] = {
	    "{\"username\": 123, \"password\": true}",
	    "{\"username\": [\"a\"], \"password\": {\"x\": 1}}",
	    "{\"username\": 1.5, \"password\": 7}",
	};
	struct client_response res;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		client_post_json("/api/auth/token/", NULL, bodies[i], &res);
		assert_field_error(&res, "username");
		assert_field_error(&res, "password");
		client_response_free(&res);
	}
	/* Not an object at all. */
	client_post_json("/api/auth/token/", NULL, "[\"admin\", \"password\"]", &res);
	assert_field_error(&res, "non_field_errors");
	client_response_free(&res);
}

Test(token, non_json_content_type_is_415)
{
	const char *body = "{\"username\": \"a\", \"password\": \"b\"}";
	const char *types[] = {"text/plain", "application/x-www-form-urlencoded",
	                       "multipart/form-data; boundary=x", "application/jsonx"};
	struct client_response res;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		post_token_raw(types[i], body, strlen(body), &res);
		assert_detail(&res, 415);
		client_response_free(&res);
	}
	/* curl's default for a body is form-urlencoded; no header at all too. */
	post_token_raw(NULL, body, strlen(body), &res);
	assert_detail(&res, 415);
	client_response_free(&res);
}

Test(token, json_with_charset_is_accepted)
{
	struct client_user user;
	char body[512];
	struct client_response res;

	client_create_user("billing", &user);
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"%s\"}", user.username,
	         user.password);
	post_token_raw("application/json; charset=utf-8", body, strlen(body), &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	client_response_free(&res);
}

static char *nested_body(const struct client_user *user, int depth)
{
	size_t size = 512 + 2 * (size_t)depth;
	char *body = malloc(size);
	int n;

	cr_assert_not_null(body);
	n = snprintf(body, size,
	             "{\"username\": \"%s\", \"password\": \"%s\", \"extra\": ", user->username,
	             user->password);
	for (int i = 0; i < depth; i++)
		body[n++] = '[';
	for (int i = 0; i < depth; i++)
		body[n++] = ']';
	strcpy(body + n, "}");
	return body;
}

Test(token, json_nested_deeper_than_32_is_400)
{
	struct client_user user;
	struct client_response res;
	char *body;

	client_create_user("nurse", &user);
	/* The object plus 40 arrays: 41 levels. */
	body = nested_body(&user, 40);
	client_post_json("/api/auth/token/", NULL, body, &res);
	assert_detail(&res, 400);
	cr_assert_null(client_json_string(&res, "access"));
	client_response_free(&res);
	free(body);
	/* 1 + 20 levels is fine: the same credentials log in. */
	body = nested_body(&user, 20);
	client_post_json("/api/auth/token/", NULL, body, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	client_response_free(&res);
	free(body);
}

Test(token, invalid_utf8_is_400)
{
	const char *bodies[] = {
	    "{\"username\": \"\xff\xfe\", \"password\": \"some-password\"}",
	    "{\"username\": \"ab\xc0\xaf\", \"password\": \"some-password\"}", /* overlong '/' */
	    "{\"username\": \"x\", \"password\": \"\xed\xa0\x80\"}", /* a UTF-16 surrogate */
	    "{\"username\": \"x\", \"password\": \"\xe2\x82\"}",     /* truncated */
	};
	struct client_response res;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		client_post_json("/api/auth/token/", NULL, bodies[i], &res);
		assert_detail(&res, 400);
		client_response_free(&res);
	}
}

Test(token, malformed_json_is_400)
{
	const char *bodies[] = {"{", "{\"username\": \"a\",}", "", "null", "{\"a\":1}{}"};
	struct client_response res;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		client_post_json("/api/auth/token/", NULL, bodies[i], &res);
		cr_assert_eq(res.status, 400, "body '%s': %ld %s", bodies[i], res.status, res.body);
		client_response_free(&res);
	}
}

Test(token, username_is_case_insensitive)
{
	struct client_user user;
	struct client_tokens tokens;
	char name[96];

	client_create_user_named("doctor", "MixedCase", NULL, NULL, &user);
	snprintf(name, sizeof(name), "%s", user.username);
	for (char *p = name; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	cr_assert_eq(client_login(name, user.password, NULL, &tokens), 200, "%s", name);
	assert_me_status(tokens.access, 200);
	client_tokens_free(&tokens);
	for (char *p = name; *p != '\0'; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	cr_assert_eq(client_login(name, user.password, NULL, &tokens), 200, "%s", name);
	client_tokens_free(&tokens);
}

/* --- POST /api/auth/token/refresh/ ------------------------------------------- */

Test(refresh, rotation_gives_a_working_pair_and_spends_the_old_token)
{
	struct client_user user;
	struct client_tokens first, second, third, none;

	client_create_user("nurse", &user);
	client_user_login(&user, &first);
	cr_assert_eq(refresh(first.refresh, &second), 200);
	cr_assert_str_neq(second.refresh, first.refresh);
	cr_assert_str_neq(second.access, first.access);
	assert_me_status(second.access, 200);
	/* The new refresh token rotates in turn. */
	cr_assert_eq(refresh(second.refresh, &third), 200);
	assert_me_status(third.access, 200);
	/* The first one was spent by the rotation. */
	cr_assert_eq(refresh(first.refresh, &none), 401);
	client_tokens_free(&first);
	client_tokens_free(&second);
	client_tokens_free(&third);
}

Test(refresh, reuse_of_a_spent_token_revokes_the_whole_family)
{
	struct client_user user;
	struct client_tokens session, other, rotated, none, still;

	client_create_user("doctor", &user);
	client_user_login(&user, &session);
	client_user_login(&user, &other); /* another login: another family */
	cr_assert_eq(refresh(session.refresh, &rotated), 200);
	/* Someone replays the spent token: 401, and the family ends. */
	cr_assert_eq(refresh(session.refresh, &none), 401);
	cr_assert_eq(refresh(rotated.refresh, &none), 401,
	             "the token rotated from a reused one must stop working too");
	/* The other login's family is untouched. */
	cr_assert_eq(refresh(other.refresh, &still), 200);
	client_tokens_free(&session);
	client_tokens_free(&other);
	client_tokens_free(&rotated);
	client_tokens_free(&still);
}

Test(refresh, access_token_as_refresh_is_401)
{
	struct client_user user;
	struct client_tokens tokens, none;

	client_create_user("billing", &user);
	client_user_login(&user, &tokens);
	cr_assert_eq(refresh(tokens.access, &none), 401);
	/* The real refresh token still works: nothing was revoked. */
	cr_assert_eq(refresh(tokens.refresh, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&tokens);
}

Test(refresh, refresh_token_as_bearer_is_401)
{
	struct client_user user;
	struct client_tokens tokens;

	client_create_user("receptionist", &user);
	client_user_login(&user, &tokens);
	assert_me_status(tokens.refresh, 401);
	assert_me_status(tokens.access, 200);
	client_tokens_free(&tokens);
}

Test(refresh, garbage_is_401)
{
	const char *garbage[] = {"garbage", "a.b.c", "x.y", "....", "eyJhbGciOiJIUzI1NiJ9.e30."};
	struct client_tokens none;

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		cr_assert_eq(refresh(garbage[i], &none), 401, "%s", garbage[i]);
}

Test(refresh, missing_or_wrong_type_is_400)
{
	struct client_response res;

	client_post_json("/api/auth/token/refresh/", NULL, "{}", &res);
	assert_field_error(&res, "refresh");
	client_response_free(&res);
	client_post_json("/api/auth/token/refresh/", NULL, "{\"refresh\": 42}", &res);
	assert_field_error(&res, "refresh");
	client_response_free(&res);
}

/* --- POST /api/auth/logout/ --------------------------------------------------- */

static void logout(const char *access, const char *refresh_token, struct client_response *res)
{
	char body[8192];

	snprintf(body, sizeof(body), "{\"refresh\": \"%s\"}", refresh_token);
	client_post_json("/api/auth/logout/", access, body, res);
}

Test(logout, answers_205_and_revokes_that_refresh_token)
{
	struct client_user user;
	struct client_tokens tokens, other, none;
	struct client_response res;

	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	client_user_login(&user, &other);
	logout(tokens.access, tokens.refresh, &res);
	cr_assert_eq(res.status, 205, "%ld %s", res.status, res.body);
	cr_assert_eq(res.body_len, 0, "a 205 has no body: %s", res.body);
	client_response_free(&res);
	cr_assert_eq(refresh(tokens.refresh, &none), 401);
	/* Only that token: another session of the same user goes on. */
	cr_assert_eq(refresh(other.refresh, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&tokens);
	client_tokens_free(&other);
}

Test(logout, needs_a_bearer_token)
{
	struct client_user user;
	struct client_tokens tokens, none;
	struct client_response res;

	client_create_user("doctor", &user);
	client_user_login(&user, &tokens);
	logout(NULL, tokens.refresh, &res);
	assert_unauthorized(&res);
	client_response_free(&res);
	/* Nothing was revoked. */
	cr_assert_eq(refresh(tokens.refresh, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&tokens);
}

Test(logout, someone_elses_refresh_token_is_401)
{
	struct client_user alice, bob;
	struct client_tokens a, b, none;
	struct client_response res;

	client_create_user("nurse", &alice);
	client_create_user("nurse", &bob);
	client_user_login(&alice, &a);
	client_user_login(&bob, &b);
	logout(a.access, b.refresh, &res);
	assert_unauthorized(&res);
	client_response_free(&res);
	/* Bob's session survives Alice's attempt. */
	cr_assert_eq(refresh(b.refresh, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&a);
	client_tokens_free(&b);
}

Test(logout, access_token_in_place_of_refresh_is_401)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;

	client_create_user("billing", &user);
	client_user_login(&user, &tokens);
	logout(tokens.access, tokens.access, &res);
	assert_unauthorized(&res);
	client_response_free(&res);
	client_post_json("/api/auth/logout/", tokens.access, "{}", &res);
	assert_field_error(&res, "refresh");
	client_response_free(&res);
	client_tokens_free(&tokens);
}

/* --- GET /api/auth/me/ ---------------------------------------------------------- */

static int is_utc_timestamp(const char *s)
{
	/* 2025-12-06T12:00:00Z */
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (s == NULL || strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	return 1;
}

Test(me, shape_of_the_current_user)
{
	static const char *const keys[] = {"id",         "username",   "email",
	                                   "first_name", "last_name",  "role",
	                                   "is_active",  "created_at", "updated_at"};
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;
	struct json_object *v;

	client_create_user_named("receptionist", "me", "Ada", "Okello", &user);
	client_user_login(&user, &tokens);
	client_get_auth("/api/auth/me/", tokens.access, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert_eq(json_object_object_length(res.json), sizeof(keys) / sizeof(keys[0]), "%s",
	             res.body);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert(json_object_object_get_ex(res.json, keys[i], NULL), "no %s: %s", keys[i],
		          res.body);
	cr_assert(json_object_object_get_ex(res.json, "id", &v));
	cr_assert_eq(json_object_get_int64(v), user.id);
	cr_assert_str_eq(client_json_string(&res, "username"), user.username);
	cr_assert_str_eq(client_json_string(&res, "email"), "staff@example.org");
	cr_assert_str_eq(client_json_string(&res, "first_name"), "Ada");
	cr_assert_str_eq(client_json_string(&res, "last_name"), "Okello");
	cr_assert_str_eq(client_json_string(&res, "role"), "receptionist");
	cr_assert(json_object_object_get_ex(res.json, "is_active", &v) &&
	          json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
	cr_assert(is_utc_timestamp(client_json_string(&res, "created_at")), "%s", res.body);
	cr_assert(is_utc_timestamp(client_json_string(&res, "updated_at")), "%s", res.body);
	assert_no_secret(&res);
	client_response_free(&res);
	client_tokens_free(&tokens);
}

Test(me, needs_a_token)
{
	struct client_response res;
	const char *schemes[] = {"Authorization: Token abc",
	                         "Authorization: Basic YWRtaW46eA==", "Authorization: Bearer",
	                         "Authorization: Bearer "};

	client_get("/api/auth/me/", &res);
	assert_unauthorized(&res);
	client_response_free(&res);
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		const char *headers[] = {schemes[i], NULL};

		cr_assert_eq(client_request("GET", "/api/auth/me/", headers, NULL, 0, &res), 0);
		assert_unauthorized(&res);
		client_response_free(&res);
	}
}

/* --- POST /api/auth/password/ -------------------------------------------------- */

static void change_password(const char *access, const char *old_password, const char *new_password,
                            struct client_response *res)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"old_password\": \"%s\", \"new_password\": \"%s\"}",
	         old_password, new_password);
	client_post_json("/api/auth/password/", access, body, res);
}

Test(password, change_ends_every_old_session)
{
	struct client_user user;
	struct client_tokens old, other, fresh, none;
	struct client_response res;

	client_create_user("doctor", &user);
	client_user_login(&user, &old);
	client_user_login(&user, &other);
	/* Tokens carry whole seconds: change in a later second than the login
	 * (the same-second case is its own test below). */
	sleep(1);
	change_password(old.access, user.password, NEW_PASSWORD, &res);
	cr_assert_eq(res.status, 204, "%ld %s", res.status, res.body);
	cr_assert_eq(res.body_len, 0, "%s", res.body);
	client_response_free(&res);

	/* Every refresh token of the user is revoked, every access token ends. */
	cr_assert_eq(refresh(old.refresh, &none), 401);
	cr_assert_eq(refresh(other.refresh, &none), 401);
	assert_me_status(old.access, 401);
	assert_me_status(other.access, 401);
	/* The new password works, the old one does not. */
	cr_assert_eq(client_login(user.username, user.password, NULL, &none), 401);
	cr_assert_eq(client_login(user.username, NEW_PASSWORD, NULL, &fresh), 200);
	assert_me_status(fresh.access, 200);
	cr_assert_eq(refresh(fresh.refresh, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&fresh);
	client_tokens_free(&old);
	client_tokens_free(&other);
}

/* The iat of a token, from its payload. */
static long long token_iat(const char *token)
{
	struct json_object *payload = segment_json(token, 1);
	long long iat = json_object_get_int64(json_object_object_get(payload, "iat"));

	json_object_put(payload);
	return iat;
}

/* Sleeps until just after the start of the next wall-clock second. */
static void wait_for_second_start(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	usleep((useconds_t)((1000000000L - now.tv_nsec) / 1000 + 20000));
}

Test(password, change_ends_a_session_begun_in_the_same_second)
{
	/* Regression: a token issued in the same second as a password change,
	 * just before it, must stop working (the "pwc" claim is exact where
	 * whole-second iat is not). The test retries until login and change
	 * fall in one second. */
	for (int attempt = 0; attempt < 4; attempt++) {
		struct client_user user;
		struct client_tokens old;
		struct client_response res;
		char sql[160];
		long long iat, changed;

		client_create_user("nurse", &user);
		wait_for_second_start();
		client_user_login(&user, &old);
		change_password(old.access, user.password, NEW_PASSWORD, &res);
		cr_assert_eq(res.status, 204, "%ld %s", res.status, res.body);
		client_response_free(&res);
		iat = token_iat(old.access);
		snprintf(sql, sizeof(sql),
		         "SELECT floor(extract(epoch FROM password_changed_at))::bigint FROM users "
		         "WHERE id = %lld",
		         user.id);
		changed = client_sql_long(sql);
		if (iat == changed) {
			assert_me_status(old.access, 401);
			client_tokens_free(&old);
			return;
		}
		client_tokens_free(&old);
	}
	cr_skip_test("login and password change never fell in one second");
}

Test(password, wrong_old_password_is_400_on_old_password)
{
	struct client_user user;
	struct client_tokens tokens, none;
	struct client_response res;

	client_create_user("billing", &user);
	client_user_login(&user, &tokens);
	change_password(tokens.access, "not-my-password", NEW_PASSWORD, &res);
	assert_field_error(&res, "old_password");
	cr_assert(!client_has_field_error(&res, "new_password"), "%s", res.body);
	client_response_free(&res);
	/* Nothing changed: the old password and the session still work. */
	cr_assert_eq(client_login(user.username, user.password, NULL, &none), 200);
	client_tokens_free(&none);
	cr_assert_eq(client_login(user.username, NEW_PASSWORD, NULL, &none), 401);
	cr_assert_eq(refresh(tokens.refresh, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&tokens);
}

Test(password, new_password_under_10_characters_is_400_on_new_password)
{
	struct client_user user;
	struct client_tokens tokens, none;
	struct client_response res;

	client_create_user("receptionist", &user);
	client_user_login(&user, &tokens);
	change_password(tokens.access, user.password, "short9789", &res);
	assert_field_error(&res, "new_password");
	client_response_free(&res);
	/* Nine characters in eleven bytes is still nine characters. */
	change_password(tokens.access, user.password, "p\xc3\xa4sswo\xc3\xb6r1", &res);
	assert_field_error(&res, "new_password");
	client_response_free(&res);
	cr_assert_eq(client_login(user.username, "short9789", NULL, &none), 401);
	cr_assert_eq(client_login(user.username, user.password, NULL, &none), 200);
	client_tokens_free(&none);
	client_tokens_free(&tokens);
}

Test(password, missing_fields_and_no_token)
{
	struct client_user user;
	struct client_tokens tokens;
	struct client_response res;

	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	client_post_json("/api/auth/password/", tokens.access, "{}", &res);
	assert_field_error(&res, "old_password");
	assert_field_error(&res, "new_password");
	client_response_free(&res);
	change_password(NULL, user.password, NEW_PASSWORD, &res);
	assert_unauthorized(&res);
	client_response_free(&res);
	client_tokens_free(&tokens);
}

/* --- POST /api/auth/register/ -------------------------------------------------- */

static void register_user(const char *token, const char *username, const char *password,
                          const char *email, const char *role, struct client_response *res)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"username\": \"%s\", \"password\": \"%s\", \"email\": \"%s\", "
	         "\"first_name\": \"Reg\", \"last_name\": \"Istered\", \"role\": \"%s\"}",
	         username, password, email, role);
	client_post_json("/api/auth/register/", token, body, res);
}

static long long users_named(const char *username)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE lower(username) = lower('%s')",
	         username);
	return client_sql_long(sql);
}

Test(register, admin_creates_a_user)
{
	char name[96];
	struct client_response res;
	struct client_tokens tokens;
	struct json_object *v;

	client_unique_name("reg", name, sizeof(name));
	register_user(client_admin_token(), name, "registered-pass-1", "reg@example.org", "doctor",
	              &res);
	cr_assert_eq(res.status, 201, "%s", res.body);
	cr_assert(json_object_object_get_ex(res.json, "id", &v) && json_object_get_int64(v) > 0);
	cr_assert_str_eq(client_json_string(&res, "username"), name);
	cr_assert_str_eq(client_json_string(&res, "email"), "reg@example.org");
	cr_assert_str_eq(client_json_string(&res, "first_name"), "Reg");
	cr_assert_str_eq(client_json_string(&res, "last_name"), "Istered");
	cr_assert_str_eq(client_json_string(&res, "role"), "doctor");
	cr_assert(json_object_object_get_ex(res.json, "is_active", &v) &&
	          json_object_get_boolean(v));
	cr_assert(is_utc_timestamp(client_json_string(&res, "created_at")), "%s", res.body);
	assert_no_secret(&res);
	cr_assert_null(strstr(res.body, "registered-pass-1"));
	client_response_free(&res);
	cr_assert_eq(client_login(name, "registered-pass-1", NULL, &tokens), 200);
	client_tokens_free(&tokens);
}

Test(register, ten_characters_of_any_script_are_enough)
{
	char name[96];
	struct client_response res;
	struct client_tokens tokens;

	client_unique_name("utf", name, sizeof(name));
	register_user(client_admin_token(), name, "p\xc3\xa4sswo\xc3\xb6r12", "", "nurse", &res);
	cr_assert_eq(res.status, 201, "%s", res.body);
	client_response_free(&res);
	cr_assert_eq(client_login(name, "p\xc3\xa4sswo\xc3\xb6r12", NULL, &tokens), 200);
	client_tokens_free(&tokens);
}

Test(register, duplicate_username_in_another_case_is_400)
{
	struct client_user user;
	char upper[96];
	struct client_response res;

	client_create_user("nurse", &user);
	snprintf(upper, sizeof(upper), "%s", user.username);
	for (char *p = upper; *p != '\0'; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	register_user(client_admin_token(), upper, "registered-pass-1", "", "doctor", &res);
	assert_field_error(&res, "username");
	client_response_free(&res);
	register_user(client_admin_token(), user.username, "registered-pass-1", "", "doctor", &res);
	assert_field_error(&res, "username");
	client_response_free(&res);
	cr_assert_eq(users_named(user.username), 1);
}

Test(register, validation_errors_are_400_on_the_field)
{
	struct {
		const char *password, *email, *role, *field;
	} cases[] = {
	    {"nine-char", "", "nurse", "password"},
	    {"", "", "nurse", "password"},
	    {"registered-pass-1", "", "superuser", "role"},
	    {"registered-pass-1", "", "Admin", "role"},
	    {"registered-pass-1", "", "", "role"},
	    {"registered-pass-1", "not-an-email", "nurse", "email"},
	    {"registered-pass-1", "a@", "nurse", "email"},
	    {"registered-pass-1", "two@@example.org", "nurse", "email"},
	};
	struct client_response res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[96];

		client_unique_name("bad", name, sizeof(name));
		register_user(client_admin_token(), name, cases[i].password, cases[i].email,
		              cases[i].role, &res);
		assert_field_error(&res, cases[i].field);
		client_response_free(&res);
		cr_assert_eq(users_named(name), 0, "case %zu created a user", i);
	}
	/* A username with characters outside @ . + - _ and alphanumerics. */
	register_user(client_admin_token(), "bad name!", "registered-pass-1", "", "nurse", &res);
	assert_field_error(&res, "username");
	client_response_free(&res);
	/* Every required field missing at once. */
	client_post_json("/api/auth/register/", client_admin_token(), "{}", &res);
	assert_field_error(&res, "username");
	assert_field_error(&res, "password");
	assert_field_error(&res, "role");
	client_response_free(&res);
}

Test(register, every_other_role_is_403)
{
	for (size_t i = 0; i < sizeof(other_roles) / sizeof(other_roles[0]); i++) {
		struct client_user user;
		struct client_tokens tokens;
		struct client_response res;
		char name[96];

		client_create_user(other_roles[i], &user);
		client_user_login(&user, &tokens);
		client_unique_name("forbidden", name, sizeof(name));
		register_user(tokens.access, name, "registered-pass-1", "", "admin", &res);
		assert_detail(&res, 403);
		client_response_free(&res);
		cr_assert_eq(users_named(name), 0, "%s created a user", other_roles[i]);
		client_tokens_free(&tokens);
	}
}

Test(register, no_token_is_401_with_www_authenticate)
{
	char name[96];
	struct client_response res;

	client_unique_name("anon", name, sizeof(name));
	register_user(NULL, name, "registered-pass-1", "", "admin", &res);
	assert_unauthorized(&res);
	client_response_free(&res);
	cr_assert_eq(users_named(name), 0);
}

/* --- per-account back-off ------------------------------------------------------- */

Test(backoff, five_failures_block_the_account_but_not_others)
{
	struct client_user victim, bystander;
	struct client_tokens tokens;
	struct client_response res;
	char body[512];
	const char *retry;
	long seconds;

	client_create_user("nurse", &victim);
	client_create_user("nurse", &bystander);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(client_login(victim.username, "wrong-password-1", NULL, &tokens), 401,
		             "failure %d", i + 1);
	/* The sixth attempt is refused even with the right password. */
	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"%s\"}",
	         victim.username, victim.password);
	client_post_json("/api/auth/token/", NULL, body, &res);
	assert_detail(&res, 429);
	retry = client_header(&res, "Retry-After");
	cr_assert_not_null(retry, "429 without Retry-After");
	seconds = strtol(retry, NULL, 10);
	cr_assert(seconds >= 1 && seconds <= 900, "Retry-After: %s", retry);
	cr_assert_null(client_json_string(&res, "access"));
	client_response_free(&res);
	/* Another spelling of the same name is the same account. */
	for (char *p = victim.username; *p != '\0'; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	cr_assert_eq(client_login(victim.username, victim.password, NULL, &tokens), 429);
	/* A different account is unaffected. */
	cr_assert_eq(client_login(bystander.username, bystander.password, NULL, &tokens), 200);
	client_tokens_free(&tokens);
}

Test(backoff, unknown_usernames_back_off_the_same_way)
{
	char name[96];
	struct client_tokens tokens;

	client_unique_name("ghost", name, sizeof(name));
	for (int i = 0; i < 5; i++)
		cr_assert_eq(client_login(name, "wrong-password-1", NULL, &tokens), 401);
	cr_assert_eq(client_login(name, "wrong-password-1", NULL, &tokens), 429);
}

Test(backoff, a_success_before_the_threshold_resets_the_count)
{
	struct client_user user;
	struct client_tokens tokens;

	client_create_user("doctor", &user);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(client_login(user.username, "wrong-password-1", NULL, &tokens), 401);
	client_user_login(&user, &tokens);
	client_tokens_free(&tokens);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(client_login(user.username, "wrong-password-1", NULL, &tokens), 401);
	client_user_login(&user, &tokens);
	client_tokens_free(&tokens);
}

/* --- forged and tampered tokens ------------------------------------------------- */

Test(forged, token_signed_with_our_key_and_claims_is_accepted)
{
	/* The control for the tests below: the forging code is right. */
	struct client_user user;
	struct test_key key;
	long long now = (long long)time(NULL);
	struct claims c = {0, "nurse", 0, 0, "access", NULL, NULL};
	char *token;

	create_settled_user("nurse", &user);
	read_key(&key);
	c.sub = user.id;
	c.iat = now - 60;
	c.exp = now + 300;
	token = forge_access(&key, &c);
	assert_me_status(token, 200);
	free(token);
}

Test(forged, alg_none_is_401)
{
	struct client_user user;
	struct test_key key;
	long long now = (long long)time(NULL);
	struct claims c = {0, "admin", 0, 0, "access", NULL, NULL};
	char payload[1024], header[128];
	char *token, *signed_token;

	create_settled_user("nurse", &user);
	read_key(&key);
	c.sub = user.id;
	c.iat = now - 60;
	c.exp = now + 300;
	payload_json(&c, payload, sizeof(payload));
	token = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, NULL, NULL, 0);
	assert_me_status(token, 401);
	token[strlen(token) - 1] = '\0'; /* two segments */
	assert_me_status(token, 401);
	free(token);
	/* none, even with our kid and a valid HS256 signature over it. */
	snprintf(header, sizeof(header), "{\"alg\":\"none\",\"kid\":\"%s\"}", key.kid);
	signed_token = forge(header, payload, EVP_sha256(), key.secret, key.secret_len);
	assert_me_status(signed_token, 401);
	free(signed_token);
	snprintf(header, sizeof(header), "{\"alg\":\"None\",\"kid\":\"%s\"}", key.kid);
	signed_token = forge(header, payload, EVP_sha256(), key.secret, key.secret_len);
	assert_me_status(signed_token, 401);
	free(signed_token);
}

Test(forged, other_algorithms_are_401_even_when_signed_with_our_key)
{
	struct client_user user;
	struct test_key key;
	long long now = (long long)time(NULL);
	struct claims c = {0, "nurse", 0, 0, "access", NULL, NULL};
	char payload[1024], header[128];
	char *token;
	struct {
		const char *alg;
		const EVP_MD *md;
	} algs[] = {{"HS512", EVP_sha512()}, {"HS384", EVP_sha384()}, {"hs256", EVP_sha256()}};

	create_settled_user("nurse", &user);
	read_key(&key);
	c.sub = user.id;
	c.iat = now - 60;
	c.exp = now + 300;
	payload_json(&c, payload, sizeof(payload));
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
		         algs[i].alg, key.kid);
		token = forge(header, payload, algs[i].md, key.secret, key.secret_len);
		assert_me_status(token, 401);
		free(token);
	}
}

Test(forged, flipped_signature_and_edited_payload_are_401)
{
	struct client_user user;
	struct client_tokens tokens;
	struct test_key key;
	struct json_object *payload;
	char *token, *sig, *edited, *p64;
	const char *dot;

	client_create_user("billing", &user);
	client_user_login(&user, &tokens);
	read_key(&key);
	assert_me_status(tokens.access, 200);

	/* One character in the middle of the signature. */
	token = strdup(tokens.access);
	sig = strrchr(token, '.') + 1;
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	assert_me_status(token, 401);
	free(token);

	/* The payload made admin, the signature kept. */
	payload = segment_json(tokens.access, 1);
	json_object_object_add(payload, "role", json_object_new_string("admin"));
	{
		const char *text = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);

		p64 = b64url(text, strlen(text));
	}
	json_object_put(payload);
	dot = strchr(tokens.access, '.');
	edited = malloc(strlen(tokens.access) + strlen(p64) + 8);
	cr_assert_not_null(edited);
	sprintf(edited, "%.*s.%s%s", (int)(dot - tokens.access), tokens.access, p64,
	        strrchr(tokens.access, '.'));
	assert_me_status(edited, 401);
	free(edited);
	free(p64);

	/* An extra segment. */
	edited = malloc(strlen(tokens.access) + 8);
	cr_assert_not_null(edited);
	sprintf(edited, "%s.e30", tokens.access);
	assert_me_status(edited, 401);
	free(edited);
	client_tokens_free(&tokens);
}

Test(forged, token_signed_with_a_different_key_is_401)
{
	struct client_user user;
	struct test_key key, other;
	long long now = (long long)time(NULL);
	struct claims c = {0, "nurse", 0, 0, "access", NULL, NULL};
	unsigned char random_key[48];
	char payload[1024];
	char *header, *token;

	create_settled_user("nurse", &user);
	read_key(&key);
	c.sub = user.id;
	c.iat = now - 60;
	c.exp = now + 300;
	payload_json(&c, payload, sizeof(payload));
	header = hs256_header(&key);
	cr_assert_eq(RAND_bytes(random_key, sizeof(random_key)), 1);
	token = forge(header, payload, EVP_sha256(), random_key, sizeof(random_key));
	assert_me_status(token, 401);
	free(token);
	free(header);
	/* Our secret under a key id that is not configured. */
	other = key;
	snprintf(other.kid, sizeof(other.kid), "not-%.50s", key.kid);
	header = hs256_header(&other);
	token = forge(header, payload, EVP_sha256(), key.secret, key.secret_len);
	assert_me_status(token, 401);
	free(token);
	free(header);
}

Test(forged, expired_token_is_401)
{
	struct client_user user;
	struct test_key key;
	long long now = (long long)time(NULL);
	struct claims c = {0, "doctor", 0, 0, "access", NULL, NULL};
	char *token;

	create_settled_user("doctor", &user);
	read_key(&key);
	c.sub = user.id;
	c.iat = now - 900;
	c.exp = now - 120;
	token = forge_access(&key, &c);
	assert_me_status(token, 401);
	free(token);
}

Test(forged, wrong_claims_are_401)
{
	struct client_user user;
	struct test_key key;
	long long now = (long long)time(NULL);
	struct claims base = {0, "receptionist", 0, 0, "access", NULL, NULL};
	struct claims c;
	char *token;

	create_settled_user("receptionist", &user);
	read_key(&key);
	base.sub = user.id;
	base.iat = now - 60;
	base.exp = now + 300;

	c = base;
	c.iss = "someone-else";
	token = forge_access(&key, &c);
	assert_me_status(token, 401);
	free(token);
	c = base;
	c.aud = "another-api";
	token = forge_access(&key, &c);
	assert_me_status(token, 401);
	free(token);
	c = base;
	c.type = "refresh";
	token = forge_access(&key, &c);
	assert_me_status(token, 401);
	free(token);
	c = base;
	c.iat = now + 3600; /* issued in the future */
	c.exp = now + 4000;
	token = forge_access(&key, &c);
	assert_me_status(token, 401);
	free(token);
	c = base;
	c.sub = 900000000000LL; /* no such user */
	token = forge_access(&key, &c);
	assert_me_status(token, 401);
	free(token);
}

/* --- cross-check with PyJWT (jwt_crosscheck.py) --------------------------------- */

/* Runs `jwt_crosscheck.py MODE KEYFILE ARGS` with the stack's key file;
 * returns its exit status. PATH puts Debian's interpreter (the one with
 * python3-jwt) first: a pyenv or venv python3 would not have it. */
static int crosscheck(const char *mode, const char *args, char **output)
{
	char cmd[16384];

	snprintf(cmd, sizeof(cmd),
	         "PATH=/usr/bin:/bin:$PATH python3 '%s/tests/integration/jwt_crosscheck.py' %s "
	         "'%s/secrets/jwt.keys' %s 2>&1",
	         client_env("HMS_TEST_ROOT"), mode, client_env("HMS_TEST_STATE"), args);
	return client_run(cmd, output);
}

static void trim(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

Test(crosscheck, pyjwt_verifies_tokens_that_hms_signs)
{
	struct client_user user;
	struct client_tokens tokens;
	char args[8192];
	char *out;

	client_create_user("doctor", &user);
	client_user_login(&user, &tokens);
	snprintf(args, sizeof(args), "%s %lld doctor access", tokens.access, user.id);
	cr_assert_eq(crosscheck("decode", args, &out), 0, "%s", out);
	free(out);
	snprintf(args, sizeof(args), "%s %lld doctor refresh", tokens.refresh, user.id);
	cr_assert_eq(crosscheck("decode", args, &out), 0, "%s", out);
	free(out);
	/* And PyJWT refuses a token whose signature was changed. */
	{
		char *sig = strrchr(tokens.access, '.') + 1;

		sig[5] = sig[5] == 'A' ? 'B' : 'A';
	}
	snprintf(args, sizeof(args), "%s %lld doctor access", tokens.access, user.id);
	cr_assert_neq(crosscheck("decode", args, &out), 0, "%s", out);
	free(out);
	client_tokens_free(&tokens);
}

Test(crosscheck, hms_accepts_a_pyjwt_token_with_our_key_and_claims)
{
	struct client_user user;
	struct client_response res;
	struct json_object *v;
	char args[256];
	char *token;

	/* PyJWT's token carries no "pwc" claim, so it must be issued in a later
	 * second than the account's last password change. */
	create_settled_user("receptionist", &user);
	snprintf(args, sizeof(args), "%lld receptionist", user.id);
	cr_assert_eq(crosscheck("sign", args, &token), 0, "%s", token);
	trim(token);
	client_get_auth("/api/auth/me/", token, &res);
	cr_assert_eq(res.status, 200, "PyJWT token %s: %ld %s", token, res.status, res.body);
	cr_assert(json_object_object_get_ex(res.json, "id", &v));
	cr_assert_eq(json_object_get_int64(v), user.id);
	client_response_free(&res);
	free(token);
}

Test(crosscheck, hms_refuses_a_pyjwt_token_with_another_key)
{
	struct client_user user;
	char args[256];
	char *token;

	client_create_user("receptionist", &user);
	snprintf(args, sizeof(args), "%lld receptionist", user.id);
	cr_assert_eq(crosscheck("sign-other-key", args, &token), 0, "%s", token);
	trim(token);
	cr_assert_gt(strlen(token), 20, "%s", token);
	assert_me_status(token, 401);
	free(token);
}

/* --- back-off per source (issue 13) ---------------------------------------------- */

/* A threshold of the stack's configuration: its HMS_* variable, else the
 * default of src/config.c. */
static long threshold(const char *variable, long default_value)
{
	const char *value = getenv(variable);

	return value != NULL && *value != '\0' ? atol(value) : default_value;
}

/* POST /api/auth/token/ from the current source; 429 is checked for a sane
 * Retry-After. */
static long login_status(const char *username, const char *password)
{
	struct client_response res;
	char *body =
	    client_format("{\"username\": \"%s\", \"password\": \"%s\"}", username, password);
	long status;

	client_post_json("/api/auth/token/", NULL, body, &res);
	free(body);
	status = res.status;
	if (status == 429) {
		const char *retry = client_header(&res, "Retry-After");
		long seconds = retry != NULL ? strtol(retry, NULL, 10) : 0;

		assert_detail(&res, 429);
		cr_assert(seconds >= 1 && seconds <= 900, "Retry-After: %s",
		          retry ? retry : "none");
	}
	client_response_free(&res);
	return status;
}

Test(backoff, a_stranger_cannot_lock_out_the_owner_logging_in_elsewhere)
{
	struct client_user owner;
	long before = threshold("HMS_LOGIN_FAILURES_BEFORE_BACKOFF", 5);

	client_create_user("admin", &owner);
	client_set_source("127.0.0.2");
	for (long i = 0; i < before; i++)
		cr_assert_eq(login_status(owner.username, "wrong-password-1"), 401, "failure %ld",
		             i + 1);
	/* The stranger's address is backed off, even with the right password. */
	cr_assert_eq(login_status(owner.username, owner.password), 429);
	/* The owner, elsewhere, gets in: first at this address, and again. */
	client_set_source("127.0.0.3");
	cr_assert_eq(login_status(owner.username, owner.password), 200);
	cr_assert_eq(login_status(owner.username, owner.password), 200);
	client_set_source("127.0.0.2");
	cr_assert_eq(login_status(owner.username, owner.password), 429);
	client_set_source(NULL);
}

Test(backoff, one_address_trying_many_names_is_blocked_except_for_its_known_accounts)
{
	struct client_user regular;
	long limit = threshold("HMS_LOGIN_ADDRESS_FAILURES_BEFORE_BACKOFF", 100);
	char name[96];

	client_create_user("nurse", &regular);
	client_set_source("127.0.0.4");
	/* An account that has logged in from this address before. */
	cr_assert_eq(login_status(regular.username, regular.password), 200);
	client_keep_connection(true);
	for (long i = 0; i < limit; i++) {
		client_unique_name("spray", name, sizeof(name));
		cr_assert_eq(login_status(name, "wrong-password-1"), 401, "failure %ld", i + 1);
	}
	client_unique_name("spray", name, sizeof(name));
	cr_assert_eq(login_status(name, "wrong-password-1"), 429);
	cr_assert_eq(login_status(regular.username, regular.password), 200);
	client_keep_connection(false);
	/* Other addresses are unaffected. */
	client_set_source("127.0.0.5");
	cr_assert_eq(login_status(name, "wrong-password-1"), 401);
	client_set_source(NULL);
}

Test(backoff, guesses_at_one_name_from_many_addresses_are_bounded_but_the_owner_gets_in)
{
	static const char *const strangers[] = {
	    "127.0.0.20", "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24", "127.0.0.25",
	    "127.0.0.26", "127.0.0.27", "127.0.0.28", "127.0.0.29", "127.0.0.30", "127.0.0.31"};
	struct client_user owner;
	long per_pair = threshold("HMS_LOGIN_FAILURES_BEFORE_BACKOFF", 5);
	long per_name = threshold("HMS_LOGIN_ACCOUNT_FAILURES_BEFORE_BACKOFF", 20);
	long done = 0;
	size_t n = 0;

	client_create_user("doctor", &owner);
	client_set_source("127.0.0.19");
	cr_assert_eq(login_status(owner.username, owner.password), 200);
	/* Each stranger stays under its own threshold; together they reach
	 * the name's. */
	while (done < per_name) {
		cr_assert_lt(n, sizeof(strangers) / sizeof(strangers[0]) - 1, "too few addresses");
		client_set_source(strangers[n++]);
		for (long i = 0; i < per_pair - 1 && done < per_name; i++, done++)
			cr_assert_eq(login_status(owner.username, "wrong-password-1"), 401,
			             "failure %ld", done + 1);
	}
	/* A new address is held back now, whatever it sends. */
	client_set_source(strangers[n]);
	cr_assert_eq(login_status(owner.username, "wrong-password-1"), 429);
	cr_assert_eq(login_status(owner.username, owner.password), 429);
	/* The owner, from an address the account is known at, is not. */
	client_set_source("127.0.0.19");
	cr_assert_eq(login_status(owner.username, owner.password), 200);
	client_set_source(NULL);
}

Test(password, wrong_old_passwords_back_off_like_logins)
{
	struct client_user user;
	struct client_tokens tokens, none;
	struct client_response res;
	long before = threshold("HMS_LOGIN_FAILURES_BEFORE_BACKOFF", 5);
	const char *retry;
	char *sql;

	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	client_set_source("127.0.0.40");
	for (long i = 0; i < before; i++) {
		change_password(tokens.access, "not-my-password", NEW_PASSWORD, &res);
		assert_field_error(&res, "old_password");
		client_response_free(&res);
	}
	/* Now even the right old password waits. */
	change_password(tokens.access, user.password, NEW_PASSWORD, &res);
	assert_detail(&res, 429);
	retry = client_header(&res, "Retry-After");
	cr_assert(retry != NULL && strtol(retry, NULL, 10) >= 1, "Retry-After: %s",
	          retry ? retry : "none");
	client_response_free(&res);
	/* Nothing changed, and the owner at the usual address is unaffected. */
	client_set_source(NULL);
	cr_assert_eq(client_login(user.username, user.password, NULL, &none), 200);
	client_tokens_free(&none);
	sql = client_format("SELECT count(*) FROM audit_log WHERE action = 'password_change' "
	                    "AND actor = %lld AND outcome = 'failure'",
	                    user.id);
	cr_assert_eq(client_sql_long(sql), before);
	free(sql);
	sql = client_format("SELECT count(*) FROM audit_log WHERE action = 'password_change' "
	                    "AND actor = %lld AND outcome = 'denied'",
	                    user.id);
	cr_assert_eq(client_sql_long(sql), 1);
	free(sql);
	client_tokens_free(&tokens);
}

/* --- refresh after a password change ---------------------------------------------- */

Test(refresh, a_token_from_before_the_last_password_change_is_401)
{
	/* The race: a refresh token minted while a password change commits
	 * escapes the change's revocation of the account's rows. Simulated by
	 * moving password_changed_at after the token was made. */
	struct client_user user;
	struct client_tokens tokens, none;
	char *sql, *ok;

	client_create_user("nurse", &user);
	client_user_login(&user, &tokens);
	sql = client_format("UPDATE users SET password_changed_at = password_changed_at + "
	                    "interval '1 second' WHERE id = %lld RETURNING id",
	                    user.id);
	ok = client_sql_value(sql);
	cr_assert_not_null(ok);
	free(ok);
	free(sql);
	cr_assert_eq(refresh(tokens.refresh, &none), 401);
	/* The token's row was not spent by the refused attempt. */
	sql = client_format("SELECT count(*) FROM refresh_tokens WHERE user_id = %lld AND "
	                    "replaced_by IS NOT NULL",
	                    user.id);
	cr_assert_eq(client_sql_long(sql), 0);
	free(sql);
	client_tokens_free(&tokens);
}

/* --- failed authentication is logged and audited ------------------------------------ */

/* The hms.log line of event for request_id, malloc'd, or NULL. */
static char *log_line(const char *event, const char *request_id)
{
	char *path = client_format("%s/log/hms.log", client_env("HMS_TEST_STATE"));
	char *needle_id = client_format("\"request_id\":\"%s\"", request_id);
	char *needle_event = client_format("\"%s\"", event);
	char *found = NULL;
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "cannot open %s", path);
	while (found == NULL && getline(&line, &cap, f) > 0)
		if (strstr(line, needle_id) != NULL && strstr(line, needle_event) != NULL)
			found = strdup(line);
	free(line);
	fclose(f);
	free(path);
	free(needle_id);
	free(needle_event);
	return found;
}

static long long audit_rows(const char *request_id, const char *where)
{
	char *sql = client_format("SELECT count(*) FROM audit_log WHERE action = 'auth_failed' "
	                          "AND outcome = 'failure' AND request_id = '%s' %s",
	                          request_id, where);
	long long n = client_sql_long(sql);

	free(sql);
	return n;
}

/* GET /api/auth/me/ with token and a fresh request id (into id); 401. */
static void me_with(const char *token, char id[64])
{
	struct client_response res;
	char *auth = client_format("Authorization: Bearer %s", token);
	char header[128];
	const char *headers[3] = {auth, header, NULL};

	client_unique_name("authfail", id, 64);
	snprintf(header, sizeof(header), "X-Request-ID: %s", id);
	cr_assert_eq(client_request("GET", "/api/auth/me/", headers, NULL, 0, &res), 0);
	assert_unauthorized(&res);
	client_response_free(&res);
	free(auth);
}

Test(auth_failed, forged_expired_and_revoked_tokens_are_logged_with_the_reason_and_audited)
{
	struct client_user user;
	struct test_key key;
	struct client_tokens tokens;
	long long now = (long long)time(NULL);
	struct claims c = {0, "doctor", 0, 0, "access", NULL, NULL};
	char id[64], *token, *line, *where;
	size_t len;

	create_settled_user("doctor", &user);
	read_key(&key);
	c.sub = user.id;

	/* A flipped signature. */
	client_user_login(&user, &tokens);
	token = strdup(tokens.access);
	len = strlen(token);
	token[len - 2] = token[len - 2] == 'A' ? 'B' : 'A';
	me_with(token, id);
	line = log_line("auth_failed", id);
	cr_assert_not_null(line, "no auth_failed line for %s", id);
	cr_assert_not_null(strstr(line, "\"reason\":\"bad_signature\""), "%s", line);
	cr_assert_null(strstr(line, token + len - 20), "the token is in the log: %s", line);
	cr_assert_null(strstr(line, "Bearer"), "%s", line);
	cr_assert_eq(audit_rows(id, "AND actor IS NULL"), 1);
	free(line);
	free(token);

	/* Expired. */
	c.iat = now - 900;
	c.exp = now - 120;
	token = forge_access(&key, &c);
	me_with(token, id);
	line = log_line("auth_failed", id);
	cr_assert_not_null(line, "no auth_failed line for %s", id);
	cr_assert_not_null(strstr(line, "\"reason\":\"expired\""), "%s", line);
	cr_assert_eq(audit_rows(id, ""), 1);
	free(line);
	free(token);

	/* Revoked by a password change: the account is known. */
	where = client_format("UPDATE users SET password_changed_at = now() WHERE id = %lld "
	                      "RETURNING id",
	                      user.id);
	free(client_sql_value(where));
	free(where);
	me_with(tokens.access, id);
	line = log_line("auth_failed", id);
	cr_assert_not_null(line, "no auth_failed line for %s", id);
	cr_assert_not_null(strstr(line, "\"reason\":\"password_changed\""), "%s", line);
	where = client_format("AND actor = %lld AND entity_type = 'user' AND entity_id = %lld",
	                      user.id, user.id);
	cr_assert_eq(audit_rows(id, where), 1);
	free(where);
	free(line);

	/* A refresh token refused for the same reason is logged too. */
	{
		char body[8192];
		char header[128];
		struct client_response res;

		client_unique_name("authfail", id, 64);
		snprintf(header, sizeof(header), "X-Request-ID: %s", id);
		snprintf(body, sizeof(body), "{\"refresh\": \"%s\"}", tokens.refresh);
		client_call("POST", "/api/auth/token/refresh/", NULL, header, body, &res);
		assert_unauthorized(&res);
		client_response_free(&res);
		line = log_line("auth_failed", id);
		cr_assert_not_null(line, "no auth_failed line for %s", id);
		cr_assert_not_null(strstr(line, "\"reason\":\"password_changed\""), "%s", line);
		cr_assert_eq(audit_rows(id, ""), 1);
		free(line);
	}
	client_tokens_free(&tokens);
}

/* --- rehash on a changed cost ------------------------------------------------------ */

Test(rehash, a_hash_of_another_cost_is_replaced_at_login_and_sessions_go_on)
{
	struct client_user user;
	struct client_tokens before, after;
	unsigned char salt[16];
	char old_hash[160], *sql, *stored, *changed_before, *changed_after;

	client_create_user("billing", &user);
	client_user_login(&user, &before);
	/* The same password at a cost the stack is not configured with. */
	cr_assert_eq(RAND_bytes(salt, sizeof(salt)), 1);
	cr_assert_eq(argon2id_hash_encoded(1, 1024, 1, user.password, strlen(user.password), salt,
	                                   sizeof(salt), 32, old_hash, sizeof(old_hash)),
	             ARGON2_OK);
	sql = client_format("UPDATE users SET password_hash = '%s' WHERE id = %lld "
	                    "RETURNING password_changed_at::text",
	                    old_hash, user.id);
	changed_before = client_sql_value(sql);
	free(sql);

	client_user_login(&user, &after);
	sql = client_format("SELECT password_hash FROM users WHERE id = %lld", user.id);
	stored = client_sql_value(sql);
	free(sql);
	cr_assert_str_neq(stored, old_hash);
	cr_assert_null(strstr(stored, "m=1024,t=1,p=1"), "%s", stored);
	cr_assert(strncmp(stored, "$argon2id$v=19$m=", 17) == 0, "%s", stored);
	/* The password is the same: its epoch did not move, old sessions go on. */
	sql = client_format("SELECT password_changed_at::text FROM users WHERE id = %lld", user.id);
	changed_after = client_sql_value(sql);
	free(sql);
	cr_assert_str_eq(changed_after, changed_before);
	assert_me_status(before.access, 200);
	cr_assert_eq(login_status(user.username, user.password), 200);
	free(stored);
	free(changed_before);
	free(changed_after);
	client_tokens_free(&before);
	client_tokens_free(&after);
}

/* --- housekeeping ----------------------------------------------------------------- */

Test(housekeeping, stale_counters_and_expired_refresh_tokens_are_pruned)
{
	struct client_user user;
	char stale[96], fresh[96], known[96];
	char *sql;
	int i;

	client_create_user("nurse", &user);
	client_unique_name("stale", stale, sizeof(stale));
	client_unique_name("fresh", fresh, sizeof(fresh));
	client_unique_name("known", known, sizeof(known));
	sql = client_format(
	    "INSERT INTO login_failures (username_key, client_addr, failures, last_failure_at, "
	    "blocked_until, last_success_at) VALUES "
	    "('%s', '127.0.0.60', 7, now() - interval '2 hours', now() - interval '1 hour', NULL), "
	    "('%s', '127.0.0.60', 2, now() - interval '5 minutes', NULL, NULL), "
	    "('%s', '127.0.0.60', 0, NULL, NULL, now() - interval '2 days')",
	    stale, fresh, known);
	free(client_sql_value(sql));
	free(sql);
	sql = client_format(
	    "INSERT INTO refresh_tokens (jti, user_id, family, issued_at, expires_at, revoked_at) "
	    "VALUES (gen_random_uuid(), %lld, gen_random_uuid(), now() - interval '9 days', "
	    "now() - interval '2 days', now() - interval '8 days'), "
	    "(gen_random_uuid(), %lld, gen_random_uuid(), now() - interval '9 days', "
	    "now() - interval '1 minute', NULL), "
	    "(gen_random_uuid(), %lld, gen_random_uuid(), now(), now() + interval '1 day', now())",
	    user.id, user.id, user.id);
	free(client_sql_value(sql));
	free(sql);

	/* The test stack prunes every second (tests/run.sh). */
	for (i = 0; i < 100; i++) {
		long long left;

		sql = client_format("SELECT (SELECT count(*) FROM login_failures WHERE "
		                    "username_key = '%s') + (SELECT count(*) FROM refresh_tokens "
		                    "WHERE user_id = %lld AND expires_at < now())",
		                    stale, user.id);
		left = client_sql_long(sql);
		free(sql);
		if (left == 0)
			break;
		usleep(100000);
	}
	cr_assert_lt(i, 100, "nothing was pruned in 10 s");
	/* What still counts, or still tells the owner's address, stays; so does
	 * a spent token that has not expired (reuse detection needs it). */
	sql = client_format("SELECT count(*) FROM login_failures WHERE username_key IN ('%s', "
	                    "'%s')",
	                    fresh, known);
	cr_assert_eq(client_sql_long(sql), 2);
	free(sql);
	sql = client_format("SELECT count(*) FROM refresh_tokens WHERE user_id = %lld", user.id);
	cr_assert_eq(client_sql_long(sql), 1);
	free(sql);
}
