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

#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/jwt.h"
#include "hms/permissions.h"
#include "hms/router.h"

static const struct db_stmt account_by_id = {
    "auth_account",
    "SELECT role, is_active, floor(extract(epoch FROM password_changed_at))::bigint, "
    "(extract(epoch FROM password_changed_at) * 1000000)::bigint FROM users WHERE id = $1",
    1};

int64_t auth_now(void)
{
	return (int64_t)time(NULL);
}

enum hms_err auth_authenticate(struct http_request *req, const char **detail)
{
	struct jwt_keyring ring = jwt_keyring_from_config(req->config);
	struct jwt_claims claims;
	const char *header = req->authorization;
	const char *token;
	char id[24];
	const char *params[1] = {id};
	PGresult *res;
	enum hms_err err;

	memset(&req->user, 0, sizeof(req->user));
	if (header == NULL) {
		*detail = "Authentication credentials were not provided.";
		return HMS_ERR_UNAUTHORIZED;
	}
	if (strncasecmp(header, "Bearer ", 7) != 0) {
		*detail = "Authorization header must be: Bearer <access token>.";
		return HMS_ERR_UNAUTHORIZED;
	}
	token = header + 7;
	while (*token == ' ')
		token++;
	if (jwt_verify(&ring, req->arena, token, JWT_ACCESS, auth_now(), &claims) != JWT_OK) {
		*detail = "Given token not valid for any token type";
		return HMS_ERR_UNAUTHORIZED;
	}

	snprintf(id, sizeof(id), "%lld", (long long)claims.sub);
	err = db_exec(req->db, req->arena, &account_by_id, params, &res);
	if (err != HMS_OK)
		return err;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		*detail = "User is inactive or does not exist.";
		return HMS_ERR_UNAUTHORIZED;
	}
	/* A password change ends every session that began before it: exactly
	 * by the pwc claim our tokens carry; for a token without it, only one
	 * issued in a later second than the change is accepted. */
	if (claims.password_changed != 0 ? claims.password_changed != atoll(PQgetvalue(res, 0, 3))
	                                 : claims.iat <= atoll(PQgetvalue(res, 0, 2))) {
		*detail = "Token was issued before the last password change.";
		return HMS_ERR_UNAUTHORIZED;
	}
	req->user.id = claims.sub;
	req->user.role = (unsigned)role_parse(PQgetvalue(res, 0, 0));
	req->user.authenticated = req->user.role != ROLE_NONE;
	if (!req->user.authenticated) {
		*detail = "User is inactive or does not exist.";
		return HMS_ERR_UNAUTHORIZED;
	}
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
