/*
 * test_db.c - the pure parts of the database layer: the one SQLSTATE to
 * error mapping (src/db/db.c) and the migration file name check
 * (src/db/migrate.c). No server is needed.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>

#include "hms/db.h"
#include "hms/err.h"
#include "hms/migrate.h"

static void assert_maps(const char *state, enum hms_err want, int status)
{
	enum hms_err got = db_error_from_sqlstate(state);

	cr_assert_eq(got, want, "SQLSTATE %s mapped to %s, want %s", state ? state : "NULL",
	             hms_err_name(got), hms_err_name(want));
	cr_assert_eq(hms_err_status(got), status, "SQLSTATE %s", state ? state : "NULL");
}

Test(db_sqlstate, integrity_violations_are_client_errors)
{
	assert_maps("23505", HMS_ERR_BAD_REQUEST, 400); /* unique_violation */
	assert_maps("23503", HMS_ERR_BAD_REQUEST, 400); /* foreign_key_violation */
	assert_maps("23502", HMS_ERR_BAD_REQUEST, 400); /* not_null_violation */
	assert_maps("23514", HMS_ERR_BAD_REQUEST, 400); /* check_violation */
	assert_maps("22P02", HMS_ERR_BAD_REQUEST, 400); /* invalid_text_representation */
	assert_maps("22001", HMS_ERR_BAD_REQUEST, 400); /* string_data_right_truncation */
	assert_maps("22008", HMS_ERR_BAD_REQUEST, 400); /* datetime_field_overflow */
}

Test(db_sqlstate, exclusion_violation_is_a_conflict)
{
	/* Overlapping appointment: 409, not the 400 of the other 23xxx. */
	assert_maps("23P01", HMS_ERR_CONFLICT, 409);
}

Test(db_sqlstate, concurrency_failures_are_conflicts)
{
	assert_maps("40001", HMS_ERR_CONFLICT, 409); /* serialization_failure */
	assert_maps("40P01", HMS_ERR_CONFLICT, 409); /* deadlock_detected */
	assert_maps("55P03", HMS_ERR_CONFLICT, 409); /* lock_not_available */
}

Test(db_sqlstate, unavailability_is_503)
{
	assert_maps("08006", HMS_ERR_UNAVAILABLE, 503); /* connection_failure */
	assert_maps("08001", HMS_ERR_UNAVAILABLE, 503); /* cannot connect */
	assert_maps("08003", HMS_ERR_UNAVAILABLE, 503); /* connection_does_not_exist */
	assert_maps("53100", HMS_ERR_UNAVAILABLE, 503); /* disk_full */
	assert_maps("53200", HMS_ERR_UNAVAILABLE, 503); /* out_of_memory */
	assert_maps("53300", HMS_ERR_UNAVAILABLE, 503); /* too_many_connections */
	assert_maps("57P01", HMS_ERR_UNAVAILABLE, 503); /* admin_shutdown */
	assert_maps("57P03", HMS_ERR_UNAVAILABLE, 503); /* cannot_connect_now */
}

Test(db_sqlstate, a_read_only_database_is_a_503_of_its_own)
{
	/* read_only_sql_transaction: a standby, or default_transaction_read_only
	 * for maintenance. The database is reachable; it refuses changes (and
	 * the audit rows of reads), and says so. */
	assert_maps("25006", HMS_ERR_READ_ONLY, 503);
	cr_assert_gt(hms_err_retry_after(HMS_ERR_READ_ONLY), 0);
}

Test(db_sqlstate, a_statement_past_statement_timeout_is_a_503_of_its_own)
{
	/* query_canceled: statement_timeout (the only canceller hms has) -
	 * the client is told to narrow the query, not that the database is
	 * unreachable. */
	assert_maps("57014", HMS_ERR_TIMEOUT, 503);
	cr_assert(strstr(hms_err_detail(HMS_ERR_TIMEOUT), "took too long") != NULL);
}

Test(db_sqlstate, programming_errors_are_internal)
{
	assert_maps("42P01", HMS_ERR_INTERNAL, 500); /* undefined_table */
	assert_maps("42703", HMS_ERR_INTERNAL, 500); /* undefined_column */
	assert_maps("42601", HMS_ERR_INTERNAL, 500); /* syntax_error */
	assert_maps("26000", HMS_ERR_INTERNAL, 500); /* invalid_sql_statement_name */
	assert_maps("25P02", HMS_ERR_INTERNAL, 500); /* in_failed_sql_transaction */
	assert_maps("XX000", HMS_ERR_INTERNAL, 500); /* internal_error */
	assert_maps("40002", HMS_ERR_INTERNAL, 500); /* only 40001 and 40P01 retry */
}

Test(db_sqlstate, missing_or_malformed_state_is_unavailable)
{
	assert_maps(NULL, HMS_ERR_UNAVAILABLE, 503);
	assert_maps("", HMS_ERR_UNAVAILABLE, 503);
	assert_maps("2350", HMS_ERR_UNAVAILABLE, 503);
	assert_maps("235050", HMS_ERR_UNAVAILABLE, 503);
}

Test(db_result, null_result_is_unavailable)
{
	cr_assert_eq(db_error_from_result(NULL), HMS_ERR_UNAVAILABLE);
}

Test(db_result, result_without_sqlstate_is_unavailable)
{
	/* What libpq hands back for a client-side failure (no server reply). */
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	enum hms_err err;

	cr_assert_not_null(res);
	err = db_error_from_result(res);
	PQclear(res);
	cr_assert_eq(err, HMS_ERR_UNAVAILABLE);
}

Test(migrate_name, valid_names)
{
	cr_assert(migrate_name_is_valid("001_init.sql"));
	cr_assert(migrate_name_is_valid("000_a.sql"));
	cr_assert(migrate_name_is_valid("042_add_appointments_2.sql"));
	cr_assert(migrate_name_is_valid("999_z.sql"));
}

Test(migrate_name, invalid_names)
{
	static const char *const bad[] = {
	    "",
	    ".sql",
	    "001_.sql",         /* no name */
	    "01_init.sql",      /* two digits */
	    "0001_init.sql",    /* four digits */
	    "abc_init.sql",     /* no digits */
	    "001-init.sql",     /* dash separator */
	    "001init.sql",      /* no separator */
	    "001_Init.sql",     /* upper case */
	    "001_in-it.sql",    /* dash in name */
	    "001_in it.sql",    /* space */
	    "001_init.SQL",     /* extension case */
	    "001_init.sql.bak", /* editor backup */
	    "001_init.sql~",
	    "001_init",
	    "001_init.sq",
	    ".001_init.sql",       /* hidden file */
	    "001_caf\xc3\xa9.sql", /* non-ASCII */
	    "001_../x.sql",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(migrate_name_is_valid(bad[i]), "'%s' should be refused", bad[i]);
}
