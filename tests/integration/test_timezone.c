/*
 * test_timezone.c - schedules and bookings across a daylight-saving change.
 * The test stack's hospital zone (Africa/Kampala) has no DST, so this test
 * restarts hms in Europe/Berlin, where clocks jump from 02:00 to 03:00 on
 * the last Sunday of March, and restores the stack afterwards. It runs in
 * the serial fault binary: it restarts the shared workers.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* Stops the hms master and starts the stack again in zone. */
static void restart_in(const char *zone)
{
	char path[512], cmd[1024];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/run/hms.pid", client_env("HMS_TEST_STATE"));
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 150 && kill(pid, 0) == 0; i++)
			usleep(100 * 1000);
	}
	snprintf(cmd, sizeof(cmd), "HMS_TIME_ZONE=%s '%s/deploy/stack.sh' start >/dev/null 2>&1",
	         zone, client_env("HMS_TEST_ROOT"));
	cr_assert_eq(system(cmd), 0, "the stack did not come back in %s", zone);
}

static void back_to_kampala(void)
{
	restart_in("Africa/Kampala");
}

/* The last Sunday of March of next year, as YYYY-MM-DD. */
static void dst_sunday(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;
	int year;

	gmtime_r(&now, &tm);
	year = tm.tm_year + 1900 + 1;
	for (int day = 31; day >= 25; day--) {
		struct tm d = {.tm_year = year - 1900, .tm_mon = 2, .tm_mday = day, .tm_hour = 12};
		time_t t = timegm(&d);

		gmtime_r(&t, &d);
		if (d.tm_wday == 0) {
			snprintf(out, 32, "%04d-03-%02d", year, day);
			return;
		}
	}
	cr_assert_fail("no Sunday at the end of March");
}

static long long create(const char *path, const char *body)
{
	struct client_response res;
	struct json_object *id;
	long long value;

	client_post_json(path, client_admin_token(), body, &res);
	cr_assert_eq(res.status, 201, "%s: %ld %s", path, res.status, res.body);
	cr_assert(json_object_object_get_ex(res.json, "id", &id));
	value = json_object_get_int64(id);
	client_response_free(&res);
	return value;
}

/* The slots' start times of the doctor on date, comma-separated. */
static char *slots(long long doctor, const char *date)
{
	struct client_response res;
	struct json_object *list, *zone;
	char path[128], *out = calloc(1, 512);

	snprintf(path, sizeof(path), "/api/doctors/%lld/availability/?date=%s", doctor, date);
	client_get_auth(path, client_admin_token(), &res);
	cr_assert_eq(res.status, 200, "%s", res.body);
	cr_assert(json_object_object_get_ex(res.json, "time_zone", &zone));
	cr_assert_str_eq(json_object_get_string(zone), "Europe/Berlin");
	cr_assert(json_object_object_get_ex(res.json, "slots", &list));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *start;

		json_object_object_get_ex(json_object_array_get_idx(list, i), "start_time", &start);
		snprintf(out + strlen(out), 512 - strlen(out), "%s%s", i ? "," : "",
		         json_object_get_string(start));
	}
	client_response_free(&res);
	return out;
}

Test(timezone, schedule_and_booking_across_a_daylight_saving_change, .fini = back_to_kampala)
{
	char date[32], body[512], expect[256];
	struct client_response res;
	long long doctor, patient;
	char *free_slots;

	restart_in("Europe/Berlin");
	dst_sunday(date);
	doctor = create("/api/doctors/",
	                "{\"first_name\": \"Dora\", \"last_name\": \"Zeitwechsel\", "
	                "\"license_number\": \"DST-TEST-1\", \"slot_minutes\": 30, \"schedule\": "
	                "[{\"weekday\": 6, \"start_time\": \"01:00\", \"end_time\": \"04:00\"}]}");
	patient =
	    create("/api/patients/", "{\"first_name\": \"Till\", \"last_name\": \"Uhr\", "
	                             "\"date_of_birth\": \"1980-03-30\", \"gender\": \"male\"}");

	/* 01:00-04:00 local is two real hours that day: 01:00 and 01:30 CET
	 * (00:00Z, 00:30Z), then 03:00 and 03:30 CEST (01:00Z, 01:30Z). */
	free_slots = slots(doctor, date);
	snprintf(expect, sizeof(expect), "%sT00:00:00Z,%sT00:30:00Z,%sT01:00:00Z,%sT01:30:00Z",
	         date, date, date, date);
	cr_assert_str_eq(free_slots, expect);
	free(free_slots);

	/* 01:30 CET to 03:30 CEST: one real hour across the change, inside
	 * the schedule on the wall clock. */
	snprintf(body, sizeof(body),
	         "{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%sT01:30:00+01:00\", "
	         "\"end_time\": \"%sT03:30:00+02:00\"}",
	         patient, doctor, date, date);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	cr_assert_eq(res.status, 201, "%s", res.body);
	snprintf(expect, sizeof(expect), "%sT01:30:00Z", date);
	cr_assert_str_eq(client_json_string(&res, "end_time"), expect);
	client_response_free(&res);

	/* It takes exactly the two slots it covers. */
	free_slots = slots(doctor, date);
	snprintf(expect, sizeof(expect), "%sT00:00:00Z,%sT01:30:00Z", date, date);
	cr_assert_str_eq(free_slots, expect);
	free(free_slots);

	/* 04:00 CEST is past the schedule's end on the wall clock. */
	snprintf(body, sizeof(body),
	         "{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%sT04:00:00+02:00\"}",
	         patient, doctor, date);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	cr_assert_eq(res.status, 400, "%s", res.body);
	cr_assert(client_has_field_error(&res, "start_time"), "%s", res.body);
	client_response_free(&res);
}
