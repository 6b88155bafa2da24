/*
 * health.c - GET /api/health/ (no auth): proves the worker answers and its
 * database connection works with a trivial query. Load balancers and
 * `make start` poll it.
 */
#include "hms/health.h"

#include <json-c/json.h>

#include "hms/db.h"
#include "hms/http.h"

static const struct db_stmt health_ping = {"health_ping", "SELECT 1", 0};

void health_get(struct http_request *req, struct http_response *res)
{
	PGresult *result;
	enum hms_err err = db_exec(req->db, req->arena, &health_ping, NULL, &result);
	struct json_object *body = json_object_new_object();

	if (err == HMS_OK && PQntuples(result) == 1) {
		json_object_object_add(body, "status", json_object_new_string("ok"));
		json_object_object_add(body, "database", json_object_new_string("ok"));
		http_respond_json(res, 200, body);
		return;
	}
	json_object_object_add(body, "detail",
	                       json_object_new_string("The database cannot be reached."));
	json_object_object_add(body, "status", json_object_new_string("error"));
	json_object_object_add(body, "database", json_object_new_string("unavailable"));
	http_respond_json(res, 503, body);
}
