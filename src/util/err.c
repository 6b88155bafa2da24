/* err.c - what each enum hms_err means to a client and to the logs. */
#include "hms/err.h"

/* Retry-After of the 503s a client can simply repeat later. A worker
 * reconnects on its next request, so a restarted PostgreSQL is back within
 * seconds; a read-only database (a standby not yet promoted, maintenance)
 * usually takes longer. A timeout is not among them: the same query would
 * time out again. */
#define RETRY_UNAVAILABLE_SECONDS 5
#define RETRY_READ_ONLY_SECONDS   10

static const struct {
	int status;
	const char *detail;
	const char *name;
	int retry_after;
} errors[] = {
    [HMS_OK] = {200, "OK.", "ok"},
    [HMS_ERR_BAD_REQUEST] = {400, "Bad request.", "bad_request"},
    [HMS_ERR_UNAUTHORIZED] = {401, "Authentication credentials were not provided.", "unauthorized"},
    [HMS_ERR_FORBIDDEN] = {403, "You do not have permission to perform this action.", "forbidden"},
    [HMS_ERR_NOT_FOUND] = {404, "Not found.", "not_found"},
    [HMS_ERR_METHOD] = {405, "Method not allowed.", "method_not_allowed"},
    [HMS_ERR_CONFLICT] = {409, "The request conflicts with the current state.", "conflict"},
    [HMS_ERR_PRECONDITION] = {412, "The resource was changed by someone else (If-Match).",
                              "precondition_failed"},
    [HMS_ERR_TOO_LARGE] = {413, "Request body is too large.", "too_large"},
    [HMS_ERR_URI_TOO_LONG] = {414, "Request URI is too long.", "uri_too_long"},
    [HMS_ERR_MEDIA_TYPE] = {415, "Unsupported media type; send application/json.",
                            "unsupported_media_type"},
    [HMS_ERR_RATE_LIMITED] = {429, "Request was throttled.", "rate_limited"},
    [HMS_ERR_INTERNAL] = {500, "Internal server error.", "internal"},
    [HMS_ERR_NOMEM] = {500, "Internal server error.", "out_of_memory"},
    [HMS_ERR_UNAVAILABLE] = {503,
                             "Service temporarily unavailable; the database cannot be "
                             "reached.",
                             "unavailable", RETRY_UNAVAILABLE_SECONDS},
    [HMS_ERR_TIMEOUT] = {503,
                         "The database took too long to answer and the query was cancelled; "
                         "narrow it (a filter, a longer search) or use ?cursor=.",
                         "timeout"},
    [HMS_ERR_READ_ONLY] = {503,
                           "Service temporarily unavailable; the database accepts no changes "
                           "at the moment, so nothing was done. Try again later.",
                           "read_only", RETRY_READ_ONLY_SECONDS},
    [HMS_ERR_STORAGE_FULL] = {507,
                              "The server has no room to store the file; nothing was saved. "
                              "Try again later.",
                              "storage_full"},
};

static int known(enum hms_err err)
{
	return (unsigned)err < sizeof(errors) / sizeof(errors[0]) && errors[err].name != 0;
}

int hms_err_status(enum hms_err err)
{
	return known(err) ? errors[err].status : 500;
}

const char *hms_err_detail(enum hms_err err)
{
	return known(err) ? errors[err].detail : errors[HMS_ERR_INTERNAL].detail;
}

const char *hms_err_name(enum hms_err err)
{
	return known(err) ? errors[err].name : "unknown";
}

int hms_err_retry_after(enum hms_err err)
{
	return known(err) ? errors[err].retry_after : 0;
}
