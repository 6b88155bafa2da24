-- 009_patient_name_words.sql - a one-word patient search that reads its
-- page from an index already in the page's order (docs/performance.md,
-- "Lists at 1,000,000 patients").
--
-- One row per word of each live patient's names: the words search_vector
-- holds (unaccented, lowercased, split as to_tsvector('simple') splits
-- them), with the patient's sort keys. A B-tree per ordering on (word, sort
-- keys, id) gives, for each word a prefix matches, that word's patients
-- already in order: a search reads the first page's worth of each matching
-- word instead of every matching patient. The words are in the "C"
-- collation, so a prefix is a range of the index (^@).
--
-- Statement-level triggers with transition tables keep it, as
-- patient_counts (005): a COPY of a million patients is one INSERT here. A
-- name change, a soft delete or a restore moves the patient's words in the
-- same transaction as the change.

-- The one word of the index a search word stands for: its only lexeme, or
-- NULL when it has none or several ("o'brien", "mary-jane"), which the
-- index cannot answer with one range. A list statement names it several
-- times and the planner folds each to a constant (so ^@ becomes an index
-- range); PL/pgSQL, unlike an SQL function it cannot inline, keeps its plan
-- for the session instead of planning its body at every one of them.
CREATE FUNCTION hms_name_word(text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT AS $$
DECLARE
	words text[] := tsvector_to_array(to_tsvector('simple', hms_unaccent($1)));
BEGIN
	RETURN CASE WHEN cardinality(words) = 1 THEN words[1] END;
END $$;

CREATE TABLE patient_name_words (
	word text COLLATE "C" NOT NULL,
	id bigint NOT NULL,
	last_name text NOT NULL,
	first_name text NOT NULL,
	date_of_birth date NOT NULL,
	created_at timestamptz NOT NULL
);

-- The patients already there, before the indexes (one sort each, not a
-- million insertions).
INSERT INTO patient_name_words
SELECT word, id, last_name, first_name, date_of_birth, created_at
FROM patients, unnest(tsvector_to_array(search_vector)) AS word
WHERE NOT is_deleted;

-- (id, word): a patient's rows, for the triggers and the count.
ALTER TABLE patient_name_words ADD PRIMARY KEY (id, word);
-- One per ordering patients' list declares (src/api/patients.c); the
-- default order is last_name, first_name. A descending ordering reads one
-- backward.
CREATE INDEX patient_name_words_name_idx ON patient_name_words (word, last_name, first_name, id);
CREATE INDEX patient_name_words_first_idx ON patient_name_words (word, first_name, id);
CREATE INDEX patient_name_words_dob_idx ON patient_name_words (word, date_of_birth, id);
CREATE INDEX patient_name_words_created_idx ON patient_name_words (word, created_at, id);

CREATE FUNCTION patient_name_words_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO patient_name_words
	SELECT word, id, last_name, first_name, date_of_birth, created_at
	FROM new_rows, unnest(tsvector_to_array(search_vector)) AS word
	WHERE NOT is_deleted;
	RETURN NULL;
END $$;

-- Only rows whose words or sort keys changed, or that were deleted or
-- restored: an update of a phone number leaves the table alone.
CREATE FUNCTION patient_name_words_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM patient_name_words AS w
	USING new_rows AS n JOIN old_rows AS o ON o.id = n.id
	WHERE w.id = n.id
		AND (o.is_deleted, o.last_name, o.first_name, o.date_of_birth, o.created_at)
		IS DISTINCT FROM (n.is_deleted, n.last_name, n.first_name, n.date_of_birth, n.created_at);
	INSERT INTO patient_name_words
	SELECT word, n.id, n.last_name, n.first_name, n.date_of_birth, n.created_at
	FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id,
		unnest(tsvector_to_array(n.search_vector)) AS word
	WHERE NOT n.is_deleted
		AND (o.is_deleted, o.last_name, o.first_name, o.date_of_birth, o.created_at)
		IS DISTINCT FROM (n.is_deleted, n.last_name, n.first_name, n.date_of_birth, n.created_at);
	RETURN NULL;
END $$;

CREATE FUNCTION patient_name_words_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM patient_name_words WHERE id IN (SELECT id FROM old_rows);
	RETURN NULL;
END $$;

CREATE TRIGGER patient_name_words_insert AFTER INSERT ON patients
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION patient_name_words_after_insert();
CREATE TRIGGER patient_name_words_update AFTER UPDATE ON patients
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION patient_name_words_after_update();
CREATE TRIGGER patient_name_words_delete AFTER DELETE ON patients
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
	EXECUTE FUNCTION patient_name_words_after_delete();

ANALYZE patient_name_words;
