/*
 * auth.c - bearer authentication: verify the access token, then read the
 * account so deactivation, role changes and password changes apply at once.
 */
#include "hms/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hms/audit.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/jwt.h"
#include "hms/log.h"
#include "hms/permissions.h"
#include "hms/router.h"

#define CACHE_SLOTS 512

/* What a request needs to know about the account behind a token. */
struct account {
	int64_t id; /* 0 = empty slot */
	unsigned role;
	bool is_active;
	int64_t changed_seconds; /* password_changed_at, whole seconds */
	int64_t changed_micros;  /* the same, microseconds: the "pwc" claim */
	int64_t loaded_at;
};

static struct account cache[CACHE_SLOTS];

static void on_account_change(const char *channel, const char *payload, void *arg)
{
	(void)arg;
	if (channel == NULL) {
		/* A new connection: changes may have been missed. */
		memset(cache, 0, sizeof(cache));
		return;
	}
	if (payload != NULL) {
		int64_t id = atoll(payload);
		struct account *slot = &cache[(uint64_t)id % CACHE_SLOTS];

		if (slot->id == id)
			slot->id = 0;
	}
}

void auth_init(struct db *db)
{
	memset(cache, 0, sizeof(cache));
	db_listen(db, "hms_accounts", on_account_change, NULL);
}

static const struct db_stmt account_by_id = {
    "auth_account",
    "SELECT role, is_active, floor(extract(epoch FROM password_changed_at))::bigint, "
    "(extract(epoch FROM password_changed_at) * 1000000)::bigint FROM users WHERE id = $1",
    1};

int64_t auth_now(void)
{
	return (int64_t)time(NULL);
}

/* The account from the cache, else from the database (then cached). An
 * account that does not exist comes back with id 0. */
static enum hms_err load_account(struct http_request *req, int64_t id, struct account *out)
{
	struct account *slot = &cache[(uint64_t)id % CACHE_SLOTS];
	int64_t now = auth_now();
	char text[24];
	const char *params[1] = {text};
	PGresult *res;
	enum hms_err err;

	db_poll(req->db); /* apply evictions that have arrived */
	if (slot->id == id && now - slot->loaded_at < AUTH_CACHE_SECONDS) {
		*out = *slot;
		return HMS_OK;
	}
	snprintf(text, sizeof(text), "%lld", (long long)id);
	err = db_exec(req->db, req->arena, &account_by_id, params, &res);
	if (err != HMS_OK)
		return err;
	memset(out, 0, sizeof(*out));
	if (PQntuples(res) != 1)
		return HMS_OK;
	out->id = id;
	out->role = (unsigned)role_parse(PQgetvalue(res, 0, 0));
	out->is_active = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	out->changed_seconds = atoll(PQgetvalue(res, 0, 2));
	out->changed_micros = atoll(PQgetvalue(res, 0, 3));
	out->loaded_at = now;
	*slot = *out;
	return HMS_OK;
}

void auth_record_failure(struct http_request *req, const char *reason, int64_t user_id)
{
	log_event(LOG_INFO, "auth_failed", "s:reason", reason, "l:user", (long long)user_id, "s:ip",
	          req->client_ip, "s:request_id", req->request_id, LOG_END);
	/* Without a database (the pipeline's unit tests) the log line is all. */
	if (req->db != NULL)
		audit_record_as(req, user_id, NULL, "auth_failed", user_id != 0 ? "user" : NULL,
		                user_id, AUDIT_FAILURE);
}

enum hms_err auth_authenticate(struct http_request *req, const char **detail)
{
	enum jwt_error jwt_err;
	struct jwt_keyring ring = jwt_keyring_from_config(req->config);
	struct jwt_claims claims;
	const char *header = req->authorization;
	const char *token;
	struct account account;
	enum hms_err err;

	memset(&req->user, 0, sizeof(req->user));
	if (header == NULL) {
		*detail = "Authentication credentials were not provided.";
		return HMS_ERR_UNAUTHORIZED;
	}
	if (strncasecmp(header, "Bearer ", 7) != 0) {
		auth_record_failure(req, "not_bearer", 0);
		*detail = "Authorization header must be: Bearer <access token>.";
		return HMS_ERR_UNAUTHORIZED;
	}
	token = header + 7;
	while (*token == ' ')
		token++;
	jwt_err = jwt_verify(&ring, req->arena, token, JWT_ACCESS, auth_now(), &claims);
	if (jwt_err != JWT_OK) {
		/* Who the token names is not known: its claims are unchecked. */
		auth_record_failure(req, jwt_error_name(jwt_err), 0);
		*detail = "Given token not valid for any token type";
		return HMS_ERR_UNAUTHORIZED;
	}

	err = load_account(req, claims.sub, &account);
	if (err != HMS_OK)
		return err;
	if (account.id == 0 || !account.is_active || account.role == ROLE_NONE) {
		auth_record_failure(req, account.id == 0 ? "no_account" : "inactive", claims.sub);
		*detail = "User is inactive or does not exist.";
		return HMS_ERR_UNAUTHORIZED;
	}
	/* A password change ends every session that began before it: exactly
	 * by the pwc claim our tokens carry; for a token without it, only one
	 * issued in a later second than the change is accepted. */
	if (claims.password_changed != 0 ? claims.password_changed != account.changed_micros
	                                 : claims.iat <= account.changed_seconds) {
		auth_record_failure(req, "password_changed", claims.sub);
		*detail = "Token was issued before the last password change.";
		return HMS_ERR_UNAUTHORIZED;
	}
	req->user.id = claims.sub;
	req->user.role = account.role;
	req->user.authenticated = true;
	return HMS_OK;
}

bool auth_is_limited_to_own(const struct http_request *req)
{
	const struct permission *perm =
	    req->route != NULL ? permission_find(req->route->permission) : NULL;

	return perm != NULL && permission_is_limited_to_own(perm, (enum role)req->user.role);
}

bool auth_owns(const struct http_request *req, int64_t owner_user_id)
{
	if (!req->user.authenticated)
		return false;
	return !auth_is_limited_to_own(req) || owner_user_id == req->user.id;
}
