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
#include <stdbool.h>
#include <stddef.h>

struct client_response {
	long status;
	char *body;
	size_t body_len;
	char *headers; /* raw header block, all responses of the exchange */
	size_t headers_len;
	struct json_object *json; /* the body parsed as JSON, or NULL */
};

/* Makes this thread's later requests share one kept-alive connection (a
 * flood measures the server, not TLS handshakes); false closes it. */
void client_keep_connection(bool keep);

/* Makes this thread's later requests come from a loopback address such as
 * "127.0.0.2" (the address nginx passes as REMOTE_ADDR); NULL restores the
 * default. address must outlive the requests (a literal). */
void client_set_source(const char *address);

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

/* The value of key in the hms.conf that deploy/stack.sh wrote for the test
 * stack (its last line setting it), malloc'd; aborts the test if absent. */
char *client_stack_setting(const char *key);

/* Runs a shell command, returns its exit status; output goes to *output
 * (malloc'd, may be NULL) when output is not NULL. */
int client_run(const char *command, char **output);

/* --- JSON calls, accounts and SQL (test_auth.c, test_users.c, test_audit.c) --- */

/* Sends method path with an optional bearer token, an optional extra
 * header line ("X-Request-ID: x") and an optional JSON body (sent with
 * Content-Type: application/json). Any of them may be NULL. Asserts the
 * exchange itself worked. */
void client_call(const char *method, const char *path, const char *token, const char *header,
                 const char *json_body, struct client_response *out);
void client_post_json(const char *path, const char *token, const char *json_body,
                      struct client_response *out);
void client_patch_json(const char *path, const char *token, const char *json_body,
                       struct client_response *out);
void client_get_auth(const char *path, const char *token, struct client_response *out);

/* A JSON string member of the response body, or NULL. */
const char *client_json_string(const struct client_response *res, const char *key);

/* True when the body has key and its value is a non-empty array of
 * non-empty strings (a DRF field error). */
int client_has_field_error(const struct client_response *res, const char *key);

struct client_tokens {
	char *access;  /* malloc'd */
	char *refresh; /* malloc'd */
};

/* POST /api/auth/token/; returns the HTTP status and, on 200, fills tokens
 * (else leaves them NULL). header is an optional extra header line. */
long client_login(const char *username, const char *password, const char *header,
                  struct client_tokens *out);
void client_tokens_free(struct client_tokens *tokens);

/* The first admin of the test stack: HMS_ADMIN_USERNAME (default admin) and
 * HMS_ADMIN_PASSWORD, as tests/run.sh exports them. Tests never change its
 * password nor deactivate it. */
const char *client_admin_username(void);
const char *client_admin_password(void);

/* An access token of that admin (logged in once per test process). */
const char *client_admin_token(void);

struct client_user {
	long long id;
	char username[96];
	char password[64];
	char role[16];
};

/* A username no other test (nor an earlier run) uses: prefix, pid, a
 * counter and the time. */
void client_unique_name(const char *prefix, char *out, size_t size);

/* Registers a new active user with role through POST /api/auth/register/
 * as the admin (unique username from prefix, a fixed password); asserts 201.
 * first_name and last_name may be NULL. */
void client_create_user_named(const char *role, const char *prefix, const char *first_name,
                              const char *last_name, struct client_user *out);
void client_create_user(const char *role, struct client_user *out);

/* Logs the user in; asserts 200. */
void client_user_login(const struct client_user *user, struct client_tokens *out);

/* A new user of a role, logged in: most tests act as one. */
struct client_session {
	struct client_user user;
	struct client_tokens tokens;
};

void client_open_session(const char *role, struct client_session *s);
void client_close_session(struct client_session *s);

/* Successful audit rows of one request: action on entity_type entity_id
 * (0: none) by actor. */
long long client_audit_count(const char *request_id, const char *action, const char *entity_type,
                             long long entity_id, long long actor);

/* A new patient (created by the admin); returns its id. */
long long client_new_patient(void);

/* Runs query as the PostgreSQL superuser in the hms database
 * (HMS_TEST_ADMIN_URL). Returns the first column of the first row,
 * malloc'd, or NULL when there is no row or it is NULL; asserts the query
 * worked. */
char *client_sql_value(const char *query);

/* The same, as a number (asserts a non-NULL value). */
long long client_sql_long(const char *query);

/* --- more verbs, several headers, URL text (test_patients.c, test_doctors.c) --- */

/* client_call with any number of extra header lines (NULL-terminated list,
 * may be NULL). Asserts the exchange itself worked. */
void client_call_headers(const char *method, const char *path, const char *token,
                         const char *const *headers, const char *json_body,
                         struct client_response *out);
void client_put_json(const char *path, const char *token, const char *json_body,
                     struct client_response *out);
void client_delete_auth(const char *path, const char *token, struct client_response *out);

/* text percent-encoded for a query string (everything but A-Z a-z 0-9 - _ . ~),
 * malloc'd. */
char *client_url_encode(const char *text);

/* The path (and query) of an absolute URL that points at the test stack
 * (starts with HMS_TEST_BASE_URL), or NULL when it points elsewhere. */
const char *client_path_of_url(const char *url);

/* Assertions and JSON readers shared by the test files. */
void client_assert_status(const struct client_response *res, long status);
void client_assert_field_error(const struct client_response *res, const char *field);
void client_assert_detail(const struct client_response *res, long status);
long long client_json_int(struct json_object *obj, const char *key);
const char *client_json_str(struct json_object *obj, const char *key);
int client_json_flag(struct json_object *obj, const char *key);
long long client_count_of(const struct client_response *res);
/* A malloc'd printf; aborts the test when out of memory. */
char *client_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct json_object *client_list_results(const struct client_response *res);

#endif
