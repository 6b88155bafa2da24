/*
 * users.c - staff accounts. The list, a single account and its PATCH are
 * served by crud.c from the declaration below; registration and password
 * changes have their own write path (a password is hashed, never stored or
 * returned). The password hash never leaves this file's SQL: no statement
 * that feeds a response selects it.
 */
#include "hms/users.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/backoff.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/password.h"
#include "hms/permissions.h"
#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/validate.h"

static const struct column user_columns[] = {
    {"id", "id", COL_INT},
    {"username", "username", COL_TEXT},
    {"email", "email", COL_TEXT},
    {"first_name", "first_name", COL_TEXT},
    {"last_name", "last_name", COL_TEXT},
    {"role", "role", COL_TEXT},
    {"is_active", "is_active", COL_BOOL},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {"version", "version", COL_HIDDEN},
    {NULL},
};

static const char *const role_choices[] = {"admin",        "doctor",  "nurse",
                                           "receptionist", "billing", NULL};

static const char *check_username(const char *value, struct json_object *raw)
{
	(void)raw;
	if (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.+_-") !=
	    strlen(value))
		return "Enter a valid username. This value may contain only letters, numbers, and "
		       "@/./+/-/_ characters.";
	return NULL;
}

static const char *check_password(const char *value, struct json_object *raw)
{
	(void)raw;
	if (strlen(value) > PASSWORD_MAX_BYTES)
		return "Ensure this field has no more than 1024 bytes.";
	/* Characters, not bytes: "pässwörd12" is ten characters. */
	{
		size_t chars = 0;

		for (const char *p = value; *p != '\0'; p++)
			chars += ((unsigned char)*p & 0xc0) != 0x80;
		if (chars < PASSWORD_MIN_LENGTH)
			return "This password is too short. It must contain at least 10 "
			       "characters.";
	}
	return NULL;
}

enum { F_USERNAME, F_PASSWORD, F_EMAIL, F_FIRST, F_LAST, F_ROLE };
static const struct field register_fields[] = {
    [F_USERNAME] = {"username", FIELD_STRING, .required = true, .max_len = 150,
                    .check = check_username},
    [F_PASSWORD] = {"password", FIELD_STRING, .required = true, .allow_blank = true,
                    .keep_whitespace = true, .check = check_password, .column = "password_hash"},
    [F_EMAIL] = {"email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    [F_FIRST] = {"first_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [F_LAST] = {"last_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [F_ROLE] = {"role", FIELD_CHOICE, .required = true, .choices = role_choices},
    {NULL},
};

/* PATCH /api/users/{id}/: what an admin may change. */
enum { P_EMAIL, P_FIRST, P_LAST, P_ROLE, P_ACTIVE };
static const struct field patch_fields[] = {
    [P_EMAIL] = {"email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    [P_FIRST] = {"first_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [P_LAST] = {"last_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [P_ROLE] = {"role", FIELD_CHOICE, .choices = role_choices},
    [P_ACTIVE] = {"is_active", FIELD_BOOL},
    {NULL},
};

static const struct constraint_error user_constraints[] = {
    {"users_username_key", "username", "A user with that username already exists."},
    {NULL},
};

static const struct db_stmt insert_user = {
    "users_insert",
    "INSERT INTO users (username, password_hash, email, first_name, last_name, role) "
    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING " DB_COLUMNS,
    6, user_columns};
static const struct db_stmt hash_by_id = {
    "users_hash_by_id", "SELECT password_hash, lower(username) FROM users WHERE id = $1", 1};
static const struct db_stmt set_password = {
    "users_set_password",
    "UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() "
    "WHERE id = $1",
    2};
/* A rehash keeps password_changed_at: the password is the same, so its
 * sessions go on. Only if the hash is still the one verified. */
static const struct db_stmt rehash_password = {
    "users_rehash_password",
    "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2", 3};
static const struct db_stmt revoke_user_tokens = {
    "users_revoke_tokens",
    "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", 1};

static const struct db_stmt admin_exists = {
    "users_admin_exists", "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND is_active)",
    0};

enum hms_err users_insert(struct db *db, struct arena *arena, const char *username,
                          const char *password_hash, const char *email, const char *first_name,
                          const char *last_name, const char *role, PGresult **out)
{
	const char *params[6] = {username, password_hash, email, first_name, last_name, role};

	return db_exec(db, arena, &insert_user, params, out);
}

enum hms_err users_rehash_password(struct db *db, struct arena *arena, int64_t id,
                                   const char *old_hash, const char *new_hash)
{
	const char *params[3] = {arena_printf(arena, "%lld", (long long)id), old_hash, new_hash};
	PGresult *ignored;

	return db_exec(db, arena, &rehash_password, params, &ignored);
}

enum hms_err users_admin_exists(struct db *db, struct arena *arena, bool *exists)
{
	PGresult *res;
	enum hms_err err = db_exec(db, arena, &admin_exists, NULL, &res);

	*exists = err == HMS_OK && PQgetvalue(res, 0, 0)[0] == 't';
	return err;
}

void users_register(struct http_request *req, struct http_response *res)
{
	struct password_cost cost = password_cost_from_config(req->config);
	struct validated v;
	struct json_object *errors;
	char hash[PASSWORD_HASH_MAX];
	const char **params;
	const char *sql;
	PGresult *result = NULL;
	int n;
	enum hms_err err;

	errors = validate_body(req->arena, register_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	if (password_hash(&cost, v.values[F_PASSWORD], hash) != 0) {
		http_respond_error(res, HMS_ERR_INTERNAL, NULL);
		return;
	}
	v.values[F_PASSWORD] = hash; /* stored as password_hash, never as given */
	sql = crud_insert_sql(req, "users", register_fields, &v, user_columns, &params, &n);
	err = sql == NULL ? HMS_ERR_NOMEM : db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &result);
	if (crud_commit(req, res, err, result, user_constraints, "create", "user",
	                err == HMS_OK ? atoll(PQgetvalue(result, 0, 0)) : 0))
		crud_respond_row(req, res, 201, user_columns, result);
}

void users_me(struct http_request *req, struct http_response *res)
{
	crud_respond_object(req, res, &users_resource, req->user.id);
}

void users_change_password(struct http_request *req, struct http_response *res)
{
	static const struct field fields[] = {
	    {"old_password", FIELD_STRING, .required = true, .allow_blank = true,
	     .keep_whitespace = true, .max_len = PASSWORD_MAX_BYTES},
	    {"new_password", FIELD_STRING, .required = true, .allow_blank = true,
	     .keep_whitespace = true, .check = check_password},
	    {NULL},
	};
	struct password_cost cost = password_cost_from_config(req->config);
	char hash[PASSWORD_HASH_MAX];
	const char *params[2] = {arena_printf(req->arena, "%lld", (long long)req->user.id), hash};
	struct json_object *errors;
	struct validated v;
	PGresult *result;
	enum hms_err err;
	const char *key;
	long wait;

	errors = validate_body(req->arena, fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	err = db_exec(req->db, req->arena, &hash_by_id, params, &result);
	if (err == HMS_OK && PQntuples(result) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	/* The old password is a guess like a login's: the same back-off, so a
	 * stolen access token is no oracle for it. */
	key = arena_strdup(req->arena, PQgetvalue(result, 0, 1));
	err = backoff_check(req, key, &wait);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (wait > 0) {
		audit_record(req, "password_change", "user", req->user.id, AUDIT_DENIED);
		backoff_respond(req, res, wait);
		return;
	}
	if (!password_verify(PQgetvalue(result, 0, 0), v.values[0])) {
		backoff_failure(req, key);
		audit_record(req, "password_change", "user", req->user.id, AUDIT_FAILURE);
		http_respond_field_error(res, "old_password",
		                         "Your old password was entered incorrectly.");
		return;
	}
	if (password_hash(&cost, v.values[1], hash) != 0) {
		http_respond_error(res, HMS_ERR_INTERNAL, NULL);
		return;
	}
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &set_password, params, &result);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &revoke_user_tokens, params, &result);
	if (err == HMS_OK)
		err = backoff_success(req, key);
	if (crud_commit(req, res, err, result, NULL, "password_change", "user", req->user.id))
		res->status = 204;
}

static const struct list_filter user_filters[] = {
    {{"role", FIELD_CHOICE, .choices = role_choices}, "role = $?"},
    {{"is_active", FIELD_BOOL}, "is_active = $?::boolean"},
    {{"username", FIELD_STRING, LIST_TEXT_FILTER}, "lower(username) = lower($?)"},
    {{NULL}},
};

static const struct list_ordering user_orderings[] = {
    {"id", "id"},
    {"username", "lower(username)"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

static const struct list_spec user_list = {
    .columns = user_columns,
    .from = "users",
    .filters = user_filters,
    .orderings = user_orderings,
    .default_order = "id ASC",
    .tiebreak = "id",
};

static bool is_false(const struct validated *v, size_t field)
{
	return v->present[field] && strcmp(v->values[field], "false") == 0;
}

/* An admin cannot lock themselves out (or leave no admin). */
static bool user_before_write(struct http_request *req, struct http_response *res,
                              struct crud_write *w)
{
	(void)res;
	if (req->ids[0] != req->user.id)
		return true;
	if (is_false(&w->v, P_ACTIVE))
		validate_add_error(&w->errors, "is_active",
		                   "You cannot deactivate your own account.");
	if (w->v.present[P_ROLE] && strcmp(w->v.values[P_ROLE], "admin") != 0)
		validate_add_error(&w->errors, "role", "You cannot change your own role.");
	return true;
}

/* A locked account's sessions end now, not when they expire. */
static enum hms_err user_after_write(struct http_request *req, struct crud_write *w)
{
	const char *params[1] = {PQgetvalue(w->row, 0, 0)};
	PGresult *ignored;

	if (!is_false(&w->v, P_ACTIVE))
		return HMS_OK;
	return db_exec(req->db, req->arena, &revoke_user_tokens, params, &ignored);
}

const struct resource users_resource = {
    .table = "users",
    .entity = "user",
    .columns = user_columns,
    .fields = patch_fields,
    .constraints = user_constraints,
    .list = &user_list,
    .before_write = user_before_write,
    .after_write = user_after_write,
};
