/*
 * users.h - staff accounts: register (admin), me, own password, and the
 * admin's list/get/patch of users. Also used by hmsctl create-admin.
 */
#ifndef HMS_USERS_H
#define HMS_USERS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "hms/err.h"

struct arena;
struct db;
struct http_request;
struct http_response;
struct json_object;
struct resource;

void users_register(struct http_request *req, struct http_response *res);
void users_me(struct http_request *req, struct http_response *res);
void users_change_password(struct http_request *req, struct http_response *res);
/* GET /api/users/, GET/PATCH /api/users/{id}/ (crud.h). */
extern const struct resource users_resource;

/* Inserts an account (password already hashed). On HMS_OK *out holds the
 * new row (the API's user columns); a taken username is HMS_ERR_BAD_REQUEST
 * with SQLSTATE 23505 in *out. */
enum hms_err users_insert(struct db *db, struct arena *arena, const char *username,
                          const char *password_hash, const char *email, const char *first_name,
                          const char *last_name, const char *role, PGresult **out);

/* True when an active admin account exists. */
/* Replaces account id's password hash old_hash (as verified) with
 * new_hash, the same password at the configured cost; a hash changed in
 * the meantime is left alone. */
enum hms_err users_rehash_password(struct db *db, struct arena *arena, int64_t id,
                                   const char *old_hash, const char *new_hash);

enum hms_err users_admin_exists(struct db *db, struct arena *arena, bool *exists);

#endif
