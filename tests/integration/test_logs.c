/*
 * test_logs.c - hms's own log (src/util/log.c, the per-request line of
 * src/worker.c): JSON lines with the request id, method, route pattern,
 * status, duration and user id, and no patient data anywhere.
 *
 * The test stack runs hms at log_level = debug (tests/run.sh), where every
 * request gets its line, so the whole suite's requests go through it; this
 * file reads $HMS_TEST_STATE/log/hms.log.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* A name of letters only (patient names take no digits), unlike any other:
 * the pid and the time spelled in letters. */
static void unique_letters(const char *prefix, char *out, size_t size)
{
	unsigned long long n =
	    (unsigned long long)getpid() * 1000003ULL + (unsigned long long)time(NULL);
	size_t len = (size_t)snprintf(out, size, "%s", prefix);

	while (n > 0 && len + 1 < size) {
		out[len++] = (char)('a' + n % 26);
		n /= 26;
	}
	out[len] = '\0';
}

/* The hms.log line of event "request" with request_id, parsed; waits up to
 * 2 s for it (the worker writes it as it finishes the request). NULL when
 * absent. */
static struct json_object *request_line(const char *request_id)
{
	char *path = client_format("%s/log/hms.log", client_env("HMS_TEST_STATE"));
	char *needle = client_format("\"request_id\":\"%s\"", request_id);
	struct json_object *found = NULL;

	for (int attempt = 0; attempt < 20 && found == NULL; attempt++) {
		FILE *f = fopen(path, "r");
		char *line = NULL;
		size_t cap = 0;

		cr_assert_not_null(f, "cannot open %s", path);
		while (found == NULL && getline(&line, &cap, f) > 0)
			if (strstr(line, needle) != NULL &&
			    strstr(line, "\"event\":\"request\"") != NULL)
				found = json_tokener_parse(line);
		free(line);
		fclose(f);
		if (found == NULL)
			usleep(100 * 1000);
	}
	free(path);
	free(needle);
	return found;
}

static int log_contains(const char *text)
{
	char *cmd = client_format("grep -c -F -- '%s' '%s/log/hms.log'", text,
	                          client_env("HMS_TEST_STATE"));
	char *out = NULL;
	int rc = client_run(cmd, &out);

	free(cmd);
	free(out);
	return rc == 0; /* grep: 0 found, 1 not found */
}

static void assert_request_line(const char *request_id, const char *method, const char *route,
                                long status, long long user_id)
{
	struct json_object *line = request_line(request_id);

	cr_assert_not_null(line, "no request line for %s in hms.log", request_id);
	cr_assert_str_eq(client_json_str(line, "method"), method);
	cr_assert_str_eq(client_json_str(line, "route"), route);
	cr_assert_eq(client_json_int(line, "status"), status);
	cr_assert_eq(client_json_int(line, "user_id"), user_id, "user_id %lld, not %lld",
	             client_json_int(line, "user_id"), user_id);
	cr_assert_not_null(json_object_object_get(line, "duration_ms"));
	cr_assert_not_null(json_object_object_get(line, "ts"));
	json_object_put(line);
}

Test(logs, request_lines_name_the_route_and_user_never_the_patient)
{
	char name[64], rid[3][64], header[96], *body, *encoded, *path, *sql;
	struct client_response res;
	long long admin_id, patient_id;

	unique_letters("Phiq", name, sizeof(name));
	for (int i = 0; i < 3; i++)
		snprintf(rid[i], sizeof(rid[i]), "logs-%d-%d-%ld", (int)getpid(), i,
		         (long)time(NULL));
	sql = client_format("SELECT id FROM users WHERE username = '%s'", client_admin_username());
	admin_id = client_sql_long(sql);
	free(sql);

	/* The name in a body... */
	body = client_format("{\"first_name\": \"%s\", \"last_name\": \"%s\", \"date_of_birth\": "
	                     "\"1970-01-01\", \"gender\": \"unknown\"}",
	                     name, name);
	snprintf(header, sizeof(header), "X-Request-ID: %s", rid[0]);
	client_call("POST", "/api/patients/", client_admin_token(), header, body, &res);
	client_assert_status(&res, 201);
	patient_id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body);

	/* ...in a search query, and a path with the patient's id... */
	encoded = client_url_encode(name);
	path = client_format("/api/patients/?search=%s", encoded);
	snprintf(header, sizeof(header), "X-Request-ID: %s", rid[1]);
	client_call("GET", path, client_admin_token(), header, NULL, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 1);
	client_response_free(&res);
	free(path);
	free(encoded);

	/* ...and an anonymous request, refused. */
	path = client_format("/api/patients/%lld/", patient_id);
	snprintf(header, sizeof(header), "X-Request-ID: %s", rid[2]);
	client_call("GET", path, NULL, header, NULL, &res);
	client_assert_status(&res, 401);
	client_response_free(&res);
	free(path);

	assert_request_line(rid[0], "POST", "/api/patients/", 201, admin_id);
	assert_request_line(rid[1], "GET", "/api/patients/", 200, admin_id);
	assert_request_line(rid[2], "GET", "/api/patients/{id}/", 401, 0);
	cr_assert(!log_contains(name), "the patient's name %s is in hms.log", name);
	cr_assert(!log_contains("search="), "a query string is in hms.log");
}
