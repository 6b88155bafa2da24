/*
 * client.h - a small HTTPS client for the integration tests: real requests
 * through the test stack's nginx (libcurl), the self-signed certificate
 * verified against the stack's own CA file.
 *
 * The stack is described by the environment that tests/run.sh exports:
 * HMS_TEST_BASE_URL, HMS_TEST_CA, HMS_TEST_ROOT, HMS_TEST_STATE,
 * HMS_TEST_ADMIN_URL, HMS_TEST_HMS_BIN, HMS_TEST_HMSCTL_BIN.
 */
#ifndef HMS_TEST_CLIENT_H
#define HMS_TEST_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

struct client_response {
	long status;
	char *body;
	size_t body_len;
	char *headers; /* raw header block, all responses of the exchange */
	size_t headers_len;
	struct json_object *json; /* the body parsed as JSON, or NULL */
};

/* Sends method path (appended to HMS_TEST_BASE_URL as is, no normalising)
 * with optional extra header lines ("Name: value", NULL-terminated) and
 * body. Returns 0, or -1 when the exchange itself failed. */
int client_request(const char *method, const char *path, const char *const *headers,
                   const char *body, size_t body_len, struct client_response *out);

/* GET without headers; asserts the exchange worked. */
void client_get(const char *path, struct client_response *out);

/* The value of the last header called name (case-insensitive) in a static
 * buffer, or NULL. */
const char *client_header(const struct client_response *res, const char *name);

void client_response_free(struct client_response *res);

/* An environment variable the harness must set; aborts the test if absent. */
const char *client_env(const char *name);

/* Runs a shell command, returns its exit status; output goes to *output
 * (malloc'd, may be NULL) when output is not NULL. */
int client_run(const char *command, char **output);

#endif
