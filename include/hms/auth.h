/*
 * auth.h - who is calling: the bearer token checked, the account looked up.
 *
 * Every authenticated request checks the account behind the token: its
 * role, whether it is active, and when its password last changed, so a
 * deactivation, a role change or a password change takes effect at once
 * rather than when the access token expires. The worker caches these facts
 * for up to AUTH_CACHE_SECONDS and evicts an entry the moment PostgreSQL
 * announces a change (schema/004_account_changes.sql, LISTEN/NOTIFY), so
 * most requests need no query for it.
 */
#ifndef HMS_AUTH_H
#define HMS_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "hms/err.h"

struct http_request;
struct db;

#define AUTH_CACHE_SECONDS 60

/* Subscribes the worker's connection to account changes. */
void auth_init(struct db *db);

/* Authenticates req from its Authorization header and fills req->user.
 * HMS_ERR_UNAUTHORIZED with *detail for the client when it cannot. */
enum hms_err auth_authenticate(struct http_request *req, const char **detail);

/* A credential that was presented and refused (reason: a short name such
 * as "expired" or "bad_signature"; never the token): logged at info and
 * audited as auth_failed, with the account when the token proved it
 * (user_id 0 when it did not). */
void auth_record_failure(struct http_request *req, const char *reason, int64_t user_id);

/* True when the caller may act on a record owned by owner_user_id under
 * the route's permission: always, unless the table limits the caller's
 * role to its own records, in which case only its own. */
bool auth_owns(const struct http_request *req, int64_t owner_user_id);

/* True when the caller's role is limited to its own records on this route. */
bool auth_is_limited_to_own(const struct http_request *req);

/* Current Unix time in seconds. */
int64_t auth_now(void);

#endif
