/*
 * records.c - medical records: /api/patients/{id}/records/,
 * /api/records/{id}/ and /api/records/{id}/history/.
 *
 * A record is a declaration served by crud.c; what is its own:
 *
 * - it lives under a patient: the patient comes from the path, the author
 *   (and the writer of each version) from the token, and a patient that is
 *   unknown or soft-deleted hides its records from everyone but an admin
 *   asking with include_deleted=true, as the patient itself is hidden;
 * - only its author may change it (the role table limits doctors and
 *   nurses to their own records and lets no admin write one);
 * - every update keeps the version it replaces: PostgreSQL copies it into
 *   medical_record_versions (schema/011_medical_records.sql), which
 *   /history/ pages through newest first;
 * - records are never deleted: there is no DELETE route, so the router
 *   answers 405 with Allow.
 *
 * The vitals are one nested object in the API and typed columns in the
 * table (FIELD_OBJECT); their bounds are in docs/clinical_bounds.md and
 * are checked twice: here, for a field error naming the member, and by
 * the table's CHECK constraints, which no write path can skip.
 */
#include "hms/records.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/attachments.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/validate.h"

/* The vitals as the API shows them: always an object, null members when
 * not measured. */
#define VITALS_JSON                                                                                \
	"json_build_object('temperature_c', temperature_c, 'pulse_bpm', pulse_bpm, "               \
	"'bp_systolic', bp_systolic, 'bp_diastolic', bp_diastolic, 'resp_rate', resp_rate, "       \
	"'spo2', spo2)"

/* The record's attachments' metadata, oldest first ([] when none). */
#define ATTACHMENTS_JSON                                                                           \
	"(SELECT coalesce(json_agg(" ATTACHMENT_JSON_SQL " ORDER BY a.id), '[]'::json) "           \
	"FROM attachments a WHERE a.record_id = medical_records.id)"

static const struct column record_columns[] = {
    {"id", "id", COL_INT},
    {"patient", "patient_id", COL_INT},
    {"author", "author_id", COL_INT},
    {"appointment", "appointment_id", COL_INT},
    {"record_type", "record_type", COL_TEXT},
    {"title", "title", COL_TEXT},
    {"diagnosis", "diagnosis", COL_TEXT},
    {"notes", "notes", COL_TEXT},
    {"prescriptions", "prescriptions", COL_TEXT},
    {"vitals", VITALS_JSON, COL_JSON},
    {"attachments", ATTACHMENTS_JSON, COL_JSON},
    {"version", "version", COL_INT},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {NULL},
};

static const char *const record_types[] = {
    "consultation", "diagnosis", "prescription", "lab_result", "vitals", "note", NULL};

/* Physiologically possible values (docs/clinical_bounds.md), the same as
 * the table's CHECK constraints. */
static const struct field vitals_fields[] = {
    {"temperature_c", FIELD_DECIMAL, .nullable = true, .min = 25, .max = 45, .decimal_places = 1},
    {"pulse_bpm", FIELD_INT, .nullable = true, .min = 20, .max = 300},
    {"bp_systolic", FIELD_INT, .nullable = true, .min = 40, .max = 300},
    {"bp_diastolic", FIELD_INT, .nullable = true, .min = 20, .max = 200},
    {"resp_rate", FIELD_INT, .nullable = true, .min = 2, .max = 80},
    {"spo2", FIELD_INT, .nullable = true, .min = 50, .max = 100},
    {NULL},
};

/* Both pressures given: systolic above diastolic. (A PATCH of one of them
 * is checked against the stored other by the table's constraint.) */
static const char *check_vitals(const char *value, struct json_object *raw)
{
	struct json_object *sys, *dia;

	(void)value;
	if (json_object_object_get_ex(raw, "bp_systolic", &sys) && sys != NULL &&
	    json_object_object_get_ex(raw, "bp_diastolic", &dia) && dia != NULL &&
	    json_object_get_int64(sys) <= json_object_get_int64(dia))
		return "bp_systolic must be greater than bp_diastolic.";
	return NULL;
}

enum { F_PATIENT, F_AUTHOR, F_UPDATED_BY };
static const struct field record_fields[] = {
    /* Read-only: set by before_write, never taken from the client. */
    [F_PATIENT] = {"patient", FIELD_ID, .read_only = true, .column = "patient_id"},
    [F_AUTHOR] = {"author", FIELD_ID, .read_only = true, .column = "author_id"},
    [F_UPDATED_BY] = {"updated_by", FIELD_ID, .read_only = true},
    {"appointment", FIELD_ID, .nullable = true, .column = "appointment_id"},
    {"record_type", FIELD_CHOICE, .required = true, .choices = record_types},
    {"title", FIELD_STRING, .required = true, .max_len = 200},
    {"diagnosis", FIELD_STRING, .allow_blank = true, .max_len = 10000},
    {"notes", FIELD_STRING, .allow_blank = true, .max_len = 10000},
    {"prescriptions", FIELD_STRING, .allow_blank = true, .max_len = 10000},
    {"vitals", FIELD_OBJECT, .nullable = true, .fields = vitals_fields, .check = check_vitals},
    {NULL},
};

#define OUT_OF_BOUNDS "A vital sign is outside its physiological bounds."
static const struct constraint_error record_constraints[] = {
    {"medical_records_appointment_same_patient", "appointment",
     "Invalid pk - the appointment does not exist or belongs to another patient."},
    {"medical_records_blood_pressure_check", "vitals",
     "bp_systolic must be greater than bp_diastolic."},
    {"medical_records_temperature_check", "vitals", OUT_OF_BOUNDS},
    {"medical_records_pulse_check", "vitals", OUT_OF_BOUNDS},
    {"medical_records_systolic_check", "vitals", OUT_OF_BOUNDS},
    {"medical_records_diastolic_check", "vitals", OUT_OF_BOUNDS},
    {"medical_records_resp_rate_check", "vitals", OUT_OF_BOUNDS},
    {"medical_records_spo2_check", "vitals", OUT_OF_BOUNDS},
    {NULL},
};

static const struct list_filter record_filters[] = {
    {{"record_type", FIELD_CHOICE, .choices = record_types}, "record_type = $?"},
    {{"author", FIELD_ID}, "author_id = $?::bigint"},
    {{NULL}},
};

static const struct list_ordering record_orderings[] = {
    {"created_at", "created_at"},
    {NULL, NULL},
};

/* Always narrowed to the path's patient (whose visibility the handler
 * has checked). */
static const struct list_spec record_list = {
    .columns = record_columns,
    .from = "medical_records",
    .filters = record_filters,
    .orderings = record_orderings,
    .default_order = "created_at DESC, id DESC",
    .tiebreak = "id",
    .audit_entity = "medical_record",
};

/* A record is served while its patient is (soft delete hides both). */
#define RECORD_LIVE "NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = patient_id AND p.is_deleted)"

static bool record_before_write(struct http_request *req, struct http_response *res,
                                struct crud_write *w);

const struct resource records_resource = {
    .table = "medical_records",
    .entity = "medical_record",
    .columns = record_columns,
    .fields = record_fields,
    .constraints = record_constraints,
    .list = &record_list,
    .live = RECORD_LIVE,
    .deleted_permission = "patients.admin",
    .audit_reads = true,
    .before_write = record_before_write,
};

/* --- the patient in the path ------------------------------------------------ */

static const struct db_stmt patient_state = {"records_patient_state",
                                             "SELECT is_deleted FROM patients WHERE id = $1", 1};

/* The path's patient is known and, unless include_deleted, not deleted;
 * else answers 404 and returns false. */
static bool patient_visible(struct http_request *req, struct http_response *res,
                            bool include_deleted)
{
	PGresult *row;
	enum hms_err err = crud_fetch(req, &patient_state, &row);

	if (err == HMS_OK && !include_deleted && PQgetvalue(row, 0, 0)[0] == 't')
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return false;
	}
	return true;
}

void records_list(struct http_request *req, struct http_response *res)
{
	struct list_condition of_patient = {"patient_id = $?::bigint",
	                                    http_request_id_text(req, 0)};
	bool include_deleted;

	if (!crud_include_deleted(req, res, &records_resource, &include_deleted) ||
	    !patient_visible(req, res, include_deleted))
		return;
	crud_respond_list(req, res, &record_list, &of_patient, 1);
}

/* --- writes ----------------------------------------------------------------- */

static const struct db_stmt record_author = {
    "records_author", "SELECT author_id FROM medical_records WHERE id = $1 AND " RECORD_LIVE, 1};

/* Create: the patient from the path (404 when it is not served), the
 * author from the token. Update: the author only (403 for anyone else,
 * audited). Either way the caller writes this version. */
static bool record_before_write(struct http_request *req, struct http_response *res,
                                struct crud_write *w)
{
	const char *user = arena_printf(req->arena, "%lld", (long long)req->user.id);
	PGresult *row;
	enum hms_err err;

	if (user == NULL) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return false;
	}
	if (w->op == CRUD_CREATE) {
		if (!patient_visible(req, res, false))
			return false;
		w->v.values[F_PATIENT] = http_request_id_text(req, 0);
		w->v.present[F_PATIENT] = true;
		w->v.values[F_AUTHOR] = user;
		w->v.present[F_AUTHOR] = true;
	} else {
		err = crud_fetch(req, &record_author, &row);
		if (err != HMS_OK) {
			http_respond_error(res, err, NULL);
			return false;
		}
		if (!auth_owns(req, atoll(PQgetvalue(row, 0, 0)))) {
			audit_record(req, "denied", "medical_record", req->ids[0], AUDIT_DENIED);
			http_respond_error(res, HMS_ERR_FORBIDDEN,
			                   "Only the author may change a medical record.");
			return false;
		}
	}
	w->v.values[F_UPDATED_BY] = user;
	w->v.present[F_UPDATED_BY] = true;
	return true;
}

/* --- history ---------------------------------------------------------------- */

static const struct column version_columns[] = {
    /* The record's id first: a list's audit row names the records shown. */
    {"id", "record_id", COL_INT},
    {"history_id", "id", COL_INT},
    {"version", "version", COL_INT},
    {"patient", "patient_id", COL_INT},
    {"author", "author_id", COL_INT},
    {"appointment", "appointment_id", COL_INT},
    {"record_type", "record_type", COL_TEXT},
    {"title", "title", COL_TEXT},
    {"diagnosis", "diagnosis", COL_TEXT},
    {"notes", "notes", COL_TEXT},
    {"prescriptions", "prescriptions", COL_TEXT},
    {"vitals", VITALS_JSON, COL_JSON},
    {"created_at", "created_at", COL_TIME},
    {"changed_at", "changed_at", COL_TIME},
    {"changed_by", "changed_by", COL_INT},
    {NULL},
};

static const struct list_ordering version_orderings[] = {
    {"version", "version"},
    {NULL, NULL},
};

/* history_id is unique across the table (the list builder's pages and
 * cursors need a tiebreak that is); within one record it follows the
 * version. */
static const struct list_spec version_list = {
    .columns = version_columns,
    .from = "medical_record_versions",
    .orderings = version_orderings,
    .default_order = "version DESC",
    .tiebreak = "id",
    .audit_entity = "medical_record",
};

static const struct db_stmt record_visible = {
    "records_visible",
    "SELECT 1 FROM medical_records WHERE id = $1 AND ((" RECORD_LIVE ") OR $2::boolean)", 2};

void records_history(struct http_request *req, struct http_response *res)
{
	struct list_condition of_record = {"record_id = $?::bigint", http_request_id_text(req, 0)};
	const char *params[2] = {of_record.value, NULL};
	bool include_deleted;
	PGresult *row;
	enum hms_err err;

	if (!crud_include_deleted(req, res, &records_resource, &include_deleted))
		return;
	params[1] = include_deleted ? "true" : "false";
	err = of_record.value == NULL ? HMS_ERR_NOMEM
	                              : db_exec(req->db, req->arena, &record_visible, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	crud_respond_list(req, res, &version_list, &of_record, 1);
}
