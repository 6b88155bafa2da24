-- 010_audit_brin_autosummarize.sql - keep the audit trail's BRIN indexes
-- summarized as the table grows.
--
-- The sealer finds the rows of the transactions it seals through
-- audit_log_txid_brin every few hundred milliseconds. A BRIN index scan
-- reads every block range that has not been summarized yet, and without
-- autosummarize only VACUUM summarizes - on an insert-only table that can
-- be millions of rows late, so each pass would read the whole unsummarized
-- tail. With autosummarize, autovacuum summarizes a range as soon as the
-- next one starts filling, and a pass reads only the last range or two.
ALTER INDEX audit_log_txid_brin SET (autosummarize = on);
ALTER INDEX audit_log_at_brin SET (autosummarize = on);
