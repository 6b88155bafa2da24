/*
 * routes.c - every route of the API in one table: method, path pattern,
 * handler, permission key (a row of src/auth/permissions.c), body kind.
 */
#include "hms/appointments.h"
#include "hms/audit.h"
#include "hms/docs.h"
#include "hms/doctors.h"
#include "hms/health.h"
#include "hms/patients.h"
#include "hms/resources.h"
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

    {"GET", "/api/patients/", patients_list, "patients.read", N},
    {"POST", "/api/patients/", patients_create, "patients.write", J},
    {"GET", "/api/patients/{id}/", patients_get, "patients.read", N},
    {"PUT", "/api/patients/{id}/", patients_replace, "patients.write", J},
    {"PATCH", "/api/patients/{id}/", patients_update, "patients.write", J},
    {"DELETE", "/api/patients/{id}/", patients_delete, "patients.admin", N},
    {"POST", "/api/patients/{id}/restore/", patients_restore, "patients.admin", N},

    {"GET", "/api/doctors/", doctors_list, "doctors.read", N},
    {"POST", "/api/doctors/", doctors_create, "doctors.admin", J},
    {"GET", "/api/doctors/{id}/", doctors_get, "doctors.read", N},
    {"PUT", "/api/doctors/{id}/", doctors_replace, "doctors.write", J},
    {"PATCH", "/api/doctors/{id}/", doctors_update, "doctors.write", J},
    {"DELETE", "/api/doctors/{id}/", doctors_deactivate, "doctors.admin", N},
    {"GET", "/api/doctors/{id}/availability/", doctors_availability, "doctors.read", N},

    {"GET", "/api/appointments/", appointments_list, "appointments.read", N},
    {"POST", "/api/appointments/", appointments_create, "appointments.create", J},
    {"GET", "/api/appointments/upcoming/", appointments_upcoming, "appointments.read", N},
    {"GET", "/api/appointments/{id}/", appointments_get, "appointments.read", N},
    {"PUT", "/api/appointments/{id}/", appointments_replace, "appointments.write", J},
    {"PATCH", "/api/appointments/{id}/", appointments_update, "appointments.write", J},
    {"DELETE", "/api/appointments/{id}/", appointments_cancel, "appointments.write", N},

    {"GET", "/api/resources/", resources_list, "resources.read", N},
    {"POST", "/api/resources/", resources_create, "resources.write", J},
    {"GET", "/api/resources/{id}/", resources_get, "resources.read", N},
    {"PUT", "/api/resources/{id}/", resources_replace, "resources.write", J},
    {"PATCH", "/api/resources/{id}/", resources_update, "resources.write", J},
    {"GET", "/api/resources/{id}/bookings/", resources_bookings_list, "resources.read", N},
    {"POST", "/api/resources/{id}/bookings/", resources_book, "resources.book", J},
    {"GET", "/api/resource-bookings/{id}/", resources_booking_get, "resources.read", N},
    {"DELETE", "/api/resource-bookings/{id}/", resources_booking_cancel, "resources.book", N},

    {"GET", "/api/audit/", audit_list, "audit.read", N},
};

const size_t hms_route_count = sizeof(hms_routes) / sizeof(hms_routes[0]);
