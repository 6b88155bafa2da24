/*
 * appointments.h - booking patients with doctors. Overlaps are refused by
 * PostgreSQL's exclusion constraints (409), so concurrent attempts at one
 * slot cannot both succeed.
 */
#ifndef HMS_APPOINTMENTS_H
#define HMS_APPOINTMENTS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "hms/err.h"

struct column;
struct http_request;
struct http_response;
struct list_condition;
struct list_spec;

void appointments_list(struct http_request *req, struct http_response *res);
void appointments_upcoming(struct http_request *req, struct http_response *res);
void appointments_create(struct http_request *req, struct http_response *res);
void appointments_get(struct http_request *req, struct http_response *res);
void appointments_replace(struct http_request *req, struct http_response *res);
void appointments_update(struct http_request *req, struct http_response *res);
void appointments_cancel(struct http_request *req, struct http_response *res);

/* For the FHIR interface (src/api/fhir.c): the row's columns; the
 * appointment of the path's id as appointments_get reads it (404 for a
 * doctor's other appointments, the "read" audit row written first), with
 * its doctor's user as an extra last column; the search over FHIR's
 * parameters; and the own-only condition of the caller (returns 1 when it
 * applies, else 0). */
extern const struct column *const appointments_columns;
enum hms_err appointments_read(struct http_request *req, PGresult **row);
extern const struct list_spec appointments_fhir_search;
size_t appointments_own_condition(struct http_request *req, struct list_condition *out);

#endif
