-- 002_identity.sql - staff accounts, refresh tokens, login back-off and the
-- append-only, hash-chained audit trail.
--
-- Roles: this file runs as the owner role (hms); the application connects as
-- hms_app, which gets ordinary DML on tables created from here on, but only
-- INSERT and SELECT on audit_log. A trigger refuses UPDATE, DELETE and
-- TRUNCATE on audit_log for everyone, so even a mistake in our code (or a
-- stolen application password) cannot rewrite history.

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hms_app') THEN
		RAISE EXCEPTION 'the application role hms_app does not exist; create it first: CREATE ROLE hms_app LOGIN (see deploy/README.md)';
	END IF;
END $$;

GRANT USAGE ON SCHEMA public TO hms_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hms_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
	GRANT USAGE, SELECT ON SEQUENCES TO hms_app;

CREATE TABLE users (
	id bigserial PRIMARY KEY,
	username text NOT NULL CHECK (username ~ '^[A-Za-z0-9@.+_-]{1,150}$'),
	email text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
	first_name text NOT NULL DEFAULT '' CHECK (length(first_name) <= 150),
	last_name text NOT NULL DEFAULT '' CHECK (length(last_name) <= 150),
	role text NOT NULL CHECK (role IN ('admin', 'doctor', 'nurse', 'receptionist', 'billing')),
	is_active boolean NOT NULL DEFAULT true,
	password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
	password_changed_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique whatever their case ("Alice" and "alice" are one user).
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE refresh_tokens (
	jti uuid PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id),
	family uuid NOT NULL,          -- every token rotated from one login
	issued_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz,        -- spent (rotated), logged out or revoked
	replaced_by uuid               -- the token this one was rotated into
);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);

-- Failed logins per username (known or not, so the answer never tells which),
-- shared by every worker and host.
CREATE TABLE login_failures (
	username_key text PRIMARY KEY CHECK (length(username_key) <= 150),
	failures integer NOT NULL DEFAULT 0,
	last_failure_at timestamptz NOT NULL DEFAULT now(),
	blocked_until timestamptz
);

CREATE TABLE audit_log (
	id bigint PRIMARY KEY,
	at timestamptz NOT NULL,
	actor bigint,                  -- users.id; no foreign key: the trail never blocks or cascades
	actor_role text CHECK (actor_role ~ '^[a-z]{1,16}$'),
	action text NOT NULL CHECK (action ~ '^[a-z_]{1,32}$'),
	entity_type text CHECK (entity_type ~ '^[a-z_]{1,32}$'),
	entity_id bigint,
	request_id text CHECK (request_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	ip inet,
	outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
	prev_hash text NOT NULL,
	hash text NOT NULL
);
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- The text a row's hash covers. hmsctl audit-verify rebuilds it in C from
-- the same columns, so a change to this function is itself detected.
CREATE FUNCTION audit_log_canonical(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT r.prev_hash || chr(10) || r.id::text || chr(10) ||
		to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || chr(10) ||
		coalesce(r.actor::text, '') || chr(10) || coalesce(r.actor_role, '') || chr(10) ||
		r.action || chr(10) || coalesce(r.entity_type, '') || chr(10) ||
		coalesce(r.entity_id::text, '') || chr(10) || coalesce(r.request_id, '') || chr(10) ||
		coalesce(host(r.ip), '') || chr(10) || r.outcome
$$;

-- Appends a row to the chain. The transaction-scoped lock orders appends:
-- the next writer waits until this transaction commits or rolls back, so id
-- order is commit order and each row links to the last committed one.
-- (Requires READ COMMITTED, which is what hms uses: each statement here
-- takes a fresh snapshot after the lock is granted.)
CREATE FUNCTION audit_log_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	last_hash text;
BEGIN
	PERFORM pg_advisory_xact_lock(7291045);
	NEW.id := nextval('audit_log_id_seq');
	NEW.at := clock_timestamp();
	SELECT hash INTO last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
	NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
	NEW.hash := encode(sha256(convert_to(audit_log_canonical(NEW), 'UTF8')), 'hex');
	RETURN NEW;
END $$;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append();
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM hms_app;
