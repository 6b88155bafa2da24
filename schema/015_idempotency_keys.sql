-- 015_idempotency_keys.sql - the Idempotency-Key of a POST and the answer it
-- got, so that a client that retries a write (after a 502 for a write that
-- did commit) gets that answer again instead of a second patient or a second
-- payment (src/api/idempotency.c; docs/design_decisions.md, "Retrying a
-- write: Idempotency-Key").
--
-- A row is inserted in the transaction of the write, before the write (a
-- second request with the same key waits on the primary key until the first
-- commits or rolls back), and its answer is set before that transaction
-- commits: a committed row always has its answer, and a write that fails
-- leaves no row. Keys are per user: another user's key of the same text is
-- another key, and only the user who sent it gets its answer back.
--
-- response holds the answer's JSON, which is PHI exactly like the resource
-- it answers (a patient); it is kept for 24 hours only (the sealer's
-- housekeeping prunes older rows, src/sealer.c).
CREATE TABLE idempotency_keys (
	user_id bigint NOT NULL
		CONSTRAINT idempotency_keys_user_fkey REFERENCES users (id) ON DELETE CASCADE,
	key text NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),
	-- SHA-256 (hex) of the method, the path and the body.
	request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
	-- The answer: NULL only inside the writing transaction.
	status smallint CHECK (status BETWEEN 200 AND 299),
	response text CHECK (length(response) <= 1048576),
	-- What a replay audits as read.
	entity_type text CHECK (length(entity_type) <= 64),
	entity_id bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, key),
	CHECK ((status IS NULL) = (response IS NULL))
);

-- The housekeeping's DELETE of rows older than 24 hours.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- hms_app inserts a key, sets its answer once, reads it back and prunes
-- old rows; it never rewrites the key, its user or its request.
REVOKE UPDATE, TRUNCATE ON idempotency_keys FROM hms_app;
GRANT UPDATE (status, response, entity_type, entity_id) ON idempotency_keys TO hms_app;
