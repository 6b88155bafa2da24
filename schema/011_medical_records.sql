-- 011_medical_records.sql - medical records, their version history, and the
-- attachments table (filled by the upload path).
--
-- What PostgreSQL enforces here, so that no write path can get it wrong:
-- - a record's appointment belongs to the record's patient (a composite
--   foreign key onto appointments (id, patient_id));
-- - the vitals lie within physiological plausibility limits
--   (docs/clinical_bounds.md), and a systolic pressure is above the
--   diastolic one when both are given;
-- - every update keeps the version it replaces: a BEFORE UPDATE trigger
--   copies OLD into medical_record_versions and insists that the version
--   moves on by one and that the patient, author and creation time stay;
-- - records, versions and attachments are never deleted or edited behind
--   the API's back: the application role has no DELETE (nor UPDATE on the
--   history and attachments), and triggers refuse DELETE and TRUNCATE for
--   everyone.

-- The target of the same-patient foreign key below.
ALTER TABLE appointments ADD CONSTRAINT appointments_id_patient_key UNIQUE (id, patient_id);

CREATE TABLE medical_records (
	id bigserial PRIMARY KEY,
	patient_id bigint NOT NULL
		CONSTRAINT medical_records_patient_fkey REFERENCES patients (id),
	author_id bigint NOT NULL
		CONSTRAINT medical_records_author_fkey REFERENCES users (id),
	appointment_id bigint,
	record_type text NOT NULL,
	title text NOT NULL,
	diagnosis text NOT NULL DEFAULT '',
	notes text NOT NULL DEFAULT '',
	prescriptions text NOT NULL DEFAULT '',
	temperature_c numeric(3, 1),
	pulse_bpm integer,
	bp_systolic integer,
	bp_diastolic integer,
	resp_rate integer,
	spo2 integer,
	-- Who wrote this version (the author: only the author may update).
	updated_by bigint NOT NULL
		CONSTRAINT medical_records_updated_by_fkey REFERENCES users (id),
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	-- MATCH SIMPLE: a record without an appointment is not checked.
	CONSTRAINT medical_records_appointment_same_patient
		FOREIGN KEY (appointment_id, patient_id) REFERENCES appointments (id, patient_id),
	CONSTRAINT medical_records_record_type_check CHECK (record_type IN
		('consultation', 'diagnosis', 'prescription', 'lab_result', 'vitals', 'note')),
	CONSTRAINT medical_records_title_check CHECK (length(title) BETWEEN 1 AND 200),
	CONSTRAINT medical_records_diagnosis_check CHECK (length(diagnosis) <= 10000),
	CONSTRAINT medical_records_notes_check CHECK (length(notes) <= 10000),
	CONSTRAINT medical_records_prescriptions_check CHECK (length(prescriptions) <= 10000),
	CONSTRAINT medical_records_temperature_check CHECK (temperature_c BETWEEN 25 AND 45),
	CONSTRAINT medical_records_pulse_check CHECK (pulse_bpm BETWEEN 20 AND 300),
	CONSTRAINT medical_records_systolic_check CHECK (bp_systolic BETWEEN 40 AND 300),
	CONSTRAINT medical_records_diastolic_check CHECK (bp_diastolic BETWEEN 20 AND 200),
	CONSTRAINT medical_records_blood_pressure_check CHECK (bp_systolic > bp_diastolic),
	CONSTRAINT medical_records_resp_rate_check CHECK (resp_rate BETWEEN 2 AND 80),
	CONSTRAINT medical_records_spo2_check CHECK (spo2 BETWEEN 50 AND 100),
	CONSTRAINT medical_records_version_check CHECK (version >= 1)
);
-- A patient's records newest first, whole or filtered by type or author.
CREATE INDEX medical_records_patient_idx
	ON medical_records (patient_id, created_at DESC, id DESC);
CREATE INDEX medical_records_patient_type_idx
	ON medical_records (patient_id, record_type, created_at DESC, id DESC);
CREATE INDEX medical_records_patient_author_idx
	ON medical_records (patient_id, author_id, created_at DESC, id DESC);
-- The foreign keys' other ends (an author's records, an appointment's).
CREATE INDEX medical_records_author_idx ON medical_records (author_id);
CREATE INDEX medical_records_appointment_idx ON medical_records (appointment_id)
	WHERE appointment_id IS NOT NULL;

-- Every earlier version of a record, as it was. changed_at and changed_by
-- say when and by whom that version was written (version 1: its creation).
CREATE TABLE medical_record_versions (
	-- A unique key of its own, for the list builder's pages and cursors.
	id bigserial NOT NULL CONSTRAINT medical_record_versions_id_key UNIQUE,
	record_id bigint NOT NULL
		CONSTRAINT medical_record_versions_record_fkey REFERENCES medical_records (id),
	version bigint NOT NULL,
	patient_id bigint NOT NULL,
	author_id bigint NOT NULL,
	appointment_id bigint,
	record_type text NOT NULL,
	title text NOT NULL,
	diagnosis text NOT NULL,
	notes text NOT NULL,
	prescriptions text NOT NULL,
	temperature_c numeric(3, 1),
	pulse_bpm integer,
	bp_systolic integer,
	bp_diastolic integer,
	resp_rate integer,
	spo2 integer,
	created_at timestamptz NOT NULL,
	changed_at timestamptz NOT NULL,
	changed_by bigint NOT NULL,
	CONSTRAINT medical_record_versions_pkey PRIMARY KEY (record_id, version)
);
-- The history list reads the primary key backwards (newest version first).

CREATE FUNCTION medical_records_keep_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.patient_id IS DISTINCT FROM OLD.patient_id
	   OR NEW.author_id IS DISTINCT FROM OLD.author_id
	   OR NEW.created_at IS DISTINCT FROM OLD.created_at
	   OR NEW.id IS DISTINCT FROM OLD.id THEN
		RAISE EXCEPTION 'a medical record keeps its id, patient, author and creation time'
			USING ERRCODE = 'check_violation',
			      CONSTRAINT = 'medical_records_immutable';
	END IF;
	IF NEW.version IS DISTINCT FROM OLD.version + 1 THEN
		RAISE EXCEPTION 'a medical record update must advance its version by one'
			USING ERRCODE = 'check_violation',
			      CONSTRAINT = 'medical_records_version_advances';
	END IF;
	INSERT INTO medical_record_versions (record_id, version, patient_id, author_id,
		appointment_id, record_type, title, diagnosis, notes, prescriptions,
		temperature_c, pulse_bpm, bp_systolic, bp_diastolic, resp_rate, spo2,
		created_at, changed_at, changed_by)
	VALUES (OLD.id, OLD.version, OLD.patient_id, OLD.author_id, OLD.appointment_id,
		OLD.record_type, OLD.title, OLD.diagnosis, OLD.notes, OLD.prescriptions,
		OLD.temperature_c, OLD.pulse_bpm, OLD.bp_systolic, OLD.bp_diastolic,
		OLD.resp_rate, OLD.spo2, OLD.created_at, OLD.updated_at, OLD.updated_by);
	RETURN NEW;
END $$;

CREATE TRIGGER medical_records_keep_version BEFORE UPDATE ON medical_records
	FOR EACH ROW EXECUTE FUNCTION medical_records_keep_version();

CREATE FUNCTION medical_records_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER medical_records_no_delete BEFORE DELETE ON medical_records
	FOR EACH ROW EXECUTE FUNCTION medical_records_refuse_delete();
CREATE TRIGGER medical_records_no_truncate BEFORE TRUNCATE ON medical_records
	FOR EACH STATEMENT EXECUTE FUNCTION medical_records_refuse_delete();
CREATE TRIGGER medical_record_versions_no_change BEFORE UPDATE OR DELETE
	ON medical_record_versions
	FOR EACH ROW EXECUTE FUNCTION medical_records_refuse_delete();
CREATE TRIGGER medical_record_versions_no_truncate BEFORE TRUNCATE ON medical_record_versions
	FOR EACH STATEMENT EXECUTE FUNCTION medical_records_refuse_delete();

-- Files attached to a record; the bytes live in attachment_dir under
-- storage_name, the rest is metadata. Written once, never changed.
CREATE TABLE attachments (
	id bigserial PRIMARY KEY,
	record_id bigint NOT NULL REFERENCES medical_records (id),
	filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
	content_type text NOT NULL,
	size bigint NOT NULL CHECK (size >= 0),
	sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	storage_name text NOT NULL UNIQUE,
	description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
	uploaded_by bigint NOT NULL REFERENCES users (id),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_record_idx ON attachments (record_id, id);

-- The default privileges (002) gave hms_app every DML right; take back
-- what these tables must never see from the application.
REVOKE DELETE, TRUNCATE ON medical_records FROM hms_app;
REVOKE UPDATE, DELETE, TRUNCATE ON medical_record_versions FROM hms_app;
REVOKE UPDATE, DELETE, TRUNCATE ON attachments FROM hms_app;
