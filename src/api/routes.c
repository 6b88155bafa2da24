/*
 * routes.c - every route of the API in one table: method, path pattern,
 * handler, permission key (a row of src/auth/permissions.c), body kind.
 */
#include "hms/appointments.h"
#include "hms/attachments.h"
#include "hms/audit_log.h"
#include "hms/crud.h"
#include "hms/docs.h"
#include "hms/doctors.h"
#include "hms/fhir.h"
#include "hms/health.h"
#include "hms/invoices.h"
#include "hms/patients.h"
#include "hms/records.h"
#include "hms/resources.h"
#include "hms/router.h"
#include "hms/tokens.h"
#include "hms/users.h"

#define J ROUTE_BODY_JSON
#define N ROUTE_BODY_NONE
#define S ROUTE_BODY_STREAM

const struct route hms_routes[] = {
    {"GET", "/api/health/", health_get, "public", N},
    {"GET", "/api/schema/", docs_schema, "public", N},

    {"POST", "/api/auth/token/", tokens_obtain, "public", J},
    {"POST", "/api/auth/token/refresh/", tokens_refresh, "public", J},
    {"POST", "/api/auth/logout/", tokens_logout, "self", J},
    {"POST", "/api/auth/register/", users_register, "users", J},
    {"GET", "/api/auth/me/", users_me, "self", N},
    {"POST", "/api/auth/password/", users_change_password, "self", J},
    {"GET", "/api/users/", crud_list, "users", N, &users_resource},
    {"GET", "/api/users/{id}/", crud_get, "users", N, &users_resource},
    {"PATCH", "/api/users/{id}/", crud_update, "users", J, &users_resource},

    {"GET", "/api/patients/", crud_list, "patients.read", N, &patients_resource},
    {"POST", "/api/patients/", crud_create, "patients.write", J, &patients_resource},
    {"GET", "/api/patients/{id}/", crud_get, "patients.read", N, &patients_resource},
    {"PUT", "/api/patients/{id}/", crud_replace, "patients.write", J, &patients_resource},
    {"PATCH", "/api/patients/{id}/", crud_update, "patients.write", J, &patients_resource},
    {"DELETE", "/api/patients/{id}/", crud_delete, "patients.admin", N, &patients_resource},
    {"POST", "/api/patients/{id}/restore/", crud_restore, "patients.admin", N, &patients_resource},

    /* Records are never deleted: DELETE is 405 (the router's Allow). */
    {"GET", "/api/patients/{id}/records/", records_list, "records.read", N, &records_resource},
    {"POST", "/api/patients/{id}/records/", crud_create, "records.create", J, &records_resource},
    {"GET", "/api/records/{id}/", crud_get, "records.read", N, &records_resource},
    {"PUT", "/api/records/{id}/", crud_replace, "records.update", J, &records_resource},
    {"PATCH", "/api/records/{id}/", crud_update, "records.update", J, &records_resource},
    {"GET", "/api/records/{id}/history/", records_history, "records.read", N, &records_resource},

    {"GET", "/api/doctors/", crud_list, "doctors.read", N, &doctors_resource},
    {"POST", "/api/doctors/", crud_create, "doctors.admin", J, &doctors_resource},
    {"GET", "/api/doctors/{id}/", crud_get, "doctors.read", N, &doctors_resource},
    {"PUT", "/api/doctors/{id}/", crud_replace, "doctors.write", J, &doctors_resource},
    {"PATCH", "/api/doctors/{id}/", crud_update, "doctors.write", J, &doctors_resource},
    {"DELETE", "/api/doctors/{id}/", crud_delete, "doctors.admin", N, &doctors_resource},
    {"GET", "/api/doctors/{id}/availability/", doctors_availability, "doctors.read", N},

    {"GET", "/api/appointments/", appointments_list, "appointments.read", N},
    {"POST", "/api/appointments/", appointments_create, "appointments.create", J},
    {"GET", "/api/appointments/upcoming/", appointments_upcoming, "appointments.read", N},
    {"GET", "/api/appointments/{id}/", appointments_get, "appointments.read", N},
    {"PUT", "/api/appointments/{id}/", appointments_replace, "appointments.write", J},
    {"PATCH", "/api/appointments/{id}/", appointments_update, "appointments.write", J},
    {"DELETE", "/api/appointments/{id}/", appointments_cancel, "appointments.write", N},

    /* Billing. Invoices are never deleted, payments never changed: the
     * router answers 405 with Allow. */
    {"GET", "/api/invoices/", crud_list, "billing.read", N, &invoices_resource},
    {"POST", "/api/invoices/", crud_create, "billing.write", J, &invoices_resource},
    {"GET", "/api/invoices/{id}/", crud_get, "billing.read", N, &invoices_resource},
    {"PUT", "/api/invoices/{id}/", crud_replace, "billing.write", J, &invoices_resource},
    {"PATCH", "/api/invoices/{id}/", crud_update, "billing.write", J, &invoices_resource},
    {"POST", "/api/invoices/{id}/issue/", invoices_issue, "billing.write", N},
    {"POST", "/api/invoices/{id}/void/", invoices_void, "billing.write", N},
    {"GET", "/api/invoices/{id}/payments/", invoices_payments_list, "billing.read", N},
    {"POST", "/api/invoices/{id}/payments/", invoices_pay, "billing.write", J},

    {"GET", "/api/resources/", crud_list, "resources.read", N, &resources_resource},
    {"POST", "/api/resources/", crud_create, "resources.write", J, &resources_resource},
    {"GET", "/api/resources/{id}/", crud_get, "resources.read", N, &resources_resource},
    {"PUT", "/api/resources/{id}/", crud_replace, "resources.write", J, &resources_resource},
    {"PATCH", "/api/resources/{id}/", crud_update, "resources.write", J, &resources_resource},
    {"GET", "/api/resources/{id}/bookings/", resources_bookings_list, "resources.read", N},
    {"POST", "/api/resources/{id}/bookings/", resources_book, "resources.book", J},
    {"GET", "/api/resource-bookings/{id}/", resources_booking_get, "resources.read", N},
    {"DELETE", "/api/resource-bookings/{id}/", resources_booking_cancel, "resources.cancel", N},

    /* Attachments belong to records: the same permissions. The download
     * is public because the signed URL is its credential (attachments.h). */
    {"POST", "/api/attachments/", attachments_upload, "records.create", S},
    {"GET", "/api/attachments/{id}/", attachments_get, "records.read", N},
    {"GET", "/api/attachments/{id}/download/", attachments_download, "public", N},

    {"GET", "/api/audit/", audit_log_list, "audit.read", N},

    /* FHIR R4, read-only, over the same rows and the same role table
     * (src/api/fhir.c). FHIR's paths have no final '/'. */
    {"GET", "/fhir/metadata", fhir_metadata, "public", N},
    {"GET", "/fhir/Patient", fhir_search, "patients.read", N, &fhir_patient},
    {"GET", "/fhir/Patient/{id}", fhir_patient_read, "patients.read", N},
    {"GET", "/fhir/Practitioner", fhir_search, "doctors.read", N, &fhir_practitioner},
    {"GET", "/fhir/Practitioner/{id}", fhir_practitioner_read, "doctors.read", N},
    {"GET", "/fhir/Appointment", fhir_search, "appointments.read", N, &fhir_appointment},
    {"GET", "/fhir/Appointment/{id}", fhir_appointment_read, "appointments.read", N},
};

const size_t hms_route_count = sizeof(hms_routes) / sizeof(hms_routes[0]);

/* Under /fhir/ every error is an OperationOutcome, unknown paths included. */
const struct route_family hms_route_families[] = {
    {"/fhir/", fhir_respond_error},
    {NULL},
};
