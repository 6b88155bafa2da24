/*
 * fhir.c - /fhir/: a read-only HL7 FHIR R4 view of patients, doctors
 * (Practitioner) and appointments (see include/hms/fhir.h, docs/fhir.md).
 *
 * Nothing here is a second store or a second path to the data: a read goes
 * through the owning module's own (audited) statement, a search through
 * the one list machinery (src/db/list.c) with the module's FHIR filters,
 * and the pipeline's authentication and role table decide who may ask.
 * This file only translates: FHIR's search parameters into the list's
 * filter names, rows into FHIR resources, errors into OperationOutcome.
 * The searchable types are declared once (fhir_types), and the
 * CapabilityStatement is written from that declaration, so it lists
 * exactly what is served.
 */
#include "hms/fhir.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hms/appointments.h"
#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/columns.h"
#include "hms/config.h"
#include "hms/crud.h"
#include "hms/doctors.h"
#include "hms/http.h"
#include "hms/list.h"
#include "hms/patients.h"
#include "hms/validate.h"

#define FHIR_JSON    "application/fhir+json"
#define FHIR_VERSION "4.0.1"
#define MAX_PARAMS   32

/* --- errors: OperationOutcome ------------------------------------------------ */

/* The issue type (http://hl7.org/fhir/issue-type) of a status. */
static const char *issue_code(int status)
{
	switch (status) {
	case 400:
		return "invalid";
	case 401:
		return "login";
	case 403:
		return "forbidden";
	case 404:
		return "not-found";
	case 405:
	case 406:
	case 415:
		return "not-supported";
	case 409:
	case 412:
		return "conflict";
	case 410:
		return "deleted";
	case 413:
	case 414:
		return "too-costly";
	case 429:
		return "throttled";
	case 503:
		return "transient";
	default:
		return "exception";
	}
}

static void add_issue(struct json_object *issues, int status, const char *diagnostics)
{
	struct json_object *issue = json_object_new_object();

	json_object_object_add(issue, "severity", json_object_new_string("error"));
	json_object_object_add(issue, "code", json_object_new_string(issue_code(status)));
	json_object_object_add(issue, "diagnostics", json_object_new_string(diagnostics));
	json_object_array_add(issues, issue);
}

/* A list filter's name, as the client wrote its parameter: "birthdate:ge"
 * is the birthdate parameter with a prefix. */
static const char *param_of(struct arena *arena, const char *key)
{
	const char *colon = strchr(key, ':');

	return colon != NULL ? arena_strndup(arena, key, (size_t)(colon - key)) : key;
}

void fhir_respond_error(struct http_response *res, int status, const char *detail,
                        struct json_object *field_errors)
{
	struct json_object *body = json_object_new_object();
	struct json_object *issues = json_object_new_array();

	json_object_object_add(body, "resourceType", json_object_new_string("OperationOutcome"));
	if (field_errors != NULL) {
		json_object_object_foreach(field_errors, key, messages)
		{
			size_t n = json_object_is_type(messages, json_type_array)
			               ? json_object_array_length(messages)
			               : 0;

			for (size_t i = 0; i < n; i++)
				add_issue(
				    issues, status,
				    arena_printf(res->arena, "%s: %s",
				                 strcmp(key, "non_field_errors") == 0
				                     ? "request"
				                     : param_of(res->arena, key),
				                 json_object_get_string(
				                     json_object_array_get_idx(messages, i))));
		}
		json_object_put(field_errors);
	}
	if (json_object_array_length(issues) == 0)
		add_issue(issues, status, detail != NULL ? detail : http_status_reason(status));
	json_object_object_add(body, "issue", issues);
	http_respond_json(res, status, body);
	if (res->content_type != NULL)
		res->content_type = FHIR_JSON;
}

/* --- answers ------------------------------------------------------------------ */

/* _format: JSON only (FHIR's shorthand or a JSON media type). False when it
 * has answered 406. */
static bool format_is_json(struct http_request *req, struct http_response *res)
{
	static const char *const accepted[] = {"json", "application/json", FHIR_JSON,
	                                       "application/fhir+json; fhirVersion=4.0", NULL};
	const char *format = http_request_param(req, "_format");

	if (format == NULL)
		return true;
	for (const char *const *a = accepted; *a != NULL; a++)
		if (strcmp(format, *a) == 0)
			return true;
	http_respond_detail(res, 406, "Only _format=json (application/fhir+json) is served.");
	return false;
}

static void respond_fhir(struct http_response *res, int status, struct json_object *body)
{
	http_respond_json(res, status, body);
	if (res->content_type != NULL)
		res->content_type = FHIR_JSON;
}

/* --- rows as resources --------------------------------------------------------- */

/* The value of the column called name in row, or NULL when it is NULL or
 * empty (FHIR has no empty strings). */
static const char *value_of(const struct column *columns, const PGresult *res, int row,
                            const char *name)
{
	int i = columns_index(columns, name);

	if (i < 0 || PQgetisnull(res, row, i) || PQgetvalue(res, row, i)[0] == '\0')
		return NULL;
	return PQgetvalue(res, row, i);
}

static void add_string(struct json_object *o, const char *key, const char *value)
{
	if (value != NULL)
		json_object_object_add(o, key, json_object_new_string(value));
}

/* resourceType, id and meta (versionId, lastUpdated). */
static struct json_object *resource_head(const char *type, const struct column *columns,
                                         const PGresult *res, int row)
{
	struct json_object *o = json_object_new_object(), *meta = json_object_new_object();

	json_object_object_add(o, "resourceType", json_object_new_string(type));
	add_string(o, "id", value_of(columns, res, row, "id"));
	add_string(meta, "versionId", value_of(columns, res, row, "version"));
	add_string(meta, "lastUpdated", value_of(columns, res, row, "updated_at"));
	json_object_object_add(o, "meta", meta);
	return o;
}

/* [{"system": system, "value": value}] with an optional v2-0203 type code. */
static struct json_object *identifier(const char *system, const char *value, const char *type)
{
	struct json_object *list = json_object_new_array(), *id = json_object_new_object();

	if (type != NULL) {
		struct json_object *concept = json_object_new_object();
		struct json_object *codings = json_object_new_array();
		struct json_object *coding = json_object_new_object();

		add_string(coding, "system", "http://terminology.hl7.org/CodeSystem/v2-0203");
		add_string(coding, "code", type);
		json_object_array_add(codings, coding);
		json_object_object_add(concept, "coding", codings);
		json_object_object_add(id, "type", concept);
	}
	add_string(id, "system", system);
	add_string(id, "value", value);
	json_object_array_add(list, id);
	return list;
}

/* [{"use": "official", "family": ..., "given": [...]}] */
static struct json_object *human_name(const char *family, const char *given)
{
	struct json_object *list = json_object_new_array(), *name = json_object_new_object();

	add_string(name, "use", "official");
	add_string(name, "family", family);
	if (given != NULL) {
		struct json_object *g = json_object_new_array();

		json_object_array_add(g, json_object_new_string(given));
		json_object_object_add(name, "given", g);
	}
	json_object_array_add(list, name);
	return list;
}

/* telecom from a phone and an e-mail address, either of which may be
 * missing; NULL when both are. */
static struct json_object *telecom(const char *phone, const char *email)
{
	struct json_object *list;

	if (phone == NULL && email == NULL)
		return NULL;
	list = json_object_new_array();
	if (phone != NULL) {
		struct json_object *t = json_object_new_object();

		add_string(t, "system", "phone");
		add_string(t, "value", phone);
		json_object_array_add(list, t);
	}
	if (email != NULL) {
		struct json_object *t = json_object_new_object();

		add_string(t, "system", "email");
		add_string(t, "value", email);
		json_object_array_add(list, t);
	}
	return list;
}

/* A configured identifier system, or <public_origin>/fhir/sid/<what>. */
static const char *system_of(struct http_request *req, const char *configured, const char *what)
{
	if (configured != NULL)
		return configured;
	return arena_printf(req->arena, "%s/fhir/sid/%s", http_public_origin(req), what);
}

static const char *mrn_system(struct http_request *req)
{
	return system_of(req, req->config != NULL ? req->config->fhir_mrn_system : NULL, "mrn");
}

static const char *license_system(struct http_request *req)
{
	return system_of(req, req->config != NULL ? req->config->fhir_license_system : NULL,
	                 "license");
}

static struct json_object *patient_json(struct http_request *req, const PGresult *res, int row)
{
	const struct column *c = patients_resource.columns;
	struct json_object *o = resource_head("Patient", c, res, row), *t;
	const char *address = value_of(c, res, row, "address");
	const char *deleted = value_of(c, res, row, "is_deleted");

	json_object_object_add(
	    o, "identifier",
	    identifier(mrn_system(req), value_of(c, res, row, "medical_record_number"), "MR"));
	json_object_object_add(o, "active",
	                       json_object_new_boolean(deleted == NULL || deleted[0] != 't'));
	json_object_object_add(
	    o, "name",
	    human_name(value_of(c, res, row, "last_name"), value_of(c, res, row, "first_name")));
	t = telecom(value_of(c, res, row, "contact_phone"), value_of(c, res, row, "contact_email"));
	if (t != NULL)
		json_object_object_add(o, "telecom", t);
	add_string(o, "gender", value_of(c, res, row, "gender"));
	add_string(o, "birthDate", value_of(c, res, row, "date_of_birth"));
	if (address != NULL) {
		struct json_object *list = json_object_new_array(), *a = json_object_new_object();

		add_string(a, "text", address);
		json_object_array_add(list, a);
		json_object_object_add(o, "address", list);
	}
	return o;
}

static struct json_object *practitioner_json(struct http_request *req, const PGresult *res, int row)
{
	const struct column *c = doctors_resource.columns;
	struct json_object *o = resource_head("Practitioner", c, res, row), *t;
	const char *active = value_of(c, res, row, "is_active");

	json_object_object_add(
	    o, "identifier",
	    identifier(license_system(req), value_of(c, res, row, "license_number"), NULL));
	json_object_object_add(o, "active",
	                       json_object_new_boolean(active != NULL && active[0] == 't'));
	json_object_object_add(
	    o, "name",
	    human_name(value_of(c, res, row, "last_name"), value_of(c, res, row, "first_name")));
	t = telecom(value_of(c, res, row, "contact_phone"), value_of(c, res, row, "contact_email"));
	if (t != NULL)
		json_object_object_add(o, "telecom", t);
	return o;
}

/* Our appointment statuses and FHIR's appointmentstatus codes. */
static const char *const appointment_statuses[][2] = {
    {"scheduled", "booked"},    {"checked_in", "arrived"}, {"completed", "fulfilled"},
    {"cancelled", "cancelled"}, {"no_show", "noshow"},     {NULL, NULL},
};

/* Our status for a FHIR code (to_ours) or the FHIR code of ours; NULL when
 * there is none. */
static const char *map_status(const char *status, bool to_ours)
{
	for (size_t i = 0; status != NULL && appointment_statuses[i][0] != NULL; i++)
		if (strcmp(appointment_statuses[i][to_ours ? 1 : 0], status) == 0)
			return appointment_statuses[i][to_ours ? 0 : 1];
	return NULL;
}

static struct json_object *participant(struct http_request *req, const char *type, const char *id)
{
	struct json_object *p = json_object_new_object(), *actor = json_object_new_object();

	add_string(actor, "reference", arena_printf(req->arena, "%s/%s", type, id));
	json_object_object_add(p, "actor", actor);
	add_string(p, "required", "required");
	add_string(p, "status", "accepted");
	return p;
}

static struct json_object *appointment_json(struct http_request *req, const PGresult *res, int row)
{
	const struct column *c = appointments_columns;
	struct json_object *o = resource_head("Appointment", c, res, row);
	struct json_object *participants = json_object_new_array();
	const char *status = map_status(value_of(c, res, row, "status"), false);

	add_string(o, "status", status != NULL ? status : "entered-in-error");
	add_string(o, "description", value_of(c, res, row, "reason"));
	add_string(o, "start", value_of(c, res, row, "start_time"));
	add_string(o, "end", value_of(c, res, row, "end_time"));
	add_string(o, "created", value_of(c, res, row, "created_at"));
	add_string(o, "comment", value_of(c, res, row, "notes"));
	json_object_array_add(participants,
	                      participant(req, "Patient", value_of(c, res, row, "patient")));
	json_object_array_add(participants,
	                      participant(req, "Practitioner", value_of(c, res, row, "doctor")));
	json_object_object_add(o, "participant", participants);
	return o;
}

/* --- the searchable types, declared once ------------------------------------------ */

enum fhir_param_type { P_STRING, P_TOKEN, P_DATE, P_REFERENCE };

struct fhir_param {
	const char *name; /* FHIR's, and the list filter's (a date's prefix added) */
	enum fhir_param_type type;
	const char *documentation;
	/* P_TOKEN: the identifier system the value is of (NULL: plain codes);
	 * P_REFERENCE: the resource type referred to. */
	const char *(*system)(struct http_request *req);
	const char *target;
};

struct fhir_type {
	const char *name; /* "Patient" */
	const struct fhir_param *params;
	const struct list_spec *search;
	struct json_object *(*to_fhir)(struct http_request *req, const PGresult *res, int row);
	/* A condition of the caller's own (a doctor's own appointments). */
	size_t (*own)(struct http_request *req, struct list_condition *out);
};

static const struct fhir_param patient_params[] = {
    {"family", P_STRING, "The start of the family name (case and accents ignored)."},
    {"given", P_STRING, "The start of the given name (case and accents ignored)."},
    {"name", P_STRING, "The start of any word of the family or given name."},
    {"birthdate", P_DATE,
     "The date of birth, a full date (YYYY-MM-DD) with an optional eq, lt, gt, le or ge "
     "prefix."},
    {"gender", P_TOKEN, "male | female | other | unknown."},
    {"identifier", P_TOKEN, "The medical record number, as value or system|value.", mrn_system},
    {NULL},
};

static const struct fhir_param practitioner_params[] = {
    {"name", P_STRING, "The start of any word of the family or given name."},
    {"identifier", P_TOKEN, "The licence number, as value or system|value.", license_system},
    {NULL},
};

static const struct fhir_param appointment_params[] = {
    {"patient", P_REFERENCE, "The patient: Patient/{id} or {id}.", NULL, "Patient"},
    {"practitioner", P_REFERENCE, "The practitioner: Practitioner/{id} or {id}.", NULL,
     "Practitioner"},
    {"date", P_DATE,
     "The start's local day (the hospital's time zone), YYYY-MM-DD with an optional eq, lt, "
     "gt, le or ge prefix."},
    {"status", P_TOKEN, "booked | arrived | fulfilled | cancelled | noshow."},
    {NULL},
};

const struct fhir_type fhir_patient = {"Patient", patient_params, &patients_fhir_search,
                                       patient_json};
const struct fhir_type fhir_practitioner = {"Practitioner", practitioner_params,
                                            &doctors_fhir_search, practitioner_json};
const struct fhir_type fhir_appointment = {"Appointment", appointment_params,
                                           &appointments_fhir_search, appointment_json,
                                           appointments_own_condition};

static const struct fhir_type *const fhir_types[] = {&fhir_patient, &fhir_practitioner,
                                                     &fhir_appointment, NULL};

/* --- metadata ---------------------------------------------------------------------- */

static const char *const param_type_names[] = {"string", "token", "date", "reference"};

void fhir_metadata(struct http_request *req, struct http_response *res)
{
	struct json_object *cs = json_object_new_object(), *rest = json_object_new_object();
	struct json_object *resources = json_object_new_array(), *o, *list;
	struct json_object *security = json_object_new_object();

	if (!format_is_json(req, res)) {
		json_object_put(cs);
		json_object_put(rest);
		json_object_put(resources);
		json_object_put(security);
		return;
	}
	add_string(cs, "resourceType", "CapabilityStatement");
	add_string(cs, "status", "active");
	add_string(cs, "date", "2026-11-29");
	add_string(cs, "publisher", "HMS");
	add_string(cs, "kind", "instance");
	o = json_object_new_object();
	add_string(o, "name", "HMS");
	json_object_object_add(cs, "software", o);
	o = json_object_new_object();
	add_string(o, "description", "HMS FHIR R4 read interface");
	add_string(o, "url", arena_printf(req->arena, "%s/fhir", http_public_origin(req)));
	json_object_object_add(cs, "implementation", o);
	add_string(cs, "fhirVersion", FHIR_VERSION);
	list = json_object_new_array();
	json_object_array_add(list, json_object_new_string("json"));
	json_object_array_add(list, json_object_new_string(FHIR_JSON));
	json_object_object_add(cs, "format", list);

	add_string(rest, "mode", "server");
	{
		struct json_object *services = json_object_new_array();
		struct json_object *concept = json_object_new_object();
		struct json_object *codings = json_object_new_array();
		struct json_object *coding = json_object_new_object();

		add_string(coding, "system",
		           "http://terminology.hl7.org/CodeSystem/restful-security-service");
		add_string(coding, "code", "OAuth");
		json_object_array_add(codings, coding);
		json_object_object_add(concept, "coding", codings);
		add_string(concept, "text", "Bearer");
		json_object_array_add(services, concept);
		json_object_object_add(security, "service", services);
		add_string(security, "description",
		           "Authorization: Bearer <access token> from POST /api/auth/token/, the "
		           "same tokens and role table as /api/.");
		json_object_object_add(rest, "security", security);
	}
	for (const struct fhir_type *const *t = fhir_types; *t != NULL; t++) {
		struct json_object *r = json_object_new_object();
		struct json_object *interactions = json_object_new_array();
		struct json_object *params = json_object_new_array();
		static const char *const codes[] = {"read", "search-type"};

		add_string(r, "type", (*t)->name);
		for (size_t i = 0; i < 2; i++) {
			struct json_object *in = json_object_new_object();

			add_string(in, "code", codes[i]);
			json_object_array_add(interactions, in);
		}
		json_object_object_add(r, "interaction", interactions);
		add_string(r, "versioning", "versioned");
		json_object_object_add(r, "readHistory", json_object_new_boolean(false));
		json_object_object_add(r, "updateCreate", json_object_new_boolean(false));
		for (const struct fhir_param *p = (*t)->params; p->name != NULL; p++) {
			struct json_object *sp = json_object_new_object();

			add_string(sp, "name", p->name);
			add_string(sp, "type", param_type_names[p->type]);
			add_string(sp, "documentation", p->documentation);
			json_object_array_add(params, sp);
		}
		json_object_object_add(r, "searchParam", params);
		json_object_array_add(resources, r);
	}
	json_object_object_add(rest, "resource", resources);
	list = json_object_new_array();
	json_object_array_add(list, rest);
	json_object_object_add(cs, "rest", list);
	respond_fhir(res, 200, cs);
}

/* --- read -------------------------------------------------------------------------- */

/* A single resource with ETag W/"<version>" (FHIR's version-aware read). */
static void respond_resource(struct http_request *req, struct http_response *res,
                             const struct fhir_type *type, const struct column *columns,
                             const PGresult *row)
{
	const char *version = value_of(columns, row, 0, "version");

	if (version != NULL)
		http_response_header(res, "ETag", arena_printf(req->arena, "W/\"%s\"", version));
	respond_fhir(res, 200, type->to_fhir(req, row, 0));
}

/* A deleted patient is 410 Gone for everyone but an admin, who reads it
 * (active: false) as GET /api/patients/{id}/?include_deleted=true does:
 * through the same audited statement. */
void fhir_patient_read(struct http_request *req, struct http_response *res)
{
	const struct resource *r = &patients_resource;
	bool may_see_deleted = crud_may_see_deleted(req, r), exists;
	PGresult *row;
	enum hms_err err;

	if (!format_is_json(req, res))
		return;
	err = crud_read(req, r, req->ids[0], may_see_deleted, &row);
	if (err == HMS_ERR_NOT_FOUND && crud_exists(req, r, req->ids[0], &exists) == HMS_OK &&
	    exists) {
		http_respond_detail(res, 410, "The patient was deleted.");
		return;
	}
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_resource(req, res, &fhir_patient, r->columns, row);
}

void fhir_practitioner_read(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err;

	if (!format_is_json(req, res))
		return;
	err = crud_read(req, &doctors_resource, req->ids[0], false, &row);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_resource(req, res, &fhir_practitioner, doctors_resource.columns, row);
}

void fhir_appointment_read(struct http_request *req, struct http_response *res)
{
	PGresult *row;
	enum hms_err err;

	if (!format_is_json(req, res))
		return;
	err = appointments_read(req, &row);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	respond_resource(req, res, &fhir_appointment, appointments_columns, row);
}

/* --- search ------------------------------------------------------------------------ */

/* The client's parameters read into the list's: filter names (a date's
 * prefix added, a reference's type and a token's system removed), and
 * page, page_size and cursor from _page, _count and _cursor. `kept` are
 * the client's parameters that were understood, for the links. */
struct search {
	const char *names[MAX_PARAMS], *values[MAX_PARAMS];
	size_t count;
	const struct http_param *kept[MAX_PARAMS];
	size_t kept_count;
	bool summary_count;
	bool matches_nothing; /* an identifier of another system */
};

static const char *search_param(const void *source, const char *name)
{
	const struct search *s = source;

	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->names[i], name) == 0)
			return s->values[i];
	return NULL;
}

static bool add_value(struct search *s, const char *name, const char *value)
{
	if (s->count == MAX_PARAMS)
		return false;
	s->names[s->count] = name;
	s->values[s->count++] = value;
	return true;
}

/* A date's prefix: "" for eq or none, ":lt" ...; NULL for a prefix we do
 * not serve (ne, sa, eb, ap). *value is moved past it. */
static const char *date_prefix(const char **value)
{
	static const char *const served[][2] = {{"eq", ""},    {"lt", ":lt"}, {"gt", ":gt"},
	                                        {"le", ":le"}, {"ge", ":ge"}, {NULL, NULL}};
	const char *v = *value;

	if (v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z') {
		for (size_t i = 0; served[i][0] != NULL; i++)
			if (strncmp(v, served[i][0], 2) == 0) {
				*value = v + 2;
				return served[i][1];
			}
		return NULL;
	}
	return "";
}

static bool handling_is_strict(const struct http_request *req)
{
	return req->prefer != NULL && strstr(req->prefer, "handling=strict") != NULL;
}

/* Reads one known parameter p = value into s; adds a field error (keyed by
 * the parameter's name) when the value cannot be served. */
static void read_known(struct http_request *req, const struct fhir_param *p, const char *value,
                       struct search *s, struct json_object **errors)
{
	const char *name = p->name;

	switch (p->type) {
	case P_DATE: {
		const char *prefix = date_prefix(&value);

		if (prefix == NULL) {
			validate_add_error(
			    errors, p->name,
			    "Only the eq, lt, gt, le and ge prefixes are supported.");
			return;
		}
		name = arena_printf(req->arena, "%s%s", p->name, prefix);
		break;
	}
	case P_REFERENCE: {
		size_t n = strlen(p->target);

		if (strncmp(value, p->target, n) == 0 && value[n] == '/')
			value += n + 1;
		break;
	}
	case P_TOKEN: {
		const char *bar = strchr(value, '|');

		if (bar != NULL) {
			const char *system =
			    arena_strndup(req->arena, value, (size_t)(bar - value));

			if (p->system == NULL || system == NULL ||
			    (*system != '\0' && strcmp(system, p->system(req)) != 0))
				s->matches_nothing = true;
			value = bar + 1;
		}
		if (p->system == NULL && s->matches_nothing)
			return;
		if (strcmp(p->name, "status") == 0) {
			const char *ours = map_status(value, true);

			if (ours == NULL) {
				validate_add_error(
				    errors, p->name,
				    "Use one of booked, arrived, fulfilled, cancelled, noshow.");
				return;
			}
			value = ours;
		}
		break;
	}
	case P_STRING:
		break;
	}
	if (search_param(s, name) != NULL) {
		validate_add_error(errors, p->name, "Give each parameter (and prefix) once.");
		return;
	}
	if (!add_value(s, name, value))
		validate_add_error(errors, "request", "Too many parameters.");
}

/* Reads the client's parameters for type into s. Unknown parameters are
 * errors under Prefer: handling=strict, else ignored (and left out of the
 * links); a modifier (name:exact) is never served, so always an error. */
static void read_search(struct http_request *req, const struct fhir_type *type, struct search *s,
                        struct json_object **errors)
{
	bool strict = handling_is_strict(req);

	memset(s, 0, sizeof(*s));
	*errors = NULL;
	for (size_t i = 0; i < req->param_count; i++) {
		const struct http_param *hp = &req->params[i];
		const struct fhir_param *p = type->params;
		bool kept = true;

		if (strcmp(hp->key, "_format") == 0) {
			/* checked before */
		} else if (strcmp(hp->key, "_count") == 0) {
			add_value(s, "page_size", hp->value);
		} else if (strcmp(hp->key, "_page") == 0) {
			kept = false; /* the links set their own */
			add_value(s, "page", hp->value);
		} else if (strcmp(hp->key, "_cursor") == 0) {
			kept = false;
			add_value(s, "cursor", hp->value);
		} else if (strcmp(hp->key, "_summary") == 0 &&
		           (strcmp(hp->value, "count") == 0 || strcmp(hp->value, "false") == 0)) {
			s->summary_count = strcmp(hp->value, "count") == 0;
		} else {
			while (p->name != NULL && strcmp(p->name, hp->key) != 0)
				p++;
			if (p->name != NULL) {
				/* An empty parameter is ignored (FHIR search 3.1.1.5.1). */
				if (*hp->value != '\0')
					read_known(req, p, hp->value, s, errors);
			} else if (strict || strchr(hp->key, ':') != NULL) {
				validate_add_error(
				    errors, hp->key,
				    strchr(hp->key, ':') != NULL
				        ? "Search modifiers are not supported."
				        : arena_printf(req->arena,
				                       "Unknown search parameter for %s (see "
				                       "/fhir/metadata).",
				                       type->name));
				kept = false;
			} else {
				kept = false;
			}
		}
		if (kept && s->kept_count < MAX_PARAMS)
			s->kept[s->kept_count++] = hp;
	}
}

/* An absolute link to this search with the parameters kept and one more
 * (key NULL: none). */
static struct json_object *search_link(struct http_request *req, const struct search *s,
                                       const char *relation, const char *key, const char *value)
{
	struct json_object *link = json_object_new_object();
	const char *url = http_link(req, s->kept, s->kept_count, key, value);

	add_string(link, "relation", relation);
	add_string(link, "url", url != NULL ? url : "");
	return link;
}

/* self, and next and previous where there are such pages: offset pages
 * until list_max_offset, cursors beyond (as the REST lists link). */
static struct json_object *search_links(struct http_request *req, const struct search *s,
                                        const struct list_plan *plan, const struct list_page *page)
{
	struct json_object *links = json_object_new_array();
	const char *self_cursor = search_param(s, "cursor");
	int last = page->count_shown - 1;

	if (plan->is_cursor) {
		bool more_after = plan->is_backward ? plan->position != NULL : page->has_more;
		bool more_before = plan->is_backward ? page->has_more : plan->position != NULL;

		json_object_array_add(links, search_link(req, s, "self", "_cursor", self_cursor));
		if (more_after)
			json_object_array_add(
			    links, search_link(req, s, "next", "_cursor",
			                       list_cursor(req->arena, plan, page,
			                                   last >= 0 ? last : -1, false)));
		if (more_before)
			json_object_array_add(links,
			                      search_link(req, s, "previous", "_cursor",
			                                  list_cursor(req->arena, plan, page,
			                                              last >= 0 ? 0 : -1, true)));
		return links;
	}
	json_object_array_add(links, plan->page > 1
	                                 ? search_link(req, s, "self", "_page",
	                                               arena_printf(req->arena, "%ld", plan->page))
	                                 : search_link(req, s, "self", NULL, NULL));
	if (page->has_more && !s->summary_count)
		json_object_array_add(
		    links, plan->page > plan->max_offset / plan->page_size
		               ? search_link(req, s, "next", "_cursor",
		                             list_cursor(req->arena, plan, page, last, false))
		               : search_link(req, s, "next", "_page",
		                             arena_printf(req->arena, "%ld", plan->page + 1)));
	if (plan->page > 1)
		json_object_array_add(links,
		                      search_link(req, s, "previous", "_page",
		                                  arena_printf(req->arena, "%ld", plan->page - 1)));
	return links;
}

void fhir_search(struct http_request *req, struct http_response *res)
{
	const struct fhir_type *type = req->route->arg;
	struct list_limits limits = {req->config->list_count_cap, req->config->list_max_offset};
	struct list_condition extra[2];
	size_t extra_count = 0;
	struct search s;
	struct list_plan plan;
	struct list_page page;
	enum list_problem problem;
	struct json_object *errors, *bundle, *entries;
	enum hms_err err = HMS_OK;

	if (!format_is_json(req, res))
		return;
	read_search(req, type, &s, &errors);
	if (errors != NULL) {
		http_respond_field_errors(res, errors);
		return;
	}
	if (s.summary_count) {
		/* Only the count is answered: the smallest page. */
		for (size_t i = 0; i < s.count; i++)
			if (strcmp(s.names[i], "page_size") == 0)
				s.values[i] = "1";
		if (search_param(&s, "page_size") == NULL)
			add_value(&s, "page_size", "1");
	}
	if (type->own != NULL)
		extra_count += type->own(req, &extra[extra_count]);
	if (s.matches_nothing)
		/* An identifier of another system than ours: no row is it. */
		extra[extra_count++] = (struct list_condition){"$?::boolean", "false"};
	/* list_plan() fills errors: call it before errors is read. */
	problem = list_plan(req->arena, type->search, &limits, search_param, &s, extra, extra_count,
	                    &plan, &errors);
	if (!crud_list_planned(res, problem, errors))
		return;
	err = list_fetch(req->db, req->arena, &plan, &page);
	if (err == HMS_OK && page.count_shown == 0 && !plan.is_cursor && plan.page > 1) {
		http_respond_error(res, HMS_ERR_NOT_FOUND, "Invalid page.");
		return;
	}
	if (s.summary_count)
		page.count_shown = 0; /* no resource leaves */
	/* As every list of patient data: audited before it leaves, which
	 * records and never how they were found. */
	if (err == HMS_OK && type->search->audit_entity != NULL)
		err = audit_record_list(req, type->search->audit_entity, page.count_shown,
		                        crud_page_ids(req, &page));
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return;
	}
	bundle = json_object_new_object();
	add_string(bundle, "resourceType", "Bundle");
	add_string(bundle, "type", "searchset");
	/* A capped count is not a total: FHIR's total is exact, so it is left
	 * out then (and on cursor pages, which count nothing). */
	if (!plan.is_cursor && page.count_is_exact)
		json_object_object_add(bundle, "total", json_object_new_int64(page.count));
	json_object_object_add(bundle, "link", search_links(req, &s, &plan, &page));
	if (page.count_shown > 0) {
		entries = json_object_new_array_ext(page.count_shown);
		for (int i = 0; i < page.count_shown; i++) {
			int row = list_page_row(&page, i);
			struct json_object *entry = json_object_new_object();
			struct json_object *resource = type->to_fhir(req, page.rows, row);
			struct json_object *search = json_object_new_object();

			add_string(entry, "fullUrl",
			           arena_printf(req->arena, "%s/fhir/%s/%s",
			                        http_public_origin(req), type->name,
			                        PQgetvalue(page.rows, row, 0)));
			json_object_object_add(entry, "resource", resource);
			add_string(search, "mode", "match");
			json_object_object_add(entry, "search", search);
			json_object_array_add(entries, entry);
		}
		json_object_object_add(bundle, "entry", entries);
	}
	respond_fhir(res, 200, bundle);
}
