/*
 * docs.h - GET /api/schema/ (the OpenAPI document, docs/openapi.yaml),
 * compiled into the binary, so what is served is exactly what the
 * repository holds. The page that renders it, /api/docs/, is Swagger UI
 * served by nginx as static files (docs/swagger/, deploy/docs-ui.sh).
 */
#ifndef HMS_DOCS_H
#define HMS_DOCS_H

#include <stddef.h>

struct http_request;
struct http_response;

void docs_schema(struct http_request *req, struct http_response *res);

/* The embedded OpenAPI document (NUL-terminated) and its length. */
const char *docs_openapi_text(size_t *len);

#endif
