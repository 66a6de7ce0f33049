-- PDF attachments (scanned papers) filed with a dossier, each signed by the unit (PAdES).
-- A checked upload keeps its attachments until "Nộp hồ sơ" or until it expires (the cascade
-- removes them with it); a submitted dossier keeps them with what the check found, written
-- in the same transaction as the dossier: a receipt never lists a file that was not stored.
CREATE TABLE upload_attachments (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (upload_id, position)
);

CREATE TABLE dossier_attachments (
    id INTEGER PRIMARY KEY,
    dossier_id INTEGER NOT NULL REFERENCES dossiers(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,                -- cleaned file name (shown, never used as a path)
    sha256 TEXT NOT NULL,              -- of the signed file as received
    size INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    title TEXT NOT NULL,
    signer TEXT NOT NULL,              -- holder of the newest signature
    signer_mst TEXT,
    signing_time TEXT,                 -- ISO 8601 UTC (timestamp, else the signer's claim)
    level TEXT NOT NULL,
    signatures INTEGER NOT NULL,
    content BLOB NOT NULL,
    UNIQUE (dossier_id, position)
);

CREATE INDEX dossier_attachments_dossier ON dossier_attachments(dossier_id);
