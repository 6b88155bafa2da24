/*
 * resources.h - bookable resources (operating rooms, lab slots, beds,
 * equipment) and their bookings, race-free like appointments.
 */
#ifndef HMS_RESOURCES_H
#define HMS_RESOURCES_H

struct http_request;
struct http_response;
struct resource;

extern const struct resource resources_resource;

void resources_bookings_list(struct http_request *req, struct http_response *res);
void resources_book(struct http_request *req, struct http_response *res);
void resources_booking_get(struct http_request *req, struct http_response *res);
void resources_booking_cancel(struct http_request *req, struct http_response *res);

#endif
