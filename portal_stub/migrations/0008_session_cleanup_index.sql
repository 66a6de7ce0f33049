-- Every page visit without a cookie creates a session, and each creation forgets the stale
-- ones (DELETE ... WHERE last_seen < ?). Without an index that delete scanned the whole table:
-- 300 000 rows from cookieless visits made every page 35 ms slower, on the event loop.
CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions (last_seen);
