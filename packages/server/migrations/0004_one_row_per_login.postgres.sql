-- mina-auth schema, version 4 (PostgreSQL): one row per login. Mirrors 0004_one_row_per_login.sqlite.sql.
--
-- The grant row holds the digests of its current access token and refresh token: an exchange
-- inserts that row and updates the code it consumes, a refresh rotation updates that row in
-- place. A family remembers every refresh token it has spent (in spent_refresh_tokens, one
-- insert per rotation), because ANY rotated token presented again must revoke it (RFC 9700).
-- An access token now also ends when a refresh replaces it (the platform's rule). Access
-- tokens issued before this migration and already replaced stay in access_tokens until they
-- expire; nothing writes there any more.
--
-- No foreign keys on the new table, for the reasons of migration 0002: its rows are written
-- in the same transaction as the grant row they name.
--
-- Run with every instance stopped or upgraded together: an instance of an earlier version
-- still writes refresh_tokens, which this migration drops (docs/deployment.md).
SET LOCAL lock_timeout = '5s';

ALTER TABLE grants
  ADD COLUMN access_hash text,
  ADD COLUMN access_expires_at bigint,
  ADD COLUMN refresh_hash text;

UPDATE grants g SET
  (access_hash, access_expires_at) = (
    SELECT t.token_hash, t.expires_at FROM access_tokens t
     WHERE t.grant_id = g.grant_id ORDER BY t.expires_at DESC, t.token_hash LIMIT 1),
  refresh_hash = (
    SELECT r.token_hash FROM refresh_tokens r WHERE r.grant_id = g.grant_id AND r.used_at IS NULL LIMIT 1);
DELETE FROM access_tokens t USING grants g WHERE g.access_hash = t.token_hash;

CREATE UNIQUE INDEX grants_access ON grants (access_hash) WHERE access_hash IS NOT NULL;
CREATE UNIQUE INDEX grants_refresh ON grants (refresh_hash);
CREATE INDEX grants_access_expiry ON grants (access_expires_at) WHERE access_hash IS NOT NULL;

CREATE TABLE spent_refresh_tokens (
  token_hash text PRIMARY KEY,
  grant_id   text COLLATE "C" NOT NULL,
  spent_at   bigint NOT NULL
);
CREATE INDEX spent_refresh_tokens_grant ON spent_refresh_tokens (grant_id);
INSERT INTO spent_refresh_tokens (token_hash, grant_id, spent_at)
  SELECT token_hash, grant_id, used_at FROM refresh_tokens WHERE used_at IS NOT NULL;
DROP TABLE refresh_tokens;
