/*
 * test_races.c - double booking under real concurrency, through the real
 * stack: 32 threads released together by a barrier each POST one booking of
 * the same time, and exactly one may win. For a doctor's slot (every thread
 * its own patient, so only the doctor's overlap can decide), for a patient
 * booked with 32 doctors at once, for 32 overlapping but different times of
 * one doctor, and for a resource. The database is asked afterwards: exactly
 * one live row.
 *
 * Built into the fault_tests binary, which runs its tests one at a time
 * (--jobs 1): a race test wants the machine, the workers and the database to
 * itself so that the requests really meet.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define SCHED_RACERS  32
#define SCHED_KAMPALA (3 * 3600)
#define SCHED_DAY     86400L
#define SCHED_HOUR    3600L
#define SCHED_MIN     60L

static char *sched_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sched_format(const char *fmt, ...)
{
	va_list ap;
	char *out;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&out, fmt, ap), 0);
	va_end(ap);
	return out;
}

static long long sched_json_int(struct json_object *obj, const char *key)
{
	struct json_object *v;

	cr_assert(obj != NULL && json_object_object_get_ex(obj, key, &v) &&
	              json_object_is_type(v, json_type_int),
	          "no integer %s in %s", key, obj != NULL ? json_object_to_json_string(obj) : "");
	return (long long)json_object_get_int64(v);
}

/* 00:00 hospital time of a Monday more than 400 days ahead, plus weeks. */
static time_t sched_monday(int weeks)
{
	long long days = (long long)(time(NULL) + SCHED_KAMPALA) / SCHED_DAY + 400;

	days += (7 - (days + 3) % 7) % 7; /* 1970-01-01 was a Thursday */
	return (time_t)((days + 7LL * weeks) * SCHED_DAY - SCHED_KAMPALA);
}

/* t in UTC: "2028-01-03T07:00:00Z" (static buffer per call site's copy). */
static void sched_utc(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* POSTs body to path as the admin; asserts 201 and returns the id. */
static long long sched_create(const char *path, const char *body)
{
	struct client_response res;
	long long id;

	client_post_json(path, client_admin_token(), body, &res);
	cr_assert_eq(res.status, 201, "POST %s: %ld %s", path, res.status, res.body);
	id = sched_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

static long long sched_patient(void)
{
	return sched_create("/api/patients/",
	                    "{\"first_name\": \"Race\", \"last_name\": \"Patient\", "
	                    "\"date_of_birth\": \"1990-09-09\", \"gender\": \"other\"}");
}

/* A doctor without a schedule (no hours to get in the way). */
static long long sched_doctor(void)
{
	char license[96];
	char *body;
	long long id;

	client_unique_name("LIC-RACE", license, sizeof(license));
	body = sched_format("{\"first_name\": \"Race\", \"last_name\": \"Doctor\", "
	                    "\"license_number\": \"%s\", \"slot_minutes\": 30}",
	                    license);
	id = sched_create("/api/doctors/", body);
	free(body);
	return id;
}

/* --- the race ------------------------------------------------------------------------------- */

struct sched_racer {
	pthread_barrier_t *barrier;
	const char *path;
	const char *const *headers;
	char *body;  /* malloc'd */
	long status; /* 0: the exchange failed */
	char detail[160];
};

static void *sched_race_one(void *arg)
{
	struct sched_racer *r = arg;
	struct client_response res;

	pthread_barrier_wait(r->barrier);
	/* No Criterion assertion in a thread: record, and judge afterwards. */
	if (client_request("POST", r->path, r->headers, r->body, strlen(r->body), &res) == 0) {
		r->status = res.status;
		snprintf(r->detail, sizeof(r->detail), "%s", res.body != NULL ? res.body : "");
		client_response_free(&res);
	}
	return NULL;
}

/* Sends the SCHED_RACERS bodies to path at once; counts the answers. */
static void sched_race(const char *path, char *bodies[SCHED_RACERS], int *created, int *conflicts)
{
	struct sched_racer racers[SCHED_RACERS];
	pthread_t threads[SCHED_RACERS];
	pthread_barrier_t barrier;
	char auth[8300];
	const char *headers[] = {auth, "Content-Type: application/json", NULL};

	/* The environment, the admin's token and libcurl's global state are
	 * set up here, in the test's own thread, before any racer runs. */
	client_env("HMS_TEST_BASE_URL");
	client_env("HMS_TEST_CA");
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", client_admin_token());
	cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	cr_assert_eq(pthread_barrier_init(&barrier, NULL, SCHED_RACERS), 0);
	for (int i = 0; i < SCHED_RACERS; i++) {
		racers[i] = (struct sched_racer){
		    .barrier = &barrier, .path = path, .headers = headers, .body = bodies[i]};
		cr_assert_eq(pthread_create(&threads[i], NULL, sched_race_one, &racers[i]), 0);
	}
	for (int i = 0; i < SCHED_RACERS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);
	curl_global_cleanup();

	*created = *conflicts = 0;
	for (int i = 0; i < SCHED_RACERS; i++) {
		if (racers[i].status == 201)
			(*created)++;
		else if (racers[i].status == 409)
			(*conflicts)++;
		else
			cr_log_error("racer %d: %ld %s", i, racers[i].status, racers[i].detail);
		free(racers[i].body);
	}
}

Test(races, one_doctor_slot_32_patients_exactly_one_wins, .timeout = 180)
{
	time_t start = sched_monday(10) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor();
	char *bodies[SCHED_RACERS];
	char at[32], sql[256];
	int created, conflicts;

	sched_utc(start, at, sizeof(at));
	for (int i = 0; i < SCHED_RACERS; i++)
		bodies[i] = sched_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": "
		                         "\"%s\", \"reason\": \"race %d\"}",
		                         sched_patient(), doctor, at, i);
	sched_race("/api/appointments/", bodies, &created, &conflicts);
	cr_assert_eq(created, 1, "%d created, %d conflicts", created, conflicts);
	cr_assert_eq(conflicts, SCHED_RACERS - 1, "%d created, %d conflicts", created, conflicts);

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM appointments WHERE doctor_id = %lld AND start_time = "
	         "'%s'::timestamptz AND status <> 'cancelled'",
	         doctor, at);
	cr_assert_eq(client_sql_long(sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM appointments WHERE doctor_id = %lld",
	         doctor);
	cr_assert_eq(client_sql_long(sql), 1, "a losing request left a row behind");
}

Test(races, one_patient_32_doctors_exactly_one_wins, .timeout = 180)
{
	time_t start = sched_monday(11) + 10 * SCHED_HOUR;
	long long patient = sched_patient();
	char *bodies[SCHED_RACERS];
	char at[32], sql[256];
	int created, conflicts;

	sched_utc(start, at, sizeof(at));
	for (int i = 0; i < SCHED_RACERS; i++)
		bodies[i] =
		    sched_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\"}",
		                 patient, sched_doctor(), at);
	sched_race("/api/appointments/", bodies, &created, &conflicts);
	cr_assert_eq(created, 1, "%d created, %d conflicts", created, conflicts);
	cr_assert_eq(conflicts, SCHED_RACERS - 1, "%d created, %d conflicts", created, conflicts);

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM appointments WHERE patient_id = %lld AND status <> "
	         "'cancelled'",
	         patient);
	cr_assert_eq(client_sql_long(sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM appointments WHERE patient_id = %lld",
	         patient);
	cr_assert_eq(client_sql_long(sql), 1);
}

/* Not one slot but 32 different times a minute apart, an hour long each:
 * every pair overlaps, none is equal, so no unique key could decide. */
Test(races, staggered_overlapping_times_exactly_one_wins, .timeout = 180)
{
	time_t start = sched_monday(12) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor();
	char *bodies[SCHED_RACERS];
	char sql[256];
	int created, conflicts;

	for (int i = 0; i < SCHED_RACERS; i++) {
		char from[32], to[32];

		sched_utc(start + i * SCHED_MIN, from, sizeof(from));
		sched_utc(start + i * SCHED_MIN + SCHED_HOUR, to, sizeof(to));
		bodies[i] = sched_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": "
		                         "\"%s\", \"end_time\": \"%s\"}",
		                         sched_patient(), doctor, from, to);
	}
	sched_race("/api/appointments/", bodies, &created, &conflicts);
	cr_assert_eq(created, 1, "%d created, %d conflicts", created, conflicts);
	cr_assert_eq(conflicts, SCHED_RACERS - 1, "%d created, %d conflicts", created, conflicts);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM appointments WHERE doctor_id = %lld AND status <> "
	         "'cancelled'",
	         doctor);
	cr_assert_eq(client_sql_long(sql), 1);
}

Test(races, one_resource_slot_exactly_one_wins, .timeout = 180)
{
	time_t start = sched_monday(13) + 10 * SCHED_HOUR;
	char name[96], path[96], from[32], to[32], sql[256];
	char *bodies[SCHED_RACERS];
	char *body;
	long long resource;
	int created, conflicts;

	client_unique_name("Race theatre", name, sizeof(name));
	body = sched_format("{\"name\": \"%s\", \"resource_type\": \"operating_room\"}", name);
	resource = sched_create("/api/resources/", body);
	free(body);
	snprintf(path, sizeof(path), "/api/resources/%lld/bookings/", resource);
	sched_utc(start, from, sizeof(from));
	sched_utc(start + 2 * SCHED_HOUR, to, sizeof(to));
	for (int i = 0; i < SCHED_RACERS; i++)
		bodies[i] = sched_format(
		    "{\"start_time\": \"%s\", \"end_time\": \"%s\", \"purpose\": \"race %d\"}",
		    from, to, i);
	sched_race(path, bodies, &created, &conflicts);
	cr_assert_eq(created, 1, "%d created, %d conflicts", created, conflicts);
	cr_assert_eq(conflicts, SCHED_RACERS - 1, "%d created, %d conflicts", created, conflicts);

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM resource_bookings WHERE resource_id = %lld AND status = "
	         "'booked'",
	         resource);
	cr_assert_eq(client_sql_long(sql), 1);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM resource_bookings WHERE resource_id = %lld", resource);
	cr_assert_eq(client_sql_long(sql), 1);
}
