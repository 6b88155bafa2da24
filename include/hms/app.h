/*
 * app.h - the request pipeline shared by every route:
 * size and URI checks, routing (404/405), body kind (415), JSON parsing (400),
 * then the handler. The worker feeds it requests; tests feed it directly.
 */
#ifndef HMS_APP_H
#define HMS_APP_H

#include <stddef.h>

struct http_request;
struct http_response;
struct route;

/* Routes req through table and fills res. The body must already be read. */
void app_dispatch(struct http_request *req, struct http_response *res, const struct route *table,
                  size_t count);

#endif
