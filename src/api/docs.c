/*
 * docs.c - serves the API's own description at /api/schema/.
 *
 * docs/openapi.yaml is written in the JSON subset of YAML, so the same
 * bytes are a YAML file for tools and JSON for Swagger UI and for the unit
 * test that checks every route is documented. .incbin embeds the file at
 * build time (the Makefile makes this object depend on it). The page that
 * renders it, /api/docs/, is static and served by nginx (docs/swagger/).
 */
#include "hms/docs.h"

#include <string.h>

#include "hms/http.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        "hms_openapi_start:\n"
        ".incbin \"docs/openapi.yaml\"\n"
        ".byte 0\n"
        ".previous\n");

extern const char hms_openapi_start[] __asm__("hms_openapi_start");

const char *docs_openapi_text(size_t *len)
{
	*len = strlen(hms_openapi_start);
	return hms_openapi_start;
}

void docs_schema(struct http_request *req, struct http_response *res)
{
	(void)req;
	res->status = 200;
	res->content_type = "application/vnd.oai.openapi+json; charset=utf-8";
	res->body = docs_openapi_text(&res->body_len);
}
