/*
 * test_err.c - the error vocabulary (src/util/err.c): every enum value has
 * its status, a client-safe detail and a stable log name.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>

#include "hms/err.h"
#include "hms/http.h"

static const struct {
	enum hms_err err;
	int status;
	const char *name;
} expected[] = {
    {HMS_OK, 200, "ok"},
    {HMS_ERR_BAD_REQUEST, 400, "bad_request"},
    {HMS_ERR_UNAUTHORIZED, 401, "unauthorized"},
    {HMS_ERR_FORBIDDEN, 403, "forbidden"},
    {HMS_ERR_NOT_FOUND, 404, "not_found"},
    {HMS_ERR_METHOD, 405, "method_not_allowed"},
    {HMS_ERR_CONFLICT, 409, "conflict"},
    {HMS_ERR_PRECONDITION, 412, "precondition_failed"},
    {HMS_ERR_TOO_LARGE, 413, "too_large"},
    {HMS_ERR_URI_TOO_LONG, 414, "uri_too_long"},
    {HMS_ERR_MEDIA_TYPE, 415, "unsupported_media_type"},
    {HMS_ERR_RATE_LIMITED, 429, "rate_limited"},
    {HMS_ERR_INTERNAL, 500, "internal"},
    {HMS_ERR_NOMEM, 500, "out_of_memory"},
    {HMS_ERR_UNAVAILABLE, 503, "unavailable"},
    {HMS_ERR_TIMEOUT, 503, "timeout"},
    {HMS_ERR_READ_ONLY, 503, "read_only"},
    {HMS_ERR_STORAGE_FULL, 507, "storage_full"},
};

#define EXPECTED_COUNT (sizeof(expected) / sizeof(expected[0]))

Test(err, table_covers_every_value)
{
	/* The enum is dense from HMS_OK; a new value must be added here. */
	cr_assert_eq(EXPECTED_COUNT, (size_t)HMS_ERR_STORAGE_FULL + 1);
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		cr_assert_eq(expected[i].err, (enum hms_err)i);
}

Test(err, status_of_every_value)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		cr_assert_eq(hms_err_status(expected[i].err), expected[i].status, "%s",
		             expected[i].name);
}

Test(err, name_of_every_value)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		cr_assert_str_eq(hms_err_name(expected[i].err), expected[i].name);
}

Test(err, names_are_unique)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		for (size_t k = i + 1; k < EXPECTED_COUNT; k++)
			cr_assert_str_neq(hms_err_name(expected[i].err),
			                  hms_err_name(expected[k].err));
}

Test(err, every_detail_is_a_sentence)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++) {
		const char *d = hms_err_detail(expected[i].err);

		cr_assert_not_null(d, "%s", expected[i].name);
		cr_assert_gt(strlen(d), 0, "%s has an empty detail", expected[i].name);
		cr_assert_eq(d[strlen(d) - 1], '.', "%s: '%s'", expected[i].name, d);
	}
}

Test(err, specific_details)
{
	/* DRF's own wording where DRF has one; clients match on these. */
	cr_assert_str_eq(hms_err_detail(HMS_ERR_NOT_FOUND), "Not found.");
	cr_assert_str_eq(hms_err_detail(HMS_ERR_UNAUTHORIZED),
	                 "Authentication credentials were not provided.");
	cr_assert_str_eq(hms_err_detail(HMS_ERR_FORBIDDEN),
	                 "You do not have permission to perform this action.");
	cr_assert_str_eq(hms_err_detail(HMS_ERR_METHOD), "Method not allowed.");
	cr_assert_str_eq(hms_err_detail(HMS_ERR_RATE_LIMITED), "Request was throttled.");
	/* Out of memory is reported to the client like any internal error. */
	cr_assert_str_eq(hms_err_detail(HMS_ERR_NOMEM), hms_err_detail(HMS_ERR_INTERNAL));
}

Test(err, only_the_503s_that_heal_by_themselves_carry_retry_after)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++) {
		bool heals =
		    expected[i].err == HMS_ERR_UNAVAILABLE || expected[i].err == HMS_ERR_READ_ONLY;

		if (heals)
			cr_assert_gt(hms_err_retry_after(expected[i].err), 0, "%s",
			             expected[i].name);
		else
			cr_assert_eq(hms_err_retry_after(expected[i].err), 0, "%s",
			             expected[i].name);
	}
	/* A read-only database is not an unreachable one: its own words. */
	cr_assert(strstr(hms_err_detail(HMS_ERR_READ_ONLY), "accepts no changes") != NULL);
	cr_assert_null(strstr(hms_err_detail(HMS_ERR_READ_ONLY), "cannot be reached"));
}

Test(err, unknown_value_is_internal)
{
	/* The next value after the last one, still inside the enum's range. */
	enum hms_err unknown = (enum hms_err)(HMS_ERR_STORAGE_FULL + 1);

	cr_assert_eq(hms_err_status(unknown), 500);
	cr_assert_str_eq(hms_err_detail(unknown), hms_err_detail(HMS_ERR_INTERNAL));
	cr_assert_str_eq(hms_err_name(unknown), "unknown");
	cr_assert_eq(hms_err_retry_after(unknown), 0);
}

Test(err, every_status_has_a_reason_phrase)
{
	for (size_t i = 0; i < EXPECTED_COUNT; i++)
		cr_assert_str_neq(http_status_reason(hms_err_status(expected[i].err)), "Unknown",
		                  "%s", expected[i].name);
}
