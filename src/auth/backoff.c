/*
 * backoff.c - the back-off on password guesses (see include/hms/backoff.h).
 *
 * Three counters per failure, one statement: this name from this address,
 * this address whatever the name ('' for the name), and this name from
 * everywhere ('' for the address). The per-name-and-address count is what
 * blocks an attacker's address; the other two bound spraying and
 * distributed guessing but spare an address the account has logged in from
 * lately (last_success_at on its name-and-address row), so the owner at a
 * usual workstation still gets in while strangers are held back.
 */
#include "hms/backoff.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/config.h"
#include "hms/db.h"
#include "hms/http.h"

#define TEXT_(x) #x
#define TEXT(x)  TEXT_(x)
#define KNOWN    "interval '" TEXT(BACKOFF_KNOWN_DAYS) " days'"

/* $1 name, $2 address: the longest block that applies, 0 if none. */
static const struct db_stmt blocked_for = {
    "backoff_blocked_for",
    "WITH known AS (SELECT EXISTS (SELECT 1 FROM login_failures WHERE username_key = $1 "
    "AND client_addr = $2 AND last_success_at > now() - " KNOWN ") AS yes) "
    "SELECT coalesce(max(ceil(extract(epoch FROM f.blocked_until - now()))), 0)::bigint "
    "FROM login_failures f, known WHERE f.blocked_until > now() AND "
    "((f.username_key = $1 AND f.client_addr = $2) OR (NOT known.yes AND "
    "((f.username_key = '' AND f.client_addr = $2) OR "
    "(f.username_key = $1 AND f.client_addr = ''))))",
    2};
/* Rows in a fixed order (pair, address, name), so that two failures never
 * wait on each other's rows in opposite orders. */
static const struct db_stmt count_failure = {
    "backoff_count_failure",
    "INSERT INTO login_failures AS f (username_key, client_addr, failures, last_failure_at) "
    "VALUES ($1, $2, 1, now()), ('', $2, 1, now()), ($1, '', 1, now()) "
    "ON CONFLICT (username_key, client_addr) DO UPDATE SET failures = CASE WHEN "
    "f.last_failure_at IS NULL OR f.last_failure_at < now() - interval '1 hour' THEN 1 "
    "ELSE f.failures + 1 END, last_failure_at = now() "
    "RETURNING username_key, client_addr, failures",
    2};
static const struct db_stmt block = {
    "backoff_block",
    "UPDATE login_failures SET blocked_until = now() + make_interval(secs => $3::int) "
    "WHERE username_key = $1 AND client_addr = $2",
    3};
static const struct db_stmt succeed = {
    "backoff_success",
    "INSERT INTO login_failures (username_key, client_addr, last_success_at) "
    "VALUES ($1, $2, now()) ON CONFLICT (username_key, client_addr) DO UPDATE SET "
    "failures = 0, last_failure_at = NULL, blocked_until = NULL, last_success_at = now()",
    2};
static const struct db_stmt prune = {
    "backoff_prune",
    "DELETE FROM login_failures WHERE (blocked_until IS NULL OR blocked_until <= now()) "
    "AND (last_failure_at IS NULL OR last_failure_at < now() - interval '1 hour') "
    "AND (last_success_at IS NULL OR last_success_at < now() - " KNOWN ")",
    0};

static const char *address_of(const struct http_request *req)
{
	/* nginx always passes REMOTE_ADDR; without one, all such callers
	 * share a counter rather than escaping it. */
	return req->client_ip != NULL && *req->client_ip != '\0' ? req->client_ip : "unknown";
}

enum hms_err backoff_check(struct http_request *req, const char *username_key, long *retry_after)
{
	const char *params[2] = {username_key, address_of(req)};
	PGresult *res;
	enum hms_err err = db_exec(req->db, req->arena, &blocked_for, params, &res);

	*retry_after = 0;
	if (err == HMS_OK && PQntuples(res) == 1)
		*retry_after = atol(PQgetvalue(res, 0, 0));
	return err;
}

static long threshold_of(const struct hms_config *cfg, bool is_address, bool is_name)
{
	if (is_address)
		return cfg->login_address_failures_before_backoff;
	if (is_name)
		return cfg->login_account_failures_before_backoff;
	return cfg->login_failures_before_backoff;
}

void backoff_failure(struct http_request *req, const char *username_key)
{
	const char *params[3] = {username_key, address_of(req), NULL};
	PGresult *res, *ignored;
	char secs[24];

	if (db_exec(req->db, req->arena, &count_failure, params, &res) != HMS_OK)
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		bool is_address = PQgetvalue(res, i, 0)[0] == '\0';
		bool is_name = PQgetvalue(res, i, 1)[0] == '\0';
		long over =
		    atol(PQgetvalue(res, i, 2)) - threshold_of(req->config, is_address, is_name);
		long delay;

		if (over < 0)
			continue;
		delay = (long)BACKOFF_FIRST_DELAY_SECONDS << (over < 5 ? over : 5);
		snprintf(secs, sizeof(secs), "%ld",
		         delay > BACKOFF_MAX_DELAY_SECONDS ? BACKOFF_MAX_DELAY_SECONDS : delay);
		params[0] = PQgetvalue(res, i, 0);
		params[1] = PQgetvalue(res, i, 1);
		params[2] = secs;
		db_exec(req->db, req->arena, &block, params, &ignored);
	}
}

enum hms_err backoff_success(struct http_request *req, const char *username_key)
{
	const char *params[2] = {username_key, address_of(req)};
	PGresult *ignored;

	return db_exec(req->db, req->arena, &succeed, params, &ignored);
}

void backoff_respond(struct http_request *req, struct http_response *res, long seconds)
{
	http_response_header(res, "Retry-After", arena_printf(req->arena, "%ld", seconds));
	http_respond_error(res, HMS_ERR_RATE_LIMITED,
	                   arena_printf(req->arena,
	                                "Too many failed attempts; try again in %ld seconds.",
	                                seconds));
}

long backoff_prune(struct db *db, struct arena *arena)
{
	PGresult *res;

	if (db_exec(db, arena, &prune, NULL, &res) != HMS_OK)
		return -1;
	return atol(PQcmdTuples(res));
}
