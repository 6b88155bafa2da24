/*
 * test_fhir.c - /fhir/ through the real stack: the CapabilityStatement,
 * Patient, Practitioner and Appointment reads and searches (every search
 * parameter and date prefix, paging through a searchset by its links,
 * _summary=count, Prefer: handling), OperationOutcome shapes and statuses,
 * the role table and own-only rule, the audit rows, and a patient created
 * through /api/ found through FHIR by its MRN.
 *
 * Every FHIR body a test receives is saved under $HMS_TEST_STATE/fhir/,
 * where tests/fhir/validate.js checks each against the official FHIR R4
 * JSON schema (a stage of tests/run.sh).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "client.h"
#include "sched.h"

/* --- helpers ------------------------------------------------------------------------ */

/* A lowercase word no other test (nor an earlier run) uses. */
static void new_token(char *out, size_t size)
{
	static unsigned counter;
	struct timeval tv;
	unsigned long long v;
	size_t o = 0;

	gettimeofday(&tv, NULL);
	v = (unsigned long long)getpid() * 1000003ULL + ++counter * 7919ULL +
	    (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
	out[o++] = 'f';
	out[o++] = 'h';
	while (o < 16 && o + 1 < size) {
		out[o++] = (char)('a' + v % 26);
		v /= 26;
	}
	out[o] = '\0';
}

/* Saves a FHIR body for the schema stage: $HMS_TEST_STATE/fhir/<name>-<n>.json. */
static void save(const char *name, const struct client_response *res)
{
	static unsigned n;
	char *dir = client_format("%s/fhir", client_env("HMS_TEST_STATE"));
	char *path = client_format("%s/%s-%d-%u.json", dir, name, (int)getpid(), ++n);
	FILE *f;

	mkdir(dir, 0755);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fwrite(res->body, 1, res->body_len, f);
	fclose(f);
	free(path);
	free(dir);
}

/* GET path with token (may be NULL) and an optional header line. */
static void fhir_get(const char *path, const char *token, const char *header,
                     struct client_response *res)
{
	client_call("GET", path, token, header, NULL, res);
}

static void assert_fhir_type(const struct client_response *res)
{
	const char *type = client_header(res, "Content-Type");

	cr_assert_not_null(type);
	cr_assert_eq(strncmp(type, "application/fhir+json", 21), 0, "Content-Type %s", type);
}

/* An OperationOutcome with status and the issue code. */
static void assert_outcome(const struct client_response *res, long status, const char *code)
{
	struct json_object *issues, *issue;

	cr_assert_eq(res->status, status, "status %ld: %s", res->status, res->body);
	assert_fhir_type(res);
	cr_assert_not_null(res->json, "%s", res->body);
	cr_assert_str_eq(client_json_str(res->json, "resourceType"), "OperationOutcome");
	cr_assert(json_object_object_get_ex(res->json, "issue", &issues));
	cr_assert_gt(json_object_array_length(issues), 0);
	issue = json_object_array_get_idx(issues, 0);
	cr_assert_str_eq(client_json_str(issue, "severity"), "error");
	cr_assert_str_eq(client_json_str(issue, "code"), code, "%s", res->body);
	cr_assert_not_null(client_json_str(issue, "diagnostics"));
	save("outcome", res);
}

static long long create_patient(const char *first, const char *family, const char *dob,
                                const char *gender, const char *extra)
{
	struct client_response res;
	char *body = client_format("{\"first_name\": \"%s\", \"last_name\": \"%s\", "
	                           "\"date_of_birth\": \"%s\", \"gender\": \"%s\"%s}",
	                           first, family, dob, gender, extra != NULL ? extra : "");
	long long id;

	client_post_json("/api/patients/", client_admin_token(), body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body);
	return id;
}

static char *mrn_of(long long id)
{
	char *sql = client_format("SELECT medical_record_number FROM patients WHERE id = %lld", id);
	char *mrn = client_sql_value(sql);

	free(sql);
	return mrn;
}

/* The entries of a searchset Bundle (asserting its shape), and total or -1. */
static struct json_object *bundle_entries(const struct client_response *res, long long *total)
{
	struct json_object *entries, *v;

	cr_assert_eq(res->status, 200, "%s", res->body);
	assert_fhir_type(res);
	cr_assert_str_eq(client_json_str(res->json, "resourceType"), "Bundle");
	cr_assert_str_eq(client_json_str(res->json, "type"), "searchset");
	*total = json_object_object_get_ex(res->json, "total", &v) ? json_object_get_int64(v) : -1;
	save("bundle", res);
	return json_object_object_get_ex(res->json, "entry", &entries) ? entries : NULL;
}

/* The url of the link with relation, or NULL. */
static const char *bundle_link(const struct client_response *res, const char *relation)
{
	struct json_object *links;

	if (!json_object_object_get_ex(res->json, "link", &links))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(links); i++) {
		struct json_object *l = json_object_array_get_idx(links, i);

		if (strcmp(client_json_str(l, "relation"), relation) == 0)
			return client_json_str(l, "url");
	}
	return NULL;
}

/* How many matches a Patient search has (its total), as token's user. */
static long long search_total(const char *query, const char *token)
{
	struct client_response res;
	char *path = client_format("/fhir/Patient?%s", query);
	long long total;

	fhir_get(path, token, NULL, &res);
	bundle_entries(&res, &total);
	client_response_free(&res);
	free(path);
	return total;
}

static long long audit_rows(const char *request_id, const char *action, const char *entity,
                            long long entity_id)
{
	char *sql = client_format("SELECT count(*) FROM audit_log WHERE request_id = '%s' AND "
	                          "action = '%s' AND entity_type = '%s' AND "
	                          "(%lld = 0 OR entity_id = %lld)",
	                          request_id, action, entity, entity_id, entity_id);
	long long n = client_sql_long(sql);

	free(sql);
	return n;
}

/* --- metadata -------------------------------------------------------------------------- */

Test(fhir, metadata_lists_what_is_served_without_a_token)
{
	struct client_response res;
	struct json_object *rest, *resources, *r, *params;
	const char *expect[][7] = {
	    {"Patient", "family", "given", "name", "birthdate", "gender", "identifier"},
	    {"Practitioner", "name", "identifier"},
	    {"Appointment", "patient", "practitioner", "date", "status"},
	};
	const size_t counts[] = {6, 2, 4};

	fhir_get("/fhir/metadata", NULL, NULL, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	assert_fhir_type(&res);
	save("metadata", &res);
	cr_assert_str_eq(client_json_str(res.json, "resourceType"), "CapabilityStatement");
	cr_assert_str_eq(client_json_str(res.json, "fhirVersion"), "4.0.1");
	rest = json_object_array_get_idx(json_object_object_get(res.json, "rest"), 0);
	resources = json_object_object_get(rest, "resource");
	cr_assert_eq(json_object_array_length(resources), 3);
	for (size_t i = 0; i < 3; i++) {
		r = json_object_array_get_idx(resources, i);
		cr_assert_str_eq(client_json_str(r, "type"), expect[i][0]);
		params = json_object_object_get(r, "searchParam");
		cr_assert_eq(json_object_array_length(params), counts[i]);
		for (size_t k = 0; k < counts[i]; k++)
			cr_assert_str_eq(
			    client_json_str(json_object_array_get_idx(params, k), "name"),
			    expect[i][k + 1]);
	}
	cr_assert_not_null(json_object_object_get(rest, "security"));
	client_response_free(&res);

	fhir_get("/fhir/metadata?_format=json", NULL, NULL, &res);
	cr_assert_eq(res.status, 200);
	client_response_free(&res);
	fhir_get("/fhir/metadata?_format=xml", NULL, NULL, &res);
	assert_outcome(&res, 406, "not-supported");
	client_response_free(&res);
}

/* --- Patient read ------------------------------------------------------------------------ */

Test(fhir, patient_read_maps_every_element_and_is_audited)
{
	struct client_session nurse;
	struct client_response res;
	char family[24], path[64], header[96];
	struct json_object *v, *name, *ident;
	long long id;
	char *mrn, *expected_system;

	new_token(family, sizeof(family));
	id = create_patient("Halima", family, "1984-03-09", "female",
	                    ", \"contact_phone\": \"+256700000001\", \"contact_email\": "
	                    "\"amina@example.org\", \"address\": \"Plot 4, Kampala Road\"");
	mrn = mrn_of(id);
	client_open_session("nurse", &nurse);
	snprintf(path, sizeof(path), "/fhir/Patient/%lld", id);
	snprintf(header, sizeof(header), "X-Request-ID: fhir-read-%s", family);
	fhir_get(path, nurse.tokens.access, header, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	assert_fhir_type(&res);
	save("patient", &res);
	cr_assert_str_eq(client_header(&res, "ETag"), "W/\"1\"");
	cr_assert_str_eq(client_json_str(res.json, "resourceType"), "Patient");
	cr_assert_eq(atoll(client_json_str(res.json, "id")), id);
	v = json_object_object_get(res.json, "meta");
	cr_assert_str_eq(client_json_str(v, "versionId"), "1");
	cr_assert(sched_is_utc_stamp(client_json_str(v, "lastUpdated")));
	ident = json_object_array_get_idx(json_object_object_get(res.json, "identifier"), 0);
	cr_assert_str_eq(client_json_str(ident, "value"), mrn);
	expected_system = client_format("%s/fhir/sid/mrn", client_env("HMS_TEST_BASE_URL"));
	cr_assert_str_eq(client_json_str(ident, "system"), expected_system, "%s",
	                 client_json_str(ident, "system"));
	name = json_object_array_get_idx(json_object_object_get(res.json, "name"), 0);
	cr_assert_str_eq(client_json_str(name, "family"), family);
	cr_assert_str_eq(json_object_get_string(
	                     json_object_array_get_idx(json_object_object_get(name, "given"), 0)),
	                 "Halima");
	cr_assert_str_eq(client_json_str(res.json, "gender"), "female");
	cr_assert_str_eq(client_json_str(res.json, "birthDate"), "1984-03-09");
	cr_assert(json_object_get_boolean(json_object_object_get(res.json, "active")));
	cr_assert_eq(json_object_array_length(json_object_object_get(res.json, "telecom")), 2);
	cr_assert_str_eq(
	    client_json_str(
	        json_object_array_get_idx(json_object_object_get(res.json, "address"), 0), "text"),
	    "Plot 4, Kampala Road");
	cr_assert_null(json_object_object_get(res.json, "allergies"));
	client_response_free(&res);
	/* Audited exactly like GET /api/patients/{id}/: one "read" row. */
	snprintf(header, sizeof(header), "fhir-read-%s", family);
	cr_assert_eq(audit_rows(header, "read", "patient", id), 1);
	{
		char *sql = client_format("SELECT count(*) FROM audit_log WHERE request_id = '%s' "
		                          "AND actor = %lld AND actor_role = 'nurse'",
		                          header, nurse.user.id);

		cr_assert_eq(client_sql_long(sql), 1);
		free(sql);
	}

	/* _format=json, and a final '/' */
	snprintf(path, sizeof(path), "/fhir/Patient/%lld/?_format=application/fhir%%2Bjson", id);
	fhir_get(path, nurse.tokens.access, NULL, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	client_response_free(&res);
	/* a new version after an edit */
	{
		char *p = client_format("/api/patients/%lld/", id);

		client_patch_json(p, client_admin_token(), "{\"address\": \"\"}", &res);
		client_assert_status(&res, 200);
		client_response_free(&res);
		free(p);
	}
	snprintf(path, sizeof(path), "/fhir/Patient/%lld", id);
	fhir_get(path, nurse.tokens.access, NULL, &res);
	cr_assert_str_eq(client_header(&res, "ETag"), "W/\"2\"");
	cr_assert_null(json_object_object_get(res.json, "address"), "an empty address is left out");
	save("patient", &res);
	client_response_free(&res);
	free(expected_system);
	free(mrn);
	client_close_session(&nurse);
}

Test(fhir, errors_are_operation_outcomes)
{
	struct client_session clerk;
	struct client_response res;

	client_open_session("receptionist", &clerk);
	fhir_get("/fhir/Patient/1", NULL, NULL, &res);
	assert_outcome(&res, 401, "login");
	cr_assert_not_null(client_header(&res, "WWW-Authenticate"));
	client_response_free(&res);
	fhir_get("/fhir/Patient/1", "not-a-token", NULL, &res);
	assert_outcome(&res, 401, "login");
	client_response_free(&res);
	fhir_get("/fhir/Patient/999999999999", clerk.tokens.access, NULL, &res);
	assert_outcome(&res, 404, "not-found");
	client_response_free(&res);
	fhir_get("/fhir/Observation/1", clerk.tokens.access, NULL, &res);
	assert_outcome(&res, 404, "not-found");
	client_response_free(&res);
	fhir_get("/fhir/Patient/abc", clerk.tokens.access, NULL, &res);
	assert_outcome(&res, 404, "not-found");
	client_response_free(&res);
	client_call("DELETE", "/fhir/Patient/1", clerk.tokens.access, NULL, NULL, &res);
	assert_outcome(&res, 405, "not-supported");
	cr_assert_not_null(client_header(&res, "Allow"));
	client_response_free(&res);
	/* /api/ keeps the DRF shapes */
	client_get_auth("/api/patients/999999999999/", clerk.tokens.access, &res);
	cr_assert_eq(res.status, 404);
	cr_assert_not_null(client_json_string(&res, "detail"));
	client_response_free(&res);
	client_close_session(&clerk);
}

Test(fhir, deleted_patient_is_gone_except_for_admins)
{
	struct client_session nurse;
	struct client_response res;
	char family[24], path[64];
	long long id;

	new_token(family, sizeof(family));
	id = create_patient("Gone", family, "1950-01-01", "male", NULL);
	snprintf(path, sizeof(path), "/api/patients/%lld/", id);
	client_delete_auth(path, client_admin_token(), &res);
	cr_assert_eq(res.status, 204);
	client_response_free(&res);

	client_open_session("nurse", &nurse);
	snprintf(path, sizeof(path), "/fhir/Patient/%lld", id);
	fhir_get(path, nurse.tokens.access, NULL, &res);
	assert_outcome(&res, 410, "deleted");
	client_response_free(&res);
	fhir_get(path, client_admin_token(), NULL, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert_not(json_object_get_boolean(json_object_object_get(res.json, "active")));
	save("patient", &res);
	client_response_free(&res);
	/* and never found by a search */
	{
		char *q = client_format("family=%s", family);

		cr_assert_eq(search_total(q, client_admin_token()), 0);
		free(q);
	}
	client_close_session(&nurse);
}

/* --- Patient search ---------------------------------------------------------------------- */

Test(fhir, patient_search_parameters_and_prefixes)
{
	struct client_session clerk;
	char family[24], q[256];
	long long a, b, c;
	char *mrn;
	const char *token;

	new_token(family, sizeof(family));
	a = create_patient("Ñora Beatriz", family, "1980-01-01", "female", NULL);
	b = create_patient("Okello", family, "1990-06-15", "male", NULL);
	c = create_patient("Wanjiru", family, "2000-12-31", "female", NULL);
	(void)a;
	(void)c;
	client_open_session("receptionist", &clerk);
	token = clerk.tokens.access;

	snprintf(q, sizeof(q), "family=%s", family);
	cr_assert_eq(search_total(q, token), 3);
	snprintf(q, sizeof(q), "family=%.8s", family); /* the start */
	cr_assert_geq(search_total(q, token), 3);
	snprintf(q, sizeof(q), "family=%s&given=nora", family); /* accents and case */
	cr_assert_eq(search_total(q, token), 1);
	snprintf(q, sizeof(q), "family=%s&given=beatriz", family); /* the start only */
	cr_assert_eq(search_total(q, token), 0);
	snprintf(q, sizeof(q), "name=%s&name=", family); /* an empty parameter is ignored */
	cr_assert_eq(search_total(q, token), 3);
	snprintf(q, sizeof(q), "family=%s&name=beat", family); /* any word of a name */
	cr_assert_eq(search_total(q, token), 1);
	snprintf(q, sizeof(q), "family=%s&gender=female", family);
	cr_assert_eq(search_total(q, token), 2);
	snprintf(q, sizeof(q), "family=%s&birthdate=1990-06-15", family);
	cr_assert_eq(search_total(q, token), 1);
	snprintf(q, sizeof(q), "family=%s&birthdate=eq1990-06-15", family);
	cr_assert_eq(search_total(q, token), 1);
	snprintf(q, sizeof(q), "family=%s&birthdate=lt1990-06-15", family);
	cr_assert_eq(search_total(q, token), 1);
	snprintf(q, sizeof(q), "family=%s&birthdate=le1990-06-15", family);
	cr_assert_eq(search_total(q, token), 2);
	snprintf(q, sizeof(q), "family=%s&birthdate=gt1990-06-15", family);
	cr_assert_eq(search_total(q, token), 1);
	snprintf(q, sizeof(q), "family=%s&birthdate=ge1990-06-15", family);
	cr_assert_eq(search_total(q, token), 2);
	snprintf(q, sizeof(q), "family=%s&birthdate=ge1985-01-01&birthdate=lt2000-01-01", family);
	cr_assert_eq(search_total(q, token), 1);

	mrn = mrn_of(b);
	snprintf(q, sizeof(q), "identifier=%s", mrn);
	cr_assert_eq(search_total(q, token), 1);
	{
		char *system = client_url_encode(client_env("HMS_TEST_BASE_URL"));

		snprintf(q, sizeof(q), "identifier=%s%%2Ffhir%%2Fsid%%2Fmrn%%7C%s", system, mrn);
		cr_assert_eq(search_total(q, token), 1);
		free(system);
	}
	snprintf(q, sizeof(q), "identifier=urn:oid:1.2.3%%7C%s", mrn); /* another system */
	cr_assert_eq(search_total(q, token), 0);
	free(mrn);
	client_close_session(&clerk);
}

Test(fhir, patient_search_bad_parameters)
{
	struct client_response res;
	const char *admin = client_admin_token();
	const char *strict = "Prefer: handling=strict";

	fhir_get("/fhir/Patient?birthdate=ne1990-01-01", admin, NULL, &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);
	fhir_get("/fhir/Patient?birthdate=1990-13-01", admin, NULL, &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);
	fhir_get("/fhir/Patient?gender=robot", admin, NULL, &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);
	fhir_get("/fhir/Patient?family:exact=X", admin, NULL, &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);
	fhir_get("/fhir/Patient?family=a&family=b", admin, NULL, &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);

	/* unknown parameters: strict refuses, lenient (the default) ignores
	 * them and leaves them out of the self link */
	fhir_get("/fhir/Patient?colour=blue&_count=1", admin, strict, &res);
	assert_outcome(&res, 400, "invalid");
	cr_assert_not_null(strstr(res.body, "colour"));
	client_response_free(&res);
	fhir_get("/fhir/Patient?colour=blue&_count=1", admin, "Prefer: handling=lenient", &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert_null(strstr(bundle_link(&res, "self"), "colour"));
	cr_assert_not_null(strstr(bundle_link(&res, "self"), "_count=1"));
	save("bundle", &res);
	client_response_free(&res);
	fhir_get("/fhir/Patient?colour=blue&_count=1", admin, NULL, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	client_response_free(&res);
}

Test(fhir, paging_through_a_searchset_by_its_links)
{
	struct client_session nurse;
	struct client_response res;
	char family[24], header[96];
	char *path, *ids = NULL;
	long long total, seen = 0, pages = 0;
	long long created[7];

	new_token(family, sizeof(family));
	for (int i = 0; i < 7; i++)
		created[i] = create_patient("Page", family, "1970-01-01", "other", NULL);
	client_open_session("nurse", &nurse);
	path = client_format("/fhir/Patient?family=%s&_count=3", family);
	while (path != NULL) {
		struct json_object *entries;
		const char *next;

		snprintf(header, sizeof(header), "X-Request-ID: fhir-page-%s-%lld", family, pages);
		fhir_get(path, nurse.tokens.access, header, &res);
		entries = bundle_entries(&res, &total);
		cr_assert_eq(total, 7);
		cr_assert_not_null(entries);
		for (size_t i = 0; i < json_object_array_length(entries); i++) {
			struct json_object *e = json_object_array_get_idx(entries, i);
			struct json_object *r = json_object_object_get(e, "resource");

			cr_assert_str_eq(client_json_str(r, "resourceType"), "Patient");
			cr_assert_not_null(strstr(client_json_str(e, "fullUrl"), "/fhir/Patient/"));
			seen++;
		}
		/* one audit row per answer, naming what it showed */
		snprintf(header, sizeof(header), "fhir-page-%s-%lld", family, pages);
		cr_assert_eq(audit_rows(header, "list", "patient", 0), 1);
		pages++;
		next = bundle_link(&res, "next");
		free(path);
		path = next != NULL ? strdup(client_path_of_url(next)) : NULL;
		if (path != NULL)
			cr_assert_not_null(strstr(path, "_page="));
		client_response_free(&res);
	}
	cr_assert_eq(seen, 7);
	cr_assert_eq(pages, 3);
	/* every patient made appears in some audited page */
	for (int i = 0; i < 7; i++) {
		char *sql = client_format("SELECT count(*) FROM audit_log WHERE request_id LIKE "
		                          "'fhir-page-%s-%%' AND %lld = ANY(entity_ids)",
		                          family, created[i]);

		cr_assert_eq(client_sql_long(sql), 1);
		free(sql);
	}
	free(ids);

	/* the same walk by keyset cursor (as next links go past list_max_offset):
	 * no total, every patient once */
	path = client_format("/fhir/Patient?family=%s&_count=3&_cursor=", family);
	seen = 0;
	pages = 0;
	while (path != NULL) {
		struct json_object *entries;
		const char *next;

		fhir_get(path, nurse.tokens.access, NULL, &res);
		entries = bundle_entries(&res, &total);
		cr_assert_eq(total, -1, "a cursor page counts nothing");
		seen += entries != NULL ? (long long)json_object_array_length(entries) : 0;
		pages++;
		next = bundle_link(&res, "next");
		free(path);
		path = next != NULL ? strdup(client_path_of_url(next)) : NULL;
		if (path != NULL)
			cr_assert_not_null(strstr(path, "_cursor="), "%s", path);
		client_response_free(&res);
	}
	cr_assert_eq(seen, 7);
	cr_assert_eq(pages, 3);
	fhir_get("/fhir/Patient?_cursor=bm90LWEtY3Vyc29y", nurse.tokens.access, NULL, &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);

	/* _summary=count: the total, no entries */
	path = client_format("/fhir/Patient?family=%s&_summary=count", family);
	fhir_get(path, nurse.tokens.access, NULL, &res);
	cr_assert_null(bundle_entries(&res, &total));
	cr_assert_eq(total, 7);
	client_response_free(&res);
	free(path);
	/* a page past the end */
	path = client_format("/fhir/Patient?family=%s&_count=3&_page=9", family);
	fhir_get(path, nurse.tokens.access, NULL, &res);
	assert_outcome(&res, 404, "not-found");
	client_response_free(&res);
	free(path);
	client_close_session(&nurse);
}

Test(fhir, a_patient_created_through_the_api_is_found_by_mrn)
{
	struct client_session doctor;
	struct client_response res;
	char family[24];
	char *body, *path;
	const char *mrn;
	struct json_object *entries, *ident;
	long long total;

	new_token(family, sizeof(family));
	client_open_session("doctor", &doctor);
	body = client_format("{\"first_name\": \"Round\", \"last_name\": \"%s\", "
	                     "\"date_of_birth\": \"2001-02-03\", \"gender\": \"unknown\"}",
	                     family);
	client_post_json("/api/patients/", doctor.tokens.access, body, &res);
	client_assert_status(&res, 201);
	mrn = client_json_str(res.json, "medical_record_number");
	path = client_format("/fhir/Patient?identifier=%s", mrn);
	client_response_free(&res);
	fhir_get(path, doctor.tokens.access, NULL, &res);
	entries = bundle_entries(&res, &total);
	cr_assert_eq(total, 1);
	ident = json_object_array_get_idx(
	    json_object_object_get(
	        json_object_object_get(json_object_array_get_idx(entries, 0), "resource"),
	        "identifier"),
	    0);
	cr_assert_not_null(strstr(path, client_json_str(ident, "value")));
	client_response_free(&res);
	free(path);
	free(body);
	client_close_session(&doctor);
}

/* --- Practitioner -------------------------------------------------------------------------- */

/* A doctor (made by the admin), linked to user_id when it is > 0. */
static long long create_doctor(const char *first, const char *family, const char *license,
                               long long user_id)
{
	struct client_response res;
	char *user = user_id > 0 ? client_format(", \"user\": %lld", user_id) : strdup("");
	char *body = client_format("{\"first_name\": \"%s\", \"last_name\": \"%s\", "
	                           "\"license_number\": \"%s\", \"contact_email\": "
	                           "\"dr@example.org\"%s}",
	                           first, family, license, user);
	long long id;

	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body);
	free(user);
	return id;
}

Test(fhir, practitioner_read_and_search)
{
	struct client_session billing;
	struct client_response res;
	char family[24], license[40], path[128];
	struct json_object *ident, *entries;
	long long id, total;
	char *system;

	new_token(family, sizeof(family));
	snprintf(license, sizeof(license), "LIC-%s", family);
	id = create_doctor("Sarah", family, license, 0);
	client_open_session("billing", &billing);
	snprintf(path, sizeof(path), "/fhir/Practitioner/%lld", id);
	fhir_get(path, billing.tokens.access, NULL, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	assert_fhir_type(&res);
	save("practitioner", &res);
	cr_assert_str_eq(client_header(&res, "ETag"), "W/\"1\"");
	cr_assert_str_eq(client_json_str(res.json, "resourceType"), "Practitioner");
	ident = json_object_array_get_idx(json_object_object_get(res.json, "identifier"), 0);
	cr_assert_str_eq(client_json_str(ident, "value"), license);
	system = client_format("%s/fhir/sid/license", client_env("HMS_TEST_BASE_URL"));
	cr_assert_str_eq(client_json_str(ident, "system"), system);
	cr_assert(json_object_get_boolean(json_object_object_get(res.json, "active")));
	client_response_free(&res);

	snprintf(path, sizeof(path), "/fhir/Practitioner?name=%s", family);
	fhir_get(path, billing.tokens.access, NULL, &res);
	entries = bundle_entries(&res, &total);
	cr_assert_eq(total, 1);
	cr_assert_str_eq(client_json_str(json_object_object_get(
	                                     json_object_array_get_idx(entries, 0), "resource"),
	                                 "resourceType"),
	                 "Practitioner");
	client_response_free(&res);
	snprintf(path, sizeof(path), "/fhir/Practitioner?name=sar&identifier=%s", license);
	fhir_get(path, billing.tokens.access, NULL, &res);
	bundle_entries(&res, &total);
	cr_assert_eq(total, 1);
	client_response_free(&res);
	snprintf(path, sizeof(path), "/fhir/Practitioner?identifier=urn:x%%7C%s", license);
	fhir_get(path, billing.tokens.access, NULL, &res);
	bundle_entries(&res, &total);
	cr_assert_eq(total, 0);
	client_response_free(&res);
	snprintf(path, sizeof(path), "/fhir/Practitioner?birthdate=2000-01-01");
	fhir_get(path, billing.tokens.access, "Prefer: handling=strict", &res);
	assert_outcome(&res, 400, "invalid");
	client_response_free(&res);
	fhir_get("/fhir/Practitioner/999999999999", billing.tokens.access, NULL, &res);
	assert_outcome(&res, 404, "not-found");
	client_response_free(&res);
	free(system);
	client_close_session(&billing);
}

/* --- Appointment ---------------------------------------------------------------------------- */

static long long book(long long patient, long long doctor, time_t start)
{
	struct client_response res;
	char *body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\", "
	                           "\"reason\": \"Check-up\"}",
	                           patient, doctor, sched_utc(start).s);
	long long id;

	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	free(body);
	return id;
}

/* The total of an Appointment search as token's user. */
static long long appointment_total(const char *token, const char *ref, long long patient,
                                   const char *more)
{
	struct client_response res;
	char *path = client_format("/fhir/Appointment?patient=%s%lld%s", ref, patient, more);
	long long total;

	fhir_get(path, token, NULL, &res);
	bundle_entries(&res, &total);
	client_response_free(&res);
	free(path);
	return total;
}

Test(fhir, appointment_read_search_status_and_own_only)
{
	struct client_session doc_user;
	struct client_response res;
	char family[24], license[48], path[128], header[96], day1[16], day2[16];
	long long patient, mine, other, a1, a2;
	time_t t1 = sched_monday(3) + 9 * SCHED_HOUR; /* local 09:00 on a Monday */
	time_t t2 = t1 + SCHED_DAY;
	struct json_object *parts;
	const char *q = "Patient/";

	new_token(family, sizeof(family));
	client_open_session("doctor", &doc_user);
	snprintf(license, sizeof(license), "LIC-A-%s", family);
	mine = create_doctor("Own", family, license, doc_user.user.id);
	snprintf(license, sizeof(license), "LIC-B-%s", family);
	other = create_doctor("Other", family, license, 0);
	patient = create_patient("Appt", family, "1975-05-05", "male", NULL);
	a1 = book(patient, mine, t1);
	a2 = book(patient, other, t2);
	snprintf(path, sizeof(path), "/api/appointments/%lld/", a2);
	client_delete_auth(path, client_admin_token(), &res);
	cr_assert_eq(res.status, 204);
	client_response_free(&res);
	strftime(day1, sizeof(day1), "%Y-%m-%d", gmtime(&(time_t){t1 + SCHED_KAMPALA}));
	strftime(day2, sizeof(day2), "%Y-%m-%d", gmtime(&(time_t){t2 + SCHED_KAMPALA}));

	/* read: statuses mapped, participants as references, audited */
	snprintf(path, sizeof(path), "/fhir/Appointment/%lld", a1);
	snprintf(header, sizeof(header), "X-Request-ID: fhir-appt-%s", family);
	fhir_get(path, client_admin_token(), header, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	save("appointment", &res);
	cr_assert_str_eq(client_json_str(res.json, "status"), "booked");
	cr_assert_str_eq(client_json_str(res.json, "start"), sched_utc(t1).s);
	cr_assert_str_eq(client_json_str(res.json, "description"), "Check-up");
	parts = json_object_object_get(res.json, "participant");
	cr_assert_eq(json_object_array_length(parts), 2);
	{
		char *p = client_format("Patient/%lld", patient);
		char *d = client_format("Practitioner/%lld", mine);

		cr_assert_str_eq(client_json_str(json_object_object_get(
		                                     json_object_array_get_idx(parts, 0), "actor"),
		                                 "reference"),
		                 p);
		cr_assert_str_eq(client_json_str(json_object_object_get(
		                                     json_object_array_get_idx(parts, 1), "actor"),
		                                 "reference"),
		                 d);
		free(p);
		free(d);
	}
	client_response_free(&res);
	snprintf(header, sizeof(header), "fhir-appt-%s", family);
	cr_assert_eq(audit_rows(header, "read", "appointment", a1), 1);
	snprintf(path, sizeof(path), "/fhir/Appointment/%lld", a2);
	fhir_get(path, client_admin_token(), NULL, &res);
	cr_assert_str_eq(client_json_str(res.json, "status"), "cancelled");
	save("appointment", &res);
	client_response_free(&res);

	/* search: every parameter and prefix */
	{
		const char *admin = client_admin_token();
		char more[96];

		cr_assert_eq(appointment_total(admin, q, patient, ""), 2);
		cr_assert_eq(appointment_total(admin, "", patient, ""), 2);
		snprintf(more, sizeof(more), "&practitioner=Practitioner/%lld", mine);
		cr_assert_eq(appointment_total(admin, q, patient, more), 1);
		cr_assert_eq(appointment_total(admin, q, patient, "&status=cancelled"), 1);
		cr_assert_eq(appointment_total(admin, q, patient, "&status=booked"), 1);
		cr_assert_eq(appointment_total(admin, q, patient, "&status=arrived"), 0);
		snprintf(more, sizeof(more), "&date=%s", day1);
		cr_assert_eq(appointment_total(admin, q, patient, more), 1);
		snprintf(more, sizeof(more), "&date=eq%s", day2);
		cr_assert_eq(appointment_total(admin, q, patient, more), 1);
		snprintf(more, sizeof(more), "&date=lt%s", day2);
		cr_assert_eq(appointment_total(admin, q, patient, more), 1);
		snprintf(more, sizeof(more), "&date=le%s", day2);
		cr_assert_eq(appointment_total(admin, q, patient, more), 2);
		snprintf(more, sizeof(more), "&date=gt%s", day1);
		cr_assert_eq(appointment_total(admin, q, patient, more), 1);
		snprintf(more, sizeof(more), "&date=ge%s", day1);
		cr_assert_eq(appointment_total(admin, q, patient, more), 2);
		fhir_get("/fhir/Appointment?status=scheduled", admin, NULL, &res);
		assert_outcome(&res, 400, "invalid"); /* ours, not a FHIR code */
		client_response_free(&res);
		fhir_get("/fhir/Appointment?patient=Practitioner/1", admin, NULL, &res);
		assert_outcome(&res, 400, "invalid");
		client_response_free(&res);
	}

	/* a doctor sees their own only */
	cr_assert_eq(appointment_total(doc_user.tokens.access, q, patient, ""), 1);
	snprintf(path, sizeof(path), "/fhir/Appointment/%lld", a2);
	fhir_get(path, doc_user.tokens.access, NULL, &res);
	assert_outcome(&res, 404, "not-found");
	client_response_free(&res);
	snprintf(path, sizeof(path), "/fhir/Appointment/%lld", a1);
	fhir_get(path, doc_user.tokens.access, NULL, &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	client_response_free(&res);
	client_close_session(&doc_user);
}
