-- Core tables of the portal stub. Times are ISO 8601 UTC strings.
CREATE TABLE offices (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    province TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL
);

CREATE TABLE dossier_types (
    procedure TEXT PRIMARY KEY,        -- mã thủ tục, e.g. 600
    name TEXT NOT NULL,
    forms TEXT NOT NULL,               -- comma-separated form codes (D02-TS,TK1-TS,D01-TS)
    description TEXT NOT NULL
);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    mst TEXT NOT NULL UNIQUE,
    unit_name TEXT NOT NULL,
    unit_code TEXT NOT NULL,           -- mã đơn vị BHXH (MaSoBHXH of the unit)
    office_code TEXT NOT NULL REFERENCES offices(code),
    address TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    cert_thumbprint TEXT NOT NULL,
    cert_der BLOB NOT NULL,
    cert_subject TEXT NOT NULL,
    cert_not_after TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    cancel_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Dossier types a unit files online; a stopped type keeps its row (history).
CREATE TABLE account_types (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    procedure TEXT NOT NULL REFERENCES dossier_types(procedure),
    status TEXT NOT NULL CHECK (status IN ('registered', 'stopped')),
    changed_at TEXT NOT NULL,
    PRIMARY KEY (account_id, procedure)
);

-- What each signed account change did, with the certificate that signed it.
CREATE TABLE account_events (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    action TEXT NOT NULL,
    detail TEXT NOT NULL,              -- JSON of the bound fields
    cert_thumbprint TEXT NOT NULL,
    at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,       -- SHA-256 of the cookie / bearer value
    kind TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
    account_id INTEGER REFERENCES accounts(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);

CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    fields_hash TEXT NOT NULL,
    account_id INTEGER,
    session_hash TEXT,                 -- the page session that asked (pages may omit the nonce)
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE drafts (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    procedure TEXT NOT NULL,
    period TEXT NOT NULL,              -- kỳ kê khai MM/YYYY
    dossier_number TEXT UNIQUE,        -- số hồ sơ, taken with "Lấy số hồ sơ"
    contact_name TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    rows_json TEXT NOT NULL,           -- D02-TS employee rows
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A file that went through "Kiểm tra hồ sơ" and passed; "Nộp hồ sơ" refers to it.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,               -- random handle
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    summary_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE dossiers (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    receipt TEXT NOT NULL UNIQUE,      -- số biên nhận
    dossier_number TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    procedure TEXT NOT NULL,
    procedure_name TEXT NOT NULL,
    period TEXT NOT NULL,
    employees INTEGER NOT NULL,
    signer_subject TEXT NOT NULL,
    signer_thumbprint TEXT NOT NULL,
    signing_time TEXT,
    content BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('received', 'processing', 'accepted', 'rejected')),
    status_reason TEXT,
    review TEXT,                       -- the simulated office's finding (NULL: will accept)
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (account_id, dossier_number),
    UNIQUE (account_id, sha256)
);

CREATE TABLE dossier_history (
    id INTEGER PRIMARY KEY,
    dossier_id INTEGER NOT NULL REFERENCES dossiers(id),
    status TEXT NOT NULL,
    note TEXT,
    at TEXT NOT NULL
);

CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    dossier_id INTEGER REFERENCES dossiers(id),
    period TEXT NOT NULL,              -- MM/YYYY of the notice
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);

-- The demo mailbox: what the embedded SMTP sink received.
CREATE TABLE mail (
    id INTEGER PRIMARY KEY,
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE INDEX dossiers_by_account ON dossiers(account_id, submitted_at);
CREATE INDEX notices_by_account ON notices(account_id, period);
