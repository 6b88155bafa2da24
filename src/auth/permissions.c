/*
 * permissions.c - SPEC section 4 as data. One row per permission key; the
 * routes in src/api/routes.c name these keys, and a unit test fails when a
 * route names a key that is not here.
 */
#include "hms/permissions.h"

#include <string.h>

#define A ROLE_ADMIN
#define D ROLE_DOCTOR
#define N ROLE_NURSE
#define R ROLE_RECEPTIONIST
#define B ROLE_BILLING

const struct permission permission_table[] = {
    /* key                     public roles              own only */
    {"public", true, 0, 0},
    {"self", false, ROLES_ALL, 0}, /* own profile, own password */
    {"users", false, A, 0},        /* users, register */
    {"audit.read", false, A, 0},
    {"patients.read", false, A | D | N | R | B, 0},
    {"patients.write", false, A | D | N | R, 0},
    {"patients.admin", false, A, 0}, /* delete (soft), restore, list deleted */
    {"doctors.read", false, A | D | N | R | B, 0},
    /* a doctor edits only their own schedule and slot_minutes */
    {"doctors.write", false, A | D, D},
    {"doctors.admin", false, A, 0}, /* create, deactivate */
    {"appointments.read", false, A | D | N | R | B, D},
    /* a doctor changes only status/notes of their own */
    {"appointments.write", false, A | D | N | R, D},
    {"appointments.create", false, A | N | R, 0},
    {"records.read", false, A | D | N, 0},
    {"records.create", false, D | N, 0},
    {"records.update", false, D | N, D | N}, /* author only */
    {"billing.read", false, A | R | B, 0},
    {"billing.write", false, A | B, 0},
    {"resources.read", false, A | D | N | R, 0},
    {"resources.book", false, A | D | N | R, 0},
    /* cancel a booking: an admin any, everyone else their own */
    {"resources.cancel", false, A | D | N | R, D | N | R},
    {"resources.write", false, A, 0},
};

const unsigned permission_count = sizeof(permission_table) / sizeof(permission_table[0]);

const struct permission *permission_find(const char *key)
{
	for (unsigned i = 0; i < permission_count; i++)
		if (strcmp(permission_table[i].key, key) == 0)
			return &permission_table[i];
	return NULL;
}

bool permission_allows(const struct permission *perm, enum role role)
{
	return perm->is_public || (role != ROLE_NONE && (perm->roles & (unsigned)role) != 0);
}

bool permission_is_limited_to_own(const struct permission *perm, enum role role)
{
	return (perm->own_only & (unsigned)role) != 0;
}

static const struct {
	enum role role;
	const char *name;
} role_names[] = {
    {ROLE_ADMIN, "admin"},     {ROLE_DOCTOR, "doctor"},
    {ROLE_NURSE, "nurse"},     {ROLE_RECEPTIONIST, "receptionist"},
    {ROLE_BILLING, "billing"},
};

enum role role_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(role_names[i].name, name) == 0)
			return role_names[i].role;
	return ROLE_NONE;
}

const char *role_name(enum role role)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (role_names[i].role == role)
			return role_names[i].name;
	return "";
}
