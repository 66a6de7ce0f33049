-- The device the unit's certificate was on when it registered (or changed certificate), as the
-- unit's page learned it from Kyso's certificate listing: JSON {"kind": "token", "label",
-- "serial"} or {"kind": "remote", "provider"}. Display only; NULL when Kyso did not say.
ALTER TABLE accounts ADD COLUMN cert_device TEXT;
