/*
 * patients.c - /api/patients/: field table, SQL, handlers.
 *
 * Deleted patients stay in the table (records and invoices refer to them)
 * and keep their medical record number; they are invisible to everyone but
 * an admin who asks with include_deleted=true.
 */
#include "hms/patients.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/permissions.h"
#include "hms/resource.h"
#include "hms/validate.h"

#define PATIENT_COLUMNS                                                                            \
	"id, medical_record_number, first_name, last_name, "                                       \
	"to_char(date_of_birth, 'YYYY-MM-DD'), gender, contact_phone, contact_email, address, "    \
	"emergency_contact, blood_type, allergies, is_deleted, " SQL_UTC(                          \
	    "created_at") ", " SQL_UTC("updated_at") ", version"

enum {
	C_ID,
	C_MRN,
	C_FIRST,
	C_LAST,
	C_DOB,
	C_GENDER,
	C_PHONE,
	C_EMAIL,
	C_ADDRESS,
	C_EMERGENCY,
	C_BLOOD,
	C_ALLERGIES,
	C_DELETED,
	C_CREATED,
	C_UPDATED,
	C_VERSION
};

static const char *const genders[] = {"male", "female", "other", "unknown", NULL};
static const char *const blood_types[] = {"",    "A+",  "A-", "B+", "B-",
                                          "AB+", "AB-", "O+", "O-", NULL};

/* Not after today in the hospital's time zone (the worker runs with TZ set
 * to it), and not before 1900. */
static const char *check_birth_date(const char *value, struct json_object *raw)
{
	time_t now = time(NULL);
	struct tm tm;
	char today[16];

	(void)raw;
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	if (strcmp(value, today) > 0)
		return "Date of birth cannot be in the future.";
	if (strcmp(value, "1900-01-01") < 0)
		return "Date of birth must be after 1900-01-01.";
	return NULL;
}

enum {
	F_FIRST,
	F_LAST,
	F_DOB,
	F_GENDER,
	F_PHONE,
	F_EMAIL,
	F_ADDRESS,
	F_EMERGENCY,
	F_BLOOD,
	F_ALLERGIES
};
static const struct field patient_fields[] = {
    [F_FIRST] = {"first_name", FIELD_STRING, .required = true, .max_len = 100},
    [F_LAST] = {"last_name", FIELD_STRING, .required = true, .max_len = 100},
    [F_DOB] = {"date_of_birth", FIELD_DATE, .required = true, .check = check_birth_date},
    [F_GENDER] = {"gender", FIELD_CHOICE, .required = true, .choices = genders},
    [F_PHONE] = {"contact_phone", FIELD_STRING, .allow_blank = true, .max_len = 32,
                 .check = validate_check_phone},
    [F_EMAIL] = {"contact_email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    [F_ADDRESS] = {"address", FIELD_STRING, .allow_blank = true, .max_len = 500},
    [F_EMERGENCY] = {"emergency_contact", FIELD_STRING, .allow_blank = true, .max_len = 200},
    [F_BLOOD] = {"blood_type", FIELD_CHOICE, .choices = blood_types},
    [F_ALLERGIES] = {"allergies", FIELD_STRING, .allow_blank = true, .max_len = 2000},
    {NULL},
};

static struct json_object *patient_json(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();
	static const struct {
		const char *name;
		int column;
	} text[] = {
	    {"medical_record_number", C_MRN},
	    {"first_name", C_FIRST},
	    {"last_name", C_LAST},
	    {"date_of_birth", C_DOB},
	    {"gender", C_GENDER},
	    {"contact_phone", C_PHONE},
	    {"contact_email", C_EMAIL},
	    {"address", C_ADDRESS},
	    {"emergency_contact", C_EMERGENCY},
	    {"blood_type", C_BLOOD},
	    {"allergies", C_ALLERGIES},
	};

	json_object_object_add(o, "id", json_object_new_int64(atoll(PQgetvalue(res, row, C_ID))));
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		json_object_object_add(
		    o, text[i].name, json_object_new_string(PQgetvalue(res, row, text[i].column)));
	json_object_object_add(o, "is_deleted",
	                       json_object_new_boolean(PQgetvalue(res, row, C_DELETED)[0] == 't'));
	json_object_object_add(o, "created_at",
	                       json_object_new_string(PQgetvalue(res, row, C_CREATED)));
	json_object_object_add(o, "updated_at",
	                       json_object_new_string(PQgetvalue(res, row, C_UPDATED)));
	return o;
}

/* Answers one patient row with its ETag. */
static void respond_patient(struct http_request *req, struct http_response *res, int status,
                            const PGresult *result)
{
	resource_set_etag(req, res, atoll(PQgetvalue(result, 0, C_ID)),
	                  PQgetvalue(result, 0, C_VERSION));
	http_respond_json(res, status, patient_json(result, 0));
}

/* include_deleted=true: admins only; anyone else asking is refused. */
static bool wants_deleted(struct http_request *req, struct http_response *res, bool *refused)
{
	const char *flag = http_request_param(req, "include_deleted");
	bool wanted = flag != NULL && (strcmp(flag, "true") == 0 || strcmp(flag, "1") == 0);

	*refused = false;
	if (wanted && req->user.role != ROLE_ADMIN) {
		audit_record(req, "denied", "patient", req->id_count > 0 ? req->ids[0] : 0,
		             AUDIT_DENIED);
		http_respond_error(res, HMS_ERR_FORBIDDEN,
		                   "Only an admin may see deleted patients.");
		*refused = true;
	}
	return wanted;
}

static const struct list_filter patient_filters[] = {
    {"gender", LIST_CHOICE, "gender = $?", genders},
    {"date_of_birth", LIST_DATE, "date_of_birth = $?::date", NULL},
    {"born_after", LIST_DATE, "date_of_birth >= $?::date", NULL},
    {"born_before", LIST_DATE, "date_of_birth <= $?::date", NULL},
    {NULL, LIST_TEXT, NULL, NULL},
};

static const struct list_ordering patient_orderings[] = {
    {"last_name", "last_name"},
    {"first_name", "first_name"},
    {"date_of_birth", "date_of_birth"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

/* Each word: a name by word prefix, or a whole MRN or email; a word of
 * punctuation alone (no lexeme) constrains nothing. The whole text: a phone
 * number (which may contain spaces). */
#define PATIENT_SEARCH_WORD                                                                        \
	"hms_prefix_query($?) IS NULL OR search_vector @@ hms_prefix_query($?) OR "                \
	"medical_record_number = upper($?) OR "                                                    \
	"(contact_email <> '' AND lower(contact_email) = lower($?))"
#define PATIENT_SEARCH_WHOLE "contact_phone <> '' AND contact_phone = $?"

void patients_list(struct http_request *req, struct http_response *res)
{
	struct list_spec spec = {
	    .columns = PATIENT_COLUMNS,
	    .from = "patients",
	    .where = "NOT is_deleted",
	    .filters = patient_filters,
	    .orderings = patient_orderings,
	    .search_word = PATIENT_SEARCH_WORD,
	    .search = PATIENT_SEARCH_WHOLE,
	    .default_order = "last_name ASC, first_name ASC",
	    .unfiltered_count = "SELECT live FROM patient_counts",
	    .tiebreak = "id",
	    .row = patient_json,
	};
	bool refused;

	if (wants_deleted(req, res, &refused)) {
		spec.where = NULL;
		spec.unfiltered_count = NULL; /* the counter counts live patients */
	}
	if (refused)
		return;
	list_respond(req, res, &spec, NULL, 0);
}

/* Ends a write: audit row, commit, answer the row; rolls back on error. */
static void finish_write(struct http_request *req, struct http_response *res, enum hms_err err,
                         const PGresult *row, const char *action, int status)
{
	if (!resource_commit(req, res, err, action, "patient",
	                     err == HMS_OK ? atoll(PQgetvalue(row, 0, C_ID)) : 0))
		return;
	if (status == 204)
		res->status = 204;
	else
		respond_patient(req, res, status, row);
}

void patients_create(struct http_request *req, struct http_response *res)
{
	struct validated v;
	struct json_object *errors;
	const char *params[32];
	int n;
	char *sql;
	PGresult *row = NULL;
	enum hms_err err;

	errors = validate_body(req->arena, patient_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	sql = resource_insert_sql(req, "patients", patient_fields, &v, PATIENT_COLUMNS, params, &n);
	if (sql == NULL) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return;
	}
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	finish_write(req, res, err, row, "create", 201);
}

static const struct db_stmt patient_by_id = {
    "patients_by_id",
    "SELECT " PATIENT_COLUMNS " FROM patients WHERE id = $1 AND (NOT is_deleted OR $2::boolean)",
    2};

void patients_get(struct http_request *req, struct http_response *res)
{
	char id[24];
	const char *params[2] = {id, "false"};
	PGresult *row;
	enum hms_err err;
	bool refused;

	if (wants_deleted(req, res, &refused))
		params[1] = "true";
	if (refused)
		return;
	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_exec(req->db, req->arena, &patient_by_id, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	/* No PHI leaves without its audit row committed. */
	if (err == HMS_OK)
		err = audit_record(req, "read", "patient", req->ids[0], AUDIT_SUCCESS);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_patient(req, res, 200, row);
}

#define PATIENT_EXISTS "SELECT 1 FROM patients WHERE id = $1 AND NOT is_deleted"

static void write_patient(struct http_request *req, struct http_response *res,
                          enum validate_mode mode)
{
	struct validated v;
	struct json_object *errors;
	const char *params[32];
	const char *version;
	int n;
	char *sql;
	PGresult *row = NULL;
	enum hms_err err;

	err = resource_expected_version(req, req->ids[0], &version);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	errors = validate_body(req->arena, patient_fields, req->json, mode, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	sql = resource_update_sql(req, "patients", patient_fields, &v, version, "NOT is_deleted",
	                          PATIENT_COLUMNS, params, &n);
	if (sql == NULL) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return;
	}
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = resource_missing_or_changed(req, PATIENT_EXISTS);
	finish_write(req, res, err, row, "update", 200);
}

void patients_replace(struct http_request *req, struct http_response *res)
{
	write_patient(req, res, VALIDATE_REPLACE);
}

void patients_update(struct http_request *req, struct http_response *res)
{
	write_patient(req, res, VALIDATE_UPDATE);
}

static const struct db_stmt soft_delete = {
    "patients_soft_delete",
    "UPDATE patients SET is_deleted = true, deleted_at = now(), version = version + 1, "
    "updated_at = now() WHERE id = $1 AND NOT is_deleted RETURNING " PATIENT_COLUMNS,
    1};
static const struct db_stmt restore = {
    "patients_restore",
    "UPDATE patients SET is_deleted = false, deleted_at = NULL, version = version + 1, "
    "updated_at = now() WHERE id = $1 AND is_deleted RETURNING " PATIENT_COLUMNS,
    1};
static const struct db_stmt exists_any = {"patients_exists_any",
                                          "SELECT is_deleted FROM patients WHERE id = $1", 1};

void patients_delete(struct http_request *req, struct http_response *res)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *row = NULL;
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &soft_delete, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	finish_write(req, res, err, row, "delete", 204);
}

void patients_restore(struct http_request *req, struct http_response *res)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *row = NULL, *check;
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &restore, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1) {
		err = db_exec(req->db, req->arena, &exists_any, params, &check);
		if (err == HMS_OK) {
			db_rollback(req->db);
			if (PQntuples(check) == 1)
				http_respond_error(res, HMS_ERR_CONFLICT,
				                   "The patient is not deleted.");
			else
				http_respond_error(res, HMS_ERR_NOT_FOUND, NULL);
			return;
		}
	}
	finish_write(req, res, err, row, "restore", 200);
}
