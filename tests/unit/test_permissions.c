/*
 * test_permissions.c - the role table (src/auth/permissions.c) against
 * SPEC section 4, and the routes (src/api/routes.c) against the table.
 *
 * The expected matrix below is written out by hand from the SPEC table, one
 * row per permission key, not copied from the source: a change to either
 * side that makes them disagree fails here. A key added to the source
 * without a row here fails too.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "hms/permissions.h"
#include "hms/router.h"

/* Columns of the SPEC table, in its order. */
static const enum role roles[] = {ROLE_ADMIN, ROLE_DOCTOR, ROLE_NURSE, ROLE_RECEPTIONIST,
                                  ROLE_BILLING};
#define ROLE_COUNT (sizeof(roles) / sizeof(roles[0]))

/* '+' allowed, '.' refused, 'o' allowed only on own records. */
struct expected_row {
	const char *key;
	bool is_public;
	const char *cells; /* admin doctor nurse receptionist billing */
	const char *spec;  /* the SPEC row it comes from */
};

static const struct expected_row expected[] = {
    {"public", true, "+++++", "§3: health, schema, docs, token, token refresh"},
    {"self", false, "+++++", "own profile, own password: yes for every role"},
    {"users", false, "+....", "users, register: admin all, others -"},
    {"audit.read", false, "+....", "audit log: read: admin only"},
    {"patients.read", false, "+++++", "patients: read: yes everywhere"},
    {"patients.write", false, "++++.", "patients: create, update: all but billing"},
    {"patients.admin", false, "+....", "patients: delete (soft), restore, list deleted"},
    {"doctors.read", false, "+++++", "doctors: read: yes everywhere"},
    {"doctors.write", false, "+o...", "doctors: update: doctor own schedule/slot_minutes"},
    {"doctors.admin", false, "+....", "doctors: create, deactivate: admin"},
    {"appointments.read", false, "+o+++", "appointments: read: doctor own only"},
    {"appointments.write", false, "+o++.", "appointments: update, cancel: doctor own"},
    {"appointments.create", false, "+.++.", "appointments: create: doctor only own status"},
    {"records.read", false, "+++..", "medical records + attachments: read"},
    {"records.create", false, ".++..", "medical records + attachments: create"},
    {"records.update", false, ".oo..", "medical records: update: author only"},
    {"billing.read", false, "+..++", "invoices, payments: receptionist read"},
    {"billing.write", false, "+...+", "invoices, payments: admin, billing"},
    {"resources.read", false, "++++.", "resources: read"},
    {"resources.book", false, "++++.", "resources: book"},
    {"resources.cancel", false, "+ooo.", "resource bookings: cancel (booker or admin)"},
    {"resources.write", false, "+....", "resources: create, update: admin"},
};
#define EXPECTED_COUNT (sizeof(expected) / sizeof(expected[0]))

static const struct expected_row *expected_for(const char *key)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		if (strcmp(expected[i].key, key) == 0)
			return &expected[i];
	return NULL;
}

Test(permissions, every_spec_row_is_in_the_table)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		cr_assert_not_null(permission_find(expected[i].key), "no permission \"%s\" (%s)",
		                   expected[i].key, expected[i].spec);
}

Test(permissions, every_table_key_is_a_spec_row)
{
	cr_assert_eq(permission_count, EXPECTED_COUNT, "table has %u keys, expected %zu",
	             permission_count, EXPECTED_COUNT);
	for (unsigned i = 0; i < permission_count; i++) {
		cr_assert_not_null(permission_table[i].key);
		cr_assert_not_null(expected_for(permission_table[i].key),
		                   "\"%s\" is not a row of SPEC section 4",
		                   permission_table[i].key);
		cr_assert_eq(permission_find(permission_table[i].key), &permission_table[i],
		             "\"%s\" is listed twice", permission_table[i].key);
	}
}

Test(permissions, matrix_matches_spec_section_4)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++) {
		const struct expected_row *e = &expected[i];
		const struct permission *p = permission_find(e->key);

		cr_assert_not_null(p, "%s", e->key);
		cr_assert_eq(p->is_public, e->is_public, "%s: public", e->key);
		for (size_t r = 0; r < ROLE_COUNT; r++) {
			bool allowed = e->cells[r] != '.';
			bool own = e->cells[r] == 'o';

			cr_assert_eq(permission_allows(p, roles[r]), allowed,
			             "%s for %s: expected %s (%s)", e->key, role_name(roles[r]),
			             allowed ? "allowed" : "refused", e->spec);
			cr_assert_eq(permission_is_limited_to_own(p, roles[r]), own,
			             "%s for %s: own-only expected %s (%s)", e->key,
			             role_name(roles[r]), own ? "yes" : "no", e->spec);
		}
	}
}

Test(permissions, no_role_is_refused_everything_but_public)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++) {
		const struct permission *p = permission_find(expected[i].key);

		cr_assert_eq(permission_allows(p, ROLE_NONE), expected[i].is_public,
		             "%s with no role", expected[i].key);
		cr_assert_not(permission_is_limited_to_own(p, ROLE_NONE));
	}
}

Test(permissions, own_only_roles)
{
	const struct permission *p;

	p = permission_find("appointments.read");
	cr_assert(permission_is_limited_to_own(p, ROLE_DOCTOR));
	cr_assert_not(permission_is_limited_to_own(p, ROLE_NURSE));
	cr_assert_not(permission_is_limited_to_own(p, ROLE_ADMIN));

	p = permission_find("appointments.write");
	cr_assert(permission_is_limited_to_own(p, ROLE_DOCTOR));
	cr_assert_not(permission_is_limited_to_own(p, ROLE_RECEPTIONIST));

	p = permission_find("doctors.write");
	cr_assert(permission_is_limited_to_own(p, ROLE_DOCTOR));
	cr_assert_not(permission_is_limited_to_own(p, ROLE_ADMIN));

	p = permission_find("records.update");
	cr_assert(permission_is_limited_to_own(p, ROLE_DOCTOR));
	cr_assert(permission_is_limited_to_own(p, ROLE_NURSE));
	cr_assert_not(permission_allows(p, ROLE_ADMIN), "admin is not an author");

	p = permission_find("resources.cancel");
	cr_assert(permission_is_limited_to_own(p, ROLE_NURSE));
	cr_assert_not(permission_is_limited_to_own(p, ROLE_ADMIN), "admins cancel any booking");

	/* Everywhere else nobody is limited. */
	for (unsigned i = 0; i < permission_count; i++) {
		const char *k = permission_table[i].key;

		if (strcmp(k, "appointments.read") == 0 || strcmp(k, "appointments.write") == 0 ||
		    strcmp(k, "doctors.write") == 0 || strcmp(k, "records.update") == 0 ||
		    strcmp(k, "resources.cancel") == 0)
			continue;
		cr_assert_eq(permission_table[i].own_only, 0, "%s has own-only roles", k);
	}
}

Test(permissions, own_only_roles_are_allowed_roles)
{
	/* Being limited to one's own records only means something for a role
	 * that is let in at all. */
	for (unsigned i = 0; i < permission_count; i++)
		cr_assert_eq(permission_table[i].own_only & ~permission_table[i].roles, 0,
		             "%s: own_only outside roles", permission_table[i].key);
}

Test(permissions, public_is_public)
{
	const struct permission *p = permission_find("public");

	cr_assert_not_null(p);
	cr_assert(p->is_public);
	cr_assert(permission_allows(p, ROLE_NONE));
	for (size_t r = 0; r < ROLE_COUNT; r++)
		cr_assert(permission_allows(p, roles[r]));
	/* Nothing else is. */
	for (unsigned i = 0; i < permission_count; i++)
		if (strcmp(permission_table[i].key, "public") != 0)
			cr_assert_not(permission_table[i].is_public, "%s is public",
			              permission_table[i].key);
}

Test(permissions, unknown_keys_are_not_found)
{
	cr_assert_null(permission_find(""));
	cr_assert_null(permission_find("patients"));
	cr_assert_null(permission_find("Patients.read"));
	cr_assert_null(permission_find("patients.read "));
	cr_assert_null(permission_find("admin"));
}

Test(permissions, role_parse_and_name_round_trip)
{
	static const char *const names[] = {"admin", "doctor", "nurse", "receptionist", "billing"};

	for (size_t r = 0; r < ROLE_COUNT; r++) {
		cr_assert_eq(role_parse(names[r]), roles[r], "role_parse(\"%s\")", names[r]);
		cr_assert_str_eq(role_name(roles[r]), names[r]);
		cr_assert_eq(role_parse(role_name(roles[r])), roles[r]);
	}
}

Test(permissions, unknown_role_names_are_none)
{
	static const char *const bad[] = {
	    "",    "Admin", "ADMIN",     "admin ",       " admin",  "administrator",
	    "adm", "none",  "superuser", "doctor,admin", "patient", "public",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(role_parse(bad[i]), ROLE_NONE, "role_parse(\"%s\")", bad[i]);
	cr_assert_eq(role_parse(NULL), ROLE_NONE);
	cr_assert_str_eq(role_name(ROLE_NONE), "");
	cr_assert_str_eq(role_name(ROLE_ADMIN | ROLE_DOCTOR), "");
}

/* --- routes -------------------------------------------------------------- */

/* The only endpoints without a bearer token (SPEC section 3). Signed
 * attachment downloads are checked by their own HMAC, not a token. */
static const struct {
	const char *method;
	const char *pattern;
} public_endpoints[] = {
    {"GET", "/api/health/"},
    {"GET", "/api/schema/"},
    {"POST", "/api/auth/token/"},
    {"POST", "/api/auth/token/refresh/"},
    {"GET", "/api/attachments/{id}/download/"},
    /* FHIR's CapabilityStatement: how a client discovers the server before
     * it has a token (FHIR R4 3.1.0.8, SMART's discovery); it holds no data. */
    {"GET", "/fhir/metadata"},
};

static bool is_spec_public(const struct route *r)
{
	for (size_t i = 0; i < sizeof(public_endpoints) / sizeof(public_endpoints[0]); i++)
		if (strcmp(public_endpoints[i].method, r->method) == 0 &&
		    strcmp(public_endpoints[i].pattern, r->pattern) == 0)
			return true;
	return false;
}

Test(route_permissions, every_route_names_a_known_key)
{
	cr_assert_gt(hms_route_count, 0);
	for (size_t i = 0; i < hms_route_count; i++) {
		const struct route *r = &hms_routes[i];

		cr_assert_not_null(r->permission, "%s %s has no permission key", r->method,
		                   r->pattern);
		cr_assert_not_null(permission_find(r->permission),
		                   "%s %s names \"%s\", which is not in the table", r->method,
		                   r->pattern, r->permission);
	}
}

Test(route_permissions, only_the_spec_public_endpoints_are_public)
{
	for (size_t i = 0; i < hms_route_count; i++) {
		const struct route *r = &hms_routes[i];
		const struct permission *p = permission_find(r->permission);

		cr_assert_not_null(p, "%s %s", r->method, r->pattern);
		cr_assert_eq(p->is_public, is_spec_public(r), "%s %s is %s, SPEC §3 says %s",
		             r->method, r->pattern, p->is_public ? "public" : "authenticated",
		             is_spec_public(r) ? "public" : "authenticated");
	}
}

Test(route_permissions, the_public_token_and_health_endpoints_exist)
{
	/* The first five must be routed (the download URL comes later). */
	for (size_t i = 0; i < 5; i++) {
		bool found = false;

		for (size_t k = 0; k < hms_route_count && !found; k++)
			found = strcmp(hms_routes[k].method, public_endpoints[i].method) == 0 &&
			        strcmp(hms_routes[k].pattern, public_endpoints[i].pattern) == 0;
		cr_assert(found, "%s %s is not routed", public_endpoints[i].method,
		          public_endpoints[i].pattern);
	}
}

/* SPEC section 5, "Auth and users", "Audit", "Medical records" and
 * "Billing": who may
 * call what.
 * Columns as above: admin doctor nurse receptionist billing. */
static const struct {
	const char *method;
	const char *pattern;
	const char *cells;
} spec_endpoints[] = {
    {"POST", "/api/auth/logout/", "+++++"},
    {"POST", "/api/auth/register/", "+...."},
    {"GET", "/api/auth/me/", "+++++"},
    {"POST", "/api/auth/password/", "+++++"},
    {"GET", "/api/users/", "+...."},
    {"GET", "/api/users/{id}/", "+...."},
    {"PATCH", "/api/users/{id}/", "+...."},
    {"GET", "/api/audit/", "+...."},
    /* Medical records: admin reads but does not author; updates are
     * further limited to the author (own-only, checked below). */
    {"GET", "/api/patients/{id}/records/", "+++.."},
    {"POST", "/api/patients/{id}/records/", ".++.."},
    {"GET", "/api/records/{id}/", "+++.."},
    {"PUT", "/api/records/{id}/", ".++.."},
    {"PATCH", "/api/records/{id}/", ".++.."},
    {"GET", "/api/records/{id}/history/", "+++.."},
    /* Billing: admin and billing write, the receptionist reads, clinical
     * roles get 403. */
    {"GET", "/api/invoices/", "+..++"},
    {"POST", "/api/invoices/", "+...+"},
    {"GET", "/api/invoices/{id}/", "+..++"},
    {"PUT", "/api/invoices/{id}/", "+...+"},
    {"PATCH", "/api/invoices/{id}/", "+...+"},
    {"POST", "/api/invoices/{id}/issue/", "+...+"},
    {"POST", "/api/invoices/{id}/void/", "+...+"},
    {"GET", "/api/invoices/{id}/payments/", "+..++"},
    {"POST", "/api/invoices/{id}/payments/", "+...+"},
};

Test(route_permissions, auth_users_audit_records_and_billing_routes_match_spec_section_5)
{
	for (size_t i = 0; i < sizeof(spec_endpoints) / sizeof(spec_endpoints[0]); i++) {
		const struct route *r = NULL;
		const struct permission *p;

		for (size_t k = 0; k < hms_route_count && r == NULL; k++)
			if (strcmp(hms_routes[k].method, spec_endpoints[i].method) == 0 &&
			    strcmp(hms_routes[k].pattern, spec_endpoints[i].pattern) == 0)
				r = &hms_routes[k];
		cr_assert_not_null(r, "%s %s is not routed", spec_endpoints[i].method,
		                   spec_endpoints[i].pattern);
		p = permission_find(r->permission);
		cr_assert_not_null(p);
		cr_assert_not(p->is_public, "%s %s needs a token", r->method, r->pattern);
		for (size_t k = 0; k < ROLE_COUNT; k++)
			cr_assert_eq(permission_allows(p, roles[k]),
			             spec_endpoints[i].cells[k] == '+', "%s %s for %s", r->method,
			             r->pattern, role_name(roles[k]));
	}
}

Test(route_permissions, record_updates_are_the_authors_only_and_records_have_no_delete)
{
	for (size_t i = 0; i < hms_route_count; i++) {
		const struct route *r = &hms_routes[i];

		if (strcmp(r->pattern, "/api/records/{id}/") != 0)
			continue;
		cr_assert_str_neq(r->method, "DELETE", "records are never deleted");
		if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0) {
			const struct permission *p = permission_find(r->permission);

			cr_assert_not_null(p);
			cr_assert(permission_is_limited_to_own(p, ROLE_DOCTOR), "%s", r->method);
			cr_assert(permission_is_limited_to_own(p, ROLE_NURSE), "%s", r->method);
		}
	}
}

Test(route_permissions, invoices_are_never_deleted_and_payments_never_changed)
{
	for (size_t i = 0; i < hms_route_count; i++) {
		const struct route *r = &hms_routes[i];

		if (strcmp(r->pattern, "/api/invoices/{id}/") == 0)
			cr_assert_str_neq(r->method, "DELETE", "invoices are never deleted");
		if (strncmp(r->pattern, "/api/invoices/{id}/payments/", 28) == 0)
			cr_assert(strcmp(r->method, "GET") == 0 || strcmp(r->method, "POST") == 0,
			          "payments are never changed: %s %s", r->method, r->pattern);
		cr_assert(strncmp(r->pattern, "/api/payments/", 14) != 0, "%s", r->pattern);
	}
}
