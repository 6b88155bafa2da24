-- 012_billing.sql - invoices, their per-year numbers, and payments.
--
-- What PostgreSQL enforces here, so that no write path can get it wrong
-- (docs/design_decisions.md, "Billing"):
-- - money is numeric(12,2), never floating point; a trigger computes every
--   line's amount, the subtotal, the tax and the total from the stored
--   items in exact numeric arithmetic (line = round(quantity x unit_price,
--   2); tax = round(subtotal x tax_rate / 100, 2), half away from zero, on
--   the whole invoice; total = subtotal + tax), and CHECKs hold the result
--   to it;
-- - bounds that cannot overflow: at most 100 lines, quantities 0.01 to
--   1,000.00, unit prices 0.01 to 1,000,000.00, a subtotal of at most
--   1,000,000,000.00, a tax rate of 0 to 100 %, so a total is at most
--   2,000,000,000.00 and fits numeric(12,2) (10 digits before the point);
-- - numbers INV-<year>-<nnnnnn> are unique and gap-free per year: the
--   number is taken from a per-year counter row updated in the inserting
--   transaction, so concurrent creators of one year queue on that row and
--   a failed or rolled-back insert gives its number back;
-- - only a draft's contents change; the status moves only draft -> issued
--   -> paid, draft -> void, issued (nothing paid) -> void;
-- - an invoice's appointment belongs to its patient (a composite foreign
--   key, as medical records have);
-- - a payment is taken only on an issued invoice (a draft or void one:
--   409) and never beyond what is due (a paid one has 0.00 due: 400): a BEFORE INSERT trigger locks the invoice row, checks, and adds the
--   amount (the invoice becomes paid when it is covered) in the payment's
--   own statement, so concurrent payments queue on the row and each sees
--   the amount the previous ones left;
-- - payments are never changed or deleted, invoices never deleted, the
--   counters never reset (grants and triggers).

-- The last number given out per calendar year (of the hospital's time
-- zone, the sessions' TimeZone).
CREATE TABLE invoice_numbers (
	year integer PRIMARY KEY CONSTRAINT invoice_numbers_year_check CHECK (year BETWEEN 2000 AND 9999),
	last integer NOT NULL CONSTRAINT invoice_numbers_last_check CHECK (last >= 1)
);

-- The next number of the current year. The upsert locks the year's row
-- until the inserting transaction ends: a second creator waits for it and
-- then reads the committed value (or the old one, after a rollback), so
-- numbers are consecutive. Creators of different years do not meet.
CREATE FUNCTION hms_next_invoice_number() RETURNS text
LANGUAGE sql VOLATILE AS $$
	INSERT INTO invoice_numbers AS c (year, last)
	VALUES (extract(year FROM current_date)::integer, 1)
	ON CONFLICT (year) DO UPDATE SET last = c.last + 1
	RETURNING 'INV-' || c.year || '-' || lpad(c.last::text, greatest(6, length(c.last::text)), '0')
$$;

-- Whether items is a valid list of invoice lines: 1 to 100 objects with a
-- description of 1 to 500 characters, a quantity of 0.01 to 1,000.00 and a
-- unit price of 0.01 to 1,000,000.00, both with at most two places. The
-- CASEs keep the casts from ever seeing text that is not a number.
CREATE FUNCTION hms_invoice_items_valid(items jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN items IS NULL OR jsonb_typeof(items) <> 'array' THEN false
	            WHEN jsonb_array_length(items) NOT BETWEEN 1 AND 100 THEN false
	            ELSE NOT EXISTS (
	                SELECT 1 FROM jsonb_array_elements(items) AS e
	                WHERE NOT CASE
	                    WHEN jsonb_typeof(e) <> 'object' THEN false
	                    WHEN NOT (e ? 'description' AND e ? 'quantity' AND e ? 'unit_price')
	                         THEN false
	                    WHEN jsonb_typeof(e -> 'description') IS DISTINCT FROM 'string'
	                         OR length(e ->> 'description') NOT BETWEEN 1 AND 500 THEN false
	                    WHEN jsonb_typeof(e -> 'quantity') NOT IN ('string', 'number')
	                         OR jsonb_typeof(e -> 'unit_price') NOT IN ('string', 'number')
	                         OR (e ->> 'quantity') !~ '^[0-9]{1,4}(\.[0-9]{1,2})?$'
	                         OR (e ->> 'unit_price') !~ '^[0-9]{1,7}(\.[0-9]{1,2})?$' THEN false
	                    ELSE (e ->> 'quantity')::numeric BETWEEN 0.01 AND 1000
	                         AND (e ->> 'unit_price')::numeric BETWEEN 0.01 AND 1000000
	                    END)
	       END
$$;

CREATE TABLE invoices (
	id bigserial PRIMARY KEY,
	number text NOT NULL DEFAULT hms_next_invoice_number()
		CONSTRAINT invoices_number_key UNIQUE,
	patient_id bigint NOT NULL
		CONSTRAINT invoices_patient_fkey REFERENCES patients (id),
	appointment_id bigint,
	-- [{"description", "quantity", "unit_price", "amount"}], amounts as
	-- two-place decimal strings, as the trigger below writes them.
	items jsonb NOT NULL,
	subtotal numeric(12, 2) NOT NULL DEFAULT 0,
	tax_rate numeric(5, 2) NOT NULL DEFAULT 0,
	tax numeric(12, 2) NOT NULL DEFAULT 0,
	total numeric(12, 2) NOT NULL DEFAULT 0,
	amount_paid numeric(12, 2) NOT NULL DEFAULT 0,
	status text NOT NULL DEFAULT 'draft',
	issued_at timestamptz,
	-- The hospital's day of issue (the session's time zone), which the due
	-- date may not precede.
	issue_date date,
	voided_at timestamptz,
	due_date date,
	created_by bigint NOT NULL
		CONSTRAINT invoices_created_by_fkey REFERENCES users (id),
	version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	-- MATCH SIMPLE: an invoice without an appointment is not checked.
	CONSTRAINT invoices_appointment_same_patient
		FOREIGN KEY (appointment_id, patient_id) REFERENCES appointments (id, patient_id),
	CONSTRAINT invoices_number_check CHECK (number ~ '^INV-[0-9]{4}-[0-9]{6,}$'),
	CONSTRAINT invoices_items_check CHECK (hms_invoice_items_valid(items)),
	CONSTRAINT invoices_status_check CHECK (status IN ('draft', 'issued', 'paid', 'void')),
	CONSTRAINT invoices_tax_rate_check CHECK (tax_rate BETWEEN 0 AND 100),
	CONSTRAINT invoices_subtotal_check CHECK (subtotal BETWEEN 0 AND 1000000000),
	CONSTRAINT invoices_tax_check CHECK (tax = round(subtotal * tax_rate * 0.01, 2)),
	CONSTRAINT invoices_total_check CHECK (total = subtotal + tax),
	CONSTRAINT invoices_amount_paid_check CHECK (amount_paid BETWEEN 0 AND total),
	CONSTRAINT invoices_state_check CHECK (CASE status
		WHEN 'draft' THEN issued_at IS NULL AND voided_at IS NULL AND amount_paid = 0
		WHEN 'issued' THEN issued_at IS NOT NULL AND voided_at IS NULL AND amount_paid < total
		WHEN 'paid' THEN issued_at IS NOT NULL AND voided_at IS NULL AND amount_paid = total
		WHEN 'void' THEN voided_at IS NOT NULL AND amount_paid = 0
		END),
	CONSTRAINT invoices_issue_date_check CHECK ((issued_at IS NULL) = (issue_date IS NULL)),
	CONSTRAINT invoices_due_date_check CHECK (due_date >= issue_date),
	CONSTRAINT invoices_version_check CHECK (version >= 1)
);
-- Lists: newest first, whole or by patient or status; by issue time.
CREATE INDEX invoices_created_idx ON invoices (created_at DESC, id DESC);
CREATE INDEX invoices_patient_idx ON invoices (patient_id, created_at DESC, id DESC);
CREATE INDEX invoices_status_idx ON invoices (status, created_at DESC, id DESC);
CREATE INDEX invoices_issued_idx ON invoices (issued_at) WHERE issued_at IS NOT NULL;
CREATE INDEX invoices_appointment_idx ON invoices (appointment_id)
	WHERE appointment_id IS NOT NULL;
CREATE INDEX invoices_created_by_idx ON invoices (created_by);

-- Every write of an invoice: what may change, and the totals computed from
-- the items.
CREATE FUNCTION invoices_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_subtotal numeric;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		IF NEW.id IS DISTINCT FROM OLD.id OR NEW.number IS DISTINCT FROM OLD.number
		   OR NEW.created_at IS DISTINCT FROM OLD.created_at
		   OR NEW.created_by IS DISTINCT FROM OLD.created_by THEN
			RAISE EXCEPTION 'an invoice keeps its id, number, creator and creation time'
				USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_immutable';
		END IF;
		IF OLD.status <> 'draft'
		   AND (NEW.patient_id, NEW.appointment_id, NEW.items, NEW.tax_rate, NEW.due_date)
		       IS DISTINCT FROM
		       (OLD.patient_id, OLD.appointment_id, OLD.items, OLD.tax_rate, OLD.due_date) THEN
			RAISE EXCEPTION 'only a draft invoice can be edited'
				USING ERRCODE = 'check_violation',
				      CONSTRAINT = 'invoices_only_drafts_change';
		END IF;
		IF NEW.status <> OLD.status AND NOT (
		       (OLD.status = 'draft' AND NEW.status IN ('issued', 'paid', 'void'))
		       OR (OLD.status = 'issued' AND NEW.status IN ('paid', 'void'))) THEN
			RAISE EXCEPTION 'an invoice cannot go from % to %', OLD.status, NEW.status
				USING ERRCODE = 'check_violation',
				      CONSTRAINT = 'invoices_status_transition';
		END IF;
		IF NEW.amount_paid < OLD.amount_paid THEN
			RAISE EXCEPTION 'the amount paid on an invoice never decreases'
				USING ERRCODE = 'check_violation',
				      CONSTRAINT = 'invoices_amount_paid_grows';
		END IF;
	ELSIF NEW.status <> 'draft' OR NEW.amount_paid <> 0 OR NEW.issued_at IS NOT NULL THEN
		RAISE EXCEPTION 'a new invoice is an unpaid draft'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_new_is_draft';
	END IF;
	IF NOT hms_invoice_items_valid(NEW.items) THEN
		RAISE EXCEPTION 'invalid invoice items'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_items_check';
	END IF;
	-- Each line rounded to cents (half away from zero: round(numeric)),
	-- the lines summed; quantities and prices have two places at most, so
	-- the casts never round.
	SELECT jsonb_agg(jsonb_build_object('description', t.e ->> 'description',
	                                    'quantity', v.q::text, 'unit_price', v.p::text,
	                                    'amount', round(v.q * v.p, 2)::text) ORDER BY t.n),
	       sum(round(v.q * v.p, 2))
	  INTO NEW.items, v_subtotal
	  FROM jsonb_array_elements(NEW.items) WITH ORDINALITY AS t (e, n),
	       LATERAL (SELECT (t.e ->> 'quantity')::numeric(8, 2) AS q,
	                       (t.e ->> 'unit_price')::numeric(10, 2) AS p) AS v;
	IF v_subtotal > 1000000000 THEN
		RAISE EXCEPTION 'an invoice subtotal may not exceed 1,000,000,000.00'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_subtotal_check';
	END IF;
	NEW.subtotal := v_subtotal;
	-- Multiplying by 0.01 (not dividing by 100) keeps the product exact.
	NEW.tax := round(v_subtotal * NEW.tax_rate * 0.01, 2);
	NEW.total := NEW.subtotal + NEW.tax;
	RETURN NEW;
END $$;

CREATE TRIGGER invoices_before_write BEFORE INSERT OR UPDATE ON invoices
	FOR EACH ROW EXECUTE FUNCTION invoices_before_write();

-- Money received against an invoice. Written once, never changed.
CREATE TABLE payments (
	id bigserial PRIMARY KEY,
	invoice_id bigint NOT NULL
		CONSTRAINT payments_invoice_fkey REFERENCES invoices (id),
	amount numeric(12, 2) NOT NULL CONSTRAINT payments_amount_check CHECK (amount > 0),
	method text NOT NULL CONSTRAINT payments_method_check
		CHECK (method IN ('cash', 'card', 'insurance', 'transfer')),
	reference text NOT NULL DEFAULT ''
		CONSTRAINT payments_reference_check CHECK (length(reference) <= 100),
	created_by bigint NOT NULL
		CONSTRAINT payments_created_by_fkey REFERENCES users (id),
	created_at timestamptz NOT NULL DEFAULT now()
);
-- An invoice's payments, oldest first.
CREATE INDEX payments_invoice_idx ON payments (invoice_id, created_at, id);
CREATE INDEX payments_created_by_idx ON payments (created_by);

-- A payment applies itself to its invoice in its own statement: the row
-- lock on the invoice orders concurrent payments, and each one checks the
-- amount the committed ones left. The invoice is paid once covered.
CREATE FUNCTION payments_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	inv record;
BEGIN
	IF NEW.amount IS NULL OR NEW.amount <= 0 THEN
		RETURN NEW; -- payments_amount_check refuses it
	END IF;
	SELECT status, total, amount_paid INTO inv
	  FROM invoices WHERE id = NEW.invoice_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN NEW; -- payments_invoice_fkey refuses it
	END IF;
	-- A paid invoice has nothing due: another payment is an overpayment
	-- (400), as it is for the losers of a race that paid it.
	IF inv.status NOT IN ('issued', 'paid') THEN
		RAISE EXCEPTION 'payments are taken only on an issued invoice'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_invoice_issued';
	END IF;
	IF inv.amount_paid + NEW.amount > inv.total THEN
		RAISE EXCEPTION 'a payment may not exceed the amount due'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_within_amount_due';
	END IF;
	UPDATE invoices
	   SET amount_paid = amount_paid + NEW.amount,
	       status = CASE WHEN amount_paid + NEW.amount = total THEN 'paid' ELSE status END,
	       version = version + 1, updated_at = now()
	 WHERE id = NEW.invoice_id;
	RETURN NEW;
END $$;

CREATE TRIGGER payments_apply BEFORE INSERT ON payments
	FOR EACH ROW EXECUTE FUNCTION payments_apply();

CREATE FUNCTION billing_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% rows are never changed or deleted', TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER payments_no_change BEFORE UPDATE OR DELETE ON payments
	FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER payments_no_truncate BEFORE TRUNCATE ON payments
	FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
	FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER invoices_no_truncate BEFORE TRUNCATE ON invoices
	FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER invoice_numbers_no_delete BEFORE DELETE ON invoice_numbers
	FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER invoice_numbers_no_truncate BEFORE TRUNCATE ON invoice_numbers
	FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change();

-- A year's counter only moves on by one (a reset would reuse numbers).
CREATE FUNCTION invoice_numbers_advance() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.year IS DISTINCT FROM OLD.year OR NEW.last IS DISTINCT FROM OLD.last + 1 THEN
		RAISE EXCEPTION 'an invoice number counter only advances by one'
			USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_numbers_advance';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER invoice_numbers_advance BEFORE UPDATE ON invoice_numbers
	FOR EACH ROW EXECUTE FUNCTION invoice_numbers_advance();

-- The default privileges (002) gave hms_app every DML right; take back
-- what these tables must never see from the application.
REVOKE DELETE, TRUNCATE ON invoices FROM hms_app;
REVOKE UPDATE, DELETE, TRUNCATE ON payments FROM hms_app;
REVOKE DELETE, TRUNCATE ON invoice_numbers FROM hms_app;
