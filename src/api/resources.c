/*
 * resources.c - /api/resources/ and /api/resource-bookings/.
 *
 * A resource (a room, a bed, a piece of equipment) is a plain declaration
 * served by crud.c. A booking has its own write path: its rules are judged
 * by the database in one query, and a booking overlapping a live booking of
 * the same resource is refused by an exclusion constraint (409), never by a
 * check that could race.
 */
#include "hms/resources.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/columns.h"
#include "hms/crud.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/permissions.h"
#include "hms/validate.h"

/* --- resources ------------------------------------------------------------ */

static const char *const types[] = {"operating_room", "lab_slot", "bed",
                                    "equipment",      "other",    NULL};

static const struct column resource_columns[] = {
    {"id", "id", COL_INT},
    {"name", "name", COL_TEXT},
    {"resource_type", "resource_type", COL_TEXT},
    {"location", "location", COL_TEXT},
    {"is_active", "is_active", COL_BOOL},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {"version", "version", COL_HIDDEN},
    {NULL},
};

static const struct field resource_fields[] = {
    {"name", FIELD_STRING, .required = true, .max_len = 200},
    {"resource_type", FIELD_CHOICE, .required = true, .choices = types},
    {"location", FIELD_STRING, .allow_blank = true, .max_len = 200},
    {"is_active", FIELD_BOOL},
    {NULL},
};

static const struct list_filter resource_filters[] = {
    {{"resource_type", FIELD_CHOICE, .choices = types}, "resource_type = $?"},
    {{"is_active", FIELD_BOOL}, "is_active = $?::boolean"},
    {{NULL}},
};

static const struct list_ordering resource_orderings[] = {
    {"name", "name"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

static const struct list_spec resource_list = {
    .columns = resource_columns,
    .from = "resources",
    .filters = resource_filters,
    .orderings = resource_orderings,
    .default_order = "name ASC",
    .tiebreak = "id",
};

const struct resource resources_resource = {
    .table = "resources",
    .entity = "resource",
    .columns = resource_columns,
    .fields = resource_fields,
    .list = &resource_list,
};

/* --- bookings --------------------------------------------------------------- */

static const struct column booking_columns[] = {
    {"id", "id", COL_INT},
    {"resource", "resource_id", COL_INT},
    {"patient", "patient_id", COL_INT},
    {"start_time", "start_time", COL_TIME},
    {"end_time", "end_time", COL_TIME},
    {"purpose", "purpose", COL_TEXT},
    {"status", "status", COL_TEXT},
    {"booked_by", "booked_by", COL_INT},
    {"created_at", "created_at", COL_TIME},
    {"updated_at", "updated_at", COL_TIME},
    {"version", "version", COL_HIDDEN},
    {NULL},
};

enum { B_START, B_END, B_PATIENT, B_PURPOSE };
static const struct field booking_fields[] = {
    [B_START] = {"start_time", FIELD_DATETIME, .required = true},
    [B_END] = {"end_time", FIELD_DATETIME, .required = true},
    [B_PATIENT] = {"patient", FIELD_ID, .nullable = true, .column = "patient_id"},
    [B_PURPOSE] = {"purpose", FIELD_STRING, .allow_blank = true, .max_len = 500},
    {NULL},
};

static const struct constraint_error booking_constraints[] = {
    {"resource_bookings_overlap", NULL, "The resource is already booked at that time."},
    {NULL},
};

static const struct list_filter booking_filters[] = {
    {{"status", FIELD_CHOICE, .choices = (const char *const[]){"booked", "cancelled", NULL}},
     "status = $?"},
    {{"start_after", FIELD_DATETIME, .accepts_date = true}, "start_time >= $?::timestamptz"},
    {{"start_before", FIELD_DATETIME, .accepts_date = true}, "start_time < $?::timestamptz"},
    {{NULL}},
};

static const struct list_ordering booking_orderings[] = {
    {"start_time", "start_time"},
    {NULL, NULL},
};

static const struct list_spec booking_list = {
    .columns = booking_columns,
    .from = "resource_bookings",
    .filters = booking_filters,
    .orderings = booking_orderings,
    .default_order = "start_time ASC",
    .tiebreak = "id",
};

static const struct db_stmt resource_exists = {"resources_exists",
                                               "SELECT 1 FROM resources WHERE id = $1", 1};

void resources_bookings_list(struct http_request *req, struct http_response *res)
{
	struct list_condition of_resource = {"resource_id = $?::bigint",
	                                     http_request_id_text(req, 0)};
	PGresult *row;
	enum hms_err err = crud_fetch(req, &resource_exists, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	crud_respond_list(req, res, &booking_list, &of_resource, 1);
}

/* $1 resource, $2 start, $3 end, $4 patient (or NULL). */
static const struct db_stmt check_booking = {
    "resources_check_booking",
    "SELECT $2::timestamptz <= now(), $2::timestamptz > now() + interval '5 years', "
    "$3::timestamptz <= $2::timestamptz OR $3::timestamptz > now() + interval '5 years', "
    "$4::bigint IS NULL OR EXISTS (SELECT 1 FROM patients WHERE id = $4::bigint AND NOT "
    "is_deleted), (SELECT is_active FROM resources WHERE id = $1::bigint)",
    4};
static const struct db_stmt insert_booking = {
    "resources_insert_booking",
    "INSERT INTO resource_bookings (resource_id, start_time, end_time, patient_id, purpose, "
    "booked_by) VALUES ($1::bigint, $2::timestamptz, $3::timestamptz, $4::bigint, $5, "
    "$6::bigint) RETURNING " DB_COLUMNS,
    6, booking_columns};

void resources_book(struct http_request *req, struct http_response *res)
{
	struct json_object *errors;
	struct validated v;
	const char *params[6];
	PGresult *check, *row = NULL;
	enum hms_err err;

	errors = validate_body(req->arena, booking_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	params[0] = http_request_id_text(req, 0);
	params[1] = v.values[B_START];
	params[2] = v.values[B_END];
	params[3] = v.present[B_PATIENT] ? v.values[B_PATIENT] : NULL;
	params[4] = v.values[B_PURPOSE] != NULL ? v.values[B_PURPOSE] : "";
	params[5] = arena_printf(req->arena, "%lld", (long long)req->user.id);
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &check_booking, params, &check);
	if (err == HMS_OK && PQgetisnull(check, 0, 4))
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	if (PQgetvalue(check, 0, 0)[0] == 't')
		validate_add_error(&errors, "start_time", "Start time is in the past.");
	if (PQgetvalue(check, 0, 1)[0] == 't')
		validate_add_error(&errors, "start_time",
		                   "Start time is more than five years ahead.");
	if (PQgetvalue(check, 0, 2)[0] == 't')
		validate_add_error(&errors, "end_time",
		                   "End time must be after the start time and at most five years "
		                   "ahead.");
	if (PQgetvalue(check, 0, 3)[0] != 't')
		validate_add_error(&errors, "patient", "Invalid pk - object does not exist.");
	if (PQgetvalue(check, 0, 4)[0] != 't')
		validate_add_error(&errors, "non_field_errors", "The resource is not active.");
	if (errors != NULL) {
		db_rollback(req->db);
		http_respond_field_errors(res, errors);
		return;
	}
	err = db_exec(req->db, req->arena, &insert_booking, params, &row);
	if (crud_commit(req, res, err, row, booking_constraints, "create", "resource_booking",
	                err == HMS_OK ? atoll(PQgetvalue(row, 0, 0)) : 0))
		crud_respond_row(req, res, 201, booking_columns, row);
}

static const struct db_stmt booking_by_id = {
    "resources_booking_by_id", "SELECT " DB_COLUMNS " FROM resource_bookings WHERE id = $1", 1,
    booking_columns};

void resources_booking_get(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err = crud_fetch(req, &booking_by_id, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	crud_respond_row(req, res, 200, booking_columns, row);
}

static const struct db_stmt lock_booking = {
    "resources_lock_booking",
    "SELECT booked_by, status FROM resource_bookings WHERE id = $1 FOR UPDATE", 1};
static const struct db_stmt cancel_booking = {
    "resources_cancel_booking",
    "UPDATE resource_bookings SET status = 'cancelled', cancelled_at = now(), "
    "version = version + 1, updated_at = now() WHERE id = $1 RETURNING id",
    1};

void resources_booking_cancel(struct http_request *req, struct http_response *res)
{
	PGresult *cur, *done = NULL;
	enum hms_err err;

	err = db_begin(req->db);
	if (err == HMS_OK)
		err = crud_fetch(req, &lock_booking, &cur);
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	/* The booker, or a role the table lets cancel anyone's (SPEC 4). */
	if (permission_is_limited_to_own(permission_find(req->route->permission),
	                                 (enum role)req->user.role) &&
	    atoll(PQgetvalue(cur, 0, 0)) != req->user.id) {
		db_rollback(req->db);
		audit_record(req, "denied", "resource_booking", req->ids[0], AUDIT_DENIED);
		http_respond_error(
		    res, HMS_ERR_FORBIDDEN,
		    "Only the person who booked it or an admin may cancel a booking.");
		return;
	}
	if (strcmp(PQgetvalue(cur, 0, 1), "cancelled") == 0) {
		db_rollback(req->db);
		res->status = 204;
		return;
	}
	err = crud_fetch(req, &cancel_booking, &done);
	if (crud_commit(req, res, err, done, NULL, "cancel", "resource_booking", req->ids[0]))
		res->status = 204;
}
