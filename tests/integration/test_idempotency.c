/*
 * test_idempotency.c - Idempotency-Key on POST through the real stack
 * (include/hms/idempotency.h): a retried patient POST or payment answers
 * the stored answer and writes nothing; the same key with another request
 * is 400; keys are per user; a malformed key is 400 on the header; a write
 * that failed stores nothing, so a fixed retry under its key goes through.
 * Keys older than 24 hours are pruned by the sealer. The race of one key
 * from many threads is in test_idempotency_races.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* A key and a patient name no other test (nor an earlier run) uses. */
static void unique(const char *prefix, char *out, size_t size)
{
	client_unique_name(prefix, out, size);
}

static char *patient_named(const char *last)
{
	return client_format("{\"first_name\": \"Idem\", \"last_name\": \"%s\", "
	                     "\"date_of_birth\": \"1980-01-02\", \"gender\": \"female\"}",
	                     last);
}

/* POSTs body to path as token with Idempotency-Key: key (key NULL: none)
 * and X-Request-ID: rid (NULL: none). */
static void post_keyed(const char *path, const char *token, const char *key, const char *rid,
                       const char *body, struct client_response *res)
{
	char key_line[600], rid_line[100];
	const char *headers[3] = {NULL, NULL, NULL};
	int n = 0;

	if (key != NULL) {
		snprintf(key_line, sizeof(key_line), "Idempotency-Key: %s", key);
		headers[n++] = key_line;
	}
	if (rid != NULL) {
		snprintf(rid_line, sizeof(rid_line), "X-Request-ID: %s", rid);
		headers[n++] = rid_line;
	}
	client_call_headers("POST", path, token, headers, body, res);
}

static long long patients_named(const char *last)
{
	char *sql = client_format("SELECT count(*) FROM patients WHERE last_name = '%s'", last);
	long long n = client_sql_long(sql);

	free(sql);
	return n;
}

static long long audit_rows(const char *action, const char *entity_type, long long id)
{
	char *sql = client_format("SELECT count(*) FROM audit_log WHERE action = '%s' AND "
	                          "entity_type = '%s' AND entity_id = %lld",
	                          action, entity_type, id);
	long long n = client_sql_long(sql);

	free(sql);
	return n;
}

Test(idempotency, patient_retried_with_its_key_is_created_once_and_replayed)
{
	struct client_session s;
	struct client_response first, again;
	char key[96], last[96], rid[96];
	char *body;
	long long id;

	client_open_session("receptionist", &s);
	unique("key", key, sizeof(key));
	unique("Once", last, sizeof(last));
	unique("replay", rid, sizeof(rid));
	body = patient_named(last);

	post_keyed("/api/patients/", s.tokens.access, key, NULL, body, &first);
	client_assert_status(&first, 201);
	cr_assert_null(client_header(&first, "Idempotent-Replayed"));
	id = client_json_int(first.json, "id");

	post_keyed("/api/patients/", s.tokens.access, key, rid, body, &again);
	client_assert_status(&again, 201);
	cr_assert_str_eq(client_header(&again, "Idempotent-Replayed"), "true");
	cr_assert_eq(client_json_int(again.json, "id"), id);
	cr_assert_str_eq(again.body, first.body);

	/* One patient, one create row; the replay is audited as a read. */
	cr_assert_eq(patients_named(last), 1);
	cr_assert_eq(audit_rows("create", "patient", id), 1);
	cr_assert_eq(client_audit_count(rid, "read", "patient", id, s.user.id), 1);
	/* Without the final '/' it is the same request. */
	client_response_free(&again);
	post_keyed("/api/patients", s.tokens.access, key, NULL, body, &again);
	client_assert_status(&again, 201);
	cr_assert_eq(client_json_int(again.json, "id"), id);
	cr_assert_eq(patients_named(last), 1);

	client_response_free(&first);
	client_response_free(&again);
	free(body);
	client_close_session(&s);
}

Test(idempotency, same_key_with_another_request_is_400_and_writes_nothing)
{
	struct client_session s;
	struct client_response res;
	char key[96], last[96], other[96];
	char *body, *body2;

	client_open_session("nurse", &s);
	unique("key", key, sizeof(key));
	unique("First", last, sizeof(last));
	unique("Other", other, sizeof(other));
	body = patient_named(last);
	body2 = patient_named(other);

	post_keyed("/api/patients/", s.tokens.access, key, NULL, body, &res);
	client_assert_status(&res, 201);
	client_response_free(&res);

	post_keyed("/api/patients/", s.tokens.access, key, NULL, body2, &res);
	client_assert_field_error(&res, "Idempotency-Key");
	cr_assert_not_null(strstr(res.body, "different request"), "%s", res.body);
	cr_assert_null(client_header(&res, "Idempotent-Replayed"));
	client_response_free(&res);
	cr_assert_eq(patients_named(other), 0);
	cr_assert_eq(patients_named(last), 1);

	free(body);
	free(body2);
	client_close_session(&s);
}

Test(idempotency, the_same_body_on_another_path_is_another_request)
{
	struct client_response res;
	char key[96], last[96];
	char *body;

	unique("key", key, sizeof(key));
	unique("Path", last, sizeof(last));
	body = patient_named(last);
	post_keyed("/api/patients/", client_admin_token(), key, NULL, body, &res);
	client_assert_status(&res, 201);
	client_response_free(&res);
	post_keyed("/api/resources/", client_admin_token(), key, NULL, body, &res);
	client_assert_field_error(&res, "Idempotency-Key");
	client_response_free(&res);
	free(body);
}

Test(idempotency, keys_are_per_user)
{
	struct client_session a, b;
	struct client_response ra, rb;
	char key[96], last[96];
	char *body;

	client_open_session("receptionist", &a);
	client_open_session("receptionist", &b);
	unique("key", key, sizeof(key));
	unique("Twice", last, sizeof(last));
	body = patient_named(last);

	post_keyed("/api/patients/", a.tokens.access, key, NULL, body, &ra);
	post_keyed("/api/patients/", b.tokens.access, key, NULL, body, &rb);
	client_assert_status(&ra, 201);
	client_assert_status(&rb, 201);
	cr_assert_null(client_header(&rb, "Idempotent-Replayed"));
	cr_assert_neq(client_json_int(ra.json, "id"), client_json_int(rb.json, "id"));
	cr_assert_eq(patients_named(last), 2);

	client_response_free(&ra);
	client_response_free(&rb);
	free(body);
	client_close_session(&a);
	client_close_session(&b);
}

Test(idempotency, malformed_keys_are_400_on_the_header)
{
	struct client_response res;
	char long_key[300], last[96];
	char *body;

	unique("Bad", last, sizeof(last));
	body = patient_named(last);
	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	post_keyed("/api/patients/", client_admin_token(), long_key, NULL, body, &res);
	client_assert_field_error(&res, "Idempotency-Key");
	client_response_free(&res);

	post_keyed("/api/patients/", client_admin_token(), "with space", NULL, body, &res);
	client_assert_field_error(&res, "Idempotency-Key");
	client_response_free(&res);

	post_keyed("/api/patients/", client_admin_token(), "tab\there", NULL, body, &res);
	client_assert_field_error(&res, "Idempotency-Key");
	client_response_free(&res);

	post_keyed("/api/invoices/1/payments/", client_admin_token(), "with space", NULL,
	           "{\"amount\": \"1.00\", \"method\": \"cash\"}", &res);
	client_assert_field_error(&res, "Idempotency-Key");
	client_response_free(&res);
	cr_assert_eq(patients_named(last), 0);

	/* 255 visible characters are a key. */
	long_key[255] = '\0';
	long_key[0] = '~';
	long_key[1] = '!';
	long_key[254] = '"';
	post_keyed("/api/patients/", client_admin_token(), long_key, NULL, body, &res);
	client_assert_status(&res, 201);
	client_response_free(&res);
	cr_assert_eq(patients_named(last), 1);
	free(body);
}

Test(idempotency, a_failed_write_stores_nothing_and_its_fixed_retry_goes_through)
{
	struct client_session s;
	struct client_response res;
	char key[96], last[96];
	char *bad, *good, *sql;
	long long id;

	client_open_session("doctor", &s);
	unique("key", key, sizeof(key));
	unique("Fixed", last, sizeof(last));
	bad = client_format("{\"first_name\": \"Idem\", \"last_name\": \"%s\", "
	                    "\"date_of_birth\": \"1980-01-02\", \"gender\": \"nope\"}",
	                    last);
	good = patient_named(last);

	post_keyed("/api/patients/", s.tokens.access, key, NULL, bad, &res);
	client_assert_field_error(&res, "gender");
	client_response_free(&res);
	sql = client_format("SELECT count(*) FROM idempotency_keys WHERE key = '%s'", key);
	cr_assert_eq(client_sql_long(sql), 0);
	free(sql);

	post_keyed("/api/patients/", s.tokens.access, key, NULL, good, &res);
	client_assert_status(&res, 201);
	cr_assert_null(client_header(&res, "Idempotent-Replayed"));
	id = client_json_int(res.json, "id");
	client_response_free(&res);

	post_keyed("/api/patients/", s.tokens.access, key, NULL, good, &res);
	client_assert_status(&res, 201);
	cr_assert_str_eq(client_header(&res, "Idempotent-Replayed"), "true");
	cr_assert_eq(client_json_int(res.json, "id"), id);
	client_response_free(&res);
	cr_assert_eq(patients_named(last), 1);

	free(bad);
	free(good);
	client_close_session(&s);
}

/* An issued invoice of one line at 100.00, made by the admin. */
static long long issued_invoice(void)
{
	struct client_response res;
	char *body = client_format("{\"patient\": %lld, \"items\": [{\"description\": \"Idem\", "
	                           "\"quantity\": 1, \"unit_price\": \"100.00\"}]}",
	                           client_new_patient());
	char *path;
	long long id;

	client_post_json("/api/invoices/", client_admin_token(), body, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	path = client_format("/api/invoices/%lld/issue/", id);
	client_call("POST", path, client_admin_token(), NULL, NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(path);
	free(body);
	return id;
}

Test(idempotency, payment_retried_with_its_key_is_recorded_once)
{
	struct client_session s;
	struct client_response first, again;
	char key[96], rid[96];
	const char *body = "{\"amount\": \"30.00\", \"method\": \"card\", \"reference\": \"r1\"}";
	long long invoice = issued_invoice();
	char *path = client_format("/api/invoices/%lld/payments/", invoice);
	char *paid = client_format(
	    "SELECT amount_paid || ' ' || (SELECT count(*) FROM payments WHERE invoice_id = %lld) "
	    "FROM invoices WHERE id = %lld",
	    invoice, invoice);
	char *value;

	client_open_session("billing", &s);
	unique("key", key, sizeof(key));
	unique("payreplay", rid, sizeof(rid));

	post_keyed(path, s.tokens.access, key, NULL, body, &first);
	client_assert_status(&first, 201);
	post_keyed(path, s.tokens.access, key, rid, body, &again);
	client_assert_status(&again, 201);
	cr_assert_str_eq(client_header(&again, "Idempotent-Replayed"), "true");
	cr_assert_str_eq(again.body, first.body);
	cr_assert_eq(client_json_int(again.json, "id"), client_json_int(first.json, "id"));

	value = client_sql_value(paid);
	cr_assert_str_eq(value, "30.00 1");
	free(value);
	cr_assert_eq(audit_rows("payment", "invoice", invoice), 1);
	cr_assert_eq(client_audit_count(rid, "read", "invoice", invoice, s.user.id), 1);

	/* Another amount under that key: 400, nothing paid. */
	client_response_free(&again);
	post_keyed(path, s.tokens.access, key, NULL,
	           "{\"amount\": \"31.00\", \"method\": \"card\"}", &again);
	client_assert_field_error(&again, "Idempotency-Key");
	value = client_sql_value(paid);
	cr_assert_str_eq(value, "30.00 1");
	free(value);

	client_response_free(&first);
	client_response_free(&again);
	free(paid);
	free(path);
	client_close_session(&s);
}

Test(idempotency, without_a_key_a_retry_writes_again)
{
	struct client_response res;
	char last[96];
	char *body;

	unique("NoKey", last, sizeof(last));
	body = patient_named(last);
	for (int i = 0; i < 2; i++) {
		client_post_json("/api/patients/", client_admin_token(), body, &res);
		client_assert_status(&res, 201);
		cr_assert_null(client_header(&res, "Idempotent-Replayed"));
		client_response_free(&res);
	}
	cr_assert_eq(patients_named(last), 2);
	free(body);
}

Test(idempotency, keys_older_than_24_hours_are_pruned_and_the_key_is_free_again)
{
	struct client_session s;
	struct client_response res;
	char old_key[96], young_key[96], last[96];
	char *sql, *body;
	int i;

	client_open_session("receptionist", &s);
	unique("old", old_key, sizeof(old_key));
	unique("young", young_key, sizeof(young_key));
	sql = client_format(
	    "INSERT INTO idempotency_keys (user_id, key, request_hash, status, response, "
	    "created_at) VALUES (%lld, '%s', repeat('a', 64), 201, '{}', now() - interval "
	    "'25 hours'), (%lld, '%s', repeat('b', 64), 201, '{}', now() - interval '23 hours')",
	    s.user.id, old_key, s.user.id, young_key);
	free(client_sql_value(sql));
	free(sql);

	/* The test stack prunes every second (tests/run.sh). */
	sql = client_format("SELECT count(*) FROM idempotency_keys WHERE user_id = %lld AND key = "
	                    "'%s'",
	                    s.user.id, old_key);
	for (i = 0; i < 100 && client_sql_long(sql) != 0; i++)
		usleep(100000);
	free(sql);
	cr_assert_lt(i, 100, "nothing was pruned in 10 s");
	sql = client_format("SELECT count(*) FROM idempotency_keys WHERE user_id = %lld AND key = "
	                    "'%s'",
	                    s.user.id, young_key);
	cr_assert_eq(client_sql_long(sql), 1);
	free(sql);

	/* A pruned key is a new key: the request is written. */
	unique("Pruned", last, sizeof(last));
	body = patient_named(last);
	post_keyed("/api/patients/", s.tokens.access, old_key, NULL, body, &res);
	client_assert_status(&res, 201);
	cr_assert_null(client_header(&res, "Idempotent-Replayed"));
	client_response_free(&res);
	/* A young key still answers: with another request, 400. */
	post_keyed("/api/patients/", s.tokens.access, young_key, NULL, body, &res);
	client_assert_field_error(&res, "Idempotency-Key");
	client_response_free(&res);
	free(body);
	client_close_session(&s);
}
