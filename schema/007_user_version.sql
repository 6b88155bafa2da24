-- 007_user_version.sql - staff accounts get a version like every other
-- editable resource, so GET /api/users/{id}/ carries an ETag and a PATCH
-- with a stale If-Match is refused (412) instead of overwriting a change
-- another admin made meanwhile.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
