-- 005_patient_counts.sql - the number of live patients, kept exact by
-- statement-level triggers, so an unfiltered patient list does not count a
-- million rows for every page. Statement-level triggers with transition
-- tables keep a bulk load (COPY of a million rows) at one update.
CREATE TABLE patient_counts (
	only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
	live bigint NOT NULL
);
INSERT INTO patient_counts (live) SELECT count(*) FROM patients WHERE NOT is_deleted;

CREATE FUNCTION patient_counts_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE patient_counts SET live = live + (SELECT count(*) FROM new_rows WHERE NOT is_deleted);
	RETURN NULL;
END $$;

CREATE FUNCTION patient_counts_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE patient_counts SET live = live
		+ (SELECT count(*) FROM new_rows WHERE NOT is_deleted)
		- (SELECT count(*) FROM old_rows WHERE NOT is_deleted);
	RETURN NULL;
END $$;

CREATE FUNCTION patient_counts_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE patient_counts SET live = live - (SELECT count(*) FROM old_rows WHERE NOT is_deleted);
	RETURN NULL;
END $$;

CREATE TRIGGER patient_counts_insert AFTER INSERT ON patients
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION patient_counts_after_insert();
CREATE TRIGGER patient_counts_update AFTER UPDATE ON patients
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION patient_counts_after_update();
CREATE TRIGGER patient_counts_delete AFTER DELETE ON patients
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
	EXECUTE FUNCTION patient_counts_after_delete();
