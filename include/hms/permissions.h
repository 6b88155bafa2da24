/*
 * permissions.h - the role table of SPEC section 4, in one place.
 *
 * Every route names a permission key; the pipeline looks the key up before
 * the handler runs: no token -> 401, a role outside `roles` -> 403 (and an
 * audit row). Where a role may act only on its own records (a doctor's own
 * appointments, an author's own record), the role is also in `own_only`,
 * and the handler asks permission_is_limited_to_own() / auth_owns() with
 * the record's owner, so the rule itself still lives in this table.
 */
#ifndef HMS_PERMISSIONS_H
#define HMS_PERMISSIONS_H

#include <stdbool.h>

enum role {
	ROLE_NONE = 0,
	ROLE_ADMIN = 1 << 0,
	ROLE_DOCTOR = 1 << 1,
	ROLE_NURSE = 1 << 2,
	ROLE_RECEPTIONIST = 1 << 3,
	ROLE_BILLING = 1 << 4,
};

#define ROLES_ALL (ROLE_ADMIN | ROLE_DOCTOR | ROLE_NURSE | ROLE_RECEPTIONIST | ROLE_BILLING)

struct permission {
	const char *key;
	bool is_public;    /* no token needed */
	unsigned roles;    /* roles allowed at all */
	unsigned own_only; /* of those, roles limited to their own records */
};

/* The entry for key, or NULL when the table has none. */
const struct permission *permission_find(const char *key);

/* True when role may use the permission at all. */
bool permission_allows(const struct permission *perm, enum role role);

/* True when role may use it only on records it owns. */
bool permission_is_limited_to_own(const struct permission *perm, enum role role);

/* "admin" -> ROLE_ADMIN ...; ROLE_NONE for anything else. */
enum role role_parse(const char *name);
const char *role_name(enum role role);

/* The whole table, for tests that check every route is covered. */
extern const struct permission permission_table[];
extern const unsigned permission_count;

#endif
