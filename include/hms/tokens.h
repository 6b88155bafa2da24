/*
 * tokens.h - sessions: login (token), refresh with rotation and reuse
 * detection, and logout.
 *
 * A login starts a family of refresh tokens. Each refresh spends the token
 * presented and issues the next one of the family; presenting a spent token
 * again means it was stolen or replayed, so the whole family is revoked.
 */
#ifndef HMS_TOKENS_H
#define HMS_TOKENS_H

struct arena;
struct db;
struct http_request;
struct http_response;

#define TOKENS_PRUNE_BATCH 10000

void tokens_obtain(struct http_request *req, struct http_response *res);
void tokens_refresh(struct http_request *req, struct http_response *res);
void tokens_logout(struct http_request *req, struct http_response *res);

/* Housekeeping: deletes expired refresh tokens (spent ones too: reuse
 * detection needs them only until they expire). Returns the count, or -1. */
long tokens_prune(struct db *db, struct arena *arena);

#endif
