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

struct http_request;
struct http_response;

void tokens_obtain(struct http_request *req, struct http_response *res);
void tokens_refresh(struct http_request *req, struct http_response *res);
void tokens_logout(struct http_request *req, struct http_response *res);

#endif
