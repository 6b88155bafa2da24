/*
 * auth.h - who is calling: the bearer token checked, the account looked up.
 *
 * Every authenticated request reads the account's row (one prepared
 * statement), so a deactivated account, a changed role or a changed
 * password takes effect at once rather than when the access token expires.
 */
#ifndef HMS_AUTH_H
#define HMS_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "hms/err.h"

struct http_request;

/* Authenticates req from its Authorization header and fills req->user.
 * HMS_ERR_UNAUTHORIZED with *detail for the client when it cannot. */
enum hms_err auth_authenticate(struct http_request *req, const char **detail);

/* True when the caller may act on a record owned by owner_user_id under
 * the route's permission: always, unless the table limits the caller's
 * role to its own records, in which case only its own. */
bool auth_owns(const struct http_request *req, int64_t owner_user_id);

/* True when the caller's role is limited to its own records on this route. */
bool auth_is_limited_to_own(const struct http_request *req);

/* Current Unix time in seconds. */
int64_t auth_now(void);

#endif
