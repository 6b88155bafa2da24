/*
 * idempotency.c - Idempotency-Key: the statements of idempotency_keys
 * (schema/015_idempotency_keys.sql) and the replay of a stored answer (see
 * include/hms/idempotency.h).
 *
 * The key row is inserted first in the write's transaction, with ON
 * CONFLICT DO NOTHING: a second request with the same key waits on the
 * primary key until the first commits (then it finds the row and replays
 * it) or rolls back (then its own insert goes through and it writes). So
 * one key never makes two writes, whatever the timing, and no request is
 * told "in progress".
 */
#include "hms/idempotency.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms/arena.h"
#include "hms/audit.h"
#include "hms/db.h"
#include "hms/http.h"
#include "hms/sha256.h"

#define IDEMPOTENCY_TEXT_(x) #x
#define IDEMPOTENCY_TEXT(x)  IDEMPOTENCY_TEXT_(x)

/* $1 user, $2 key, $3 request hash. */
static const struct db_stmt claim_key = {
    "idempotency_claim",
    "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1::bigint, $2, $3) "
    "ON CONFLICT DO NOTHING RETURNING true",
    3};
/* $1 user, $2 key. */
static const struct db_stmt stored_answer = {
    "idempotency_stored",
    "SELECT request_hash, status::text, response, entity_type, entity_id::text "
    "FROM idempotency_keys WHERE user_id = $1::bigint AND key = $2",
    2};
/* $1 user, $2 key, $3 status, $4 body, $5 entity type, $6 entity id. */
static const struct db_stmt store_answer = {
    "idempotency_store",
    "UPDATE idempotency_keys SET status = $3::smallint, response = $4, entity_type = $5, "
    "entity_id = $6::bigint WHERE user_id = $1::bigint AND key = $2",
    6};
static const struct db_stmt prune_keys = {
    "idempotency_prune",
    "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key FROM "
    "idempotency_keys WHERE created_at < now() - interval '" IDEMPOTENCY_TEXT(
        IDEMPOTENCY_KEY_HOURS) " hours' LIMIT " IDEMPOTENCY_TEXT(IDEMPOTENCY_PRUNE_BATCH) ")",
    0};

bool idempotency_key_is_valid(const char *key)
{
	size_t n = 0;

	if (key == NULL)
		return false;
	for (; key[n] != '\0'; n++)
		if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e ||
		    n >= IDEMPOTENCY_KEY_MAX)
			return false;
	return n > 0;
}

bool idempotency_key_of(struct http_request *req, struct http_response *res, const char **key)
{
	*key = req->idempotency_key;
	if (*key == NULL || idempotency_key_is_valid(*key))
		return true;
	http_respond_field_error(res, IDEMPOTENCY_KEY_HEADER,
	                         "Ensure this header has 1 to 255 visible ASCII characters.");
	return false;
}

/* SHA-256 of the method, the path (without its final '/', which is
 * optional) and the body: what makes a retry the same request. */
static bool request_hash(const struct http_request *req, char out[SHA256_HEX_LEN + 1])
{
	struct sha256_stream s;
	size_t path_len = strlen(req->path);

	if (path_len > 1 && req->path[path_len - 1] == '/')
		path_len--;
	if (sha256_stream_begin(&s) != 0)
		return false;
	if (sha256_stream_update(&s, req->method, strlen(req->method)) != 0 ||
	    sha256_stream_update(&s, "\n", 1) != 0 ||
	    sha256_stream_update(&s, req->path, path_len) != 0 ||
	    sha256_stream_update(&s, "\n", 1) != 0 ||
	    (req->body_len > 0 && sha256_stream_update(&s, req->body, req->body_len) != 0)) {
		sha256_stream_free(&s);
		return false;
	}
	return sha256_stream_end(&s, out) == 0;
}

/* The answer of an earlier request under the same key (row of
 * stored_answer): replayed when it was the same request, else a 400 on the header. The
 * transaction is still open; this ends it. */
static void respond_stored(struct http_request *req, struct http_response *res, const PGresult *row,
                           const char *hash)
{
	const char *status = PQgetvalue(row, 0, 1);
	enum hms_err err;

	if (strcmp(PQgetvalue(row, 0, 0), hash) != 0) {
		db_rollback(req->db);
		http_respond_field_error(
		    res, IDEMPOTENCY_KEY_HEADER,
		    "This key was used for a different request: a retry repeats "
		    "the method, path and body exactly.");
		return;
	}
	if (PQgetisnull(row, 0, 1) || PQgetisnull(row, 0, 2)) {
		db_rollback(req->db); /* cannot be: the answer commits with the row */
		http_respond_error(res, HMS_ERR_INTERNAL, NULL);
		return;
	}
	/* The client gets the resource back: audited as a read of it. */
	err =
	    audit_record(req, "read", PQgetisnull(row, 0, 3) ? NULL : PQgetvalue(row, 0, 3),
	                 PQgetisnull(row, 0, 4) ? 0 : atoll(PQgetvalue(row, 0, 4)), AUDIT_SUCCESS);
	if (err == HMS_OK)
		err = db_commit(req->db);
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return;
	}
	res->status = atoi(status);
	res->body =
	    arena_strndup(res->arena, PQgetvalue(row, 0, 2), (size_t)PQgetlength(row, 0, 2));
	res->body_len = res->body != NULL ? (size_t)PQgetlength(row, 0, 2) : 0;
	res->content_type = "application/json";
	if (res->body == NULL)
		http_respond_error(res, HMS_ERR_NOMEM, NULL);
	else
		http_response_header(res, "Idempotent-Replayed", "true");
}

bool idempotency_begin(struct http_request *req, struct http_response *res, const char *key)
{
	char hash[SHA256_HEX_LEN + 1];
	const char *params[3] = {arena_printf(req->arena, "%lld", (long long)req->user.id), key,
	                         hash};
	PGresult *row;
	enum hms_err err = params[0] == NULL || !request_hash(req, hash) ? HMS_ERR_NOMEM : HMS_OK;

	if (err == HMS_OK)
		err = db_begin(req->db);
	if (err != HMS_OK) {
		http_respond_error(res, err, NULL);
		return false;
	}
	err = db_exec(req->db, req->arena, &claim_key, params, &row);
	if (err == HMS_OK && PQntuples(row) == 1)
		return true;
	/* Taken: by a request that committed (we waited for it, if it was
	 * still running). */
	if (err == HMS_OK)
		err = db_exec(req->db, req->arena, &stored_answer, params, &row);
	if (err == HMS_OK && PQntuples(row) != 1)
		err = HMS_ERR_INTERNAL; /* pruned in between: the client retries */
	if (err != HMS_OK) {
		db_rollback(req->db);
		http_respond_error(res, err, NULL);
		return false;
	}
	respond_stored(req, res, row, hash);
	return false;
}

enum hms_err idempotency_store(struct http_request *req, const char *key, int status,
                               struct json_object *body, const char *entity_type, int64_t entity_id)
{
	const char *params[6];
	PGresult *row;
	enum hms_err err;

	params[0] = arena_printf(req->arena, "%lld", (long long)req->user.id);
	params[1] = key;
	params[2] = arena_printf(req->arena, "%d", status);
	params[3] = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
	params[4] = entity_type;
	params[5] = entity_id > 0 ? arena_printf(req->arena, "%lld", (long long)entity_id) : NULL;
	if (params[0] == NULL || params[2] == NULL || params[3] == NULL ||
	    (entity_id > 0 && params[5] == NULL))
		return HMS_ERR_NOMEM;
	err = db_exec(req->db, req->arena, &store_answer, params, &row);
	if (err == HMS_OK && atol(PQcmdTuples(row)) != 1)
		err = HMS_ERR_INTERNAL;
	return err;
}

long idempotency_prune(struct db *db, struct arena *arena)
{
	return db_exec_in_batches(db, arena, &prune_keys, IDEMPOTENCY_PRUNE_BATCH);
}
