/*
 * tokens.c - login, refresh rotation with reuse detection, logout.
 *
 * Login costs the same whether the account exists or not (a dummy argon2id
 * verification), and failures are counted in the database (backoff.c) so
 * the back-off holds across workers and hosts.
 */
#include "hms/tokens.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/backoff.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/jwt.h"
#include "hms/log.h"
#include "hms/password.h"
#include "hms/permissions.h"
#include "hms/crud.h"
#include "hms/users.h"
#include "hms/validate.h"

#define BAD_CREDENTIALS "No active account found with the given credentials"
#define BAD_TOKEN       "Token is invalid or expired"
#define TOKENS_TEXT_(x) #x
#define TOKENS_TEXT(x)  TOKENS_TEXT_(x)

static const struct db_stmt account_by_name = {
    "tokens_account",
    "SELECT id, role, is_active, password_hash, "
    "(extract(epoch FROM password_changed_at) * 1000000)::bigint "
    "FROM users WHERE lower(username) = $1",
    1};
static const struct db_stmt insert_refresh = {
    "tokens_insert_refresh",
    "INSERT INTO refresh_tokens (jti, user_id, family, expires_at) "
    "VALUES ($1::uuid, $2, $3::uuid, to_timestamp($4::bigint))",
    4};
static const struct db_stmt lock_refresh = {
    "tokens_lock_refresh",
    "SELECT t.user_id, t.family, t.revoked_at IS NOT NULL, t.expires_at <= now(), "
    "u.is_active, u.role, (extract(epoch FROM u.password_changed_at) * 1000000)::bigint "
    "FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.jti = $1::uuid FOR UPDATE OF t",
    1};
static const struct db_stmt revoke_family = {
    "tokens_revoke_family",
    "UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1::uuid AND revoked_at IS NULL",
    1};
static const struct db_stmt spend_refresh = {
    "tokens_spend_refresh",
    "UPDATE refresh_tokens SET revoked_at = now(), replaced_by = $2::uuid WHERE jti = $1::uuid", 2};
/* Expired refresh tokens, spent or not: one that came back would fail its
 * own exp check first, so a spent one is needed for reuse detection only
 * until then. In batches, so that no pass holds many locks for long. */
static const struct db_stmt prune_expired = {
    "tokens_prune_expired",
    "DELETE FROM refresh_tokens WHERE jti IN (SELECT jti FROM refresh_tokens "
    "WHERE expires_at < now() LIMIT " TOKENS_TEXT(TOKENS_PRUNE_BATCH) ")",
    0};
static const struct db_stmt revoke_one = {
    "tokens_revoke_one",
    "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) "
    "WHERE jti = $1::uuid AND user_id = $2",
    2};

/* Signs a new access and refresh token for the user and records the
 * refresh token in family (a new family when NULL). Adds {"access",
 * "refresh"} to body; new_jti is the refresh token's id. */
static enum hms_err issue_pair(struct http_request *req, int64_t user_id, const char *role,
                               const char *password_changed, const char *family,
                               struct json_object *body, char new_jti[JWT_JTI_LEN + 1])
{
	struct jwt_keyring ring = jwt_keyring_from_config(req->config);
	struct jwt_claims claims = {
	    .sub = user_id, .type = JWT_ACCESS, .password_changed = atoll(password_changed)};
	char access[JWT_MAX_BYTES], refresh[JWT_MAX_BYTES];
	char id[24], exp[24];
	const char *params[4];
	int64_t now = auth_now();
	PGresult *res;
	enum hms_err err;

	snprintf(claims.role, sizeof(claims.role), "%s", role);
	claims.iat = now;
	claims.exp = now + req->config->access_token_minutes * 60;
	if (jwt_new_jti(claims.jti) != 0 || jwt_sign(&ring, &claims, access, sizeof(access)) != 0)
		return HMS_ERR_INTERNAL;
	claims.type = JWT_REFRESH;
	claims.exp = now + req->config->refresh_token_days * 86400;
	if (jwt_new_jti(claims.jti) != 0 || jwt_sign(&ring, &claims, refresh, sizeof(refresh)) != 0)
		return HMS_ERR_INTERNAL;

	snprintf(id, sizeof(id), "%lld", (long long)user_id);
	snprintf(exp, sizeof(exp), "%lld", (long long)claims.exp);
	params[0] = claims.jti;
	params[1] = id;
	params[2] = family != NULL ? family : claims.jti; /* a login starts a family */
	params[3] = exp;
	err = db_exec(req->db, req->arena, &insert_refresh, params, &res);
	if (err != HMS_OK)
		return err;
	json_object_object_add(body, "access", json_object_new_string(access));
	json_object_object_add(body, "refresh", json_object_new_string(refresh));
	memcpy(new_jti, claims.jti, JWT_JTI_LEN + 1);
	return HMS_OK;
}

static const struct field login_fields[] = {
    {"username", FIELD_STRING, .required = true, .max_len = 150},
    {"password", FIELD_STRING, .required = true, .allow_blank = true, .keep_whitespace = true,
     .max_len = PASSWORD_MAX_BYTES},
    {NULL},
};

static char *username_key(struct arena *arena, const char *username)
{
	char *key = arena_strdup(arena, username);

	for (char *p = key; p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return key;
}

/* Counts a failed login (backoff.h) and audits it. */
static void record_failure(struct http_request *req, const char *key, int64_t user_id,
                           const char *role)
{
	backoff_failure(req, key);
	audit_record_as(req, user_id, role, "login_failed", "user", user_id, AUDIT_FAILURE);
}

void tokens_obtain(struct http_request *req, struct http_response *res)
{
	struct password_cost cost = password_cost_from_config(req->config);
	struct json_object *errors, *body;
	char new_jti[JWT_JTI_LEN + 1];
	struct validated v;
	const char *params[1];
	PGresult *result;
	enum hms_err err;
	char *key;
	int64_t user_id;
	const char *role, *changed, *stored;
	char rehashed[PASSWORD_HASH_MAX];
	long wait;
	bool ok;

	errors = validate_body(req->arena, login_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	key = username_key(req->arena, v.values[0]);
	params[0] = key;
	err = backoff_check(req, key, &wait);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (wait > 0) {
		audit_record_as(req, 0, NULL, "login_failed", "user", 0, AUDIT_DENIED);
		backoff_respond(req, res, wait);
		return;
	}
	err = db_exec(req->db, req->arena, &account_by_name, params, &result);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (PQntuples(result) != 1) {
		password_verify_dummy(&cost, v.values[1]);
		record_failure(req, key, 0, NULL);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_CREDENTIALS);
		return;
	}
	user_id = atoll(PQgetvalue(result, 0, 0));
	role = arena_strdup(req->arena, PQgetvalue(result, 0, 1));
	changed = arena_strdup(req->arena, PQgetvalue(result, 0, 4));
	stored = arena_strdup(req->arena, PQgetvalue(result, 0, 3));
	ok = password_verify(stored, v.values[1]) && PQgetvalue(result, 0, 2)[0] == 't';
	if (!ok) {
		record_failure(req, key, user_id, role);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_CREDENTIALS);
		return;
	}

	/* The configured cost has changed since this hash was made: store the
	 * same password at today's cost (the sessions go on). Hashed before
	 * the transaction, which then holds its locks for no hash. */
	rehashed[0] = '\0';
	if (password_needs_rehash(stored, &cost) &&
	    password_hash(&cost, v.values[1], rehashed) != 0)
		rehashed[0] = '\0';

	body = json_object_new_object();
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = backoff_success(req, key);
	if (err == HMS_OK && rehashed[0] != '\0')
		err = users_rehash_password(req->db, req->arena, user_id, stored, rehashed);
	if (err == HMS_OK)
		err = issue_pair(req, user_id, role, changed, NULL, body, new_jti);
	if (err == HMS_OK)
		err = audit_record_as(req, user_id, role, "login", "user", user_id, AUDIT_SUCCESS);
	if (err == HMS_OK)
		err = db_commit(req->db);
	if (err != HMS_OK) {
		db_rollback(req->db);
		json_object_put(body);
		http_respond_error(res, err, NULL);
		return;
	}
	http_respond_json(res, 200, body);
}

/* Reads and verifies {"refresh": token}; 400/401 written on failure. */
static bool read_refresh(struct http_request *req, struct http_response *res,
                         struct jwt_claims *claims)
{
	static const struct field fields[] = {
	    {"refresh", FIELD_STRING, .required = true, .max_len = JWT_MAX_BYTES},
	    {NULL},
	};
	struct jwt_keyring ring = jwt_keyring_from_config(req->config);
	struct json_object *errors;
	struct validated v;
	enum jwt_error jwt_err;

	errors = validate_body(req->arena, fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return false;
	}
	jwt_err = jwt_verify(&ring, req->arena, v.values[0], JWT_REFRESH, auth_now(), claims);
	if (jwt_err != JWT_OK) {
		auth_record_failure(req, jwt_error_name(jwt_err), 0);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return false;
	}
	return true;
}

/* True when the token was signed under the account's current password:
 * its pwc claim is password_changed_at (microseconds). A token minted while
 * a change committed (a login or refresh racing it) escapes the change's
 * revocation of the account's rows, but not this. A token without the
 * claim must be newer than the change, as in auth.c. */
static bool is_current_password(const struct jwt_claims *claims, long long changed_micros)
{
	if (claims->password_changed != 0)
		return claims->password_changed == changed_micros;
	return claims->iat > changed_micros / 1000000;
}

void tokens_refresh(struct http_request *req, struct http_response *res)
{
	struct jwt_claims claims;
	struct json_object *body;
	char new_jti[JWT_JTI_LEN + 1];
	const char *params[2];
	PGresult *row;
	PGresult *ignored;
	enum hms_err err;
	int64_t user_id;
	const char *family, *role, *reason;

	if (!read_refresh(req, res, &claims))
		return;
	params[0] = claims.jti;
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &lock_refresh, params, &row);
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	if (PQntuples(row) != 1) {
		db_rollback(req->db);
		auth_record_failure(req, "unknown_token", claims.sub);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return;
	}
	user_id = atoll(PQgetvalue(row, 0, 0));
	family = PQgetvalue(row, 0, 1);
	role = PQgetvalue(row, 0, 5);
	if (PQgetvalue(row, 0, 2)[0] == 't') {
		/* A spent token came back: someone holds a copy. End the family. */
		log_event(LOG_INFO, "auth_failed", "s:reason", "token_reuse", "l:user",
		          (long long)user_id, "s:ip", req->client_ip, "s:request_id",
		          req->request_id, LOG_END);
		params[0] = family;
		err = db_exec(req->db, req->arena, &revoke_family, params, &ignored);
		if (err == HMS_OK)
			err = audit_record_as(req, user_id, role, "token_reuse", "user", user_id,
			                      AUDIT_DENIED);
		if (err == HMS_OK)
			err = db_commit(req->db);
		if (err != HMS_OK)
			db_rollback(req->db);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return;
	}
	reason = PQgetvalue(row, 0, 3)[0] == 't'                               ? "expired"
	         : PQgetvalue(row, 0, 4)[0] != 't'                             ? "inactive"
	         : !is_current_password(&claims, atoll(PQgetvalue(row, 0, 6))) ? "password_changed"
	                                                                       : NULL;
	if (reason != NULL) {
		db_rollback(req->db);
		auth_record_failure(req, reason, user_id);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return;
	}

	body = json_object_new_object();
	err = issue_pair(req, user_id, role, PQgetvalue(row, 0, 6), family, body, new_jti);
	if (err == HMS_OK) {
		params[0] = claims.jti;
		params[1] = new_jti;
		err = db_exec(req->db, req->arena, &spend_refresh, params, &ignored);
	}
	if (err == HMS_OK)
		err = audit_record_as(req, user_id, role, "token_refresh", "user", user_id,
		                      AUDIT_SUCCESS);
	if (err == HMS_OK)
		err = db_commit(req->db);
	if (err != HMS_OK) {
		db_rollback(req->db);
		json_object_put(body);
		http_respond_error(res, err, NULL);
		return;
	}
	http_respond_json(res, 200, body);
}

void tokens_logout(struct http_request *req, struct http_response *res)
{
	struct jwt_claims claims;
	char id[24];
	const char *params[2] = {NULL, id};
	PGresult *result;
	enum hms_err err;

	if (!read_refresh(req, res, &claims))
		return;
	if (claims.sub != req->user.id) {
		auth_record_failure(req, "not_own_token", req->user.id);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)req->user.id);
	params[0] = claims.jti;
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &revoke_one, params, &result);
	if (!crud_commit(req, res, err, NULL, NULL, "logout", "user", req->user.id))
		return;
	res->status = 205;
}

long tokens_prune(struct db *db, struct arena *arena)
{
	return db_exec_in_batches(db, arena, &prune_expired, TOKENS_PRUNE_BATCH);
}
