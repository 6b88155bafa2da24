-- 008_audit_seals.sql - audit appends that never wait on each other, made
-- tamper-evident by sealing committed rows in batches.
--
-- Until now each row carried a hash of the row before it, computed by a
-- trigger under one advisory lock held to commit: every audited request in
-- the system waited for the previous one's commit. Now a row is a plain
-- insert in the request's own transaction (committed, durable, before the
-- answer leaves), and the sealer process (src/sealer.c) chains what has
-- committed into audit_seals every few hundred milliseconds, the way a
-- transparency log integrates queued leaves into a signed head:
--
--   * each row records the id of the transaction that wrote it (txid);
--   * a seal covers exactly the rows with from_txid <= txid < to_txid, where
--     to_txid is the xmin of the sealer's snapshot: every transaction below
--     it has ended, so no row can still commit into a sealed range, and no
--     row falls between two seals;
--   * a seal lists its rows (ids, and the SHA-256 of each row's canonical
--     text, in (txid, id) order) and is MACed with HMAC-SHA256 under a key
--     from the configuration that the database never holds, chained to the
--     previous seal's MAC. Each seal's MAC is also logged, outside the
--     database.
--
-- hmsctl audit-verify recomputes it all: an edited, deleted or inserted row,
-- or a forged seal, is named. Rows written before this migration keep their
-- per-row chain (prev_hash, hash) and are verified as before; the first seal
-- links to that chain's head.

DROP TRIGGER audit_log_append ON audit_log;
DROP FUNCTION audit_log_append();

ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL,
	ALTER COLUMN hash DROP NOT NULL,
	ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq'),
	ALTER COLUMN at SET DEFAULT clock_timestamp();
-- Added without a default first, so existing (chained) rows keep NULL.
ALTER TABLE audit_log ADD COLUMN txid bigint;
ALTER TABLE audit_log ALTER COLUMN txid SET DEFAULT pg_current_xact_id()::text::bigint;
-- A list answer is one row: how many records it returned, and which.
ALTER TABLE audit_log ADD COLUMN row_count integer CHECK (row_count >= 0),
	ADD COLUMN entity_ids bigint[] CHECK (cardinality(entity_ids) <= 1000);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_chained_or_sealed
	CHECK ((hash IS NULL) = (txid IS NOT NULL));

-- The table only grows: time and transaction ids rise with it, so BRIN
-- indexes (a few pages) serve ranges of them; the B-trees left are the
-- auditor's questions (who did what, what happened to this record).
DROP INDEX audit_log_action_idx;
DROP INDEX audit_log_at_idx;
CREATE INDEX audit_log_at_brin ON audit_log USING brin (at);
CREATE INDEX audit_log_txid_brin ON audit_log USING brin (txid);

-- The application may insert only what a request knows; id, time,
-- transaction and the legacy chain columns are the database's.
REVOKE INSERT ON audit_log FROM hms_app;
GRANT INSERT (actor, actor_role, action, entity_type, entity_id, request_id, ip, outcome,
	row_count, entity_ids) ON audit_log TO hms_app;

CREATE TABLE audit_seals (
	id bigint PRIMARY KEY CHECK (id > 0),  -- 1, 2, 3 ... with no gap
	sealed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	from_txid bigint NOT NULL,
	to_txid bigint NOT NULL CHECK (to_txid >= from_txid),
	row_ids bigint[] NOT NULL,
	row_hashes bytea NOT NULL CHECK (length(row_hashes) = 32 * cardinality(row_ids)),
	prev_mac text NOT NULL CHECK (prev_mac ~ '^[0-9a-f]{64}$'),
	key_id text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9._-]{1,32}$'),
	mac text NOT NULL CHECK (mac ~ '^[0-9a-f]{64}$')
);
CREATE TRIGGER audit_seals_no_change BEFORE UPDATE OR DELETE ON audit_seals
	FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_seals FROM hms_app;
