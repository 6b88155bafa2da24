/*
 * routes.c - every route of the API in one table: method, path pattern,
 * handler, permission key (a row of src/auth/permissions.c), body kind.
 */
#include "hms/audit.h"
#include "hms/docs.h"
#include "hms/health.h"
#include "hms/router.h"
#include "hms/tokens.h"
#include "hms/users.h"

#define J ROUTE_BODY_JSON
#define N ROUTE_BODY_NONE

const struct route hms_routes[] = {
	{"GET", "/api/health/", health_get, "public", N},
	{"GET", "/api/schema/", docs_schema, "public", N},
	{"GET", "/api/docs/", docs_page, "public", N},

	{"POST", "/api/auth/token/", tokens_obtain, "public", J},
	{"POST", "/api/auth/token/refresh/", tokens_refresh, "public", J},
	{"POST", "/api/auth/logout/", tokens_logout, "self", J},
	{"POST", "/api/auth/register/", users_register, "users", J},
	{"GET", "/api/auth/me/", users_me, "self", N},
	{"POST", "/api/auth/password/", users_change_password, "self", J},
	{"GET", "/api/users/", users_list, "users", N},
	{"GET", "/api/users/{id}/", users_get, "users", N},
	{"PATCH", "/api/users/{id}/", users_patch, "users", J},

	{"GET", "/api/audit/", audit_list, "audit.read", N},
};

const size_t hms_route_count = sizeof(hms_routes) / sizeof(hms_routes[0]);
