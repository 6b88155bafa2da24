/*
 * records.h - medical records: a patient's clinical notes, diagnoses,
 * prescriptions, lab results and vitals, written by doctors and nurses,
 * changed only by their author, never deleted, and versioned by PostgreSQL
 * (every update keeps the version it replaces). Every read and write is
 * audited, never with a record's contents. Served by crud.h with the
 * handlers below for what hangs off a patient or a record.
 */
#ifndef HMS_RECORDS_H
#define HMS_RECORDS_H

struct http_request;
struct http_response;
struct resource;

extern const struct resource records_resource;

/* GET /api/patients/{id}/records/: newest first, filters record_type and
 * author; 404 when the patient is unknown or (for non-admins) deleted. */
void records_list(struct http_request *req, struct http_response *res);

/* GET /api/records/{id}/history/: the earlier versions, newest first. */
void records_history(struct http_request *req, struct http_response *res);

#endif
