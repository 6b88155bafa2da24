/*
 * tokens.c - login, refresh rotation with reuse detection, logout.
 *
 * Login costs the same whether the account exists or not (a dummy argon2id
 * verification), and failures are counted per username in the database so
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
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/jwt.h"
#include "hms/password.h"
#include "hms/permissions.h"
#include "hms/crud.h"
#include "hms/validate.h"

#define BAD_CREDENTIALS     "No active account found with the given credentials"
#define BAD_TOKEN           "Token is invalid or expired"
#define MAX_BACKOFF_SECONDS 900

static const struct db_stmt blocked_for = {
    "tokens_blocked_for",
    "SELECT ceil(extract(epoch FROM blocked_until - now()))::bigint FROM login_failures "
    "WHERE username_key = $1 AND blocked_until > now()",
    1};
static const struct db_stmt account_by_name = {
    "tokens_account",
    "SELECT id, role, is_active, password_hash, "
    "(extract(epoch FROM password_changed_at) * 1000000)::bigint "
    "FROM users WHERE lower(username) = $1",
    1};
/* Counts a failure; from the threshold on, blocks for 30 s doubling up to
 * 15 min. A quiet hour starts the count again. */
static const struct db_stmt count_failure = {
    "tokens_count_failure",
    "INSERT INTO login_failures AS f (username_key, failures, last_failure_at) "
    "VALUES ($1, 1, now()) ON CONFLICT (username_key) DO UPDATE SET "
    "failures = CASE WHEN f.last_failure_at < now() - interval '1 hour' THEN 1 "
    "ELSE f.failures + 1 END, last_failure_at = now() "
    "RETURNING failures",
    1};
static const struct db_stmt block_account = {
    "tokens_block",
    "UPDATE login_failures SET blocked_until = now() + make_interval(secs => $2::int) "
    "WHERE username_key = $1",
    2};
static const struct db_stmt clear_failures = {
    "tokens_clear_failures", "DELETE FROM login_failures WHERE username_key = $1", 1};
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

/* Counts a failed login and audits it; blocks the account name once the
 * threshold is passed. */
static void record_failure(struct http_request *req, const char *key, int64_t user_id,
                           const char *role)
{
	const char *params[2] = {key, NULL};
	PGresult *res;
	char secs[24];

	if (db_exec(req->db, req->arena, &count_failure, params, &res) == HMS_OK &&
	    PQntuples(res) == 1) {
		long failures = atol(PQgetvalue(res, 0, 0));
		long over = failures - req->config->login_failures_before_backoff;

		if (over >= 0) {
			long delay = 30L << (over < 5 ? over : 5);

			snprintf(secs, sizeof(secs), "%ld",
			         delay > MAX_BACKOFF_SECONDS ? MAX_BACKOFF_SECONDS : delay);
			params[1] = secs;
			db_exec(req->db, req->arena, &block_account, params, &res);
		}
	}
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
	const char *role, *changed;
	bool ok;

	errors = validate_body(req->arena, login_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	key = username_key(req->arena, v.values[0]);
	params[0] = key;
	err = db_exec(req->db, req->arena, &blocked_for, params, &result);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (PQntuples(result) == 1) {
		const char *wait = arena_strdup(req->arena, PQgetvalue(result, 0, 0));

		audit_record_as(req, 0, NULL, "login_failed", "user", 0, AUDIT_DENIED);
		http_response_header(res, "Retry-After", wait);
		http_respond_error(
		    res, HMS_ERR_RATE_LIMITED,
		    arena_printf(req->arena,
		                 "Too many failed logins for this account; try again "
		                 "in %s seconds.",
		                 wait));
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
	ok = password_verify(PQgetvalue(result, 0, 3), v.values[1]) &&
	     PQgetvalue(result, 0, 2)[0] == 't';
	if (!ok) {
		record_failure(req, key, user_id, role);
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_CREDENTIALS);
		return;
	}

	body = json_object_new_object();
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &clear_failures, params, &result);
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

	errors = validate_body(req->arena, fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return false;
	}
	if (jwt_verify(&ring, req->arena, v.values[0], JWT_REFRESH, auth_now(), claims) != JWT_OK) {
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return false;
	}
	return true;
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
	const char *family, *role;

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
		http_respond_error(res, HMS_ERR_UNAUTHORIZED, BAD_TOKEN);
		return;
	}
	user_id = atoll(PQgetvalue(row, 0, 0));
	family = PQgetvalue(row, 0, 1);
	role = PQgetvalue(row, 0, 5);
	if (PQgetvalue(row, 0, 2)[0] == 't') {
		/* A spent token came back: someone holds a copy. End the family. */
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
	if (PQgetvalue(row, 0, 3)[0] == 't' || PQgetvalue(row, 0, 4)[0] != 't') {
		db_rollback(req->db);
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
