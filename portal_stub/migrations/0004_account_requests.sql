-- Account actions are signed request documents (portal_stub/account_requests.py): the portal
-- keeps the unsigned request it issued with the challenge, and the signed request with the
-- account's history (with its SHA-256 and the sentence the unit was shown).
ALTER TABLE challenges ADD COLUMN request_xml BLOB;

ALTER TABLE account_events ADD COLUMN signed_request BLOB;
ALTER TABLE account_events ADD COLUMN request_sha256 TEXT;
ALTER TABLE account_events ADD COLUMN summary TEXT;
