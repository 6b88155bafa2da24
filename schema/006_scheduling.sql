-- 006_scheduling.sql - appointments and bookable resources.
--
-- Double booking is impossible by construction: exclusion constraints
-- (btree_gist) refuse two live rows of the same doctor, the same patient or
-- the same resource whose [start, end) ranges overlap, so of many
-- simultaneous attempts at one slot exactly one commits; the others fail
-- with SQLSTATE 23P01, which the API answers with 409. Ranges are half-open,
-- so back-to-back bookings (one ends when the next starts) are allowed.
CREATE TABLE appointments (
	id bigserial PRIMARY KEY,
	patient_id bigint NOT NULL REFERENCES patients (id),
	doctor_id bigint NOT NULL REFERENCES doctors (id),
	start_time timestamptz NOT NULL,
	end_time timestamptz NOT NULL,
	status text NOT NULL DEFAULT 'scheduled'
		CHECK (status IN ('scheduled', 'checked_in', 'completed', 'cancelled', 'no_show')),
	reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
	notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
	created_by bigint REFERENCES users (id),
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT appointments_end_after_start CHECK (end_time > start_time),
	CONSTRAINT appointments_doctor_overlap EXCLUDE USING gist
		(doctor_id WITH =, tstzrange(start_time, end_time) WITH &&)
		WHERE (status <> 'cancelled'),
	CONSTRAINT appointments_patient_overlap EXCLUDE USING gist
		(patient_id WITH =, tstzrange(start_time, end_time) WITH &&)
		WHERE (status <> 'cancelled')
);
CREATE INDEX appointments_doctor_idx ON appointments (doctor_id, start_time);
CREATE INDEX appointments_patient_idx ON appointments (patient_id, start_time);
CREATE INDEX appointments_start_idx ON appointments (start_time, id);
CREATE INDEX appointments_upcoming_idx ON appointments (start_time, id)
	WHERE status IN ('scheduled', 'checked_in');

CREATE TABLE resources (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	resource_type text NOT NULL
		CHECK (resource_type IN ('operating_room', 'lab_slot', 'bed', 'equipment', 'other')),
	location text NOT NULL DEFAULT '' CHECK (length(location) <= 200),
	is_active boolean NOT NULL DEFAULT true,
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resources_name_idx ON resources (name, id);

CREATE TABLE resource_bookings (
	id bigserial PRIMARY KEY,
	resource_id bigint NOT NULL REFERENCES resources (id),
	patient_id bigint REFERENCES patients (id),
	start_time timestamptz NOT NULL,
	end_time timestamptz NOT NULL,
	purpose text NOT NULL DEFAULT '' CHECK (length(purpose) <= 500),
	status text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
	booked_by bigint NOT NULL REFERENCES users (id),
	cancelled_at timestamptz,
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT resource_bookings_end_after_start CHECK (end_time > start_time),
	CONSTRAINT resource_bookings_overlap EXCLUDE USING gist
		(resource_id WITH =, tstzrange(start_time, end_time) WITH &&)
		WHERE (status = 'booked')
);
CREATE INDEX resource_bookings_resource_idx ON resource_bookings (resource_id, start_time, id);
