/*
 * test_billing_races.c - billing under real concurrency, through the real
 * stack: 32 threads released together by a barrier each POST a payment to
 * one invoice (together they would overpay it), or each create an invoice.
 * Exactly the payments that fit succeed, the rest are 400, and the sum never
 * exceeds the total; the 32 invoices get distinct, consecutive numbers.
 *
 * Built into the fault_tests binary, which runs its tests one at a time
 * (--jobs 1): a race test wants the machine, the workers and the database to
 * itself so that the requests really meet, and the numbering test wants no
 * other test creating invoices meanwhile.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define BILLING_RACERS 32

struct billing_racer {
	pthread_barrier_t *barrier;
	const char *path;
	const char *const *headers;
	const char *body;
	long status; /* 0: the exchange failed */
	char number[32];
	char detail[200];
};

static void *billing_race_one(void *arg)
{
	struct billing_racer *r = arg;
	struct client_response res;

	pthread_barrier_wait(r->barrier);
	/* No Criterion assertion in a thread: record, and judge afterwards. */
	if (client_request("POST", r->path, r->headers, r->body, strlen(r->body), &res) == 0) {
		struct json_object *number;

		r->status = res.status;
		snprintf(r->detail, sizeof(r->detail), "%s", res.body != NULL ? res.body : "");
		if (res.json != NULL && json_object_object_get_ex(res.json, "number", &number))
			snprintf(r->number, sizeof(r->number), "%s",
			         json_object_get_string(number));
		client_response_free(&res);
	}
	return NULL;
}

/* POSTs body to path from BILLING_RACERS threads at once, as the admin. */
static void billing_race(const char *path, const char *body, struct billing_racer *racers)
{
	pthread_t threads[BILLING_RACERS];
	pthread_barrier_t barrier;
	char auth[8300];
	const char *headers[] = {auth, "Content-Type: application/json", NULL};

	/* The environment, the admin's token and libcurl's global state are
	 * set up here, in the test's own thread, before any racer runs. */
	client_env("HMS_TEST_BASE_URL");
	client_env("HMS_TEST_CA");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", client_admin_token());
	cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	cr_assert_eq(pthread_barrier_init(&barrier, NULL, BILLING_RACERS), 0);
	for (int i = 0; i < BILLING_RACERS; i++) {
		racers[i] = (struct billing_racer){
		    .barrier = &barrier, .path = path, .headers = headers, .body = body};
		cr_assert_eq(pthread_create(&threads[i], NULL, billing_race_one, &racers[i]), 0);
	}
	for (int i = 0; i < BILLING_RACERS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);
	curl_global_cleanup();
}

static long long billing_create(const char *path, const char *body)
{
	struct client_response res;
	long long id;

	client_post_json(path, client_admin_token(), body, &res);
	cr_assert_eq(res.status, 201, "POST %s: %ld %s", path, res.status, res.body);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

static long long billing_patient(void)
{
	return billing_create("/api/patients/",
	                      "{\"first_name\": \"Race\", \"last_name\": \"Payer\", "
	                      "\"date_of_birth\": \"1990-09-09\", \"gender\": \"other\"}");
}

/* An issued invoice of one line at unit_price. */
static long long billing_issued_invoice(const char *unit_price)
{
	struct client_response res;
	char *body = client_format("{\"patient\": %lld, \"items\": [{\"description\": \"Race\", "
	                           "\"quantity\": 1, \"unit_price\": \"%s\"}]}",
	                           billing_patient(), unit_price);
	long long id = billing_create("/api/invoices/", body);
	char *path = client_format("/api/invoices/%lld/issue/", id);

	client_call("POST", path, client_admin_token(), NULL, NULL, &res);
	cr_assert_eq(res.status, 200, "issue: %ld %s", res.status, res.body);
	client_response_free(&res);
	free(path);
	free(body);
	return id;
}

/* 32 payments of amount at once on an invoice of total; expects exactly
 * `fit` of them to succeed and the invoice to end in status with paid. */
static void race_payments(const char *total, const char *amount, int fit, const char *status,
                          const char *paid)
{
	struct billing_racer racers[BILLING_RACERS];
	long long id = billing_issued_invoice(total);
	char *path = client_format("/api/invoices/%lld/payments/", id);
	char *body = client_format("{\"amount\": \"%s\", \"method\": \"card\"}", amount);
	char *sql, *value;
	int created = 0, refused = 0;

	billing_race(path, body, racers);
	for (int i = 0; i < BILLING_RACERS; i++) {
		if (racers[i].status == 201)
			created++;
		else if (racers[i].status == 400 && strstr(racers[i].detail, "amount") != NULL)
			refused++;
		else
			cr_log_error("racer %d: %ld %s", i, racers[i].status, racers[i].detail);
	}
	cr_assert_eq(created, fit, "%d paid, %d refused", created, refused);
	cr_assert_eq(refused, BILLING_RACERS - fit, "%d paid, %d refused", created, refused);

	/* The database agrees: the payments' sum is the amount paid, never
	 * more than the total. */
	sql = client_format("SELECT i.status || ' ' || i.amount_paid || ' ' || i.total || ' ' || "
	                    "(SELECT count(*) || ' ' || coalesce(sum(amount), 0) FROM payments p "
	                    "WHERE p.invoice_id = i.id) FROM invoices i WHERE i.id = %lld",
	                    id);
	value = client_sql_value(sql);
	{
		char *want = client_format("%s %s %s.00 %d %s", status, paid, total, fit, paid);

		cr_assert_str_eq(value, want);
		free(want);
	}
	free(value);
	free(sql);
	free(path);
	free(body);
}

Test(billing_races, concurrent_payments_that_would_overpay_exactly_the_ones_that_fit,
     .timeout = 180)
{
	/* 32 x 7.00 = 224.00 against 100.00: 14 fit (98.00), 2.00 stays due. */
	race_payments("100", "7.00", 14, "issued", "98.00");
}

Test(billing_races, concurrent_payments_cover_the_total_and_the_invoice_is_paid, .timeout = 180)
{
	/* 32 x 10.00 against 100.00: 10 fit, and the tenth pays it. */
	race_payments("100", "10.00", 10, "paid", "100.00");
}

Test(billing_races, concurrent_creations_get_distinct_consecutive_numbers, .timeout = 180)
{
	struct billing_racer racers[BILLING_RACERS];
	long numbers[BILLING_RACERS];
	char *body = client_format("{\"patient\": %lld, \"items\": [{\"description\": \"Race\", "
	                           "\"quantity\": 1, \"unit_price\": 1}]}",
	                           billing_patient());
	char year[5] = "";

	billing_race("/api/invoices/", body, racers);
	for (int i = 0; i < BILLING_RACERS; i++) {
		cr_assert_eq(racers[i].status, 201, "racer %d: %ld %s", i, racers[i].status,
		             racers[i].detail);
		/* INV-YYYY-NNNNNN, one year for all. */
		cr_assert_eq(strncmp(racers[i].number, "INV-", 4), 0, "%s", racers[i].number);
		if (i == 0)
			memcpy(year, racers[i].number + 4, 4);
		cr_assert_eq(strncmp(racers[i].number + 4, year, 4), 0, "%s", racers[i].number);
		numbers[i] = atol(racers[i].number + 9);
	}
	/* Distinct and consecutive: sorted, each one more than the last. */
	for (int i = 1; i < BILLING_RACERS; i++)
		for (int k = i; k > 0 && numbers[k - 1] > numbers[k]; k--) {
			long t = numbers[k];

			numbers[k] = numbers[k - 1];
			numbers[k - 1] = t;
		}
	for (int i = 1; i < BILLING_RACERS; i++)
		cr_assert_eq(numbers[i], numbers[i - 1] + 1, "%ld then %ld", numbers[i - 1],
		             numbers[i]);
	{
		/* And no gap before them: the year's counter is the last one. */
		char *sql = client_format("SELECT last FROM invoice_numbers WHERE year = %s", year);

		cr_assert_eq(client_sql_long(sql), numbers[BILLING_RACERS - 1]);
		free(sql);
	}
	free(body);
}
