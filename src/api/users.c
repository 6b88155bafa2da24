/*
 * users.c - staff accounts. The password hash never leaves this file's SQL:
 * no statement that feeds a response selects it.
 */
#include "hms/users.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/password.h"
#include "hms/permissions.h"
#include "hms/resource.h"
#include "hms/validate.h"

#define USERS_COLUMNS                                                                              \
	"id, username, email, first_name, last_name, role, is_active, " SQL_UTC(                   \
	    "created_at") ", " SQL_UTC("updated_at")

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
                    .keep_whitespace = true, .check = check_password},
    [F_EMAIL] = {"email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    [F_FIRST] = {"first_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [F_LAST] = {"last_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [F_ROLE] = {"role", FIELD_CHOICE, .required = true, .choices = role_choices},
    {NULL},
};

/* PATCH /api/users/{id}/: the columns an admin may change. The names are
 * the column names, so the UPDATE is built from this table only. */
enum { P_EMAIL, P_FIRST, P_LAST, P_ROLE, P_ACTIVE };
static const struct field patch_fields[] = {
    [P_EMAIL] = {"email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    [P_FIRST] = {"first_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [P_LAST] = {"last_name", FIELD_STRING, .allow_blank = true, .max_len = 150},
    [P_ROLE] = {"role", FIELD_CHOICE, .choices = role_choices},
    [P_ACTIVE] = {"is_active", FIELD_BOOL},
    {NULL},
};

static const struct db_stmt insert_user = {
    "users_insert",
    "INSERT INTO users (username, password_hash, email, first_name, last_name, role) "
    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING " USERS_COLUMNS,
    6};
static const struct db_stmt user_by_id = {"users_by_id",
                                          "SELECT " USERS_COLUMNS " FROM users WHERE id = $1", 1};
static const struct db_stmt hash_by_id = {"users_hash_by_id",
                                          "SELECT password_hash FROM users WHERE id = $1", 1};
static const struct db_stmt set_password = {
    "users_set_password",
    "UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() "
    "WHERE id = $1",
    2};
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

enum hms_err users_admin_exists(struct db *db, struct arena *arena, bool *exists)
{
	PGresult *res;
	enum hms_err err = db_exec(db, arena, &admin_exists, NULL, &res);

	*exists = err == HMS_OK && PQgetvalue(res, 0, 0)[0] == 't';
	return err;
}

struct json_object *users_row_json(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(atoll(PQgetvalue(res, row, 0))));
	json_object_object_add(o, "username", json_object_new_string(PQgetvalue(res, row, 1)));
	json_object_object_add(o, "email", json_object_new_string(PQgetvalue(res, row, 2)));
	json_object_object_add(o, "first_name", json_object_new_string(PQgetvalue(res, row, 3)));
	json_object_object_add(o, "last_name", json_object_new_string(PQgetvalue(res, row, 4)));
	json_object_object_add(o, "role", json_object_new_string(PQgetvalue(res, row, 5)));
	json_object_object_add(o, "is_active",
	                       json_object_new_boolean(PQgetvalue(res, row, 6)[0] == 't'));
	json_object_object_add(o, "created_at", json_object_new_string(PQgetvalue(res, row, 7)));
	json_object_object_add(o, "updated_at", json_object_new_string(PQgetvalue(res, row, 8)));
	return o;
}

static struct password_cost cost_of(const struct http_request *req)
{
	struct password_cost cost = {(unsigned)req->config->password_memory_kib,
	                             (unsigned)req->config->password_iterations,
	                             (unsigned)req->config->password_parallelism};

	return cost;
}

static void respond_single_error(struct http_response *res, const char *field, const char *message)
{
	struct json_object *errors = NULL;

	validate_add_error(&errors, field, message);
	http_respond_field_errors(res, errors);
}

void users_register(struct http_request *req, struct http_response *res)
{
	struct password_cost cost = cost_of(req);
	struct validated v;
	struct json_object *errors;
	char hash[PASSWORD_HASH_MAX];
	PGresult *result = NULL;
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
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = users_insert(req->db, req->arena, v.values[F_USERNAME], hash,
		                   v.values[F_EMAIL] != NULL ? v.values[F_EMAIL] : "",
		                   v.values[F_FIRST] != NULL ? v.values[F_FIRST] : "",
		                   v.values[F_LAST] != NULL ? v.values[F_LAST] : "",
		                   v.values[F_ROLE], &result);
	if (err == HMS_ERR_BAD_REQUEST && db_result_is(result, "23505")) {
		db_rollback(req->db);
		respond_single_error(res, "username", "A user with that username already exists.");
		return;
	}
	if (!resource_commit(req, res, err, "create", "user",
	                     err == HMS_OK ? atoll(PQgetvalue(result, 0, 0)) : 0))
		return;
	http_respond_json(res, 201, users_row_json(result, 0));
}

static void respond_user(struct http_request *req, struct http_response *res, int64_t id)
{
	char text[24];
	const char *params[1] = {text};
	PGresult *result;
	enum hms_err err;

	snprintf(text, sizeof(text), "%lld", (long long)id);
	err = db_exec(req->db, req->arena, &user_by_id, params, &result);
	if (err == HMS_OK && PQntuples(result) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	http_respond_json(res, 200, users_row_json(result, 0));
}

void users_me(struct http_request *req, struct http_response *res)
{
	respond_user(req, res, req->user.id);
}

void users_get(struct http_request *req, struct http_response *res)
{
	respond_user(req, res, req->ids[0]);
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
	struct password_cost cost = cost_of(req);
	char id[24], hash[PASSWORD_HASH_MAX];
	const char *params[2] = {id, hash};
	struct json_object *errors;
	struct validated v;
	PGresult *result;
	enum hms_err err;

	errors = validate_body(req->arena, fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)req->user.id);
	err = db_exec(req->db, req->arena, &hash_by_id, params, &result);
	if (err == HMS_OK && PQntuples(result) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (!password_verify(PQgetvalue(result, 0, 0), v.values[0])) {
		audit_record(req, "password_change", "user", req->user.id, AUDIT_FAILURE);
		respond_single_error(res, "old_password",
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
	if (!resource_commit(req, res, err, "password_change", "user", req->user.id))
		return;
	res->status = 204;
}

static const struct list_filter user_filters[] = {
    {"role", LIST_CHOICE, "role = $?", role_choices},
    {"is_active", LIST_BOOL, "is_active = $?::boolean", NULL},
    {"username", LIST_TEXT, "lower(username) = lower($?)", NULL},
    {NULL, LIST_TEXT, NULL, NULL},
};

static const struct list_ordering user_orderings[] = {
    {"id", "id"},
    {"username", "lower(username)"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

static const struct list_spec users_spec = {
    .columns = USERS_COLUMNS,
    .from = "users",
    .filters = user_filters,
    .orderings = user_orderings,
    .default_order = "id ASC",
    .tiebreak = "id",
    .row = users_row_json,
};

void users_list(struct http_request *req, struct http_response *res)
{
	list_respond(req, res, &users_spec, NULL, 0);
}

void users_patch(struct http_request *req, struct http_response *res)
{
	struct validated v;
	struct json_object *errors;
	const char *params[8];
	char id[24];
	char *sql;
	int n = 1;
	bool deactivating = false;
	PGresult *result;
	enum hms_err err;

	errors = validate_body(req->arena, patch_fields, req->json, VALIDATE_UPDATE, &v);
	if (errors == NULL && req->ids[0] == req->user.id) {
		/* An admin cannot lock themselves out (or leave no admin). */
		if (v.present[P_ACTIVE] && strcmp(v.values[P_ACTIVE], "false") == 0)
			validate_add_error(&errors, "is_active",
			                   "You cannot deactivate your own account.");
		if (v.present[P_ROLE] && strcmp(v.values[P_ROLE], "admin") != 0)
			validate_add_error(&errors, "role", "You cannot change your own role.");
	}
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	params[0] = id;
	sql = arena_strdup(req->arena, "UPDATE users SET updated_at = now()");
	for (size_t i = 0; i < v.count && sql != NULL; i++) {
		if (!v.present[i])
			continue;
		params[n++] = v.values[i];
		sql = arena_printf(req->arena, "%s, %s = $%d%s", sql, patch_fields[i].name, n,
		                   patch_fields[i].type == FIELD_BOOL ? "::boolean" : "");
	}
	if (sql == NULL) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return;
	}
	sql = arena_printf(req->arena, "%s WHERE id = $1 RETURNING " USERS_COLUMNS, sql);
	deactivating = v.present[P_ACTIVE] && strcmp(v.values[P_ACTIVE], "false") == 0;

	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &result);
	if (err == HMS_OK && PQntuples(result) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err == HMS_OK && deactivating) {
		/* A locked account's sessions end now, not when they expire. */
		PGresult *ignored;

		err = db_exec(req->db, req->arena, &revoke_user_tokens, params, &ignored);
	}
	if (!resource_commit(req, res, err, "update", "user", req->ids[0]))
		return;
	http_respond_json(res, 200, users_row_json(result, 0));
}
