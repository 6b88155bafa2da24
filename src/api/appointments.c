/*
 * appointments.c - /api/appointments/: field table, SQL, handlers.
 *
 * Every rule is judged by the database in one query per write (its clock
 * for "in the past", the hospital's time zone for the doctor's weekly
 * schedule, with daylight-saving days handled by PostgreSQL), and overlap is
 * left to the exclusion constraints: a check-then-insert would race.
 */
#include "hms/appointments.h"

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
#include "hms/idempotency.h"
#include "hms/list.h"
#include "hms/permissions.h"
#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/validate.h"

enum {
	C_ID,
	C_PATIENT,
	C_DOCTOR,
	C_START,
	C_END,
	C_STATUS,
	C_REASON,
	C_NOTES,
	C_CREATED_BY,
	C_CREATED,
	C_UPDATED,
	C_VERSION
};
static const struct column appointment_columns[] = {
    [C_ID] = {"id", "id", COL_INT},
    [C_PATIENT] = {"patient", "patient_id", COL_INT},
    [C_DOCTOR] = {"doctor", "doctor_id", COL_INT},
    [C_START] = {"start_time", "start_time", COL_TIME},
    [C_END] = {"end_time", "end_time", COL_TIME},
    [C_STATUS] = {"status", "status", COL_TEXT},
    [C_REASON] = {"reason", "reason", COL_TEXT},
    [C_NOTES] = {"notes", "notes", COL_TEXT},
    [C_CREATED_BY] = {"created_by", "created_by", COL_INT},
    [C_CREATED] = {"created_at", "created_at", COL_TIME},
    [C_UPDATED] = {"updated_at", "updated_at", COL_TIME},
    [C_VERSION] = {"version", "version", COL_HIDDEN},
    {NULL},
};

/* Statements that also need the doctor's user (for a doctor's own-only
 * rule) select it after the row's columns, followed (when locking for an
 * update) by the stored times as text. */
#define EXTRA(row, k, of) PQgetvalue(row, 0, PQnfields(row) - (of) + (k))
enum { X_DOCTOR_USER, X_START, X_END };

static const struct constraint_error appointment_constraints[] = {
    {"appointments_patient_overlap", NULL, "The patient already has an appointment at that time."},
    {"appointments_doctor_overlap", NULL, "The doctor already has an appointment at that time."},
    /* Medical records name the appointment with its patient. */
    {"medical_records_appointment_same_patient", "patient",
     "The appointment has medical records of this patient; its patient cannot change."},
    {NULL},
};

static const char *const statuses[] = {"scheduled", "checked_in", "completed",
                                       "cancelled", "no_show",    NULL};

enum { F_PATIENT, F_DOCTOR, F_START, F_END, F_STATUS, F_REASON, F_NOTES };
static const struct field appointment_fields[] = {
    [F_PATIENT] = {"patient", FIELD_ID, .required = true, .column = "patient_id"},
    [F_DOCTOR] = {"doctor", FIELD_ID, .required = true, .column = "doctor_id"},
    [F_START] = {"start_time", FIELD_DATETIME, .required = true},
    [F_END] = {"end_time", FIELD_DATETIME},
    [F_STATUS] = {"status", FIELD_CHOICE, .choices = statuses},
    [F_REASON] = {"reason", FIELD_STRING, .allow_blank = true, .max_len = 500},
    [F_NOTES] = {"notes", FIELD_STRING, .allow_blank = true, .max_len = 4000},
    {NULL},
};

/* A doctor sees only appointments with the doctor record linked to them. */
#define OWN_DOCTOR "doctor_id IN (SELECT id FROM doctors WHERE user_id = $?::bigint)"

static const struct list_filter appointment_filters[] = {
    {{"doctor", FIELD_ID}, "doctor_id = $?::bigint"},
    {{"patient", FIELD_ID}, "patient_id = $?::bigint"},
    {{"status", FIELD_CHOICE, .choices = statuses}, "status = $?"},
    /* The session runs in the hospital's time zone: a date is that local day. */
    {{"date", FIELD_DATE}, "start_time >= $?::date AND start_time < $?::date + 1"},
    {{"start_after", FIELD_DATETIME, .accepts_date = true}, "start_time >= $?::timestamptz"},
    {{"start_before", FIELD_DATETIME, .accepts_date = true}, "start_time < $?::timestamptz"},
    {{NULL}},
};

static const struct list_ordering appointment_orderings[] = {
    {"start_time", "start_time"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

const struct column *const appointments_columns = appointment_columns;

/* FHIR's Appointment search (src/api/fhir.c): fhir.c reads the FHIR
 * parameters into these names (a reference as its id, a FHIR status code
 * as ours, a date prefix into the name: "date:ge"). A date is the local day
 * of the hospital's time zone, as ?date= is; gt and le mean after and up to
 * the end of that day. */
static const struct list_filter appointment_fhir_filters[] = {
    {{"patient", FIELD_ID}, "patient_id = $?::bigint"},
    {{"practitioner", FIELD_ID}, "doctor_id = $?::bigint"},
    {{"status", FIELD_CHOICE, .choices = statuses}, "status = $?"},
    {{"date", FIELD_DATE}, "start_time >= $?::date AND start_time < $?::date + 1"},
    {{"date:lt", FIELD_DATE}, "start_time < $?::date"},
    {{"date:gt", FIELD_DATE}, "start_time >= $?::date + 1"},
    {{"date:le", FIELD_DATE}, "start_time < $?::date + 1"},
    {{"date:ge", FIELD_DATE}, "start_time >= $?::date"},
    {{NULL}},
};

const struct list_spec appointments_fhir_search = {
    .columns = appointment_columns,
    .from = "appointments",
    .filters = appointment_fhir_filters,
    .default_order = "start_time ASC",
    .tiebreak = "id",
    .audit_entity = "appointment",
};

size_t appointments_own_condition(struct http_request *req, struct list_condition *out)
{
	*out = (struct list_condition){OWN_DOCTOR,
	                               arena_printf(req->arena, "%lld", (long long)req->user.id)};
	return auth_is_limited_to_own(req) ? 1 : 0;
}

static void list_with(struct http_request *req, struct http_response *res, const char *where)
{
	struct list_spec spec = {
	    .columns = appointment_columns,
	    .from = "appointments",
	    .where = where,
	    .filters = appointment_filters,
	    .orderings = appointment_orderings,
	    .default_order = "start_time ASC",
	    .tiebreak = "id",
	    .audit_entity = "appointment",
	};
	struct list_condition own;
	size_t own_count = appointments_own_condition(req, &own);

	crud_respond_list(req, res, &spec, &own, own_count);
}

void appointments_list(struct http_request *req, struct http_response *res)
{
	list_with(req, res, NULL);
}

void appointments_upcoming(struct http_request *req, struct http_response *res)
{
	list_with(req, res, "start_time > now() AND status IN ('scheduled', 'checked_in')");
}

/* The rules a booking must meet, judged by the database in one query:
 * $1 patient, $2 doctor, $3 start, $4 end (NULL: start + slot_minutes),
 * $5 whether the start must be in the future (false when an update keeps
 * it). Returns the end it will have and one flag per rule. */
static const struct db_stmt check_booking = {
    "appointments_check",
    "WITH t AS (SELECT $3::timestamptz AS s, coalesce($4::timestamptz, $3::timestamptz + "
    "  make_interval(mins => d.slot_minutes)) AS e, d.is_active, d.schedule "
    "  FROM (SELECT 1) AS one LEFT JOIN doctors d ON d.id = $2::bigint) "
    "SELECT " SQL_UTC(
        "t.e") ", "
               "  $5::boolean AND t.s <= now(), "
               "  t.s > now() + interval '5 years', "
               "  t.e <= t.s OR t.e > now() + interval '5 years', "
               "  EXISTS (SELECT 1 FROM patients p WHERE p.id = $1::bigint AND NOT p.is_deleted), "
               "  coalesce(t.is_active, false), "
               "  t.schedule IS NULL OR t.schedule = '[]'::jsonb OR EXISTS ("
               "    SELECT 1 FROM jsonb_array_elements(t.schedule) AS w "
               "    WHERE (w->>'weekday')::int = extract(isodow FROM t.s)::int - 1 "
               "      AND t.s::time >= (w->>'start_time')::time "
               "      AND t.e <= t.s::date + (w->>'end_time')::time) "
               "FROM t",
    5};

/* Runs check_booking; on a broken rule fills errors. *end receives the
 * end time to store. */
static enum hms_err check_rules(struct http_request *req, const char *patient, const char *doctor,
                                const char *start, const char *end, bool start_must_be_future,
                                const char **end_out, struct json_object **errors)
{
	const char *params[5] = {patient, doctor, start, end,
	                         start_must_be_future ? "true" : "false"};
	PGresult *row;
	enum hms_err err = db_exec(req->db, req->arena, &check_booking, params, &row);

	if (err != HMS_OK)
		return err;
	if (PQgetvalue(row, 0, 1)[0] == 't')
		validate_add_error(errors, "start_time", "Start time is in the past.");
	if (PQgetvalue(row, 0, 2)[0] == 't')
		validate_add_error(errors, "start_time",
		                   "Start time is more than five years ahead.");
	if (PQgetvalue(row, 0, 3)[0] == 't')
		validate_add_error(errors, "end_time",
		                   "End time must be after the start time and at most five years "
		                   "ahead.");
	if (PQgetvalue(row, 0, 4)[0] != 't')
		validate_add_error(errors, "patient", "Invalid pk - object does not exist.");
	if (PQgetvalue(row, 0, 5)[0] != 't')
		validate_add_error(errors, "doctor",
		                   "Invalid pk - the doctor does not exist or is inactive.");
	else if (PQgetvalue(row, 0, 6)[0] != 't')
		validate_add_error(errors, "start_time",
		                   "The appointment is outside the doctor's weekly schedule.");
	*end_out = arena_strdup(req->arena, PQgetvalue(row, 0, 0));
	return HMS_OK;
}

static const struct db_stmt insert_appointment = {
    "appointments_insert",
    "INSERT INTO appointments (patient_id, doctor_id, start_time, end_time, reason, notes, "
    "created_by) VALUES ($1::bigint, $2::bigint, $3::timestamptz, $4::timestamptz, $5, $6, "
    "$7::bigint) RETURNING " DB_COLUMNS,
    7, appointment_columns};

void appointments_create(struct http_request *req, struct http_response *res)
{
	struct json_object *errors;
	struct validated v;
	const char *end = NULL, *key;
	const char *params[7];
	PGresult *row = NULL;
	enum hms_err err;

	/* As crud.c's create: a key is claimed first, in the write's
	 * transaction, so that a retry whose slot is now its own booking gets
	 * its first answer back rather than a 409. */
	if (!idempotency_key_of(req, res, &key))
		return;
	if (key != NULL && !idempotency_begin(req, res, key))
		return;
	errors = validate_body(req->arena, appointment_fields, req->json, VALIDATE_CREATE, &v);
	if (errors == NULL && v.present[F_STATUS] && strcmp(v.values[F_STATUS], "scheduled") != 0)
		validate_add_error(&errors, "status", "A new appointment is scheduled.");
	if (errors != NULL) {
		db_rollback(req->db);
		http_respond_field_errors(res, errors);
		return;
	}
	err = key != NULL ? HMS_OK : db_begin(req->db);
	if (err == HMS_OK)
		err = check_rules(req, v.values[F_PATIENT], v.values[F_DOCTOR], v.values[F_START],
		                  v.values[F_END], true, &end, &errors);
	if (err == HMS_OK && errors != NULL) {
		db_rollback(req->db);
		http_respond_field_errors(res, errors);
		return;
	}
	params[0] = v.values[F_PATIENT];
	params[1] = v.values[F_DOCTOR];
	params[2] = v.values[F_START];
	params[3] = end;
	params[4] = v.values[F_REASON] != NULL ? v.values[F_REASON] : "";
	params[5] = v.values[F_NOTES] != NULL ? v.values[F_NOTES] : "";
	params[6] = arena_printf(req->arena, "%lld", (long long)req->user.id);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &insert_appointment, params, &row);
	if (err == HMS_OK && key != NULL) {
		struct json_object *body = columns_row_json(appointment_columns, row, 0);

		err = body == NULL ? HMS_ERR_NOMEM
		                   : idempotency_store(req, key, 201, body, "appointment",
		                                       atoll(PQgetvalue(row, 0, C_ID)));
		json_object_put(body);
	}
	if (crud_commit(req, res, err, row, appointment_constraints, "create", "appointment",
	                err == HMS_OK ? atoll(PQgetvalue(row, 0, C_ID)) : 0))
		crud_respond_row(req, res, 201, appointment_columns, row);
}

/* The row and its doctor's user, locked when for_update. */
static const struct db_stmt appointment_locked = {
    "appointments_locked",
    "SELECT " DB_COLUMNS ", (SELECT user_id FROM doctors d WHERE d.id = doctor_id), "
    "start_time::text, end_time::text FROM appointments WHERE id = $1 FOR UPDATE",
    1, appointment_columns};
#define LOCKED_EXTRA 3
static const struct db_stmt appointment_by_id = {
    "appointments_by_id",
    "SELECT " DB_COLUMNS ", (SELECT user_id FROM doctors d WHERE d.id = doctor_id) "
    "FROM appointments WHERE id = $1",
    1, appointment_columns};

/* A doctor limited to their own appointments does not learn of others:
 * row's last `extra` columns start with the doctor's user. */
static bool visible_to_caller(const struct http_request *req, const PGresult *row, int extra)
{
	const char *doctor_user = EXTRA(row, X_DOCTOR_USER, extra);

	return !auth_is_limited_to_own(req) ||
	       (*doctor_user != '\0' && auth_owns(req, atoll(doctor_user)));
}

enum hms_err appointments_read(struct http_request *req, PGresult **row)
{
	enum hms_err err = crud_fetch(req, &appointment_by_id, row);

	if (err == HMS_OK && !visible_to_caller(req, *row, 1))
		err = HMS_ERR_NOT_FOUND;
	/* No appointment leaves without its audit row committed. */
	if (err == HMS_OK)
		err = audit_record(req, "read", "appointment", req->ids[0], AUDIT_SUCCESS);
	return err;
}

void appointments_get(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err = appointments_read(req, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	crud_respond_row(req, res, 200, appointment_columns, row);
}

static bool is_final(const char *status)
{
	return strcmp(status, "cancelled") == 0 || strcmp(status, "completed") == 0 ||
	       strcmp(status, "no_show") == 0;
}

/* scheduled -> checked_in, completed, cancelled, no_show;
 * checked_in -> completed, cancelled, no_show; the rest are final. */
static bool transition_allowed(const char *from, const char *to)
{
	if (strcmp(from, to) == 0)
		return true;
	if (is_final(from) || strcmp(to, "scheduled") == 0)
		return false;
	return !(strcmp(from, "checked_in") == 0 && strcmp(to, "checked_in") == 0);
}

static const struct db_stmt update_appointment = {
    "appointments_update",
    "UPDATE appointments SET patient_id = $2::bigint, doctor_id = $3::bigint, "
    "start_time = $4::timestamptz, end_time = $5::timestamptz, status = $6, reason = $7, "
    "notes = $8, version = version + 1, updated_at = now() "
    "WHERE id = $1 AND ($9::bigint IS NULL OR version = $9::bigint) "
    "RETURNING " DB_COLUMNS,
    9, appointment_columns};

static void write_appointment(struct http_request *req, struct http_response *res,
                              enum validate_mode mode)
{
	struct json_object *errors;
	struct validated v;
	const char *version, *end = NULL;
	const char *merged[F_NOTES + 1];
	const char *id = http_request_id_text(req, 0);
	PGresult *cur, *row = NULL;
	bool moved;
	enum hms_err err;

	err = crud_expected_version(req, req->ids[0], &version);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	errors = validate_body(req->arena, appointment_fields, req->json, mode, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	if (auth_is_limited_to_own(req)) {
		/* A doctor: status and notes of their own appointments only. */
		for (size_t i = 0; i < v.count; i++) {
			if (v.present[i] && i != F_STATUS && i != F_NOTES) {
				audit_record(req, "denied", "appointment", req->ids[0],
				             AUDIT_DENIED);
				http_respond_error(
				    res, HMS_ERR_FORBIDDEN,
				    arena_printf(req->arena,
				                 "Doctors may change only status and notes, not "
				                 "%s.",
				                 appointment_fields[i].name));
				return;
			}
		}
	}
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = crud_fetch(req, &appointment_locked, &cur);
	if (err == HMS_OK && !visible_to_caller(req, cur, LOCKED_EXTRA))
		err = HMS_ERR_NOT_FOUND;
	if (err == HMS_OK && version != NULL && strcmp(version, PQgetvalue(cur, 0, C_VERSION)) != 0)
		err = HMS_ERR_PRECONDITION;
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	merged[F_PATIENT] =
	    v.present[F_PATIENT] ? v.values[F_PATIENT] : PQgetvalue(cur, 0, C_PATIENT);
	merged[F_DOCTOR] = v.present[F_DOCTOR] ? v.values[F_DOCTOR] : PQgetvalue(cur, 0, C_DOCTOR);
	merged[F_START] =
	    v.present[F_START] ? v.values[F_START] : EXTRA(cur, X_START, LOCKED_EXTRA);
	merged[F_STATUS] = v.present[F_STATUS] ? v.values[F_STATUS] : PQgetvalue(cur, 0, C_STATUS);
	merged[F_REASON] = v.present[F_REASON] ? v.values[F_REASON] : PQgetvalue(cur, 0, C_REASON);
	merged[F_NOTES] = v.present[F_NOTES] ? v.values[F_NOTES] : PQgetvalue(cur, 0, C_NOTES);
	moved =
	    (v.present[F_PATIENT] && strcmp(merged[F_PATIENT], PQgetvalue(cur, 0, C_PATIENT))) ||
	    (v.present[F_DOCTOR] && strcmp(merged[F_DOCTOR], PQgetvalue(cur, 0, C_DOCTOR))) ||
	    v.present[F_START] || v.present[F_END];

	if (!transition_allowed(PQgetvalue(cur, 0, C_STATUS), merged[F_STATUS]) ||
	    (moved && is_final(PQgetvalue(cur, 0, C_STATUS)))) {
		db_rollback(req->db);
		http_respond_error(res, HMS_ERR_CONFLICT,
		                   arena_printf(req->arena,
		                                "An appointment that is %s cannot become %s or be "
		                                "moved.",
		                                PQgetvalue(cur, 0, C_STATUS), merged[F_STATUS]));
		return;
	}
	if (moved) {
		/* A new start without a new end takes the default length again; a
		 * change of doctor or patient alone keeps the times. */
		const char *end_in = v.present[F_END]     ? v.values[F_END]
		                     : v.present[F_START] ? NULL
		                                          : EXTRA(cur, X_END, LOCKED_EXTRA);

		err = check_rules(req, merged[F_PATIENT], merged[F_DOCTOR], merged[F_START], end_in,
		                  v.present[F_START], &end, &errors);
		if (err == HMS_OK && errors != NULL) {
			db_rollback(req->db);
			http_respond_field_errors(res, errors);
			return;
		}
	} else {
		end = EXTRA(cur, X_END, LOCKED_EXTRA);
	}
	if (err == HMS_OK) {
		const char *update[9] = {
		    id,     merged[F_PATIENT], merged[F_DOCTOR], merged[F_START],
		    end,    merged[F_STATUS],  merged[F_REASON], merged[F_NOTES],
		    version};

		err = db_exec(req->db, req->arena, &update_appointment, update, &row);
	}
	if (crud_commit(req, res, err, row, appointment_constraints, "update", "appointment",
	                req->ids[0]))
		crud_respond_row(req, res, 200, appointment_columns, row);
}

void appointments_replace(struct http_request *req, struct http_response *res)
{
	write_appointment(req, res, VALIDATE_REPLACE);
}

void appointments_update(struct http_request *req, struct http_response *res)
{
	write_appointment(req, res, VALIDATE_UPDATE);
}

static const struct db_stmt cancel_appointment = {
    "appointments_cancel",
    "UPDATE appointments SET status = 'cancelled', version = version + 1, updated_at = now() "
    "WHERE id = $1 RETURNING id",
    1};

void appointments_cancel(struct http_request *req, struct http_response *res)
{
	PGresult *cur, *done = NULL;
	const char *status;
	enum hms_err err;

	err = db_begin(req->db);
	if (err == HMS_OK)
		err = crud_fetch(req, &appointment_locked, &cur);
	if (err == HMS_OK && !visible_to_caller(req, cur, LOCKED_EXTRA))
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	status = PQgetvalue(cur, 0, C_STATUS);
	if (strcmp(status, "cancelled") == 0) {
		db_rollback(req->db);
		res->status = 204; /* already cancelled: nothing to do */
		return;
	}
	if (is_final(status)) {
		db_rollback(req->db);
		http_respond_error(res, HMS_ERR_CONFLICT,
		                   arena_printf(req->arena,
		                                "An appointment that is %s cannot be "
		                                "cancelled.",
		                                status));
		return;
	}
	err = crud_fetch(req, &cancel_appointment, &done);
	if (crud_commit(req, res, err, done, NULL, "cancel", "appointment", req->ids[0]))
		res->status = 204;
}
