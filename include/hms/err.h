/*
 * err.h - the one error vocabulary of HMS.
 *
 * Every function that can fail on a request path returns an enum hms_err.
 * Exactly one place (http_respond_error) turns it into an HTTP status and a
 * DRF-shaped body, so handlers never pick status codes for common failures.
 */
#ifndef HMS_ERR_H
#define HMS_ERR_H

enum hms_err {
	HMS_OK = 0,
	HMS_ERR_BAD_REQUEST,  /* 400 */
	HMS_ERR_UNAUTHORIZED, /* 401 */
	HMS_ERR_FORBIDDEN,    /* 403 */
	HMS_ERR_NOT_FOUND,    /* 404 */
	HMS_ERR_METHOD,       /* 405 */
	HMS_ERR_CONFLICT,     /* 409 */
	HMS_ERR_PRECONDITION, /* 412 */
	HMS_ERR_TOO_LARGE,    /* 413 */
	HMS_ERR_URI_TOO_LONG, /* 414 */
	HMS_ERR_MEDIA_TYPE,   /* 415 */
	HMS_ERR_RATE_LIMITED, /* 429 */
	HMS_ERR_INTERNAL,     /* 500 */
	HMS_ERR_NOMEM,        /* 500, but logged as such */
	HMS_ERR_UNAVAILABLE,  /* 503 */
	HMS_ERR_TIMEOUT,      /* 503: a statement ran past statement_timeout */
	HMS_ERR_READ_ONLY,    /* 503: the database refuses writes (a standby, maintenance) */
	HMS_ERR_STORAGE_FULL, /* 507: the attachment directory is full */
};

/* The HTTP status that an error maps to. */
int hms_err_status(enum hms_err err);

/* A client-safe default message for the error (never internal detail). */
const char *hms_err_detail(enum hms_err err);

/* A short stable name for logs ("bad_request", "unavailable", ...). */
const char *hms_err_name(enum hms_err err);

/* The seconds a client should wait before trying again (the Retry-After
 * header of the answer), or 0 when waiting would not help. */
int hms_err_retry_after(enum hms_err err);

#endif
