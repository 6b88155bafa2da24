/*
 * test_idempotency_races.c - one Idempotency-Key from many threads at once,
 * through the real stack: 16 threads released together by a barrier POST
 * the same patient under the same key. The first claim of the key wins;
 * the others wait on its primary key until it commits and then replay its
 * answer: exactly one patient, every answer 201 with its id, all but one
 * marked Idempotent-Replayed.
 *
 * Built into the fault_tests binary, which runs its tests one at a time
 * (--jobs 1), so that the requests really meet (test_billing_races.c).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define IDEM_RACERS 16

struct idem_racer {
	pthread_barrier_t *barrier;
	const char *const *headers;
	const char *body;
	long status; /* 0: the exchange failed */
	long long id;
	bool is_replayed;
	char detail[200];
};

static void *idem_race_one(void *arg)
{
	struct idem_racer *r = arg;
	struct client_response res;

	pthread_barrier_wait(r->barrier);
	/* No Criterion assertion in a thread: record, and judge afterwards. */
	if (client_request("POST", "/api/patients/", r->headers, r->body, strlen(r->body), &res) ==
	    0) {
		struct json_object *id;
		const char *replayed = client_header(&res, "Idempotent-Replayed");

		r->status = res.status;
		r->is_replayed = replayed != NULL && strcmp(replayed, "true") == 0;
		snprintf(r->detail, sizeof(r->detail), "%s", res.body != NULL ? res.body : "");
		if (res.json != NULL && json_object_object_get_ex(res.json, "id", &id))
			r->id = json_object_get_int64(id);
		client_response_free(&res);
	}
	return NULL;
}

Test(idempotency, sixteen_concurrent_posts_with_one_key_make_one_patient, .timeout = 180)
{
	struct idem_racer racers[IDEM_RACERS];
	pthread_t threads[IDEM_RACERS];
	pthread_barrier_t barrier;
	char auth[8300], key[96], key_line[128], last[96];
	const char *headers[] = {auth, "Content-Type: application/json", key_line, NULL};
	char *body, *sql;
	int replayed = 0;

	client_env("HMS_TEST_BASE_URL");
	client_env("HMS_TEST_CA");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", client_admin_token());
	client_unique_name("race", key, sizeof(key));
	client_unique_name("Race", last, sizeof(last));
	snprintf(key_line, sizeof(key_line), "Idempotency-Key: %s", key);
	body = client_format("{\"first_name\": \"Idem\", \"last_name\": \"%s\", "
	                     "\"date_of_birth\": \"1970-03-04\", \"gender\": \"male\"}",
	                     last);
	cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	cr_assert_eq(pthread_barrier_init(&barrier, NULL, IDEM_RACERS), 0);
	for (int i = 0; i < IDEM_RACERS; i++) {
		racers[i] =
		    (struct idem_racer){.barrier = &barrier, .headers = headers, .body = body};
		cr_assert_eq(pthread_create(&threads[i], NULL, idem_race_one, &racers[i]), 0);
	}
	for (int i = 0; i < IDEM_RACERS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);
	curl_global_cleanup();

	for (int i = 0; i < IDEM_RACERS; i++) {
		cr_assert_eq(racers[i].status, 201, "racer %d: %ld %s", i, racers[i].status,
		             racers[i].detail);
		cr_assert_eq(racers[i].id, racers[0].id, "racer %d: %lld, racer 0: %lld", i,
		             racers[i].id, racers[0].id);
		replayed += racers[i].is_replayed;
	}
	cr_assert_eq(replayed, IDEM_RACERS - 1);
	sql = client_format("SELECT count(*) FROM patients WHERE last_name = '%s'", last);
	cr_assert_eq(client_sql_long(sql), 1);
	free(sql);
	sql = client_format("SELECT count(*) FROM audit_log WHERE action = 'create' AND "
	                    "entity_type = 'patient' AND entity_id = %lld",
	                    racers[0].id);
	cr_assert_eq(client_sql_long(sql), 1);
	free(sql);
	free(body);
}
