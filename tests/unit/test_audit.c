/*
 * test_audit.c - what audit_write() (src/auth/audit.c) decides before the
 * database: an entry it cannot write faithfully is refused without a
 * statement being sent. The rows themselves are checked end to end in
 * tests/integration/test_audit.c.
 */
#include <criterion/criterion.h>
#include <stddef.h>

#include "hms/arena.h"
#include "hms/audit.h"

/* A NULL db: were a statement sent, db_exec would have nothing to send it
 * through, so a refusal that returns cleanly never reached the database. */
Test(audit_write, an_entry_without_action_is_refused_before_the_database)
{
	struct arena *arena = arena_new(4096, 0);
	struct audit_entry e = {.actor = 1, .entity_type = "user", .outcome = AUDIT_SUCCESS};

	cr_assert_not_null(arena);
	cr_assert_eq(audit_write(NULL, arena, &e), HMS_ERR_INTERNAL);
	arena_free(arena);
}

Test(audit_write, an_unknown_outcome_is_refused_before_the_database)
{
	struct arena *arena = arena_new(4096, 0);
	struct audit_entry e = {.action = "create", .outcome = (enum audit_outcome)3};

	cr_assert_not_null(arena);
	cr_assert_eq(audit_write(NULL, arena, &e), HMS_ERR_INTERNAL);
	e.outcome = (enum audit_outcome) - 1;
	cr_assert_eq(audit_write(NULL, arena, &e), HMS_ERR_INTERNAL);
	arena_free(arena);
}
