/*
 * docs.c - serves the API's own description.
 *
 * docs/openapi.yaml is written in the JSON subset of YAML, so the same
 * bytes are a YAML file for tools and JSON for the browser page and for the
 * unit test that checks every route is documented. .incbin embeds the
 * files at build time (the Makefile makes this object depend on them).
 */
#include "hms/docs.h"

#include <string.h>

#include "hms/http.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        "hms_openapi_start:\n"
        ".incbin \"docs/openapi.yaml\"\n"
        ".byte 0\n"
        ".balign 16\n"
        "hms_docs_html_start:\n"
        ".incbin \"docs/api.html\"\n"
        ".byte 0\n"
        ".previous\n");

extern const char hms_openapi_start[] __asm__("hms_openapi_start");
extern const char hms_docs_html_start[] __asm__("hms_docs_html_start");

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

void docs_page(struct http_request *req, struct http_response *res)
{
	(void)req;
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
	res->body = hms_docs_html_start;
	res->body_len = strlen(hms_docs_html_start);
	/* The page's script and style are inline and it fetches only our schema. */
	http_response_header(
	    res, "Content-Security-Policy",
	    "default-src 'none'; script-src 'unsafe-inline'; style-src "
	    "'unsafe-inline'; connect-src 'self'; base-uri 'none'; frame-ancestors "
	    "'none'");
}
