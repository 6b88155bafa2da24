/*
 * doctors.h - doctors, their weekly schedules and their free slots.
 */
#ifndef HMS_DOCTORS_H
#define HMS_DOCTORS_H

struct http_request;
struct http_response;
struct json_object;
struct resource;

extern const struct resource doctors_resource;

/* The same rows searched by FHIR's Practitioner parameters (src/api/fhir.c). */
struct list_spec;
extern const struct list_spec doctors_fhir_search;

void doctors_availability(struct http_request *req, struct http_response *res);

/* Checks a weekly schedule (JSON array of {weekday, start_time, end_time}):
 * NULL when valid, else the message. Entries of one weekday must not
 * overlap (touching is fine). */
const char *doctors_check_schedule(struct json_object *schedule);

#endif
