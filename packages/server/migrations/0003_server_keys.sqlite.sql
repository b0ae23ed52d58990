-- Keys the server makes for itself and keeps across restarts (the admin token's digest, the
-- key session keys are derived from). Versions are kept: what was derived from an older
-- version must stay checkable after a rotation.
CREATE TABLE server_keys (
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK (version >= 1),
  value      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
) STRICT, WITHOUT ROWID;
