/*
 * routes.c - every route of the API in one table: method, path pattern,
 * handler, permission key, body kind. The permission key names a row of the
 * role table; "public" routes need no token.
 */
#include "hms/docs.h"
#include "hms/health.h"
#include "hms/router.h"

const struct route hms_routes[] = {
    {"GET", "/api/health/", health_get, "public", ROUTE_BODY_NONE},
    {"GET", "/api/schema/", docs_schema, "public", ROUTE_BODY_NONE},
    {"GET", "/api/docs/", docs_page, "public", ROUTE_BODY_NONE},
};

const size_t hms_route_count = sizeof(hms_routes) / sizeof(hms_routes[0]);
