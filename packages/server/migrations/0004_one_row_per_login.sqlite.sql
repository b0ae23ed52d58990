-- mina-auth schema, version 4 (SQLite): one row per login.
--
-- The grant row now holds the digests of its current access token and refresh token, so an
-- exchange writes two rows (the code it consumes and this one) and a refresh rotation updates
-- this row in place. What a family must remember beyond its current tokens is every refresh
-- token it has spent: the README promises that ANY rotated refresh token presented again
-- revokes the family (RFC 9700 §4.14.2), for as long as the family is kept, so the spent
-- digests go to their own table, one insert per rotation, never read on a login.
--
-- An access token ends when its grant is revoked or its family ends, when it expires, or when
-- a refresh replaces it (the platform's rule: refreshing invalidates the old access token).
-- Access tokens issued before this migration and already replaced by a refresh stay in
-- access_tokens until they expire, so nothing that worked before the upgrade stops working;
-- nothing writes to that table any more, and the purge empties it within 6,900 s.

ALTER TABLE grants ADD COLUMN access_hash TEXT;
ALTER TABLE grants ADD COLUMN access_expires_at INTEGER;
ALTER TABLE grants ADD COLUMN refresh_hash TEXT;

-- The current access token of a grant is its newest one (the last issued expires last).
UPDATE grants SET (access_hash, access_expires_at) = (
  SELECT t.token_hash, t.expires_at FROM access_tokens t
   WHERE t.grant_id = grants.grant_id ORDER BY t.expires_at DESC, t.token_hash LIMIT 1);
-- A family has exactly one unspent refresh token.
UPDATE grants SET refresh_hash = (
  SELECT r.token_hash FROM refresh_tokens r WHERE r.grant_id = grants.grant_id AND r.used_at IS NULL);
DELETE FROM access_tokens WHERE token_hash IN (SELECT access_hash FROM grants WHERE access_hash IS NOT NULL);

-- Looked up by the presented digest; a purged (expired) access digest leaves the index.
CREATE UNIQUE INDEX grants_access ON grants (access_hash) WHERE access_hash IS NOT NULL;
CREATE UNIQUE INDEX grants_refresh ON grants (refresh_hash);
-- The purge clears expired access digests oldest first.
CREATE INDEX grants_access_expiry ON grants (access_expires_at) WHERE access_hash IS NOT NULL;

CREATE TABLE spent_refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  grant_id   TEXT NOT NULL REFERENCES grants (grant_id),
  spent_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX spent_refresh_tokens_grant ON spent_refresh_tokens (grant_id);
INSERT INTO spent_refresh_tokens (token_hash, grant_id, spent_at)
  SELECT token_hash, grant_id, used_at FROM refresh_tokens WHERE used_at IS NOT NULL;
DROP TABLE refresh_tokens;
