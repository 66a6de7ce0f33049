-- "Ký và nộp" signs the version of the draft the page showed, not whatever is saved when the
-- export is fetched: each "Ghi" (and "Lấy số hồ sơ") counts the draft's revision up, the page
-- carries the revision it was drawn from, and the export and the check refuse any other (E422).
-- A checked upload remembers the draft revision it was signed from, so that "Nộp hồ sơ" can
-- refuse it once the draft has been saved again.
ALTER TABLE drafts ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE uploads ADD COLUMN draft_id INTEGER;
ALTER TABLE uploads ADD COLUMN draft_revision INTEGER;
