/*
 * sched.h - helpers shared by the scheduling tests (appointments and
 * resource bookings): fixtures through the API, times in UTC and in the
 * hospital's zone (Africa/Kampala, UTC+3), and assertions.
 */
#ifndef HMS_TEST_SCHED_H
#define HMS_TEST_SCHED_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "client.h"

#define SCHED_KAMPALA (3 * 3600)
#define SCHED_DAY     86400L
#define SCHED_HOUR    3600L
#define SCHED_MIN     60L

struct sched_text {
	char s[48];
};

void sched_assert_validation(const struct client_response *res);
int sched_is_utc_stamp(const char *s);
time_t sched_monday(int weeks);
struct sched_text sched_local(time_t t);
struct sched_text sched_utc(time_t t);
struct json_object *sched_results(const struct client_response *res);
long long sched_audit_count(const char *query);

#endif
