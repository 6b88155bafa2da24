-- 013_login_backoff.sql - the login back-off counted per source, so that a
-- stranger cannot lock an account out; and an index for pruning spent
-- refresh tokens.
--
-- Until now failures were counted per username only, and checked before the
-- password: ten bad guesses from anywhere locked the owner out everywhere.
-- Now one table holds three kinds of counter (src/auth/backoff.c):
--
--   username_key, client_addr   this name from this address: its own
--                               back-off (login_failures_before_backoff);
--   '',           client_addr   this address, whatever the name: one
--                               address spraying many names;
--   username_key, ''            this name from everywhere: past its
--                               threshold, only addresses the account has
--                               logged in from before (last_success_at on
--                               the first kind of row) may still try, so
--                               the total guessing rate per name stays
--                               bounded without denying the owner.
--
-- The counts are short-lived (an hour without failures starts again), so
-- the old rows are simply dropped. The sealer's housekeeping prunes stale
-- rows (src/sealer.c).
DROP TABLE login_failures;

CREATE TABLE login_failures (
	username_key text NOT NULL CHECK (length(username_key) <= 150),
	client_addr text NOT NULL CHECK (length(client_addr) <= 64),
	failures integer NOT NULL DEFAULT 0,
	last_failure_at timestamptz,   -- NULL: none since the last success
	blocked_until timestamptz,
	last_success_at timestamptz,   -- a login of this name from this address
	PRIMARY KEY (username_key, client_addr),
	CHECK (username_key <> '' OR client_addr <> '')
);

-- Expired refresh tokens (spent or not) are pruned: a spent token is kept
-- for reuse detection only until it expires.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
