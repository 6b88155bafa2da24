/* health.h - GET /api/health/: is this worker and its database alive. */
#ifndef HMS_HEALTH_H
#define HMS_HEALTH_H

struct http_request;
struct http_response;

void health_get(struct http_request *req, struct http_response *res);

#endif
