/*
 * idempotency.h - the Idempotency-Key of a POST (schema/015_idempotency_keys.sql;
 * docs/design_decisions.md, "Retrying a write: Idempotency-Key").
 *
 * A client that may retry a write sends `Idempotency-Key: <unique>`. In the
 * write's own transaction the key is claimed first; a retry with the same
 * key and the same request (method, path, body) gets the stored answer with
 * `Idempotent-Replayed: true` and changes nothing; the same key with another
 * request is a 400 on the header. Only a successful write stores its answer: a write that
 * fails rolls its key back with it, so the client may fix the request and
 * retry under the same key. Keys are per user and kept for
 * IDEMPOTENCY_KEY_HOURS.
 *
 * A handler that honours the key:
 *
 *	if (!idempotency_key_of(req, res, &key)) return;      (400 answered)
 *	if (key != NULL && !idempotency_begin(req, res, key)) return;  (answered)
 *	... the write, inside the transaction idempotency_begin opened ...
 *	idempotency_store(req, key, 201, body, "patient", id);
 *	commit, answer
 */
#ifndef HMS_IDEMPOTENCY_H
#define HMS_IDEMPOTENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "hms/err.h"

struct arena;
struct db;
struct http_request;
struct http_response;
struct json_object;

#define IDEMPOTENCY_KEY_HEADER "Idempotency-Key"
#define IDEMPOTENCY_KEY_MAX    255
/* How long an answer is kept (the sealer's housekeeping prunes older keys). */
#define IDEMPOTENCY_KEY_HOURS   24
#define IDEMPOTENCY_PRUNE_BATCH 10000

/* True for 1 to IDEMPOTENCY_KEY_MAX visible ASCII characters (0x21-0x7E). */
bool idempotency_key_is_valid(const char *key);

/* The request's key in *key (NULL when the header is absent). An invalid
 * one is answered 400 {"Idempotency-Key": ["..."]} and false returned. */
bool idempotency_key_of(struct http_request *req, struct http_response *res, const char **key);

/* Begins the write's transaction and claims key for the request's user.
 * True: the key is new, the transaction is open, go on with the write.
 * False: res holds the answer and no transaction is open - the stored
 * answer of the same request (replayed, audited as a read), a 400 on the header for a key
 * used with another request, or an error. */
bool idempotency_begin(struct http_request *req, struct http_response *res, const char *key);

/* Stores the answer of the write (status, and body serialized as
 * http_respond_json() does; body stays the caller's) in key's row, inside
 * the open transaction; entity_type and entity_id are what a replay audits
 * as read. */
enum hms_err idempotency_store(struct http_request *req, const char *key, int status,
                               struct json_object *body, const char *entity_type,
                               int64_t entity_id);

/* Housekeeping: deletes keys older than IDEMPOTENCY_KEY_HOURS, in batches.
 * Returns the count, or -1. */
long idempotency_prune(struct db *db, struct arena *arena);

#endif
