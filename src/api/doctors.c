/*
 * doctors.c - /api/doctors/: what a doctor is, and the free slots of a day.
 * The generic handlers of crud.c serve it; what is a doctor's own:
 *
 * - a doctor (role doctor) may change only their own schedule and
 *   slot_minutes: the role table marks doctors.write as own-only for
 *   doctors, and the before_write hook applies the field rule;
 * - the linked account must be a staff user with role doctor;
 * - DELETE deactivates: an inactive doctor takes no new appointments.
 */
#include "hms/doctors.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/columns.h"
#include "hms/config.h"
#include "hms/crud.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/validate.h"

#define MAX_SCHEDULE_ENTRIES 50
#define MAX_SPECIALTIES      20

static const struct column doctor_columns[] = {
    {"id", "id", COL_INT},
    {"user", "user_id", COL_INT},
    {"first_name", "first_name", COL_TEXT},
    {"last_name", "last_name", COL_TEXT},
    {"specialties", "array_to_json(specialties)", COL_JSON},
    {"license_number", "license_number", COL_TEXT},
    {"contact_phone", "contact_phone", COL_TEXT},
    {"contact_email", "contact_email", COL_TEXT},
    {"slot_minutes", "slot_minutes", COL_INT},
    {"schedule", "schedule", COL_JSON},
    {"is_active", "is_active", COL_BOOL},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {"version", "version", COL_HIDDEN},
    {NULL},
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

static const struct constraint_error doctor_constraints[] = {
    {"doctors_license_key", "license_number", "A doctor with this license number already exists."},
    {"doctors_user_id_key", "user", "This user is already linked to a doctor."},
    {"doctors_user_id_fkey", "user", "Invalid pk - object does not exist."},
    {NULL},
};

static const struct list_filter doctor_filters[] = {
    {{"specialty", FIELD_STRING, LIST_TEXT_FILTER},
     "EXISTS (SELECT 1 FROM unnest(specialties) AS s WHERE lower(s) = lower($?))"},
    {{"is_active", FIELD_BOOL}, "is_active = $?::boolean"},
    {{NULL}},
};

static const struct list_ordering doctor_orderings[] = {
    {"last_name", "last_name"},
    {"first_name", "first_name"},
    {"license_number", "license_number"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

static const struct list_spec doctor_list = {
    .columns = doctor_columns,
    .from = "doctors",
    .filters = doctor_filters,
    .orderings = doctor_orderings,
    .search_word = "hms_prefix_query($?) IS NULL OR search_vector @@ hms_prefix_query($?) OR "
                   "lower(license_number) = lower($?)",
    .default_order = "last_name ASC, first_name ASC",
    .tiebreak = "id",
};

/* FHIR's Practitioner search (src/api/fhir.c): a name by word prefix, the
 * licence number whole. */
static const struct list_filter doctor_fhir_filters[] = {
    {{"name", FIELD_STRING, .max_len = 200},
     "to_tsvector('simple', hms_unaccent(first_name || ' ' || last_name)) @@ "
     "hms_prefix_query($?)"},
    {{"identifier", FIELD_STRING, .max_len = 200}, "license_number = $?"},
    {{NULL}},
};

const struct list_spec doctors_fhir_search = {
    .columns = doctor_columns,
    .from = "doctors",
    .filters = doctor_fhir_filters,
    .default_order = "last_name ASC, first_name ASC",
    .tiebreak = "id",
};

static const struct db_stmt user_role = {"doctors_user_role",
                                         "SELECT role FROM users WHERE id = $1", 1};
static const struct db_stmt doctor_owner = {"doctors_owner",
                                            "SELECT user_id FROM doctors WHERE id = $1", 1};

/* The linked account must be a staff user with role doctor. */
static enum hms_err check_user(struct http_request *req, struct crud_write *w)
{
	const char *params[1];
	PGresult *row;
	enum hms_err err;

	if (!w->v.present[F_USER] || w->v.values[F_USER] == NULL)
		return HMS_OK;
	params[0] = w->v.values[F_USER];
	err = db_exec(req->db, req->arena, &user_role, params, &row);
	if (err != HMS_OK)
		return err;
	if (PQntuples(row) != 1)
		validate_add_error(&w->errors, "user", "Invalid pk - object does not exist.");
	else if (strcmp(PQgetvalue(row, 0, 0), "doctor") != 0)
		validate_add_error(&w->errors, "user", "The user must have the role doctor.");
	return HMS_OK;
}

/* Refuses a doctor's write (403, audited) with detail. */
static bool refuse(struct http_request *req, struct http_response *res, const char *detail)
{
	audit_record(req, "denied", "doctor", req->ids[0], AUDIT_DENIED);
	http_respond_error(res, HMS_ERR_FORBIDDEN, detail);
	return false;
}

/* A doctor editing: only their own record, only schedule and slot_minutes. */
static bool doctor_may_write(struct http_request *req, struct http_response *res,
                             const struct validated *v)
{
	PGresult *row;
	enum hms_err err;

	if (!auth_is_limited_to_own(req))
		return true;
	err = crud_fetch(req, &doctor_owner, &row);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return false;
	}
	if (PQgetisnull(row, 0, 0) || !auth_owns(req, atoll(PQgetvalue(row, 0, 0))))
		return refuse(req, res, "Doctors may edit only their own record.");
	for (size_t i = 0; i < v->count; i++)
		if (v->present[i] && i != F_SCHEDULE && i != F_SLOT)
			return refuse(req, res,
			              arena_printf(req->arena,
			                           "Doctors may change only schedule and "
			                           "slot_minutes, not %s.",
			                           doctor_fields[i].name));
	return true;
}

static bool doctor_before_write(struct http_request *req, struct http_response *res,
                                struct crud_write *w)
{
	enum hms_err err;

	if (w->op != CRUD_CREATE && !doctor_may_write(req, res, &w->v))
		return false;
	err = check_user(req, w);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return false;
	}
	return true;
}

const struct resource doctors_resource = {
    .table = "doctors",
    .entity = "doctor",
    .columns = doctor_columns,
    .fields = doctor_fields,
    .constraints = doctor_constraints,
    .list = &doctor_list,
    .delete_set = "is_active = false",
    .before_write = doctor_before_write,
};

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
	static const struct field date_param = {"date", FIELD_DATE};
	const char *raw = http_request_param(req, "date");
	const char *message = "This query parameter is required (YYYY-MM-DD).";
	const char *date =
	    raw != NULL ? validate_text(req->arena, &date_param, raw, &message) : NULL;
	const char *params[3] = {http_request_id_text(req, 0), date, req->config->time_zone};
	struct json_object *body, *slots;
	PGresult *doctor, *rows;
	enum hms_err err;

	if (date == NULL) {
		http_respond_field_error(res, "date", message);
		return;
	}
	err = crud_fetch(req, &doctor_slot, &doctor);
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
