/*
 * doctors.h - doctors, their weekly schedules and their free slots.
 */
#ifndef HMS_DOCTORS_H
#define HMS_DOCTORS_H

struct http_request;
struct http_response;
struct json_object;

void doctors_list(struct http_request *req, struct http_response *res);
void doctors_create(struct http_request *req, struct http_response *res);
void doctors_get(struct http_request *req, struct http_response *res);
void doctors_replace(struct http_request *req, struct http_response *res);
void doctors_update(struct http_request *req, struct http_response *res);
void doctors_deactivate(struct http_request *req, struct http_response *res);
void doctors_availability(struct http_request *req, struct http_response *res);

/* Checks a weekly schedule (JSON array of {weekday, start_time, end_time}):
 * NULL when valid, else the message. Entries of one weekday must not
 * overlap (touching is fine). */
const char *doctors_check_schedule(struct json_object *schedule);

#endif
