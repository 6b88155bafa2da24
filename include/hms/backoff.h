/*
 * backoff.h - the back-off on password guesses, shared by login and the
 * password change, held in PostgreSQL (login_failures) so that it holds
 * across workers and hosts.
 *
 * Failures are counted three ways (schema/013_login_backoff.sql): per name
 * and client address, per address, and per name from everywhere. Past its
 * threshold (login_failures_before_backoff, login_address_failures_...,
 * login_account_failures_...) each count blocks for 30 s, doubling up to
 * 15 min; a quiet hour starts a count again. The per-name-and-address
 * block always applies; the other two spare an address the account has
 * logged in from in the last BACKOFF_KNOWN_DAYS, so a stranger cannot lock
 * the owner out, yet the total guessing rate per name stays bounded.
 */
#ifndef HMS_BACKOFF_H
#define HMS_BACKOFF_H

#include "hms/err.h"

struct arena;
struct db;
struct http_request;
struct http_response;

#define BACKOFF_KNOWN_DAYS          30
#define BACKOFF_FIRST_DELAY_SECONDS 30
#define BACKOFF_MAX_DELAY_SECONDS   900

/* How long the request's address must wait before trying username_key (a
 * lower-cased username, known or not): *retry_after seconds, 0 if not. */
enum hms_err backoff_check(struct http_request *req, const char *username_key, long *retry_after);

/* Counts a wrong password for username_key from the request's address. */
void backoff_failure(struct http_request *req, const char *username_key);

/* A right password: the count for this name and address ends, and the
 * address becomes one the account is known to use. */
enum hms_err backoff_success(struct http_request *req, const char *username_key);

/* 429 with Retry-After: seconds. */
void backoff_respond(struct http_request *req, struct http_response *res, long seconds);

/* Housekeeping: deletes the counters that no longer block nor count (quiet
 * for an hour, and no login from that address for BACKOFF_KNOWN_DAYS).
 * Returns the rows deleted, or -1. */
long backoff_prune(struct db *db, struct arena *arena);

#endif
