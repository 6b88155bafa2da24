/*
 * appointments.h - booking patients with doctors. Overlaps are refused by
 * PostgreSQL's exclusion constraints (409), so concurrent attempts at one
 * slot cannot both succeed.
 */
#ifndef HMS_APPOINTMENTS_H
#define HMS_APPOINTMENTS_H

struct http_request;
struct http_response;

void appointments_list(struct http_request *req, struct http_response *res);
void appointments_upcoming(struct http_request *req, struct http_response *res);
void appointments_create(struct http_request *req, struct http_response *res);
void appointments_get(struct http_request *req, struct http_response *res);
void appointments_replace(struct http_request *req, struct http_response *res);
void appointments_update(struct http_request *req, struct http_response *res);
void appointments_cancel(struct http_request *req, struct http_response *res);

#endif
