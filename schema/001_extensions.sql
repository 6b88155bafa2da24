-- 001_extensions.sql - PostgreSQL extensions the schema builds on.
-- btree_gist: exclusion constraints that mix equality (same doctor) with
--             range overlap (appointment times), so double booking is
--             impossible even under concurrent requests.
-- unaccent:   accent-insensitive search ("Jose" finds "José").
-- Both are "trusted" extensions: the database owner may create them.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS unaccent;
