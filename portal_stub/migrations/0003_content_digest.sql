-- Duplicates are found on what the signature covers, not on the file's bytes: the SHA-256 of
-- the canonical signed content (checks.py / signed_content.py). Older rows keep NULL (SQLite
-- lets NULLs repeat under a UNIQUE index); their sha256 and dossier_number stay unique.
ALTER TABLE dossiers ADD COLUMN content_digest TEXT;

CREATE UNIQUE INDEX dossiers_content_digest ON dossiers(account_id, content_digest);
