/*
 * test_records.c - medical records through the real stack (nginx TLS ->
 * FastCGI -> hms -> PostgreSQL): create, list, get, PUT and PATCH by
 * doctors and nurses; author-only updates; SPEC section 4's rows for
 * records; the field rules (record_type, vitals bounds, an appointment of
 * the same patient); the version history; ETag/If-Match; no DELETE; a
 * soft-deleted patient's records; filters and order; the audit rows.
 *
 * Tests run in parallel against one database: each makes its own patients
 * and users, so counts are exact.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static char *records_path(long long patient)
{
	return client_format("/api/patients/%lld/records/", patient);
}

static char *record_path(long long id)
{
	return client_format("/api/records/%lld/", id);
}

/* POSTs body to patient's records as token; returns the status and, on
 * 201, *id. */
static long create_record(const char *token, long long patient, const char *body, long long *id,
                          struct client_response *res)
{
	char *path = records_path(patient);

	client_post_json(path, token, body, res);
	free(path);
	if (res->status == 201 && id != NULL)
		*id = client_json_int(res->json, "id");
	return res->status;
}

static long long add_record(const char *token, long long patient, const char *body)
{
	struct client_response res;
	long long id = 0;

	create_record(token, patient, body, &id, &res);
	client_assert_status(&res, 201);
	client_response_free(&res);
	return id;
}

static void get_path(const char *path, const char *token, struct client_response *res)
{
	client_get_auth(path, token, res);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key,
	          json_object_to_json_string(o));
	return v;
}

/* The nested field error {"vitals": {"<key>": ["..."]}}. */
static void assert_vitals_error(const struct client_response *res, const char *key)
{
	struct json_object *vitals, *list;

	client_assert_status(res, 400);
	cr_assert(json_object_object_get_ex(res->json, "vitals", &vitals), "%s", res->body);
	cr_assert(json_object_is_type(vitals, json_type_object), "%s", res->body);
	cr_assert(json_object_object_get_ex(vitals, key, &list), "%s", res->body);
	cr_assert(json_object_is_type(list, json_type_array) && json_object_array_length(list) > 0,
	          "%s", res->body);
}

#define NOTE(title) "{\"record_type\": \"note\", \"title\": \"" title "\"}"

/* --- create, read, update --------------------------------------------------- */

Test(records, doctor_and_nurse_create_read_and_update)
{
	const char *roles[] = {"doctor", "nurse"};

	for (size_t r = 0; r < 2; r++) {
		struct client_session s;
		struct client_response res;
		long long patient = client_new_patient(), id = 0;
		char *path, *list;
		char etag[128];

		client_open_session(roles[r], &s);
		create_record(
		    s.tokens.access, patient,
		    "{\"record_type\": \"consultation\", \"title\": \"  First visit  \", "
		    "\"diagnosis\": \"Flu\", \"notes\": \"Rest\", \"prescriptions\": "
		    "\"Paracetamol\", \"vitals\": {\"temperature_c\": 38.2, \"pulse_bpm\": "
		    "88, \"bp_systolic\": 120, \"bp_diastolic\": 80, \"resp_rate\": 16, "
		    "\"spo2\": 97}, \"patient\": 999999, \"author\": 1, \"version\": 7, "
		    "\"unknown\": true}",
		    &id, &res);
		client_assert_status(&res, 201);
		cr_assert_eq(client_json_int(res.json, "patient"), patient);
		cr_assert_eq(client_json_int(res.json, "author"), s.user.id, "author from token");
		cr_assert_eq(client_json_int(res.json, "version"), 1);
		cr_assert_str_eq(client_json_str(res.json, "title"), "First visit");
		cr_assert_str_eq(client_json_str(res.json, "record_type"), "consultation");
		cr_assert_str_eq(client_json_str(res.json, "prescriptions"), "Paracetamol");
		cr_assert(json_object_is_type(member(res.json, "appointment"), json_type_null));
		{
			struct json_object *v = member(res.json, "vitals");

			cr_assert_float_eq(json_object_get_double(member(v, "temperature_c")), 38.2,
			                   1e-9);
			cr_assert_eq(client_json_int(v, "pulse_bpm"), 88);
			cr_assert_eq(client_json_int(v, "spo2"), 97);
		}
		cr_assert_eq(json_object_array_length(member(res.json, "attachments")), 0);
		cr_assert_not_null(client_header(&res, "ETag"));
		cr_assert_not_null(client_json_str(res.json, "created_at"));
		client_response_free(&res);

		path = record_path(id);
		get_path(path, s.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "diagnosis"), "Flu");
		snprintf(etag, sizeof(etag), "%s", client_header(&res, "ETag"));
		cr_assert_eq(etag[0], '"');
		client_response_free(&res);

		list = records_path(patient);
		get_path(list, s.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(client_count_of(&res), 1);
		cr_assert_eq(
		    client_json_int(json_object_array_get_idx(client_list_results(&res), 0), "id"),
		    id);
		client_response_free(&res);

		/* PATCH: the given fields; vitals members merge. */
		client_patch_json(path, s.tokens.access,
		                  "{\"notes\": \"Rest and fluids\", \"vitals\": {\"spo2\": 99}}",
		                  &res);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "notes"), "Rest and fluids");
		cr_assert_str_eq(client_json_str(res.json, "diagnosis"), "Flu");
		cr_assert_eq(client_json_int(member(res.json, "vitals"), "spo2"), 99);
		cr_assert_eq(client_json_int(member(res.json, "vitals"), "pulse_bpm"), 88);
		cr_assert_eq(client_json_int(res.json, "version"), 2);
		cr_assert_str_neq(client_header(&res, "ETag"), etag);
		client_response_free(&res);

		/* PUT: every required field; optional ones left out keep their
		 * value (as everywhere), the vitals object given is written whole
		 * (members left out become null). */
		client_put_json(path, s.tokens.access,
		                "{\"record_type\": \"diagnosis\", \"title\": \"Influenza A\", "
		                "\"vitals\": {\"pulse_bpm\": 72}}",
		                &res);
		client_assert_status(&res, 200);
		cr_assert_str_eq(client_json_str(res.json, "record_type"), "diagnosis");
		cr_assert_str_eq(client_json_str(res.json, "diagnosis"), "Flu");
		cr_assert(json_object_is_type(member(member(res.json, "vitals"), "spo2"),
		                              json_type_null));
		cr_assert_eq(client_json_int(member(res.json, "vitals"), "pulse_bpm"), 72);
		cr_assert_eq(client_json_int(res.json, "version"), 3);
		cr_assert_eq(client_json_int(res.json, "author"), s.user.id);
		client_response_free(&res);

		/* PUT without a required field is 400; vitals null clears. */
		client_put_json(path, s.tokens.access, "{\"record_type\": \"note\"}", &res);
		client_assert_field_error(&res, "title");
		client_response_free(&res);
		client_patch_json(path, s.tokens.access, "{\"vitals\": null}", &res);
		client_assert_status(&res, 200);
		cr_assert(json_object_is_type(member(member(res.json, "vitals"), "pulse_bpm"),
		                              json_type_null));
		client_response_free(&res);

		free(list);
		free(path);
		client_close_session(&s);
	}
}

Test(records, unknown_records_and_patients_are_404)
{
	struct client_session nurse;
	struct client_response res;

	client_open_session("nurse", &nurse);
	get_path("/api/records/999999999/", nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	get_path("/api/records/999999999/history/", nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	get_path("/api/patients/999999999/records/", nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_post_json("/api/patients/999999999/records/", nurse.tokens.access, NOTE("x"), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json("/api/records/999999999/", nurse.tokens.access, "{\"title\": \"x\"}",
	                  &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_close_session(&nurse);
}

/* --- author only, roles ------------------------------------------------------ */

Test(records, only_the_author_updates)
{
	struct client_session author, other_doctor, nurse;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path;

	client_open_session("doctor", &author);
	client_open_session("doctor", &other_doctor);
	client_open_session("nurse", &nurse);
	id = add_record(author.tokens.access, patient, NOTE("Mine"));
	path = record_path(id);

	client_patch_json(path, other_doctor.tokens.access, "{\"title\": \"Theirs\"}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_put_json(path, nurse.tokens.access, NOTE("Theirs"), &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	client_patch_json(path, client_admin_token(), "{\"title\": \"Admin's\"}", &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);

	get_path(path, author.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "title"), "Mine");
	cr_assert_eq(client_json_int(res.json, "version"), 1, "nothing changed");
	client_response_free(&res);
	/* The refusal is audited. */
	{
		char *sql =
		    client_format("SELECT count(*) FROM audit_log WHERE action = 'denied' AND "
		                  "entity_type = 'medical_record' AND entity_id = %lld AND "
		                  "actor = %lld",
		                  id, other_doctor.user.id);

		cr_assert_eq(client_sql_long(sql), 1);
		free(sql);
	}
	client_patch_json(path, author.tokens.access, "{\"title\": \"Still mine\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(path);
	client_close_session(&author);
	client_close_session(&other_doctor);
	client_close_session(&nurse);
}

Test(records, roles_as_spec_section_4)
{
	struct client_session doctor, clerk, billing;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path, *list, *history;
	const struct client_session *refused[2];

	client_open_session("doctor", &doctor);
	client_open_session("receptionist", &clerk);
	client_open_session("billing", &billing);
	refused[0] = &clerk;
	refused[1] = &billing;
	id = add_record(doctor.tokens.access, patient, NOTE("Roles"));
	path = record_path(id);
	list = records_path(patient);
	history = client_format("/api/records/%lld/history/", id);

	for (int i = 0; i < 2; i++) {
		const char *t = refused[i]->tokens.access;

		get_path(list, t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		get_path(path, t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		get_path(history, t, &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_post_json(list, t, NOTE("No"), &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
		client_patch_json(path, t, "{\"title\": \"No\"}", &res);
		client_assert_detail(&res, 403);
		client_response_free(&res);
	}
	/* Admin reads but does not author. */
	get_path(list, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 1);
	client_response_free(&res);
	get_path(path, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	get_path(history, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_post_json(list, client_admin_token(), NOTE("Admin"), &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);
	/* No token: 401. */
	client_get(path, &res);
	client_assert_status(&res, 401);
	client_response_free(&res);
	free(path);
	free(list);
	free(history);
	client_close_session(&doctor);
	client_close_session(&clerk);
	client_close_session(&billing);
}

/* --- field rules -------------------------------------------------------------- */

Test(records, field_rules)
{
	struct client_session nurse;
	struct client_response res;
	long long patient = client_new_patient();
	static const struct {
		const char *body;
		const char *field;
	} bad[] = {
	    {"{\"title\": \"x\"}", "record_type"},
	    {"{\"record_type\": \"gossip\", \"title\": \"x\"}", "record_type"},
	    {"{\"record_type\": \"NOTE\", \"title\": \"x\"}", "record_type"},
	    {"{\"record_type\": \"note\"}", "title"},
	    {"{\"record_type\": \"note\", \"title\": \"   \"}", "title"},
	    {"{\"record_type\": \"note\", \"title\": 5}", "title"},
	    {"{\"record_type\": \"note\", \"title\": \"x\", \"notes\": null}", "notes"},
	    {"{\"record_type\": \"note\", \"title\": \"x\", \"appointment\": \"one\"}",
	     "appointment"},
	    {"{\"record_type\": \"note\", \"title\": \"x\", \"appointment\": 0}", "appointment"},
	    {"{\"record_type\": \"note\", \"title\": \"x\", \"appointment\": 999999999}",
	     "appointment"},
	    {"{\"record_type\": \"note\", \"title\": \"x\", \"vitals\": \"high\"}", "vitals"},
	    {"{\"record_type\": \"note\", \"title\": \"x\", \"vitals\": [1]}", "vitals"},
	};

	client_open_session("nurse", &nurse);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		create_record(nurse.tokens.access, patient, bad[i].body, NULL, &res);
		client_assert_field_error(&res, bad[i].field);
		client_response_free(&res);
	}
	/* A title of 201 characters. */
	{
		char title[202];
		char *body;

		memset(title, 'a', 201);
		title[201] = '\0';
		body = client_format("{\"record_type\": \"note\", \"title\": \"%s\"}", title);
		create_record(nurse.tokens.access, patient, body, NULL, &res);
		client_assert_field_error(&res, "title");
		client_response_free(&res);
		free(body);
	}
	{
		char *sql = client_format("SELECT count(*) FROM medical_records WHERE patient_id = "
		                          "%lld",
		                          patient);

		cr_assert_eq(client_sql_long(sql), 0, "nothing was written");
		free(sql);
	}
	client_close_session(&nurse);
}

Test(records, vitals_within_physiological_bounds)
{
	struct client_session nurse;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path;
	static const struct {
		const char *vitals;
		const char *key;
	} bad[] = {
	    {"{\"temperature_c\": 24.9}", "temperature_c"},
	    {"{\"temperature_c\": 45.1}", "temperature_c"},
	    {"{\"temperature_c\": 36.65}", "temperature_c"},
	    {"{\"temperature_c\": \"warm\"}", "temperature_c"},
	    {"{\"pulse_bpm\": 19}", "pulse_bpm"},
	    {"{\"pulse_bpm\": 301}", "pulse_bpm"},
	    {"{\"pulse_bpm\": 80.5}", "pulse_bpm"},
	    {"{\"bp_systolic\": 39}", "bp_systolic"},
	    {"{\"bp_systolic\": 301}", "bp_systolic"},
	    {"{\"bp_diastolic\": 19}", "bp_diastolic"},
	    {"{\"bp_diastolic\": 201}", "bp_diastolic"},
	    {"{\"resp_rate\": 1}", "resp_rate"},
	    {"{\"resp_rate\": 81}", "resp_rate"},
	    {"{\"spo2\": 49}", "spo2"},
	    {"{\"spo2\": 101}", "spo2"},
	    {"{\"spo2\": 99999999999999999999999}", "spo2"},
	    {"{\"bp_systolic\": 80, \"bp_diastolic\": 80}", "non_field_errors"},
	    {"{\"bp_systolic\": 70, \"bp_diastolic\": 90}", "non_field_errors"},
	};

	client_open_session("nurse", &nurse);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body = client_format(
		    "{\"record_type\": \"vitals\", \"title\": \"Obs\", \"vitals\": %s}",
		    bad[i].vitals);

		create_record(nurse.tokens.access, patient, body, NULL, &res);
		assert_vitals_error(&res, bad[i].key);
		client_response_free(&res);
		free(body);
	}
	/* The bounds themselves are fine, and an integer temperature too. */
	id = add_record(nurse.tokens.access, patient,
	                "{\"record_type\": \"vitals\", \"title\": \"Edges\", \"vitals\": "
	                "{\"temperature_c\": 25, \"pulse_bpm\": 300, \"bp_systolic\": 300, "
	                "\"bp_diastolic\": 200, \"resp_rate\": 2, \"spo2\": 100}}");
	path = record_path(id);
	/* One pressure alone is checked against the stored other by the
	 * table's constraint: still a 400 on vitals, and nothing changes. */
	client_patch_json(path, nurse.tokens.access, "{\"vitals\": {\"bp_systolic\": 150}}", &res);
	client_assert_field_error(&res, "vitals");
	client_response_free(&res);
	get_path(path, nurse.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(member(res.json, "vitals"), "bp_systolic"), 300);
	cr_assert_eq(client_json_int(res.json, "version"), 1);
	client_response_free(&res);
	free(path);
	client_close_session(&nurse);
}

Test(records, appointment_must_be_of_the_same_patient)
{
	struct client_session doctor;
	struct client_response res;
	long long patient = client_new_patient(), other = client_new_patient(), doctor_id, mine,
	          theirs, id;
	char *sql, *body;

	client_open_session("doctor", &doctor);
	sql = client_format("INSERT INTO doctors (first_name, last_name, license_number) VALUES "
	                    "('Rec', 'Doc', 'REC-%lld') RETURNING id",
	                    patient);
	doctor_id = client_sql_long(sql);
	free(sql);
	sql =
	    client_format("INSERT INTO appointments (patient_id, doctor_id, start_time, end_time) "
	                  "VALUES (%lld, %lld, now() + interval '1 day', now() + interval '1 day "
	                  "30 minutes') RETURNING id",
	                  patient, doctor_id);
	mine = client_sql_long(sql);
	free(sql);
	sql =
	    client_format("INSERT INTO appointments (patient_id, doctor_id, start_time, end_time) "
	                  "VALUES (%lld, %lld, now() + interval '2 days', now() + interval '2 days "
	                  "30 minutes') RETURNING id",
	                  other, doctor_id);
	theirs = client_sql_long(sql);
	free(sql);

	body = client_format("{\"record_type\": \"note\", \"title\": \"x\", \"appointment\": %lld}",
	                     theirs);
	create_record(doctor.tokens.access, patient, body, NULL, &res);
	client_assert_field_error(&res, "appointment");
	client_response_free(&res);
	free(body);

	body = client_format("{\"record_type\": \"note\", \"title\": \"x\", \"appointment\": %lld}",
	                     mine);
	create_record(doctor.tokens.access, patient, body, &id, &res);
	client_assert_status(&res, 201);
	cr_assert_eq(client_json_int(res.json, "appointment"), mine);
	client_response_free(&res);
	free(body);

	/* Moving it to another patient's appointment later is refused too. */
	{
		char *path = record_path(id);

		body = client_format("{\"appointment\": %lld}", theirs);
		client_patch_json(path, doctor.tokens.access, body, &res);
		client_assert_field_error(&res, "appointment");
		client_response_free(&res);
		free(body);
		free(path);
	}
	/* And the appointment cannot change patient under its records. */
	{
		char *path = client_format("/api/appointments/%lld/", mine);

		body = client_format("{\"patient\": %lld}", other);
		client_patch_json(path, client_admin_token(), body, &res);
		client_assert_field_error(&res, "patient");
		client_response_free(&res);
		free(body);
		free(path);
	}
	client_close_session(&doctor);
}

/* --- history, ETag, DELETE ------------------------------------------------------ */

Test(records, history_keeps_every_version_newest_first)
{
	struct client_session doctor;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path, *history;
	struct json_object *results;
	static const char *const titles[] = {"Version one", "Version two", "Version three"};

	client_open_session("doctor", &doctor);
	id = add_record(doctor.tokens.access, patient,
	                "{\"record_type\": \"note\", \"title\": \"Version one\", \"vitals\": "
	                "{\"pulse_bpm\": 60}}");
	path = record_path(id);
	history = client_format("/api/records/%lld/history/", id);

	get_path(history, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 0, "no earlier version yet");
	client_response_free(&res);

	client_patch_json(path, doctor.tokens.access,
	                  "{\"title\": \"Version two\", \"vitals\": {\"pulse_bpm\": 70}}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_patch_json(path, doctor.tokens.access, "{\"title\": \"Version three\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_put_json(path, doctor.tokens.access, NOTE("Version four"), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(res.json, "version"), 4);
	client_response_free(&res);

	get_path(history, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 3);
	results = client_list_results(&res);
	for (int i = 0; i < 3; i++) {
		struct json_object *v = json_object_array_get_idx(results, (size_t)i);

		cr_assert_eq(client_json_int(v, "version"), 3 - i);
		cr_assert_eq(client_json_int(v, "id"), id);
		cr_assert_str_eq(client_json_str(v, "title"), titles[2 - i]);
		cr_assert_eq(client_json_int(v, "changed_by"), doctor.user.id);
		cr_assert_eq(client_json_int(v, "author"), doctor.user.id);
		cr_assert_not_null(client_json_str(v, "changed_at"));
	}
	cr_assert_eq(
	    client_json_int(member(json_object_array_get_idx(results, 2), "vitals"), "pulse_bpm"),
	    60);
	cr_assert_eq(
	    client_json_int(member(json_object_array_get_idx(results, 1), "vitals"), "pulse_bpm"),
	    70);
	client_response_free(&res);

	/* Paginated like every list. */
	{
		char *paged = client_format("%s?page_size=2", history);

		get_path(paged, doctor.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(json_object_array_length(client_list_results(&res)), 2);
		cr_assert(!json_object_is_type(member(res.json, "next"), json_type_null));
		client_response_free(&res);
		free(paged);
		paged = client_format("%s?page_size=2&page=2", history);
		get_path(paged, doctor.tokens.access, &res);
		client_assert_status(&res, 200);
		cr_assert_eq(
		    client_json_int(json_object_array_get_idx(client_list_results(&res), 0),
		                    "version"),
		    1);
		client_response_free(&res);
		free(paged);
	}
	/* The history table refuses the application any change. */
	cr_assert_eq(client_sql_long("SELECT count(*) FROM information_schema.role_table_grants "
	                             "WHERE grantee = 'hms_app' AND table_name IN "
	                             "('medical_records', 'medical_record_versions', "
	                             "'attachments') AND (privilege_type = 'DELETE' OR "
	                             "(privilege_type = 'UPDATE' AND table_name <> "
	                             "'medical_records'))"),
	             0, "the application may not delete records nor edit history");
	free(path);
	free(history);
	client_close_session(&doctor);
}

Test(records, stale_if_match_is_412_and_changes_nothing)
{
	struct client_session nurse;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path;
	char first[128], header[160];
	const char *headers[2] = {header, NULL};

	client_open_session("nurse", &nurse);
	id = add_record(nurse.tokens.access, patient, NOTE("Tagged"));
	path = record_path(id);
	get_path(path, nurse.tokens.access, &res);
	snprintf(first, sizeof(first), "%s", client_header(&res, "ETag"));
	client_response_free(&res);
	snprintf(header, sizeof(header), "If-Match: %s", first);

	client_call_headers("PATCH", path, nurse.tokens.access, headers, "{\"title\": \"Second\"}",
	                    &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call_headers("PATCH", path, nurse.tokens.access, headers, "{\"title\": \"Lost\"}",
	                    &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	client_call_headers("PUT", path, nurse.tokens.access, headers, NOTE("Lost"), &res);
	client_assert_detail(&res, 412);
	client_response_free(&res);
	get_path(path, nurse.tokens.access, &res);
	cr_assert_str_eq(client_json_str(res.json, "title"), "Second");
	cr_assert_eq(client_json_int(res.json, "version"), 2);
	client_response_free(&res);
	free(path);
	client_close_session(&nurse);
}

Test(records, delete_is_405_with_allow)
{
	struct client_session doctor;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path;
	const char *allow;

	client_open_session("doctor", &doctor);
	id = add_record(doctor.tokens.access, patient, NOTE("Forever"));
	path = record_path(id);
	client_delete_auth(path, doctor.tokens.access, &res);
	client_assert_detail(&res, 405);
	allow = client_header(&res, "Allow");
	cr_assert_not_null(allow);
	cr_assert_not_null(strstr(allow, "GET"), "%s", allow);
	cr_assert_not_null(strstr(allow, "PATCH"), "%s", allow);
	cr_assert_null(strstr(allow, "DELETE"), "%s", allow);
	client_response_free(&res);
	client_delete_auth(path, client_admin_token(), &res);
	client_assert_status(&res, 405);
	client_response_free(&res);
	get_path(path, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(path);
	client_close_session(&doctor);
}

/* --- a soft-deleted patient ------------------------------------------------------ */

Test(records, a_deleted_patients_records_are_for_admins_only)
{
	struct client_session nurse;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char *path, *list, *history, *patient_path, *with;

	client_open_session("nurse", &nurse);
	id = add_record(nurse.tokens.access, patient, NOTE("Hidden"));
	path = record_path(id);
	list = records_path(patient);
	history = client_format("/api/records/%lld/history/", id);
	patient_path = client_format("/api/patients/%lld/", patient);
	client_delete_auth(patient_path, client_admin_token(), &res);
	client_assert_status(&res, 204);
	client_response_free(&res);

	get_path(list, nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	get_path(path, nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	get_path(history, nurse.tokens.access, &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_post_json(list, nurse.tokens.access, NOTE("New"), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	client_patch_json(path, nurse.tokens.access, "{\"title\": \"Edit\"}", &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	/* As for the patient itself: a nurse may not ask for deleted rows. */
	with = client_format("%s?include_deleted=true", path);
	get_path(with, nurse.tokens.access, &res);
	client_assert_detail(&res, 403);
	client_response_free(&res);

	/* An admin sees them when asking with include_deleted=true. */
	get_path(path, client_admin_token(), &res);
	client_assert_detail(&res, 404);
	client_response_free(&res);
	get_path(with, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_str_eq(client_json_str(res.json, "title"), "Hidden");
	client_response_free(&res);
	free(with);
	with = client_format("%s?include_deleted=true", list);
	get_path(with, client_admin_token(), &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 1);
	client_response_free(&res);
	free(with);
	with = client_format("%s?include_deleted=true", history);
	get_path(with, client_admin_token(), &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	free(with);

	free(path);
	free(list);
	free(history);
	free(patient_path);
	client_close_session(&nurse);
}

/* --- list: filters and order -------------------------------------------------------- */

Test(records, filters_and_newest_first)
{
	struct client_session doctor, nurse;
	struct client_response res;
	long long patient = client_new_patient(), other = client_new_patient(), ids[4];
	struct json_object *results;
	char *list, *query;

	client_open_session("doctor", &doctor);
	client_open_session("nurse", &nurse);
	ids[0] = add_record(doctor.tokens.access, patient, NOTE("a"));
	ids[1] = add_record(nurse.tokens.access, patient,
	                    "{\"record_type\": \"vitals\", \"title\": \"b\"}");
	ids[2] = add_record(doctor.tokens.access, patient,
	                    "{\"record_type\": \"vitals\", \"title\": \"c\"}");
	ids[3] = add_record(nurse.tokens.access, patient, NOTE("d"));
	add_record(doctor.tokens.access, other, NOTE("elsewhere"));
	list = records_path(patient);

	get_path(list, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 4, "only this patient's records");
	results = client_list_results(&res);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(client_json_int(json_object_array_get_idx(results, (size_t)i), "id"),
		             ids[3 - i], "newest first");
	client_response_free(&res);

	query = client_format("%s?record_type=vitals", list);
	get_path(query, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 2);
	results = client_list_results(&res);
	cr_assert_eq(client_json_int(json_object_array_get_idx(results, 0), "id"), ids[2]);
	cr_assert_eq(client_json_int(json_object_array_get_idx(results, 1), "id"), ids[1]);
	client_response_free(&res);
	free(query);

	query = client_format("%s?author=%lld", list, nurse.user.id);
	get_path(query, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_count_of(&res), 2);
	results = client_list_results(&res);
	cr_assert_eq(client_json_int(json_object_array_get_idx(results, 0), "id"), ids[3]);
	cr_assert_eq(client_json_int(json_object_array_get_idx(results, 1), "id"), ids[1]);
	client_response_free(&res);
	free(query);

	query = client_format("%s?record_type=vitals&author=%lld", list, doctor.user.id);
	get_path(query, doctor.tokens.access, &res);
	cr_assert_eq(client_count_of(&res), 1);
	client_response_free(&res);
	free(query);

	query = client_format("%s?ordering=created_at", list);
	get_path(query, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(client_json_int(json_object_array_get_idx(client_list_results(&res), 0), "id"),
	             ids[0]);
	client_response_free(&res);
	free(query);

	/* A cursor walk gives the same order. */
	query = client_format("%s?cursor=&page_size=3", list);
	get_path(query, doctor.tokens.access, &res);
	client_assert_status(&res, 200);
	cr_assert_eq(json_object_array_length(client_list_results(&res)), 3);
	cr_assert_eq(client_json_int(json_object_array_get_idx(client_list_results(&res), 0), "id"),
	             ids[3]);
	client_response_free(&res);
	free(query);

	static const char *const bad[] = {"record_type=gossip", "author=abc", "author=0",
	                                  "ordering=title"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		query = client_format("%s?%s", list, bad[i]);
		get_path(query, doctor.tokens.access, &res);
		client_assert_status(&res, 400);
		client_response_free(&res);
		free(query);
	}
	free(list);
	client_close_session(&doctor);
	client_close_session(&nurse);
}

/* --- audit ------------------------------------------------------------------------ */

static long long audit_count(const char *request_id, const char *action, long long entity_id,
                             long long actor)
{
	return client_audit_count(request_id, action, "medical_record", entity_id, actor);
}

Test(records, reads_and_writes_are_audited_without_phi)
{
	struct client_session doctor, nurse;
	struct client_response res;
	long long patient = client_new_patient(), id;
	char rid[6][64], header[6][96], *path, *list, *history, *sql;
	static const char *const names[] = {"rcreate", "rread", "rlist",
	                                    "rupdate", "rput",  "rhist"};

	client_open_session("doctor", &doctor);
	client_open_session("nurse", &nurse);
	for (int i = 0; i < 6; i++) {
		client_unique_name(names[i], rid[i], sizeof(rid[i]));
		snprintf(header[i], sizeof(header[i]), "X-Request-ID: %s", rid[i]);
	}
	list = records_path(patient);
	client_call("POST", list, doctor.tokens.access, header[0],
	            "{\"record_type\": \"diagnosis\", \"title\": \"Zebrafinch syndrome\", "
	            "\"diagnosis\": \"Quokkaitis\"}",
	            &res);
	client_assert_status(&res, 201);
	id = client_json_int(res.json, "id");
	client_response_free(&res);
	path = record_path(id);
	history = client_format("/api/records/%lld/history/", id);

	client_call("GET", path, nurse.tokens.access, header[1], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call("GET", list, nurse.tokens.access, header[2], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call("PATCH", path, doctor.tokens.access, header[3],
	            "{\"notes\": \"Wombatosis suspected\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call("PUT", path, doctor.tokens.access, header[4],
	            "{\"record_type\": \"diagnosis\", \"title\": \"Zebrafinch syndrome\"}", &res);
	client_assert_status(&res, 200);
	client_response_free(&res);
	client_call("GET", history, client_admin_token(), header[5], NULL, &res);
	client_assert_status(&res, 200);
	client_response_free(&res);

	cr_assert_eq(audit_count(rid[0], "create", id, doctor.user.id), 1);
	cr_assert_eq(audit_count(rid[1], "read", id, nurse.user.id), 1);
	cr_assert_eq(audit_count(rid[2], "list", 0, nurse.user.id), 1);
	cr_assert_eq(audit_count(rid[3], "update", id, doctor.user.id), 1);
	cr_assert_eq(audit_count(rid[4], "update", id, doctor.user.id), 1);
	/* The list row names the records shown; the history row this record
	 * once per version shown. */
	sql =
	    client_format("SELECT entity_ids::text FROM audit_log WHERE request_id = '%s'", rid[2]);
	{
		char *ids = client_sql_value(sql);
		char *want = client_format("{%lld}", id);

		cr_assert_str_eq(ids, want);
		free(ids);
		free(want);
	}
	free(sql);
	sql = client_format("SELECT row_count FROM audit_log WHERE request_id = '%s' AND action = "
	                    "'list' AND entity_type = 'medical_record'",
	                    rid[5]);
	cr_assert_eq(client_sql_long(sql), 2);
	free(sql);
	sql = client_format("SELECT count(*) FROM audit_log WHERE request_id IN ('%s', '%s', '%s', "
	                    "'%s', '%s', '%s') AND (audit_log::text ILIKE '%%zebrafinch%%' OR "
	                    "audit_log::text ILIKE '%%quokka%%' OR audit_log::text ILIKE "
	                    "'%%wombat%%')",
	                    rid[0], rid[1], rid[2], rid[3], rid[4], rid[5]);
	cr_assert_eq(client_sql_long(sql), 0, "PHI in the audit trail");
	free(sql);
	free(path);
	free(list);
	free(history);
	client_close_session(&doctor);
	client_close_session(&nurse);
}

Test(records, a_refused_write_leaves_no_patient_data_in_any_log)
{
	struct client_session nurse;
	struct client_response res;
	char marker[64], *body, *path, *grep;
	long long id;

	client_open_session("nurse", &nurse);
	client_unique_name("Dx", marker, sizeof(marker));
	body = client_format("{\"record_type\": \"vitals\", \"title\": \"Obs\", \"diagnosis\": "
	                     "\"%s\", \"vitals\": {\"bp_systolic\": 120, \"bp_diastolic\": 80}}",
	                     marker);
	id = add_record(nurse.tokens.access, client_new_patient(), body);
	free(body);
	path = record_path(id);
	/* The table's CHECK refuses this one; PostgreSQL would log the whole
	 * row with it ("Failing row contains ...") unless told not to. */
	client_patch_json(path, nurse.tokens.access, "{\"vitals\": {\"bp_systolic\": 70}}", &res);
	client_assert_status(&res, 400);
	client_response_free(&res);
	grep = client_format("! grep -rqs --include='*.log' -F -e '%s' '%s'", marker,
	                     client_env("HMS_TEST_STATE"));
	cr_assert_eq(client_run(grep, NULL), 0, "the diagnosis of a refused write is in a log");
	free(grep);
	free(path);
	client_close_session(&nurse);
}
