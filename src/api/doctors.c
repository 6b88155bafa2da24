/*
 * doctors.c - /api/doctors/: field table, SQL, handlers, availability.
 *
 * A doctor (role doctor) may change only their own schedule and
 * slot_minutes; the role table marks doctors.write as own-only for doctors,
 * and this file applies the field rule.
 */
#include "hms/doctors.h"

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
#include "hms/list.h"
#include "hms/resource.h"
#include "hms/validate.h"

#define MAX_SCHEDULE_ENTRIES 50
#define MAX_SPECIALTIES      20

#define DOCTOR_COLUMNS                                                                             \
	"id, user_id, first_name, last_name, array_to_json(specialties)::text, "                   \
	"license_number, contact_phone, contact_email, slot_minutes, schedule::text, "             \
	"is_active, " SQL_UTC("created_at") ", " SQL_UTC("updated_at") ", version"

enum {
	C_ID,
	C_USER,
	C_FIRST,
	C_LAST,
	C_SPECIALTIES,
	C_LICENSE,
	C_PHONE,
	C_EMAIL,
	C_SLOT,
	C_SCHEDULE,
	C_ACTIVE,
	C_CREATED,
	C_UPDATED,
	C_VERSION
};

/* "HH:MM" -> minutes since midnight, or -1. */
static int parse_hhmm(const char *s)
{
	if (s == NULL || strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' ||
	    s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	{
		int h = (s[0] - '0') * 10 + (s[1] - '0');
		int m = (s[3] - '0') * 10 + (s[4] - '0');

		if (h == 24 && m == 0)
			return 24 * 60; /* end of day */
		return h < 24 ? h * 60 + m : -1;
	}
}

const char *doctors_check_schedule(struct json_object *schedule)
{
	struct {
		int day, start, end;
	} e[MAX_SCHEDULE_ENTRIES];
	size_t n;

	if (!json_object_is_type(schedule, json_type_array))
		return "Expected a list of {weekday, start_time, end_time}.";
	n = json_object_array_length(schedule);
	if (n > MAX_SCHEDULE_ENTRIES)
		return "A schedule has at most 50 entries.";
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(schedule, i), *v;

		if (!json_object_is_type(item, json_type_object) ||
		    json_object_object_length(item) != 3)
			return "Each entry is exactly {weekday, start_time, end_time}.";
		if (!json_object_object_get_ex(item, "weekday", &v) ||
		    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > 6)
			return "weekday must be an integer from 0 (Monday) to 6 (Sunday).";
		e[i].day = (int)json_object_get_int64(v);
		if (!json_object_object_get_ex(item, "start_time", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    (e[i].start = parse_hhmm(json_object_get_string(v))) < 0 ||
		    e[i].start == 24 * 60)
			return "start_time must be a time HH:MM.";
		if (!json_object_object_get_ex(item, "end_time", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    (e[i].end = parse_hhmm(json_object_get_string(v))) < 0)
			return "end_time must be a time HH:MM.";
		if (e[i].end <= e[i].start)
			return "end_time must be after start_time.";
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (e[i].day == e[j].day && e[i].start < e[j].end && e[j].start < e[i].end)
				return "Entries on the same weekday must not overlap.";
	return NULL;
}

static const char *check_schedule(const char *value, struct json_object *raw)
{
	(void)value;
	return doctors_check_schedule(raw);
}

static const char *check_specialties(const char *value, struct json_object *raw)
{
	size_t n;

	(void)value;
	if (!json_object_is_type(raw, json_type_array))
		return "Expected a list of strings.";
	n = json_object_array_length(raw);
	if (n > MAX_SPECIALTIES)
		return "At most 20 specialties.";
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(raw, i);

		if (!json_object_is_type(s, json_type_string) ||
		    json_object_get_string_len(s) == 0 || json_object_get_string_len(s) > 100)
			return "Each specialty is a non-empty string of at most 100 characters.";
	}
	return NULL;
}

enum {
	F_USER,
	F_FIRST,
	F_LAST,
	F_SPECIALTIES,
	F_LICENSE,
	F_PHONE,
	F_EMAIL,
	F_SLOT,
	F_SCHEDULE,
	F_ACTIVE
};
static const struct field doctor_fields[] = {
    [F_USER] = {"user", FIELD_ID, .nullable = true, .column = "user_id"},
    [F_FIRST] = {"first_name", FIELD_STRING, .required = true, .max_len = 100},
    [F_LAST] = {"last_name", FIELD_STRING, .required = true, .max_len = 100},
    [F_SPECIALTIES] = {"specialties", FIELD_JSON, .check = check_specialties,
                       .sql = "ARRAY(SELECT jsonb_array_elements_text($?::jsonb))"},
    [F_LICENSE] = {"license_number", FIELD_STRING, .required = true, .max_len = 50},
    [F_PHONE] = {"contact_phone", FIELD_STRING, .allow_blank = true, .max_len = 32,
                 .check = validate_check_phone},
    [F_EMAIL] = {"contact_email", FIELD_EMAIL, .allow_blank = true, .max_len = 254},
    [F_SLOT] = {"slot_minutes", FIELD_INT, .min = 5, .max = 480},
    [F_SCHEDULE] = {"schedule", FIELD_JSON, .check = check_schedule},
    [F_ACTIVE] = {"is_active", FIELD_BOOL},
    {NULL},
};

static struct json_object *parsed(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	return o != NULL ? o : json_object_new_array();
}

static struct json_object *doctor_json(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(atoll(PQgetvalue(res, row, C_ID))));
	json_object_object_add(o, "user",
	                       PQgetisnull(res, row, C_USER)
	                           ? NULL
	                           : json_object_new_int64(atoll(PQgetvalue(res, row, C_USER))));
	json_object_object_add(o, "first_name",
	                       json_object_new_string(PQgetvalue(res, row, C_FIRST)));
	json_object_object_add(o, "last_name",
	                       json_object_new_string(PQgetvalue(res, row, C_LAST)));
	/* Both columns are JSON written by PostgreSQL from validated input. */
	json_object_object_add(o, "specialties", parsed(PQgetvalue(res, row, C_SPECIALTIES)));
	json_object_object_add(o, "license_number",
	                       json_object_new_string(PQgetvalue(res, row, C_LICENSE)));
	json_object_object_add(o, "contact_phone",
	                       json_object_new_string(PQgetvalue(res, row, C_PHONE)));
	json_object_object_add(o, "contact_email",
	                       json_object_new_string(PQgetvalue(res, row, C_EMAIL)));
	json_object_object_add(o, "slot_minutes",
	                       json_object_new_int(atoi(PQgetvalue(res, row, C_SLOT))));
	json_object_object_add(o, "schedule", parsed(PQgetvalue(res, row, C_SCHEDULE)));
	json_object_object_add(o, "is_active",
	                       json_object_new_boolean(PQgetvalue(res, row, C_ACTIVE)[0] == 't'));
	json_object_object_add(o, "created_at",
	                       json_object_new_string(PQgetvalue(res, row, C_CREATED)));
	json_object_object_add(o, "updated_at",
	                       json_object_new_string(PQgetvalue(res, row, C_UPDATED)));
	return o;
}

static void respond_doctor(struct http_request *req, struct http_response *res, int status,
                           const PGresult *result)
{
	resource_set_etag(req, res, atoll(PQgetvalue(result, 0, C_ID)),
	                  PQgetvalue(result, 0, C_VERSION));
	http_respond_json(res, status, doctor_json(result, 0));
}

static const struct list_filter doctor_filters[] = {
    {"specialty", LIST_TEXT,
     "EXISTS (SELECT 1 FROM unnest(specialties) AS s WHERE lower(s) = lower($?))", NULL},
    {"is_active", LIST_BOOL, "is_active = $?::boolean", NULL},
    {NULL, LIST_TEXT, NULL, NULL},
};

static const struct list_ordering doctor_orderings[] = {
    {"last_name", "last_name"},
    {"first_name", "first_name"},
    {"license_number", "license_number"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

static const struct list_spec doctors_spec = {
    .columns = DOCTOR_COLUMNS,
    .from = "doctors",
    .filters = doctor_filters,
    .orderings = doctor_orderings,
    .search_word = "hms_prefix_query($?) IS NULL OR search_vector @@ hms_prefix_query($?) OR "
                   "lower(license_number) = lower($?)",
    .default_order = "last_name ASC, first_name ASC",
    .tiebreak = "id",
    .row = doctor_json,
};

void doctors_list(struct http_request *req, struct http_response *res)
{
	list_respond(req, res, &doctors_spec, NULL, 0);
}

static const struct db_stmt doctor_by_id = {
    "doctors_by_id", "SELECT " DOCTOR_COLUMNS " FROM doctors WHERE id = $1", 1};
static const struct db_stmt user_role = {"doctors_user_role",
                                         "SELECT role FROM users WHERE id = $1", 1};

void doctors_get(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err = resource_fetch(req, &doctor_by_id, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_doctor(req, res, 200, row);
}

/* The linked account must be a staff user with role doctor. */
static bool check_user(struct http_request *req, const struct validated *v,
                       struct json_object **errors, enum hms_err *err)
{
	const char *params[1];
	PGresult *row;

	*err = HMS_OK;
	if (!v->present[F_USER] || v->values[F_USER] == NULL)
		return true;
	params[0] = v->values[F_USER];
	*err = db_exec(req->db, req->arena, &user_role, params, &row);
	if (*err != HMS_OK)
		return false;
	if (PQntuples(row) != 1)
		validate_add_error(errors, "user", "Invalid pk - object does not exist.");
	else if (strcmp(PQgetvalue(row, 0, 0), "doctor") != 0)
		validate_add_error(errors, "user", "The user must have the role doctor.");
	return *errors == NULL;
}

/* Maps a failed write to the field it concerns. */
static bool field_error_from_db(struct http_response *res, const PGresult *row)
{
	struct json_object *errors = NULL;
	const char *constraint = db_result_constraint(row);

	if (db_result_is(row, "23505") && strcmp(constraint, "doctors_license_key") == 0)
		validate_add_error(&errors, "license_number",
		                   "A doctor with this license number already exists.");
	else if (db_result_is(row, "23505") && strcmp(constraint, "doctors_user_id_key") == 0)
		validate_add_error(&errors, "user", "This user is already linked to a doctor.");
	else if (db_result_is(row, "23503"))
		validate_add_error(&errors, "user", "Invalid pk - object does not exist.");
	if (errors == NULL)
		return false;
	http_respond_field_errors(res, errors);
	return true;
}

static void finish_write(struct http_request *req, struct http_response *res, enum hms_err err,
                         const PGresult *row, const char *action, int status)
{
	if (err == HMS_ERR_BAD_REQUEST && field_error_from_db(res, row)) {
		db_rollback(req->db);
		return;
	}
	if (!resource_commit(req, res, err, action, "doctor",
	                     err == HMS_OK ? atoll(PQgetvalue(row, 0, C_ID)) : 0))
		return;
	if (status == 204)
		res->status = 204;
	else
		respond_doctor(req, res, status, row);
}

void doctors_create(struct http_request *req, struct http_response *res)
{
	struct validated v;
	struct json_object *errors;
	const char *params[32];
	int n;
	char *sql;
	PGresult *row = NULL;
	enum hms_err err;

	errors = validate_body(req->arena, doctor_fields, req->json, VALIDATE_CREATE, &v);
	if (errors == NULL && !check_user(req, &v, &errors, &err) && errors == NULL) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	sql = resource_insert_sql(req, "doctors", doctor_fields, &v, DOCTOR_COLUMNS, params, &n);
	if (sql == NULL) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return;
	}
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	finish_write(req, res, err, row, "create", 201);
}

static const struct db_stmt doctor_owner = {"doctors_owner",
                                            "SELECT user_id FROM doctors WHERE id = $1", 1};

/* A doctor editing: only their own record, only schedule and slot_minutes.
 * Returns false when an error response has been written. */
static bool doctor_may_write(struct http_request *req, struct http_response *res,
                             const struct validated *v)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *row;
	enum hms_err err;

	if (!auth_is_limited_to_own(req))
		return true;
	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_exec(req->db, req->arena, &doctor_owner, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return false;
	}
	if (PQgetisnull(row, 0, 0) || !auth_owns(req, atoll(PQgetvalue(row, 0, 0)))) {
		audit_record(req, "denied", "doctor", req->ids[0], AUDIT_DENIED);
		http_respond_error(res, HMS_ERR_FORBIDDEN,
		                   "Doctors may edit only their own record.");
		return false;
	}
	for (size_t i = 0; i < v->count; i++) {
		if (v->present[i] && i != F_SCHEDULE && i != F_SLOT) {
			audit_record(req, "denied", "doctor", req->ids[0], AUDIT_DENIED);
			http_respond_error(res, HMS_ERR_FORBIDDEN,
			                   arena_printf(req->arena,
			                                "Doctors may change only schedule and "
			                                "slot_minutes, not %s.",
			                                doctor_fields[i].name));
			return false;
		}
	}
	return true;
}

static void write_doctor(struct http_request *req, struct http_response *res,
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
	errors = validate_body(req->arena, doctor_fields, req->json, mode, &v);
	if (errors == NULL && !doctor_may_write(req, res, &v))
		return;
	if (errors == NULL && !check_user(req, &v, &errors, &err) && errors == NULL) {
		http_respond_error(res, err, NULL);
		return;
	}
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	sql = resource_update_sql(req, "doctors", doctor_fields, &v, version, NULL, DOCTOR_COLUMNS,
	                          params, &n);
	if (sql == NULL) {
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
		return;
	}
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = resource_missing_or_changed(req, "SELECT 1 FROM doctors WHERE id = $1");
	finish_write(req, res, err, row, "update", 200);
}

void doctors_replace(struct http_request *req, struct http_response *res)
{
	write_doctor(req, res, VALIDATE_REPLACE);
}

void doctors_update(struct http_request *req, struct http_response *res)
{
	write_doctor(req, res, VALIDATE_UPDATE);
}

static const struct db_stmt deactivate = {
    "doctors_deactivate",
    "UPDATE doctors SET is_active = false, version = version + 1, updated_at = now() "
    "WHERE id = $1 RETURNING " DOCTOR_COLUMNS,
    1};

void doctors_deactivate(struct http_request *req, struct http_response *res)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *row = NULL;
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &deactivate, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	finish_write(req, res, err, row, "delete", 204);
}

/* Free slots of one day in the hospital's time zone: each schedule entry of
 * that weekday cut into slot_minutes pieces (wall-clock times converted by
 * PostgreSQL, so daylight-saving days come out right), minus slots already
 * started and slots that overlap a live appointment (found through the
 * exclusion constraint's GiST index). One query for the whole day. */
static const struct db_stmt free_slots = {
    "doctors_free_slots",
    "SELECT " SQL_UTC("s") ", " SQL_UTC(
        "s + make_interval(mins => d.slot_minutes)") " "
                                                     "FROM doctors d, "
                                                     "jsonb_array_elements(d.schedule) AS e, "
                                                     "generate_series(($2::date + "
                                                     "(e->>'start_time')::time) AT TIME ZONE $3, "
                                                     "  ($2::date + (e->>'end_time')::time - "
                                                     "make_interval(mins => d.slot_minutes)) "
                                                     "  AT TIME ZONE $3, make_interval(mins => "
                                                     "d.slot_minutes)) AS s "
                                                     "WHERE d.id = $1 AND d.is_active AND "
                                                     "(e->>'weekday')::int = extract(isodow FROM "
                                                     "$2::date) - 1 "
                                                     "AND s >= now() AND NOT EXISTS (SELECT 1 FROM "
                                                     "appointments a WHERE a.doctor_id = d.id "
                                                     "  AND a.status <> 'cancelled' AND "
                                                     "tstzrange(a.start_time, a.end_time) && "
                                                     "  tstzrange(s, s + make_interval(mins => "
                                                     "d.slot_minutes))) ORDER BY s",
    3};
static const struct db_stmt doctor_slot = {"doctors_slot",
                                           "SELECT slot_minutes FROM doctors WHERE id = $1", 1};

void doctors_availability(struct http_request *req, struct http_response *res)
{
	const char *date = http_request_param(req, "date");
	char id[24];
	const char *params[3] = {id, date, req->config->time_zone};
	struct json_object *body, *slots;
	PGresult *doctor, *rows;
	enum hms_err err;

	if (date == NULL || !validate_date(date)) {
		struct json_object *errors = NULL;

		validate_add_error(&errors, "date",
		                   date == NULL ? "This query parameter is required (YYYY-MM-DD)."
		                                : "Enter a valid date (YYYY-MM-DD).");
		http_respond_field_errors(res, errors);
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_exec(req->db, req->arena, &doctor_slot, params, &doctor);
	if (err == HMS_OK && PQntuples(doctor) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &free_slots, params, &rows);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	body = json_object_new_object();
	slots = json_object_new_array();
	for (int r = 0; r < PQntuples(rows); r++) {
		struct json_object *slot = json_object_new_object();

		json_object_object_add(slot, "start_time",
		                       json_object_new_string(PQgetvalue(rows, r, 0)));
		json_object_object_add(slot, "end_time",
		                       json_object_new_string(PQgetvalue(rows, r, 1)));
		json_object_array_add(slots, slot);
	}
	json_object_object_add(body, "doctor", json_object_new_int64(req->ids[0]));
	json_object_object_add(body, "date", json_object_new_string(date));
	json_object_object_add(body, "time_zone", json_object_new_string(req->config->time_zone));
	json_object_object_add(body, "slot_minutes",
	                       json_object_new_int(atoi(PQgetvalue(doctor, 0, 0))));
	json_object_object_add(body, "slots", slots);
	http_respond_json(res, 200, body);
}
