-- 003_patients_doctors.sql - patients and doctors, with word-prefix search.
--
-- Search (SPEC section 3): every word the user types must match the start
-- of a word in the searched fields, case- and accent-insensitively. Each
-- table keeps a 'simple' text-search vector of its unaccented fields (GIN
-- indexed); hms_prefix_query() turns the user's text into an AND of prefix
-- terms. The user's text is only ever data to to_tsvector(), so it cannot
-- inject tsquery syntax.

-- unaccent() is STABLE (it reads a dictionary); an index expression needs an
-- IMMUTABLE function, and the dictionary is fixed for the database's life.
CREATE FUNCTION hms_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
	SELECT public.unaccent('public.unaccent'::regdictionary, $1)
$$;

CREATE FUNCTION hms_prefix_query(text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
	SELECT to_tsquery('simple', string_agg(quote_literal(word) || ':*', ' & '))
	FROM unnest(tsvector_to_array(to_tsvector('simple', hms_unaccent($1)))) AS word
$$;

-- Medical record numbers: "MRN" + 8 digits + a Luhn check digit, from a
-- sequence, so a number is never handed out twice (a rolled-back insert
-- burns its number; soft-deleted patients keep theirs) and a mistyped digit
-- or a swap of two neighbouring digits makes a number that exists nowhere.
CREATE SEQUENCE patients_mrn_seq START 1;

CREATE FUNCTION hms_luhn_digit(digits text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
	SELECT ((10 - sum(CASE WHEN (length(digits) - i) % 2 = 0
			THEN (d * 2) / 10 + (d * 2) % 10 ELSE d END) % 10) % 10)::text
	FROM (SELECT i, substr(digits, i, 1)::int AS d
	      FROM generate_series(1, length(digits)) AS i) AS t
$$;

CREATE FUNCTION hms_next_mrn() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT 'MRN' || n || hms_luhn_digit(n)
	FROM (SELECT lpad(nextval('patients_mrn_seq')::text, 8, '0') AS n) AS s
$$;

CREATE TABLE patients (
	id bigserial PRIMARY KEY,
	medical_record_number text NOT NULL DEFAULT hms_next_mrn() UNIQUE,
	first_name text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
	last_name text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
	date_of_birth date NOT NULL,
	gender text NOT NULL CHECK (gender IN ('male', 'female', 'other', 'unknown')),
	contact_phone text NOT NULL DEFAULT '' CHECK (length(contact_phone) <= 32),
	contact_email text NOT NULL DEFAULT '' CHECK (length(contact_email) <= 254),
	address text NOT NULL DEFAULT '' CHECK (length(address) <= 500),
	emergency_contact text NOT NULL DEFAULT '' CHECK (length(emergency_contact) <= 200),
	blood_type text NOT NULL DEFAULT ''
		CHECK (blood_type IN ('', 'A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-')),
	allergies text NOT NULL DEFAULT '' CHECK (length(allergies) <= 2000),
	is_deleted boolean NOT NULL DEFAULT false,
	deleted_at timestamptz,
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	search_vector tsvector GENERATED ALWAYS AS (
		to_tsvector('simple', hms_unaccent(first_name || ' ' || last_name))) STORED
);
-- Lists never show deleted patients to anyone but an admin asking for them,
-- so the list indexes cover live rows only.
CREATE INDEX patients_search_idx ON patients USING gin (search_vector) WHERE NOT is_deleted;
CREATE INDEX patients_last_name_idx ON patients (last_name, id) WHERE NOT is_deleted;
CREATE INDEX patients_first_name_idx ON patients (first_name, id) WHERE NOT is_deleted;
CREATE INDEX patients_dob_idx ON patients (date_of_birth, id) WHERE NOT is_deleted;
CREATE INDEX patients_created_idx ON patients (created_at, id) WHERE NOT is_deleted;
CREATE INDEX patients_name_order_idx ON patients (last_name, first_name, id) WHERE NOT is_deleted;
CREATE INDEX patients_phone_idx ON patients (contact_phone) WHERE contact_phone <> '';
CREATE INDEX patients_email_idx ON patients (lower(contact_email)) WHERE contact_email <> '';
CREATE INDEX patients_gender_idx ON patients (gender, last_name, id) WHERE NOT is_deleted;

-- array_to_string is only STABLE in general; for text[] it is immutable.
CREATE FUNCTION hms_doctor_search_text(first_name text, last_name text, license text,
	specialties text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT hms_unaccent(first_name || ' ' || last_name || ' ' || license || ' ' ||
		array_to_string(specialties, ' '))
$$;

CREATE TABLE doctors (
	id bigserial PRIMARY KEY,
	user_id bigint UNIQUE REFERENCES users (id),
	first_name text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
	last_name text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
	specialties text[] NOT NULL DEFAULT '{}',
	license_number text NOT NULL CHECK (length(license_number) BETWEEN 1 AND 50),
	contact_phone text NOT NULL DEFAULT '' CHECK (length(contact_phone) <= 32),
	contact_email text NOT NULL DEFAULT '' CHECK (length(contact_email) <= 254),
	slot_minutes integer NOT NULL DEFAULT 30 CHECK (slot_minutes BETWEEN 5 AND 480),
	-- [{"weekday": 0-6 (Monday 0), "start_time": "09:00", "end_time": "17:00"}],
	-- validated (and overlap-checked) by the application before it is stored.
	schedule jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(schedule) = 'array'),
	is_active boolean NOT NULL DEFAULT true,
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	search_vector tsvector GENERATED ALWAYS AS (
		to_tsvector('simple', hms_doctor_search_text(first_name, last_name,
			license_number, specialties))) STORED
);
CREATE UNIQUE INDEX doctors_license_key ON doctors (lower(license_number));
CREATE INDEX doctors_search_idx ON doctors USING gin (search_vector);
CREATE INDEX doctors_name_idx ON doctors (last_name, first_name, id);
