/* sched.c - helpers shared by the scheduling tests (see sched.h). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched.h"

/* 400 in DRF's validation shape, whichever field it names. */
void sched_assert_validation(const struct client_response *res)
{
	client_assert_status(res, 400);
	cr_assert(res->json != NULL && json_object_is_type(res->json, json_type_object) &&
	              json_object_object_length(res->json) > 0,
	          "not a DRF error map: %s", res->body);
	json_object_object_foreach(res->json, key, val)
	{
		(void)val;
		cr_assert(client_has_field_error(res, key), "bad error list '%s': %s", key,
		          res->body);
	}
}

/* "YYYY-MM-DDTHH:MM:SSZ" exactly. */
int sched_is_utc_stamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	return 1;
}

/* 00:00 hospital time of a Monday more than 400 days ahead, plus weeks. */
time_t sched_monday(int weeks)
{
	long long days = (long long)(time(NULL) + SCHED_KAMPALA) / SCHED_DAY + 400;

	days += (7 - (days + 3) % 7) % 7; /* 1970-01-01 was a Thursday */
	return (time_t)((days + 7LL * weeks) * SCHED_DAY - SCHED_KAMPALA);
}

/* t as the hospital's wall clock with its offset: "2028-01-03T10:00:00+03:00". */
struct sched_text sched_local(time_t t)
{
	struct sched_text out;
	time_t shifted = t + SCHED_KAMPALA;
	struct tm tm;

	gmtime_r(&shifted, &tm);
	strftime(out.s, sizeof(out.s), "%Y-%m-%dT%H:%M:%S+03:00", &tm);
	return out;
}

/* t as the API writes it: "2028-01-03T07:00:00Z". */
struct sched_text sched_utc(time_t t)
{
	struct sched_text out;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out.s, sizeof(out.s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* Asserts the DRF list shape; returns the results (owned by res). */
struct json_object *sched_results(const struct client_response *res)
{
	return client_list_results(res);
}

/* Audit rows as the admin sees them for query; returns the count. */
long long sched_audit_count(const char *query)
{
	struct client_response res;
	char path[512];
	long long n;

	snprintf(path, sizeof(path), "/api/audit/?%s", query);
	client_get_auth(path, client_admin_token(), &res);
	sched_results(&res);
	n = client_json_int(res.json, "count");
	client_response_free(&res);
	return n;
}
