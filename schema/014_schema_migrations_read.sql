-- 014_schema_migrations_read.sql - the application role may read which
-- migrations are applied.
--
-- schema_migrations is created by hmsctl migrate before 002 set the default
-- privileges, so hms_app could not read it. `hmsctl check` run as the
-- service (with /etc/hms/hms.conf, connecting as hms_app) compares it with
-- schema_dir. Reading it tells nothing beyond the file names and their
-- checksums; writing it stays the owner's.

GRANT SELECT ON schema_migrations TO hms_app;
