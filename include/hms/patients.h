/*
 * patients.h - the patient register: search, filters, soft delete and
 * restore, optimistic concurrency, and an audit row for every read of a
 * single patient and every change.
 */
#ifndef HMS_PATIENTS_H
#define HMS_PATIENTS_H

struct http_request;
struct http_response;

void patients_list(struct http_request *req, struct http_response *res);
void patients_create(struct http_request *req, struct http_response *res);
void patients_get(struct http_request *req, struct http_response *res);
void patients_replace(struct http_request *req, struct http_response *res);
void patients_update(struct http_request *req, struct http_response *res);
void patients_delete(struct http_request *req, struct http_response *res);
void patients_restore(struct http_request *req, struct http_response *res);

#endif
