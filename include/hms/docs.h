/*
 * docs.h - GET /api/schema/ (the OpenAPI document, docs/openapi.yaml) and
 * GET /api/docs/ (a page that renders it). Both files are compiled into the
 * binary, so what is served is exactly what the repository holds.
 */
#ifndef HMS_DOCS_H
#define HMS_DOCS_H

#include <stddef.h>

struct http_request;
struct http_response;

void docs_schema(struct http_request *req, struct http_response *res);
void docs_page(struct http_request *req, struct http_response *res);

/* The embedded OpenAPI document (NUL-terminated) and its length. */
const char *docs_openapi_text(size_t *len);

#endif
