/*
 * test_appointments.c - /api/appointments/ through the real stack (nginx TLS,
 * FastCGI, hms, PostgreSQL): the object's shape and ETag, the end time
 * defaulted from the doctor's slot length, every booking rule of SPEC
 * section 5 (past start, end after start, unknown or deleted patient,
 * unknown or inactive doctor, the doctor's weekly schedule in the hospital
 * time zone, overlap of the same doctor or the same patient -> 409),
 * status transitions, updates that re-check the rules, If-Match, filters,
 * ordering and paging, the upcoming list, SPEC section 4's row for
 * appointments (billing reads only, a doctor sees and edits only their own
 * status and notes), the audit rows of create, update and cancel, bad input,
 * and a doctor's free slots before and after a booking.
 *
 * The test stack runs in Africa/Kampala (UTC+3 all year). Appointments are
 * booked on Mondays more than a year ahead (sched_monday()), and every test
 * makes its own doctors and patients, so tests run in parallel without
 * seeing each other's bookings: every list query names the test's doctor
 * or patient.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "sched.h"

/* Mondays 09:00-12:00 hospital time. */
#define SCHED_MONDAY_9_12 "[{\"weekday\": 0, \"start_time\": \"09:00\", \"end_time\": \"12:00\"}]"

/* --- assertions and JSON ----------------------------------------------------------------- */

/* --- hospital time ------------------------------------------------------------------------ */

/* The hospital's date of t: "2028-01-03". */
static struct sched_text sched_date(time_t t)
{
	struct sched_text out;
	time_t shifted = t + SCHED_KAMPALA;
	struct tm tm;

	gmtime_r(&shifted, &tm);
	strftime(out.s, sizeof(out.s), "%Y-%m-%d", &tm);
	return out;
}

/* --- fixtures ------------------------------------------------------------------------------ */

struct sched_staff {
	struct client_user user;
	struct client_tokens tokens;
};

static void sched_staff_close(struct sched_staff *s)
{
	client_tokens_free(&s->tokens);
}

static void sched_staff_open(const char *role, struct sched_staff *s)
{
	client_create_user(role, &s->user);
	client_user_login(&s->user, &s->tokens);
}

static long long sched_me(const char *token)
{
	struct client_response res;
	long long id;

	client_get_auth("/api/auth/me/", token, &res);
	client_assert_status(&res, 200);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

static long long sched_patient(void)
{
	struct client_response res;
	long long id;

	client_post_json("/api/patients/", client_admin_token(),
	                 "{\"first_name\": \"Sched\", \"last_name\": \"Patient\", "
	                 "\"date_of_birth\": \"1980-05-05\", \"gender\": \"female\"}",
	                 &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

/* A doctor made by the admin: schedule is JSON text (NULL: none given,
 * i.e. empty), user a staff user id or 0. */
static long long sched_doctor_full(const char *schedule, int slot_minutes, long long user)
{
	struct client_response res;
	char license[96], user_member[48] = "";
	char *body;
	long long id;

	client_unique_name("LIC-APPT", license, sizeof(license));
	if (user > 0)
		snprintf(user_member, sizeof(user_member), ", \"user\": %lld", user);
	body =
	    client_format("{\"first_name\": \"Sched\", \"last_name\": \"Doctor\", "
	                  "\"license_number\": \"%s\", \"slot_minutes\": %d, \"schedule\": %s%s}",
	                  license, slot_minutes, schedule != NULL ? schedule : "[]", user_member);
	client_post_json("/api/doctors/", client_admin_token(), body, &res);
	free(body);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

static long long sched_doctor(const char *schedule)
{
	return sched_doctor_full(schedule, 30, 0);
}

/* A staff user with role doctor, logged in, linked to a new doctor record
 * without a schedule; returns the doctor's id. */
static long long sched_doctor_user(struct sched_staff *s)
{
	sched_staff_open("doctor", s);
	return sched_doctor_full(NULL, 30, s->user.id);
}

static void sched_appointment_path(long long id, char *out, size_t size)
{
	snprintf(out, size, "/api/appointments/%lld/", id);
}

/* POST /api/appointments/ as token; end 0 leaves end_time out; extra is
 * more members (", \"k\": v") or NULL. */
static void sched_post(const char *token, long long patient, long long doctor, time_t start,
                       time_t end, const char *extra, struct client_response *res)
{
	char end_member[96] = "";
	char *body;

	if (end != 0)
		snprintf(end_member, sizeof(end_member), ", \"end_time\": \"%s\"",
		         sched_local(end).s);
	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\"%s%s}",
	                     patient, doctor, sched_local(start).s, end_member,
	                     extra != NULL ? extra : "");
	client_post_json("/api/appointments/", token, body, res);
	free(body);
}

/* The same, asserting 201; returns the new id. */
static long long sched_book_as(const char *token, long long patient, long long doctor, time_t start,
                               time_t end)
{
	struct client_response res;
	long long id;

	sched_post(token, patient, doctor, start, end, NULL, &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	return id;
}

static long long sched_book(long long patient, long long doctor, time_t start, time_t end)
{
	return sched_book_as(client_admin_token(), patient, doctor, start, end);
}

/* PATCH (or another method) of an appointment, with an optional If-Match. */
static void sched_write(const char *method, long long id, const char *token, const char *if_match,
                        const char *body, struct client_response *res)
{
	char path[64], header[256];

	sched_appointment_path(id, path, sizeof(path));
	if (if_match != NULL)
		snprintf(header, sizeof(header), "If-Match: %s", if_match);
	client_call(method, path, token, if_match != NULL ? header : NULL, body, res);
}

static void sched_patch_expect(long long id, const char *token, const char *body, long status)
{
	struct client_response res;

	sched_write("PATCH", id, token, NULL, body, &res);
	client_assert_status(&res, status);
	client_response_free(&res);
}

static void sched_cancel_expect(long long id, const char *token, long status)
{
	struct client_response res;

	sched_write("DELETE", id, token, NULL, NULL, &res);
	client_assert_status(&res, status);
	if (status == 204)
		cr_assert_eq(res.body_len, 0, "a 204 with a body: %s", res.body);
	client_response_free(&res);
}

static void sched_get(long long id, const char *token, struct client_response *res)
{
	char path[64];

	sched_appointment_path(id, path, sizeof(path));
	client_get_auth(path, token, res);
}

/* The appointment's status as the admin reads it (static buffer). */
static const char *sched_status_of(long long id)
{
	static char status[32];
	struct client_response res;

	sched_get(id, client_admin_token(), &res);
	client_assert_status(&res, 200);
	snprintf(status, sizeof(status), "%s", client_json_str(res.json, "status"));
	client_response_free(&res);
	return status;
}

/* Live (non-cancelled) appointments of a doctor, straight from the database. */
static long long sched_live_rows_of_doctor(long long doctor)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM appointments WHERE doctor_id = %lld AND status <> "
	         "'cancelled'",
	         doctor);
	return client_sql_long(sql);
}

/* GET path?query as token and asserts the total count and the ids of the
 * page's results, in order. */
static void sched_expect_page(const char *path, const char *query, const char *token,
                              long long count, const long long *ids, size_t n)
{
	struct client_response res;
	struct json_object *results;
	char url[1024];

	snprintf(url, sizeof(url), "%s?%s", path, query);
	client_get_auth(url, token, &res);
	results = sched_results(&res);
	cr_assert_eq(client_json_int(res.json, "count"), count, "%s: %s", url, res.body);
	cr_assert_eq(json_object_array_length(results), n, "%s: %s", url, res.body);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(client_json_int(json_object_array_get_idx(results, i), "id"), ids[i],
		             "%s: row %zu: %s", url, i, res.body);
	client_response_free(&res);
}

/* The same for a whole list on one page. */
static void sched_expect_ids(const char *path, const char *query, const char *token,
                             const long long *ids, size_t n)
{
	sched_expect_page(path, query, token, (long long)n, ids, n);
}

static void sched_expect_list(const char *query, const long long *ids, size_t n)
{
	sched_expect_ids("/api/appointments/", query, client_admin_token(), ids, n);
}

/* --- POST /api/appointments/ ------------------------------------------------------------ */

Test(appointments_create, returns_201_with_the_whole_object_and_an_etag)
{
	time_t start = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(SCHED_MONDAY_9_12);
	long long admin = sched_me(client_admin_token());
	struct client_response res, again;
	char extra[256], etag[128];
	const char *etag_header;
	long long id;

	/* Read-only members a client sends are ignored. */
	snprintf(
	    extra, sizeof(extra),
	    ", \"reason\": \"Follow-up\", \"notes\": \"Bring the lab results\", "
	    "\"created_by\": 999999, \"id\": 424242, \"created_at\": \"2001-01-01T00:00:00Z\"");
	sched_post(client_admin_token(), patient, doctor, start, start + 45 * SCHED_MIN, extra,
	           &res);
	client_assert_status(&res, 201);
	cr_assert_eq(json_object_object_length(res.json), 11, "%s", res.body);
	id = client_json_int(res.json, "id");
	cr_assert_gt(id, 0);
	cr_assert_neq(id, 424242);
	cr_assert_eq(client_json_int(res.json, "patient"), patient);
	cr_assert_eq(client_json_int(res.json, "doctor"), doctor);
	cr_assert_str_eq(client_json_str(res.json, "start_time"), sched_utc(start).s);
	cr_assert_str_eq(client_json_str(res.json, "end_time"),
	                 sched_utc(start + 45 * SCHED_MIN).s);
	cr_assert_str_eq(client_json_str(res.json, "status"), "scheduled");
	cr_assert_str_eq(client_json_str(res.json, "reason"), "Follow-up");
	cr_assert_str_eq(client_json_str(res.json, "notes"), "Bring the lab results");
	cr_assert_eq(client_json_int(res.json, "created_by"), admin);
	cr_assert(sched_is_utc_stamp(client_json_str(res.json, "created_at")), "%s", res.body);
	cr_assert(sched_is_utc_stamp(client_json_str(res.json, "updated_at")), "%s", res.body);
	cr_assert_str_neq(client_json_str(res.json, "created_at"), "2001-01-01T00:00:00Z");
	etag_header = client_header(&res, "ETag");
	cr_assert(etag_header != NULL && etag_header[0] == '"', "ETag: %s", res.headers);
	snprintf(etag, sizeof(etag), "%s", etag_header);

	/* GET gives the same object and the same version. */
	sched_get(id, client_admin_token(), &again);
	client_assert_status(&again, 200);
	cr_assert(json_object_equal(res.json, again.json), "%s vs %s", res.body, again.body);
	cr_assert_str_eq(client_header(&again, "ETag"), etag);
	client_response_free(&again);
	client_response_free(&res);

	/* The same path without the final slash. */
	{
		char path[64];

		snprintf(path, sizeof(path), "/api/appointments/%lld", id);
		client_get_auth(path, client_admin_token(), &again);
		client_assert_status(&again, 200);
		client_response_free(&again);
	}
}

Test(appointments_create, end_time_defaults_to_the_doctors_slot_length)
{
	time_t start = sched_monday(0) + 9 * SCHED_HOUR;
	long long patient = sched_patient();
	long long slot20 = sched_doctor_full(SCHED_MONDAY_9_12, 20, 0);
	long long slot45 = sched_doctor_full(NULL, 45, 0);
	struct client_response res;

	sched_post(client_admin_token(), patient, slot20, start, 0, NULL, &res);
	client_assert_status(&res, 201);
	cr_assert_str_eq(client_json_str(res.json, "start_time"), sched_utc(start).s);
	cr_assert_str_eq(client_json_str(res.json, "end_time"),
	                 sched_utc(start + 20 * SCHED_MIN).s);
	cr_assert_str_eq(client_json_str(res.json, "reason"), "");
	cr_assert_str_eq(client_json_str(res.json, "notes"), "");
	client_response_free(&res);

	/* An explicit null end is the default too. */
	sched_post(client_admin_token(), patient, slot45, start + SCHED_HOUR, 0,
	           ", \"end_time\": null", &res);
	if (res.status == 201)
		cr_assert_str_eq(client_json_str(res.json, "end_time"),
		                 sched_utc(start + SCHED_HOUR + 45 * SCHED_MIN).s);
	else
		client_assert_field_error(&res, "end_time");
	client_response_free(&res);

	/* Input in UTC or any offset names the same instant. */
	{
		struct sched_text utc = sched_utc(start + 3 * SCHED_HOUR);
		char *body =
		    client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\"}",
		                  patient, slot45, utc.s);

		client_post_json("/api/appointments/", client_admin_token(), body, &res);
		free(body);
		client_assert_status(&res, 201);
		cr_assert_str_eq(client_json_str(res.json, "start_time"), utc.s);
		cr_assert_str_eq(client_json_str(res.json, "end_time"),
		                 sched_utc(start + 3 * SCHED_HOUR + 45 * SCHED_MIN).s);
		client_response_free(&res);
	}
}

Test(appointments_create, past_start_and_end_not_after_start_are_400)
{
	time_t start = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	struct client_response res;
	char *body;

	/* Long past, and a minute ago. */
	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": "
	                     "\"2020-01-06T10:00:00+03:00\"}",
	                     patient, doctor);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	sched_post(client_admin_token(), patient, doctor, time(NULL) - 60, 0, NULL, &res);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);

	/* End equal to start, and before it. */
	sched_post(client_admin_token(), patient, doctor, start, start, NULL, &res);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	sched_post(client_admin_token(), patient, doctor, start, start - SCHED_HOUR, NULL, &res);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
}

Test(appointments_create, unknown_or_deleted_patient_and_unknown_or_inactive_doctor_are_400)
{
	time_t start = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), deleted = sched_patient();
	long long doctor = sched_doctor(NULL), inactive = sched_doctor(NULL);
	struct client_response res;
	char path[64];

	snprintf(path, sizeof(path), "/api/patients/%lld/", deleted);
	client_call("DELETE", path, client_admin_token(), NULL, NULL, &res);
	client_assert_status(&res, 204);
	client_response_free(&res);
	snprintf(path, sizeof(path), "/api/doctors/%lld/", inactive);
	client_call("DELETE", path, client_admin_token(), NULL, NULL, &res);
	client_assert_status(&res, 204);
	client_response_free(&res);

	sched_post(client_admin_token(), 999999999999LL, doctor, start, 0, NULL, &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);
	sched_post(client_admin_token(), deleted, doctor, start, 0, NULL, &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);
	sched_post(client_admin_token(), patient, 999999999999LL, start, 0, NULL, &res);
	client_assert_field_error(&res, "doctor");
	client_response_free(&res);
	sched_post(client_admin_token(), patient, inactive, start, 0, NULL, &res);
	client_assert_field_error(&res, "doctor");
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
	cr_assert_eq(sched_live_rows_of_doctor(inactive), 0);
	/* The same patient and doctor, both live, book fine. */
	sched_book(patient, doctor, start, 0);
}

Test(appointments_create, outside_the_weekly_schedule_is_400)
{
	time_t monday = sched_monday(0);
	long long patient = sched_patient(), doctor = sched_doctor(SCHED_MONDAY_9_12);
	const struct {
		time_t start, end;
		const char *why;
	} outside[] = {
	    {monday + 8 * SCHED_HOUR, 0, "Monday 08:00, before the 09:00 start"},
	    {monday + 8 * SCHED_HOUR + 45 * SCHED_MIN, 0, "Monday 08:45 - 09:15 starts before"},
	    {monday + 11 * SCHED_HOUR + 45 * SCHED_MIN, 0, "Monday 11:45 - 12:15 ends past 12:00"},
	    {monday + 11 * SCHED_HOUR, monday + 13 * SCHED_HOUR, "Monday 11:00 - 13:00"},
	    {monday + 12 * SCHED_HOUR, 0, "Monday 12:00, the end of the day's hours"},
	    {monday + SCHED_DAY + 10 * SCHED_HOUR, 0, "Tuesday 10:00, no hours that day"},
	    {monday - SCHED_DAY + 10 * SCHED_HOUR, 0, "Sunday 10:00"},
	    /* 09:30 UTC is 12:30 in Kampala: only a server in the wrong zone
	     * would take it. */
	    {monday + 12 * SCHED_HOUR + 30 * SCHED_MIN, 0, "Monday 12:30 hospital time"},
	};
	struct client_response res;

	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		sched_post(client_admin_token(), patient, doctor, outside[i].start, outside[i].end,
		           NULL, &res);
		cr_assert_eq(res.status, 400, "%s: %ld %s", outside[i].why, res.status, res.body);
		sched_assert_validation(&res);
		client_response_free(&res);
	}
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
	/* The first and the last slot of the hours fit exactly. */
	sched_book(patient, doctor, monday + 9 * SCHED_HOUR, 0);
	sched_book(patient, doctor, monday + 11 * SCHED_HOUR + 30 * SCHED_MIN, 0);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 2);
}

Test(appointments_create, a_doctor_with_an_empty_schedule_has_no_limit)
{
	time_t monday = sched_monday(0);
	long long patient = sched_patient(), doctor = sched_doctor("[]");

	sched_book(patient, doctor, monday - SCHED_DAY + 3 * SCHED_HOUR, 0); /* Sunday 03:00 */
	sched_book(patient, doctor, monday + SCHED_DAY + 23 * SCHED_HOUR + 30 * SCHED_MIN,
	           0); /* Tuesday 23:30, ends at midnight */
	sched_book(patient, doctor, monday + 5 * SCHED_DAY + 12 * SCHED_HOUR,
	           monday + 5 * SCHED_DAY + 16 * SCHED_HOUR); /* Saturday, four hours */
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 3);
}

/* --- overlap: 409 ------------------------------------------------------------------------- */

Test(appointments_overlap, same_doctor_is_409_and_nothing_is_stored)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(SCHED_MONDAY_9_12);
	long long p1 = sched_patient(), p2 = sched_patient();
	struct client_response res;
	const struct {
		time_t start, end;
	} clashes[] = {
	    {ten, 0},                                             /* the very same slot */
	    {ten + 15 * SCHED_MIN, 0},                            /* starts inside */
	    {ten - 15 * SCHED_MIN, ten + 15 * SCHED_MIN},         /* ends inside */
	    {ten - 30 * SCHED_MIN, ten + SCHED_HOUR},             /* contains it */
	    {ten + 10 * SCHED_MIN, ten + 20 * SCHED_MIN},         /* inside it */
	    {ten + 29 * SCHED_MIN, ten + 29 * SCHED_MIN + 1 * 60} /* its last minute */
	};

	sched_book(p1, doctor, ten, 0);
	for (size_t i = 0; i < sizeof(clashes) / sizeof(clashes[0]); i++) {
		sched_post(client_admin_token(), p2, doctor, clashes[i].start, clashes[i].end, NULL,
		           &res);
		client_assert_detail(&res, 409);
		client_response_free(&res);
	}
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 1);
}

Test(appointments_overlap, same_patient_at_another_doctor_is_409)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient();
	long long d1 = sched_doctor(SCHED_MONDAY_9_12), d2 = sched_doctor(SCHED_MONDAY_9_12);
	struct client_response res;

	sched_book(patient, d1, ten, 0);
	sched_post(client_admin_token(), patient, d2, ten, 0, NULL, &res);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	sched_post(client_admin_token(), patient, d2, ten + 20 * SCHED_MIN, 0, NULL, &res);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(d2), 0);
	/* Right after it, at the other doctor: fine. */
	sched_book(patient, d2, ten + 30 * SCHED_MIN, 0);
}

Test(appointments_overlap, back_to_back_is_allowed)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(SCHED_MONDAY_9_12);
	long long p1 = sched_patient(), p2 = sched_patient(), p3 = sched_patient();

	sched_book(p1, doctor, ten, 0);
	sched_book(p2, doctor, ten + 30 * SCHED_MIN, 0);   /* starts when the first ends */
	sched_book(p3, doctor, ten - 30 * SCHED_MIN, ten); /* ends when the first starts */
	/* The same patient back to back, too. */
	sched_book(p1, doctor, ten + SCHED_HOUR, 0);
	sched_book(p1, doctor, ten + SCHED_HOUR + 30 * SCHED_MIN, 0);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 5);
}

Test(appointments_overlap, a_cancelled_appointment_frees_the_slot)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(SCHED_MONDAY_9_12);
	long long p1 = sched_patient(), p2 = sched_patient();
	struct client_response res;
	long long first, second;

	first = sched_book(p1, doctor, ten, 0);
	sched_post(client_admin_token(), p2, doctor, ten, 0, NULL, &res);
	client_assert_status(&res, 409);
	client_response_free(&res);
	sched_cancel_expect(first, client_admin_token(), 204);
	cr_assert_str_eq(sched_status_of(first), "cancelled");
	second = sched_book(p2, doctor, ten, 0);
	cr_assert_neq(first, second);
	/* The patient of the cancelled one may take another slot at once too. */
	sched_book(p1, doctor, ten + 30 * SCHED_MIN, 0);
	/* And a cancelled appointment cannot come back over the new one. */
	sched_patch_expect(first, client_admin_token(), "{\"status\": \"scheduled\"}", 409);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 2);
}

/* --- status transitions ----------------------------------------------------------------- */

Test(appointments_status, scheduled_checked_in_completed_and_final_states)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	long long id = sched_book(patient, doctor, ten, 0);
	const char *const to_all[] = {"scheduled", "checked_in", "no_show"};
	struct client_response res;

	sched_write("PATCH", id, client_admin_token(), NULL, "{\"status\": \"checked_in\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "status"), "checked_in");
	client_response_free(&res);
	sched_write("PATCH", id, client_admin_token(), NULL, "{\"status\": \"completed\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "status"), "completed");
	client_response_free(&res);

	/* Completed is final: no way back, no cancel. */
	for (size_t i = 0; i < sizeof(to_all) / sizeof(to_all[0]); i++) {
		char body[64];

		snprintf(body, sizeof(body), "{\"status\": \"%s\"}", to_all[i]);
		sched_write("PATCH", id, client_admin_token(), NULL, body, &res);
		client_assert_detail(&res, 409);
		client_response_free(&res);
	}
	sched_write("DELETE", id, client_admin_token(), NULL, NULL, &res);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	/* Nor moved. */
	{
		char *body =
		    client_format("{\"start_time\": \"%s\"}", sched_local(ten + 2 * SCHED_HOUR).s);

		sched_write("PATCH", id, client_admin_token(), NULL, body, &res);
		free(body);
		client_assert_detail(&res, 409);
		client_response_free(&res);
	}
	cr_assert_str_eq(sched_status_of(id), "completed");
}

Test(appointments_status, cancelled_goes_nowhere)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	long long id = sched_book(patient, doctor, ten, 0);
	const char *const targets[] = {"scheduled", "checked_in", "completed", "no_show"};

	sched_cancel_expect(id, client_admin_token(), 204);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct client_response res;
		char body[64];

		snprintf(body, sizeof(body), "{\"status\": \"%s\"}", targets[i]);
		sched_write("PATCH", id, client_admin_token(), NULL, body, &res);
		client_assert_detail(&res, 409);
		client_response_free(&res);
	}
	cr_assert_str_eq(sched_status_of(id), "cancelled");
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
}

Test(appointments_status, no_show_is_final_and_bad_status_is_400)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	long long id = sched_book(patient, doctor, ten, 0);
	long long other = sched_book(patient, doctor, ten + SCHED_HOUR, 0);
	struct client_response res;

	sched_write("PATCH", id, client_admin_token(), NULL, "{\"status\": \"done\"}", &res);
	client_assert_field_error(&res, "status");
	client_response_free(&res);
	sched_write("PATCH", id, client_admin_token(), NULL, "{\"status\": 1}", &res);
	client_assert_field_error(&res, "status");
	client_response_free(&res);
	cr_assert_str_eq(sched_status_of(id), "scheduled");

	sched_patch_expect(id, client_admin_token(), "{\"status\": \"no_show\"}", 200);
	sched_patch_expect(id, client_admin_token(), "{\"status\": \"checked_in\"}", 409);
	sched_patch_expect(id, client_admin_token(), "{\"status\": \"scheduled\"}", 409);
	cr_assert_str_eq(sched_status_of(id), "no_show");
	/* checked_in cannot go back to scheduled, but can be cancelled. */
	sched_patch_expect(other, client_admin_token(), "{\"status\": \"checked_in\"}", 200);
	sched_patch_expect(other, client_admin_token(), "{\"status\": \"scheduled\"}", 409);
	sched_cancel_expect(other, client_admin_token(), 204);
	cr_assert_str_eq(sched_status_of(other), "cancelled");
}

/* --- PUT / PATCH -------------------------------------------------------------------------- */

Test(appointments_update, moves_recheck_every_rule)
{
	time_t monday = sched_monday(0), ten = monday + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(SCHED_MONDAY_9_12), busy = sched_doctor(SCHED_MONDAY_9_12);
	long long p1 = sched_patient(), p2 = sched_patient(), p3 = sched_patient();
	long long a = sched_book(p1, doctor, ten, 0);
	long long b = sched_book(p2, doctor, ten + SCHED_HOUR, 0);
	struct client_response res, before, after;
	char *body;

	sched_book(p3, busy, ten + SCHED_HOUR, 0);
	sched_get(b, client_admin_token(), &before);
	client_assert_status(&before, 200);

	/* Into the doctor's other appointment. */
	body = client_format("{\"start_time\": \"%s\"}", sched_local(ten + 15 * SCHED_MIN).s);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	/* To the patient of the other appointment, at its time. */
	body = client_format("{\"patient\": %lld, \"start_time\": \"%s\"}", p1, sched_local(ten).s);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_status(&res, 409);
	client_response_free(&res);
	/* To a doctor who is busy then. */
	body = client_format("{\"doctor\": %lld}", busy);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_detail(&res, 409);
	client_response_free(&res);
	/* Into the past. */
	body = client_format("{\"start_time\": \"%s\"}", sched_local(time(NULL) - SCHED_DAY).s);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	/* Out of the schedule. */
	body = client_format("{\"start_time\": \"%s\"}",
	                     sched_local(monday + SCHED_DAY + 10 * SCHED_HOUR).s);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	sched_assert_validation(&res);
	client_response_free(&res);
	/* An end before the start. */
	body = client_format("{\"end_time\": \"%s\"}", sched_local(ten + 30 * SCHED_MIN).s);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	/* To a deleted patient: none here, but an unknown one. */
	sched_write("PATCH", b, client_admin_token(), NULL, "{\"patient\": 999999999999}", &res);
	client_assert_field_error(&res, "patient");
	client_response_free(&res);

	/* Nothing changed. */
	sched_get(b, client_admin_token(), &after);
	client_assert_status(&after, 200);
	cr_assert(json_object_equal(before.json, after.json), "%s became %s", before.body,
	          after.body);
	cr_assert_str_eq(client_header(&after, "ETag") != NULL ? client_header(&after, "ETag") : "",
	                 client_header(&before, "ETag") != NULL ? client_header(&before, "ETag")
	                                                        : "-");
	client_response_free(&before);
	client_response_free(&after);

	/* A free time: 200, and a new start without an end takes the slot length. */
	body = client_format("{\"start_time\": \"%s\"}", sched_local(ten + 30 * SCHED_MIN).s);
	sched_write("PATCH", b, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "start_time"),
	                 sched_utc(ten + 30 * SCHED_MIN).s);
	cr_assert_str_eq(client_json_str(res.json, "end_time"), sched_utc(ten + SCHED_HOUR).s);
	client_response_free(&res);
	/* The freed 11:00 slot is free for another patient now. */
	sched_book(p3, doctor, ten + SCHED_HOUR + 30 * SCHED_MIN, 0);
	(void)a;
}

Test(appointments_update, patch_changes_only_given_fields_and_put_needs_all)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	long long id = sched_book(patient, doctor, ten, ten + 20 * SCHED_MIN);
	struct client_response res;
	char *body;

	sched_write("PATCH", id, client_admin_token(), NULL,
	            "{\"notes\": \"Fasting since midnight\", \"reason\": \"Blood test\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "notes"), "Fasting since midnight");
	cr_assert_str_eq(client_json_str(res.json, "reason"), "Blood test");
	cr_assert_str_eq(client_json_str(res.json, "start_time"), sched_utc(ten).s);
	cr_assert_str_eq(client_json_str(res.json, "end_time"), sched_utc(ten + 20 * SCHED_MIN).s,
	                 "an edit of the notes keeps the length");
	cr_assert_str_eq(client_json_str(res.json, "status"), "scheduled");
	client_response_free(&res);

	/* PUT without doctor: 400 on it. */
	body = client_format("{\"patient\": %lld, \"start_time\": \"%s\"}", patient,
	                     sched_local(ten).s);
	sched_write("PUT", id, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_field_error(&res, "doctor");
	client_response_free(&res);
	/* A whole PUT: 200 with the new values. */
	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\", "
	                     "\"end_time\": \"%s\", \"reason\": \"Replaced\", \"notes\": \"\"}",
	                     patient, doctor, sched_local(ten + SCHED_HOUR).s,
	                     sched_local(ten + 2 * SCHED_HOUR).s);
	sched_write("PUT", id, client_admin_token(), NULL, body, &res);
	free(body);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "start_time"), sched_utc(ten + SCHED_HOUR).s);
	cr_assert_str_eq(client_json_str(res.json, "end_time"), sched_utc(ten + 2 * SCHED_HOUR).s);
	cr_assert_str_eq(client_json_str(res.json, "reason"), "Replaced");
	cr_assert_str_eq(client_json_str(res.json, "notes"), "");
	client_response_free(&res);

	/* Unknown ids: 404. */
	sched_write("PATCH", 999999999999LL, client_admin_token(), NULL, "{\"notes\": \"x\"}",
	            &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	sched_write("DELETE", 999999999999LL, client_admin_token(), NULL, NULL, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	sched_get(999999999999LL, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

Test(appointments_update, stale_if_match_is_412_and_changes_nothing)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	long long id = sched_book(patient, doctor, ten, 0);
	struct client_response res;
	char first[128], second[128];

	sched_get(id, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_not_null(client_header(&res, "ETag"));
	snprintf(first, sizeof(first), "%s", client_header(&res, "ETag"));
	client_response_free(&res);

	sched_write("PATCH", id, client_admin_token(), first, "{\"notes\": \"first nurse\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_not_null(client_header(&res, "ETag"));
	snprintf(second, sizeof(second), "%s", client_header(&res, "ETag"));
	cr_assert_str_neq(first, second, "the version did not change");
	client_response_free(&res);

	/* The second nurse still holds the first version. */
	sched_write("PATCH", id, client_admin_token(), first, "{\"notes\": \"second nurse\"}",
	            &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	{
		char *body = client_format(
		    "{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\", \"notes\": "
		    "\"second nurse\"}",
		    patient, doctor, sched_local(ten).s);

		sched_write("PUT", id, client_admin_token(), first, body, &res);
		free(body);
		client_assert_detail(&res, 412);
		client_response_free(&res);
	}
	sched_write("PATCH", id, client_admin_token(), "\"0-1\"", "{\"notes\": \"wrong tag\"}",
	            &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);

	sched_get(id, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "notes"), "first nurse");
	cr_assert_str_eq(client_header(&res, "ETag"), second);
	client_response_free(&res);
	/* The current tag works. */
	sched_write("PATCH", id, client_admin_token(), second, "{\"notes\": \"third\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
}

/* --- GET /api/appointments/: filters, ordering, paging ---------------------------------- */

Test(appointments_list, filters_doctor_patient_status_and_times)
{
	time_t monday = sched_monday(0);
	long long doctor = sched_doctor(NULL), other_doctor = sched_doctor(NULL);
	long long p1 = sched_patient(), p2 = sched_patient();
	/* a2 is 23:30 on Monday in Kampala (20:30 UTC, Monday); a3 is 00:30 on
	 * Tuesday in Kampala (21:30 UTC, still Monday in UTC). */
	time_t t1 = monday + 10 * SCHED_HOUR, t2 = monday + 23 * SCHED_HOUR + 30 * SCHED_MIN,
	       t3 = monday + SCHED_DAY + 30 * SCHED_MIN,
	       t4 = monday + 2 * SCHED_DAY + 10 * SCHED_HOUR;
	long long a1 = sched_book(p1, doctor, t1, 0), a2 = sched_book(p2, doctor, t2, 0);
	long long a3 = sched_book(p1, doctor, t3, 0), a4 = sched_book(p2, doctor, t4, 0);
	long long elsewhere = sched_book(p1, other_doctor, t4, 0);
	char q[512];

	sched_cancel_expect(a4, client_admin_token(), 204);

	snprintf(q, sizeof(q), "doctor=%lld", doctor);
	sched_expect_list(q, (long long[]){a1, a2, a3, a4}, 4);
	snprintf(q, sizeof(q), "patient=%lld", p1);
	sched_expect_list(q, (long long[]){a1, a3, elsewhere}, 3);
	snprintf(q, sizeof(q), "doctor=%lld&patient=%lld", doctor, p2);
	sched_expect_list(q, (long long[]){a2, a4}, 2);
	snprintf(q, sizeof(q), "doctor=%lld&status=cancelled", doctor);
	sched_expect_list(q, (long long[]){a4}, 1);
	snprintf(q, sizeof(q), "doctor=%lld&status=scheduled", doctor);
	sched_expect_list(q, (long long[]){a1, a2, a3}, 3);
	snprintf(q, sizeof(q), "doctor=%lld&status=completed", doctor);
	sched_expect_list(q, NULL, 0);

	/* date is the hospital's day. */
	snprintf(q, sizeof(q), "doctor=%lld&date=%s", doctor, sched_date(monday).s);
	sched_expect_list(q, (long long[]){a1, a2}, 2);
	snprintf(q, sizeof(q), "doctor=%lld&date=%s", doctor, sched_date(monday + SCHED_DAY).s);
	sched_expect_list(q, (long long[]){a3}, 1);
	snprintf(q, sizeof(q), "doctor=%lld&date=%s", doctor, sched_date(monday - SCHED_DAY).s);
	sched_expect_list(q, NULL, 0);

	/* start_after is inclusive, start_before exclusive; offsets honoured. */
	{
		char *after = client_url_encode(sched_local(t2).s);
		char *before = client_url_encode(sched_local(t3).s);

		snprintf(q, sizeof(q), "doctor=%lld&start_after=%s", doctor, after);
		sched_expect_list(q, (long long[]){a2, a3, a4}, 3);
		snprintf(q, sizeof(q), "doctor=%lld&start_before=%s", doctor, before);
		sched_expect_list(q, (long long[]){a1, a2}, 2);
		snprintf(q, sizeof(q), "doctor=%lld&start_after=%s&start_before=%s", doctor, after,
		         before);
		sched_expect_list(q, (long long[]){a2}, 1);
		free(after);
		free(before);
	}
	snprintf(q, sizeof(q), "doctor=%lld&start_after=%s", doctor, sched_utc(t3).s);
	sched_expect_list(q, (long long[]){a3, a4}, 2);
	snprintf(q, sizeof(q), "doctor=%lld&patient=%lld&status=scheduled&date=%s", doctor, p1,
	         sched_date(monday + SCHED_DAY).s);
	sched_expect_list(q, (long long[]){a3}, 1);
}

Test(appointments_list, bad_filter_values_are_400)
{
	const struct {
		const char *query, *field;
	} cases[] = {
	    {"doctor=abc", "doctor"},
	    {"doctor=-1", "doctor"},
	    {"patient=1.5", "patient"},
	    {"status=done", "status"},
	    {"date=2027-02-30", "date"},
	    {"date=tomorrow", "date"},
	    {"start_after=yesterday", "start_after"},
	    {"start_before=2027-01-04T10%3A00%3A00", "start_before"},
	    {"ordering=reason", "ordering"},
	    {"ordering=-nope", "ordering"},
	};
	struct client_response res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), "/api/appointments/?%s", cases[i].query);
		client_get_auth(path, client_admin_token(), &res);
		client_assert_field_error(&res, cases[i].field);
		client_response_free(&res);
	}
}

Test(appointments_list, ordering_and_paging)
{
	time_t monday = sched_monday(0);
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	long long ids[5];
	struct client_response res;
	char q[256];

	/* Booked out of order: 14:00, 10:00, 12:00, 16:00, 08:00. */
	ids[3] = sched_book(patient, doctor, monday + 14 * SCHED_HOUR, 0);
	ids[1] = sched_book(patient, doctor, monday + 10 * SCHED_HOUR, 0);
	ids[2] = sched_book(patient, doctor, monday + 12 * SCHED_HOUR, 0);
	ids[4] = sched_book(patient, doctor, monday + 16 * SCHED_HOUR, 0);
	ids[0] = sched_book(patient, doctor, monday + 8 * SCHED_HOUR, 0);

	snprintf(q, sizeof(q), "doctor=%lld", doctor);
	sched_expect_list(q, ids, 5); /* start_time by default */
	snprintf(q, sizeof(q), "doctor=%lld&ordering=start_time", doctor);
	sched_expect_list(q, ids, 5);
	snprintf(q, sizeof(q), "doctor=%lld&ordering=-start_time", doctor);
	sched_expect_list(q, (long long[]){ids[4], ids[3], ids[2], ids[1], ids[0]}, 5);

	snprintf(q, sizeof(q), "/api/appointments/?doctor=%lld&page_size=2", doctor);
	client_get_auth(q, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(sched_results(&res)), 2);
	cr_assert_eq(client_json_int(res.json, "count"), 5);
	cr_assert_not_null(client_json_string(&res, "next"), "%s", res.body);
	cr_assert_null(json_object_object_get(res.json, "previous"), "%s", res.body);
	client_response_free(&res);
	snprintf(q, sizeof(q), "doctor=%lld&page_size=2&page=2", doctor);
	sched_expect_page("/api/appointments/", q, client_admin_token(), 5,
	                  (long long[]){ids[2], ids[3]}, 2);
	snprintf(q, sizeof(q), "doctor=%lld&page_size=2&page=2&ordering=-start_time", doctor);
	sched_expect_page("/api/appointments/", q, client_admin_token(), 5,
	                  (long long[]){ids[2], ids[1]}, 2);
	snprintf(q, sizeof(q), "/api/appointments/?doctor=%lld&page_size=2&page=3", doctor);
	client_get_auth(q, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(sched_results(&res)), 1);
	cr_assert_eq(client_json_int(json_object_array_get_idx(sched_results(&res), 0), "id"),
	             ids[4]);
	cr_assert_null(json_object_object_get(res.json, "next"), "%s", res.body);
	cr_assert_not_null(client_json_string(&res, "previous"), "%s", res.body);
	client_response_free(&res);
	snprintf(q, sizeof(q), "/api/appointments/?doctor=%lld&page_size=2&page=4", doctor);
	client_get_auth(q, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

/* --- GET /api/appointments/upcoming/ ---------------------------------------------------- */

Test(appointments_upcoming, future_live_ones_soonest_first_and_paginated)
{
	time_t monday = sched_monday(0);
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	long long later, soon, checked_in, completed, cancelled, past;
	struct client_response res;
	char sql[512], q[256];
	char *value;

	later = sched_book(patient, doctor, monday + 2 * SCHED_DAY + 10 * SCHED_HOUR, 0);
	soon = sched_book(patient, doctor, monday + 10 * SCHED_HOUR, 0);
	checked_in = sched_book(patient, doctor, monday + 3 * SCHED_DAY + 10 * SCHED_HOUR, 0);
	completed = sched_book(patient, doctor, monday + SCHED_DAY + 10 * SCHED_HOUR, 0);
	cancelled = sched_book(patient, doctor, monday + 11 * SCHED_HOUR, 0);
	sched_patch_expect(checked_in, client_admin_token(), "{\"status\": \"checked_in\"}", 200);
	sched_patch_expect(completed, client_admin_token(), "{\"status\": \"completed\"}", 200);
	sched_cancel_expect(cancelled, client_admin_token(), 204);
	/* One that began yesterday and is still scheduled: the API refuses to
	 * book the past, so it goes straight into the database. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO appointments (patient_id, doctor_id, start_time, end_time) VALUES "
	         "(%lld, %lld, now() - interval '1 day', now() - interval '1 day' + interval '30 "
	         "minutes') RETURNING id",
	         patient, doctor);
	value = client_sql_value(sql);
	cr_assert_not_null(value);
	past = atoll(value);
	free(value);

	snprintf(q, sizeof(q), "doctor=%lld", doctor);
	sched_expect_ids("/api/appointments/upcoming/", q, client_admin_token(),
	                 (long long[]){soon, later, checked_in}, 3);
	/* The plain list still has all six, the past one first. */
	sched_expect_list(q, (long long[]){past, soon, cancelled, completed, later, checked_in}, 6);

	snprintf(q, sizeof(q), "/api/appointments/upcoming/?doctor=%lld&page_size=1", doctor);
	client_get_auth(q, client_admin_token(), &res);
	cr_assert_eq(json_object_array_length(sched_results(&res)), 1);
	cr_assert_eq(client_json_int(res.json, "count"), 3);
	cr_assert_eq(client_json_int(json_object_array_get_idx(sched_results(&res), 0), "id"),
	             soon);
	cr_assert_not_null(client_json_string(&res, "next"), "%s", res.body);
	client_response_free(&res);
	snprintf(q, sizeof(q), "doctor=%lld&page_size=1&page=2", doctor);
	sched_expect_page("/api/appointments/upcoming/", q, client_admin_token(), 3,
	                  (long long[]){later}, 1);
	snprintf(q, sizeof(q), "/api/appointments/upcoming/?doctor=%lld&page_size=1&page=4",
	         doctor);
	client_get_auth(q, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
}

/* --- SPEC section 4 --------------------------------------------------------------------- */

Test(appointments_roles, billing_reads_but_cannot_write)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(NULL);
	long long id = sched_book(patient, doctor, ten, 0);
	struct sched_staff billing;
	struct client_response res;
	char q[256];

	sched_staff_open("billing", &billing);
	sched_get(id, billing.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "id"), id);
	client_response_free(&res);
	snprintf(q, sizeof(q), "doctor=%lld", doctor);
	sched_expect_ids("/api/appointments/", q, billing.tokens.access, (long long[]){id}, 1);
	sched_expect_ids("/api/appointments/upcoming/", q, billing.tokens.access, (long long[]){id},
	                 1);

	sched_post(billing.tokens.access, patient, doctor, ten + SCHED_HOUR, 0, NULL, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	sched_write("PATCH", id, billing.tokens.access, NULL, "{\"notes\": \"paid\"}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	sched_write("DELETE", id, billing.tokens.access, NULL, NULL, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 1);
	cr_assert_str_eq(sched_status_of(id), "scheduled");
	/* Each refusal is audited. */
	snprintf(q, sizeof(q), "actor=%lld&action=denied", billing.user.id);
	cr_assert_eq(sched_audit_count(q), 3);
	sched_staff_close(&billing);
}

Test(appointments_roles, nurse_receptionist_and_admin_create_update_and_cancel)
{
	const char *const roles[] = {"nurse", "receptionist", "admin"};
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(NULL);

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		struct sched_staff staff;
		struct client_response res;
		long long patient = sched_patient(), id;

		sched_staff_open(roles[i], &staff);
		sched_post(staff.tokens.access, patient, doctor, ten + (time_t)i * SCHED_HOUR, 0,
		           NULL, &res);
		client_assert_status(&res, 201);
		id = client_json_int(res.json, "id");
		cr_assert_eq(client_json_int(res.json, "created_by"), staff.user.id, "as %s",
		             roles[i]);
		client_response_free(&res);
		sched_patch_expect(id, staff.tokens.access, "{\"reason\": \"Rebooked\"}", 200);
		sched_patch_expect(id, staff.tokens.access, "{\"status\": \"checked_in\"}", 200);
		sched_get(id, staff.tokens.access, &res);
		client_assert_status(&res, 200);
		client_response_free(&res);
		sched_cancel_expect(id, staff.tokens.access, 204);
		cr_assert_str_eq(sched_status_of(id), "cancelled");
		sched_staff_close(&staff);
	}
}

Test(appointments_roles, a_doctor_sees_and_edits_only_their_own)
{
	time_t monday = sched_monday(0), ten = monday + 10 * SCHED_HOUR;
	struct sched_staff me, colleague;
	long long mine_doctor = sched_doctor_user(&me);
	long long their_doctor = sched_doctor_user(&colleague);
	long long patient = sched_patient(), other_patient = sched_patient();
	long long mine = sched_book(patient, mine_doctor, ten, 0);
	long long theirs = sched_book(other_patient, their_doctor, ten, 0);
	struct client_response res;
	char q[128], *body;

	/* Lists: only their own, whatever the filter asks for. */
	sched_expect_ids("/api/appointments/", "", me.tokens.access, (long long[]){mine}, 1);
	sched_expect_ids("/api/appointments/upcoming/", "", me.tokens.access, (long long[]){mine},
	                 1);
	snprintf(q, sizeof(q), "doctor=%lld", their_doctor);
	sched_expect_ids("/api/appointments/", q, me.tokens.access, NULL, 0);
	snprintf(q, sizeof(q), "patient=%lld", other_patient);
	sched_expect_ids("/api/appointments/", q, me.tokens.access, NULL, 0);
	sched_expect_ids("/api/appointments/", "", colleague.tokens.access, (long long[]){theirs},
	                 1);

	/* Another doctor's appointment does not exist for them. */
	sched_get(theirs, me.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	sched_write("PATCH", theirs, me.tokens.access, NULL, "{\"notes\": \"mine now\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	sched_write("DELETE", theirs, me.tokens.access, NULL, NULL, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	sched_get(mine, me.tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);

	/* Status and notes of their own: yes. */
	sched_write("PATCH", mine, me.tokens.access, NULL,
	            "{\"status\": \"checked_in\", \"notes\": \"Seen at the door\"}", &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "status"), "checked_in");
	cr_assert_str_eq(client_json_str(res.json, "notes"), "Seen at the door");
	client_response_free(&res);
	/* Any other field: 403, and nothing changes. */
	body = client_format("{\"start_time\": \"%s\"}", sched_local(ten + SCHED_HOUR).s);
	sched_write("PATCH", mine, me.tokens.access, NULL, body, &res);
	free(body);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	sched_write("PATCH", mine, me.tokens.access, NULL,
	            "{\"notes\": \"sneaky\", \"reason\": \"Changed by the doctor\"}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	body = client_format("{\"patient\": %lld}", other_patient);
	sched_write("PATCH", mine, me.tokens.access, NULL, body, &res);
	free(body);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	sched_get(mine, client_admin_token(), &res);
	cr_assert_str_eq(client_json_str(res.json, "notes"), "Seen at the door");
	cr_assert_str_eq(client_json_str(res.json, "reason"), "");
	cr_assert_str_eq(client_json_str(res.json, "start_time"), sched_utc(ten).s);
	client_response_free(&res);

	/* A doctor books nothing. */
	sched_post(me.tokens.access, patient, mine_doctor, ten + 2 * SCHED_HOUR, 0, NULL, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(mine_doctor), 1);
	sched_staff_close(&me);
	sched_staff_close(&colleague);
}

Test(appointments_roles, a_doctor_user_without_a_doctor_record_sees_none)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	long long id = sched_book(patient, doctor, ten, 0);
	struct sched_staff unlinked;
	struct client_response res;

	sched_staff_open("doctor", &unlinked);
	sched_expect_ids("/api/appointments/", "", unlinked.tokens.access, NULL, 0);
	sched_expect_ids("/api/appointments/upcoming/", "", unlinked.tokens.access, NULL, 0);
	sched_get(id, unlinked.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	sched_staff_close(&unlinked);
}

Test(appointments_roles, no_token_is_401)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	long long id = sched_book(patient, doctor, ten, 0);
	struct client_response res;
	char path[64], *body;

	sched_appointment_path(id, path, sizeof(path));
	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\"}",
	                     patient, doctor, sched_local(ten + SCHED_HOUR).s);
	const struct {
		const char *method, *path, *body;
	} calls[] = {
	    {"GET", "/api/appointments/", NULL},
	    {"GET", "/api/appointments/upcoming/", NULL},
	    {"POST", "/api/appointments/", body},
	    {"GET", path, NULL},
	    {"PATCH", path, "{\"notes\": \"x\"}"},
	    {"PUT", path, body},
	    {"DELETE", path, NULL},
	};

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		client_call(calls[i].method, calls[i].path, NULL, NULL, calls[i].body, &res);
		client_assert_detail(&res, 401);
		cr_assert_not_null(client_header(&res, "WWW-Authenticate"), "%s %s",
		                   calls[i].method, calls[i].path);
		client_response_free(&res);
	}
	free(body);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 1);
	cr_assert_str_eq(sched_status_of(id), "scheduled");
}

/* --- audit ------------------------------------------------------------------------------ */

Test(appointments_audit, create_update_and_cancel_are_audited)
{
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	struct sched_staff nurse;
	struct client_response res;
	struct json_object *row;
	long long id;
	char q[256];

	sched_staff_open("nurse", &nurse);
	id = sched_book_as(nurse.tokens.access, patient, doctor, ten, 0);
	snprintf(q, sizeof(q), "/api/audit/?entity_type=appointment&entity_id=%lld&action=create",
	         id);
	client_get_auth(q, client_admin_token(), &res);
	cr_assert_eq(client_json_int(res.json, "count"), 1, "%s", res.body);
	row = json_object_array_get_idx(sched_results(&res), 0);
	cr_assert_eq(client_json_int(row, "actor"), nurse.user.id);
	cr_assert_str_eq(client_json_str(row, "actor_role"), "nurse");
	cr_assert_str_eq(client_json_str(row, "outcome"), "success");
	cr_assert_eq(client_json_int(row, "entity_id"), id);
	client_response_free(&res);

	sched_patch_expect(id, nurse.tokens.access, "{\"notes\": \"Private detail 7731\"}", 200);
	snprintf(q, sizeof(q), "entity_type=appointment&entity_id=%lld&action=update&actor=%lld",
	         id, nurse.user.id);
	cr_assert_eq(sched_audit_count(q), 1);
	sched_cancel_expect(id, nurse.tokens.access, 204);
	snprintf(q, sizeof(q), "entity_type=appointment&entity_id=%lld&action=cancel&actor=%lld",
	         id, nurse.user.id);
	cr_assert_eq(sched_audit_count(q), 1);

	/* Refused writes leave no success rows; no PHI in the audit table. */
	snprintf(q, sizeof(q), "entity_type=appointment&entity_id=%lld", id);
	cr_assert_eq(sched_audit_count(q), 3);
	{
		char sql[256];

		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM audit_log WHERE row_to_json(audit_log)::text LIKE "
		         "'%%Private detail 7731%%'");
		cr_assert_eq(client_sql_long(sql), 0);
	}
	sched_staff_close(&nurse);
}

/* --- bad input ---------------------------------------------------------------------------- */

Test(appointments_input, bad_datetimes_are_400)
{
	const char *const bad[] = {
	    "\"tomorrow\"",
	    "\"\"",
	    "\"2028-13-01T10:00:00Z\"",
	    "\"2028-02-30T10:00:00Z\"",
	    "\"2028-01-03T24:00:00Z\"",
	    "\"2028-01-03T10:60:00Z\"",
	    "\"2028-01-03T10:00:00\"",        /* no offset */
	    "\"2028-01-03 10:00\"",           /* no offset */
	    "\"2028-01-03\"",                 /* a date */
	    "\"2028-01-03T10:00:00+25:00\"",  /* no such offset */
	    "\"2028-01-03T10:00:00 +03:00\"", /* a space */
	    "\"0000-01-03T10:00:00Z\"",       /* year 0 */
	    "\"9999-12-31T10:00:00Z\"",       /* more than five years ahead */
	    "\"-2028-01-03T10:00:00Z\"",
	    "\"2028-01-03T10:00:00Z' OR '1'='1\"",
	    "1830000000",
	    "null",
	    "true",
	    "[\"2028-01-03T10:00:00Z\"]",
	    "{\"at\": \"2028-01-03T10:00:00Z\"}",
	};
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	struct client_response res;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body =
		    client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": %s}",
		                  patient, doctor, bad[i]);

		client_post_json("/api/appointments/", client_admin_token(), body, &res);
		free(body);
		cr_assert_eq(res.status, 400, "start_time %s: %ld %s", bad[i], res.status,
		             res.body);
		client_assert_field_error(&res, "start_time");
		client_response_free(&res);

		body =
		    client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\", "
		                  "\"end_time\": %s}",
		                  patient, doctor, sched_local(ten).s, bad[i]);
		client_post_json("/api/appointments/", client_admin_token(), body, &res);
		free(body);
		if (strcmp(bad[i], "\"9999-12-31T10:00:00Z\"") == 0) {
			/* See an_end_thousands_of_years_ahead_is_400. */
			if (res.status == 201)
				sched_cancel_expect(client_json_int(res.json, "id"),
				                    client_admin_token(), 204);
		} else if (strcmp(bad[i], "null") == 0) {
			/* end_time null is "take the default" (or refused). */
			cr_assert(res.status == 201 || res.status == 400, "%ld %s", res.status,
			          res.body);
			if (res.status == 201)
				sched_cancel_expect(client_json_int(res.json, "id"),
				                    client_admin_token(), 204);
		} else {
			cr_assert_eq(res.status, 400, "end_time %s: %ld %s", bad[i], res.status,
			             res.body);
			client_assert_field_error(&res, "end_time");
		}
		client_response_free(&res);
	}
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
}

/* The "at most five years ahead" rule holds for end_time too: an end in
 * 9999 would block the doctor and the patient for ~8,000 years. */
Test(appointments_input, an_end_thousands_of_years_ahead_is_400)
{
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	struct client_response res;
	char *body;

	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\", "
	                     "\"end_time\": \"9999-12-31T10:00:00Z\"}",
	                     patient, doctor, sched_local(ten).s);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "end_time");
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
}

Test(appointments_input, ids_of_the_wrong_type_are_400)
{
	const char *const bad[] = {"\"1\"",
	                           "1.5",
	                           "-1",
	                           "0",
	                           "true",
	                           "null",
	                           "[1]",
	                           "{}",
	                           "\"\"",
	                           "1e3",
	                           "99999999999999999999"};
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	struct client_response res;
	const char *start = NULL;
	struct sched_text at = sched_local(ten);

	start = at.s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body =
		    client_format("{\"patient\": %s, \"doctor\": %lld, \"start_time\": \"%s\"}",
		                  bad[i], doctor, start);

		client_post_json("/api/appointments/", client_admin_token(), body, &res);
		free(body);
		cr_assert_eq(res.status, 400, "patient %s: %ld %s", bad[i], res.status, res.body);
		/* A number too large for any id is a JSON error of the whole body. */
		if (strcmp(bad[i], "99999999999999999999") != 0)
			client_assert_field_error(&res, "patient");
		client_response_free(&res);

		body = client_format("{\"patient\": %lld, \"doctor\": %s, \"start_time\": \"%s\"}",
		                     patient, bad[i], start);
		client_post_json("/api/appointments/", client_admin_token(), body, &res);
		free(body);
		cr_assert_eq(res.status, 400, "doctor %s: %ld %s", bad[i], res.status, res.body);
		if (strcmp(bad[i], "99999999999999999999") != 0)
			client_assert_field_error(&res, "doctor");
		client_response_free(&res);
	}
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
}

Test(appointments_input, missing_fields_bad_json_and_wrong_content_type)
{
	long long doctor = sched_doctor(NULL), patient = sched_patient();
	time_t ten = sched_monday(0) + 10 * SCHED_HOUR;
	struct client_response res;
	char *body;
	char auth[8300];
	const char *text_plain[] = {auth, "Content-Type: text/plain", NULL};

	client_post_json("/api/appointments/", client_admin_token(), "{}", &res);
	client_assert_field_error(&res, "patient");
	client_assert_field_error(&res, "doctor");
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	body = client_format("{\"patient\": %lld, \"doctor\": %lld}", patient, doctor);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "start_time");
	client_response_free(&res);
	body = client_format("{\"patient\": %lld, \"start_time\": \"%s\"}", patient,
	                     sched_local(ten).s);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "doctor");
	client_response_free(&res);

	client_post_json("/api/appointments/", client_admin_token(), "{\"patient\": ", &res);
	client_assert_status(&res, 400);
	client_response_free(&res);
	client_post_json("/api/appointments/", client_admin_token(), "[1, 2]", &res);
	client_assert_status(&res, 400);
	client_response_free(&res);
	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\", "
	                     "\"reason\": 12}",
	                     patient, doctor, sched_local(ten).s);
	client_post_json("/api/appointments/", client_admin_token(), body, &res);
	free(body);
	client_assert_field_error(&res, "reason");
	client_response_free(&res);

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", client_admin_token());
	body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\"}",
	                     patient, doctor, sched_local(ten).s);
	cr_assert_eq(
	    client_request("POST", "/api/appointments/", text_plain, body, strlen(body), &res), 0);
	free(body);
	client_assert_detail(&res, 415);
	client_response_free(&res);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 0);
}

/* --- GET /api/doctors/{id}/availability/ after bookings --------------------------------- */

/* The start times of a day's free slots (UTC text), compared to want. */
static void sched_expect_free(long long doctor, time_t day, const time_t *want, size_t n)
{
	struct client_response res;
	struct json_object *slots;
	char path[128];

	snprintf(path, sizeof(path), "/api/doctors/%lld/availability/?date=%s", doctor,
	         sched_date(day).s);
	client_get_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert(json_object_object_get_ex(res.json, "slots", &slots) &&
	              json_object_is_type(slots, json_type_array),
	          "%s", res.body);
	cr_assert_eq(json_object_array_length(slots), n, "%s", res.body);
	for (size_t i = 0; i < n; i++) {
		struct json_object *slot = json_object_array_get_idx(slots, i);

		cr_assert_str_eq(client_json_str(slot, "start_time"), sched_utc(want[i]).s,
		                 "slot %zu: %s", i, res.body);
		cr_assert_str_eq(client_json_str(slot, "end_time"),
		                 sched_utc(want[i] + 30 * SCHED_MIN).s, "slot %zu: %s", i,
		                 res.body);
	}
	client_response_free(&res);
}

Test(appointments_availability, booked_slots_disappear_and_come_back_when_cancelled)
{
	time_t monday = sched_monday(0), h = SCHED_HOUR, m = SCHED_MIN;
	long long doctor = sched_doctor(SCHED_MONDAY_9_12);
	long long p1 = sched_patient(), p2 = sched_patient();
	long long ten, eleven;

	sched_expect_free(doctor, monday,
	                  (time_t[]){monday + 9 * h, monday + 9 * h + 30 * m, monday + 10 * h,
	                             monday + 10 * h + 30 * m, monday + 11 * h,
	                             monday + 11 * h + 30 * m},
	                  6);
	ten = sched_book(p1, doctor, monday + 10 * h, 0);
	sched_expect_free(doctor, monday,
	                  (time_t[]){monday + 9 * h, monday + 9 * h + 30 * m,
	                             monday + 10 * h + 30 * m, monday + 11 * h,
	                             monday + 11 * h + 30 * m},
	                  5);
	/* 45 minutes from 11:00 takes the 11:00 and the 11:30 slots. */
	eleven = sched_book(p2, doctor, monday + 11 * h, monday + 11 * h + 45 * m);
	sched_expect_free(
	    doctor, monday,
	    (time_t[]){monday + 9 * h, monday + 9 * h + 30 * m, monday + 10 * h + 30 * m}, 3);
	sched_cancel_expect(ten, client_admin_token(), 204);
	sched_expect_free(doctor, monday,
	                  (time_t[]){monday + 9 * h, monday + 9 * h + 30 * m, monday + 10 * h,
	                             monday + 10 * h + 30 * m},
	                  4);
	/* A status of completed or no_show keeps the slot taken; cancelled frees it. */
	sched_patch_expect(eleven, client_admin_token(), "{\"status\": \"cancelled\"}", 200);
	sched_expect_free(doctor, monday,
	                  (time_t[]){monday + 9 * h, monday + 9 * h + 30 * m, monday + 10 * h,
	                             monday + 10 * h + 30 * m, monday + 11 * h,
	                             monday + 11 * h + 30 * m},
	                  6);
	/* Another Monday is untouched by all this. */
	sched_book(p1, doctor, monday + 10 * h, 0);
	sched_expect_free(
	    doctor, monday + 7 * SCHED_DAY,
	    (time_t[]){monday + 7 * SCHED_DAY + 9 * h, monday + 7 * SCHED_DAY + 9 * h + 30 * m,
	               monday + 7 * SCHED_DAY + 10 * h, monday + 7 * SCHED_DAY + 10 * h + 30 * m,
	               monday + 7 * SCHED_DAY + 11 * h, monday + 7 * SCHED_DAY + 11 * h + 30 * m},
	    6);
}

/* A booking whose answer was lost (a 502 when a host died after its
 * commit) is sent again with its Idempotency-Key: the first answer comes
 * back, not a 409 for the slot it took itself; without a key the same
 * retry is that 409. */
Test(appointments_create, a_retry_with_its_idempotency_key_is_booked_once)
{
	time_t start = sched_monday(0) + 10 * SCHED_HOUR;
	long long patient = sched_patient(), doctor = sched_doctor(SCHED_MONDAY_9_12);
	char key[96], key_line[128];
	const char *headers[] = {key_line, NULL};
	char *body = client_format("{\"patient\": %lld, \"doctor\": %lld, \"start_time\": \"%s\"}",
	                           patient, doctor, sched_local(start).s);
	struct client_response first, again;
	const char *replayed;

	client_unique_name("appt-key", key, sizeof(key));
	snprintf(key_line, sizeof(key_line), "Idempotency-Key: %s", key);
	client_call_headers("POST", "/api/appointments/", client_admin_token(), headers, body,
	                    &first);
	client_assert_status(&first, 201);
	client_call_headers("POST", "/api/appointments/", client_admin_token(), headers, body,
	                    &again);
	client_assert_status(&again, 201);
	replayed = client_header(&again, "Idempotent-Replayed");
	cr_assert(replayed != NULL && strcmp(replayed, "true") == 0);
	cr_assert_eq(client_json_int(again.json, "id"), client_json_int(first.json, "id"));
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 1);
	client_response_free(&first);
	client_response_free(&again);

	client_post_json("/api/appointments/", client_admin_token(), body, &again);
	client_assert_detail(&again, 409);
	client_response_free(&again);
	cr_assert_eq(sched_live_rows_of_doctor(doctor), 1);
	free(body);
}
