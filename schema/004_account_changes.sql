-- 004_account_changes.sql - tell every worker when an account's access
-- changes. Workers cache an account's role, state and password epoch for a
-- short while (so a request does not pay a query for it); this trigger's
-- NOTIFY, delivered at commit to every listening connection, evicts the
-- entry at once - whatever made the change: the API, hmsctl or psql.
CREATE FUNCTION users_notify_access_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('hms_accounts', NEW.id::text);
	RETURN NULL;
END $$;

CREATE TRIGGER users_access_change AFTER UPDATE ON users
	FOR EACH ROW
	WHEN (OLD.role IS DISTINCT FROM NEW.role
		OR OLD.is_active IS DISTINCT FROM NEW.is_active
		OR OLD.password_changed_at IS DISTINCT FROM NEW.password_changed_at)
	EXECUTE FUNCTION users_notify_access_change();
