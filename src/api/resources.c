/*
 * resources.c - /api/resources/ and /api/resource-bookings/: field tables,
 * SQL, handlers. A booking overlapping a live booking of the same resource
 * is refused by an exclusion constraint (409), never by a check that could
 * race.
 */
#include "hms/resources.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/auth.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/permissions.h"
#include "hms/resource.h"
#include "hms/validate.h"

#define RESOURCE_COLUMNS                                                                           \
	"id, name, resource_type, location, is_active, " SQL_UTC("created_at") ", " SQL_UTC(       \
	    "updated_at") ", version"
#define BOOKING_COLUMNS                                                                            \
	"id, resource_id, patient_id, " SQL_UTC("start_time") ", " SQL_UTC(                        \
	    "end_time") ", "                                                                       \
	                "purpose, status, booked_by, " SQL_UTC("created_at") ", " SQL_UTC(         \
	                    "updated_at") ", version"

static const char *const types[] = {"operating_room", "lab_slot", "bed",
                                    "equipment",      "other",    NULL};

static const struct field resource_fields[] = {
    {"name", FIELD_STRING, .required = true, .max_len = 200},
    {"resource_type", FIELD_CHOICE, .required = true, .choices = types},
    {"location", FIELD_STRING, .allow_blank = true, .max_len = 200},
    {"is_active", FIELD_BOOL, .required = false},
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

static struct json_object *resource_json(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", db_json_int(res, row, 0));
	json_object_object_add(o, "name", db_json_text(res, row, 1));
	json_object_object_add(o, "resource_type", db_json_text(res, row, 2));
	json_object_object_add(o, "location", db_json_text(res, row, 3));
	json_object_object_add(o, "is_active", db_json_bool(res, row, 4));
	json_object_object_add(o, "created_at", db_json_text(res, row, 5));
	json_object_object_add(o, "updated_at", db_json_text(res, row, 6));
	return o;
}

static struct json_object *booking_json(const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", db_json_int(res, row, 0));
	json_object_object_add(o, "resource", db_json_int(res, row, 1));
	json_object_object_add(o, "patient", db_json_int(res, row, 2));
	json_object_object_add(o, "start_time", db_json_text(res, row, 3));
	json_object_object_add(o, "end_time", db_json_text(res, row, 4));
	json_object_object_add(o, "purpose", db_json_text(res, row, 5));
	json_object_object_add(o, "status", db_json_text(res, row, 6));
	json_object_object_add(o, "booked_by", db_json_int(res, row, 7));
	json_object_object_add(o, "created_at", db_json_text(res, row, 8));
	json_object_object_add(o, "updated_at", db_json_text(res, row, 9));
	return o;
}

static void respond_row(struct http_request *req, struct http_response *res, int status,
                        const PGresult *row, struct json_object *(*to_json)(const PGresult *, int),
                        int version_column)
{
	resource_set_etag(req, res, atoll(PQgetvalue(row, 0, 0)),
	                  PQgetvalue(row, 0, version_column));
	http_respond_json(res, status, to_json(row, 0));
}

/* --- resources ------------------------------------------------------------ */

static const struct list_filter resource_filters[] = {
    {"resource_type", LIST_CHOICE, "resource_type = $?", types},
    {"is_active", LIST_BOOL, "is_active = $?::boolean", NULL},
    {NULL, LIST_TEXT, NULL, NULL},
};
static const struct list_ordering resource_orderings[] = {
    {"name", "name"},
    {"created_at", "created_at"},
    {NULL, NULL},
};

void resources_list(struct http_request *req, struct http_response *res)
{
	static const struct list_spec spec = {
	    .columns = RESOURCE_COLUMNS,
	    .from = "resources",
	    .filters = resource_filters,
	    .orderings = resource_orderings,
	    .default_order = "name ASC",
	    .tiebreak = "id",
	    .row = resource_json,
	};

	list_respond(req, res, &spec, NULL, 0);
}

/* Ends a write of a resource or booking: audit row, commit, answer. */
static void finish_write(struct http_request *req, struct http_response *res, enum hms_err err,
                         const PGresult *row, const char *entity, const char *action, int status,
                         struct json_object *(*to_json)(const PGresult *, int), int version_column)
{
	if (!resource_commit(req, res, err, action, entity,
	                     err == HMS_OK ? atoll(PQgetvalue(row, 0, 0)) : 0))
		return;
	respond_row(req, res, status, row, to_json, version_column);
}

void resources_create(struct http_request *req, struct http_response *res)
{
	struct json_object *errors;
	struct validated v;
	const char *params[32];
	PGresult *row = NULL;
	char *sql;
	int n;
	enum hms_err err;

	errors = validate_body(req->arena, resource_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	sql = resource_insert_sql(req, "resources", resource_fields, &v, RESOURCE_COLUMNS, params,
	                          &n);
	err = sql == NULL ? HMS_ERR_NOMEM : db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	finish_write(req, res, err, row, "resource", "create", 201, resource_json, 7);
}

static const struct db_stmt resource_by_id = {
    "resources_by_id", "SELECT " RESOURCE_COLUMNS " FROM resources WHERE id = $1", 1};

void resources_get(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err = resource_fetch(req, &resource_by_id, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_row(req, res, 200, row, resource_json, 7);
}

static void write_resource(struct http_request *req, struct http_response *res,
                           enum validate_mode mode)
{
	struct json_object *errors;
	struct validated v;
	const char *params[32];
	const char *version;
	PGresult *row = NULL;
	char *sql;
	int n;
	enum hms_err err;

	err = resource_expected_version(req, req->ids[0], &version);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	errors = validate_body(req->arena, resource_fields, req->json, mode, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	sql = resource_update_sql(req, "resources", resource_fields, &v, version, NULL,
	                          RESOURCE_COLUMNS, params, &n);
	err = sql == NULL ? HMS_ERR_NOMEM : db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec_sql(req->db, req->arena, sql, n, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = resource_missing_or_changed(req, "SELECT 1 FROM resources WHERE id = $1");
	finish_write(req, res, err, row, "resource", "update", 200, resource_json, 7);
}

void resources_replace(struct http_request *req, struct http_response *res)
{
	write_resource(req, res, VALIDATE_REPLACE);
}

void resources_update(struct http_request *req, struct http_response *res)
{
	write_resource(req, res, VALIDATE_UPDATE);
}

/* --- bookings --------------------------------------------------------------- */

static const struct list_filter booking_filters[] = {
    {"status", LIST_CHOICE, "status = $?", (const char *const[]){"booked", "cancelled", NULL}},
    {"start_after", LIST_DATETIME, "start_time >= $?::timestamptz", NULL},
    {"start_before", LIST_DATETIME, "start_time < $?::timestamptz", NULL},
    {NULL, LIST_TEXT, NULL, NULL},
};
static const struct list_ordering booking_orderings[] = {
    {"start_time", "start_time"},
    {NULL, NULL},
};

void resources_bookings_list(struct http_request *req, struct http_response *res)
{
	static const struct list_spec spec = {
	    .columns = BOOKING_COLUMNS,
	    .from = "resource_bookings",
	    .filters = booking_filters,
	    .orderings = booking_orderings,
	    .default_order = "start_time ASC",
	    .tiebreak = "id",
	    .row = booking_json,
	};
	char id[24];
	const char *params[1] = {id};
	struct list_condition of_resource = {"resource_id = $?::bigint", id};
	PGresult *row;
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_exec(req->db, req->arena, &resource_by_id, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	list_respond(req, res, &spec, &of_resource, 1);
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
    "$6::bigint) RETURNING " BOOKING_COLUMNS,
    6};

void resources_book(struct http_request *req, struct http_response *res)
{
	struct json_object *errors;
	struct validated v;
	const char *params[6];
	char id[24];
	PGresult *check, *row = NULL;
	enum hms_err err;

	errors = validate_body(req->arena, booking_fields, req->json, VALIDATE_CREATE, &v);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	params[0] = id;
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
	if (err == HMS_ERR_CONFLICT && db_result_is(row, "23P01")) {
		db_rollback(req->db);
		http_respond_error(res, HMS_ERR_CONFLICT,
		                   "The resource is already booked at that time.");
		return;
	}
	finish_write(req, res, err, row, "resource_booking", "create", 201, booking_json, 10);
}

static const struct db_stmt booking_by_id = {
    "resources_booking_by_id", "SELECT " BOOKING_COLUMNS " FROM resource_bookings WHERE id = $1",
    1};

void resources_booking_get(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err = resource_fetch(req, &booking_by_id, &row);

	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_row(req, res, 200, row, booking_json, 10);
}

static const struct db_stmt lock_booking = {
    "resources_lock_booking",
    "SELECT booked_by, status FROM resource_bookings WHERE id = $1 FOR UPDATE", 1};
static const struct db_stmt cancel_booking = {
    "resources_cancel_booking",
    "UPDATE resource_bookings SET status = 'cancelled', cancelled_at = now(), "
    "version = version + 1, updated_at = now() WHERE id = $1",
    1};

void resources_booking_cancel(struct http_request *req, struct http_response *res)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *cur, *done;
	enum hms_err err;

	snprintf(id, sizeof(id), "%lld", (long long)req->ids[0]);
	err = db_begin(req->db);
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &lock_booking, params, &cur);
	if (err == HMS_OK && PQntuples(cur) != 1)
		err = HMS_ERR_NOT_FOUND;
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	/* The booker or an admin (SPEC section 4). */
	if (req->user.role != ROLE_ADMIN && atoll(PQgetvalue(cur, 0, 0)) != req->user.id) {
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
	err = db_exec(req->db, req->arena, &cancel_booking, params, &done);
	if (!resource_commit(req, res, err, "cancel", "resource_booking", req->ids[0]))
		return;
	res->status = 204;
}
