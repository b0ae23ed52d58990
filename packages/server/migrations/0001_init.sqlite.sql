-- mina-auth schema, version 1 (SQLite).
-- Secrets are never stored raw: every *_hash column holds a SHA-256 hex digest.
-- Times are Unix milliseconds (INTEGER), always supplied by the caller's clock.

CREATE TABLE tenants (
  tenant_key TEXT PRIMARY KEY,
  name       TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  tenant_key TEXT NOT NULL REFERENCES tenants (tenant_key),
  user_id    TEXT NOT NULL,
  union_id   TEXT NOT NULL,
  name       TEXT NOT NULL,
  en_name    TEXT NOT NULL,
  email      TEXT,
  mobile     TEXT,
  avatar_url TEXT NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
  PRIMARY KEY (tenant_key, user_id)
) STRICT;

-- Relational, so that the visibility decision is one SQL expression.
CREATE TABLE user_departments (
  tenant_key    TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  department_id TEXT NOT NULL,
  position      INTEGER NOT NULL,
  PRIMARY KEY (tenant_key, user_id, department_id),
  FOREIGN KEY (tenant_key, user_id) REFERENCES users (tenant_key, user_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE apps (
  app_id      TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('self_built', 'store')),
  -- JSON array of strings; read with the grant identity.
  scopes      TEXT NOT NULL,
  secret_hash TEXT NOT NULL
) STRICT;

CREATE TABLE installations (
  app_id         TEXT NOT NULL REFERENCES apps (app_id),
  tenant_key     TEXT NOT NULL REFERENCES tenants (tenant_key),
  -- 1: every member of the tenant; 0: only what app_visibility lists.
  visibility_all INTEGER NOT NULL CHECK (visibility_all IN (0, 1)),
  PRIMARY KEY (app_id, tenant_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE app_visibility (
  app_id     TEXT NOT NULL,
  tenant_key TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('user', 'department')),
  subject_id TEXT NOT NULL,
  position   INTEGER NOT NULL,
  PRIMARY KEY (app_id, tenant_key, kind, subject_id),
  FOREIGN KEY (app_id, tenant_key) REFERENCES installations (app_id, tenant_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE open_ids (
  app_id     TEXT NOT NULL REFERENCES apps (app_id),
  tenant_key TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  open_id    TEXT NOT NULL UNIQUE,
  PRIMARY KEY (app_id, tenant_key, user_id),
  FOREIGN KEY (tenant_key, user_id) REFERENCES users (tenant_key, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE app_tokens (
  token_hash TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('app', 'tenant')),
  app_id     TEXT NOT NULL REFERENCES apps (app_id),
  tenant_key TEXT,
  salt       TEXT NOT NULL,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX app_tokens_latest ON app_tokens (app_id, kind, tenant_key, expires_at);
CREATE INDEX app_tokens_expiry ON app_tokens (expires_at);

-- A consumed code stays (flagged, with the grant of its first redemption) until it expires,
-- so that every later replay is recognised as a reuse.
CREATE TABLE login_codes (
  code_hash   TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES apps (app_id),
  tenant_key  TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  consumed_at INTEGER,
  grant_id    TEXT,
  FOREIGN KEY (tenant_key, user_id) REFERENCES users (tenant_key, user_id)
) STRICT;
CREATE INDEX login_codes_expiry ON login_codes (expires_at);

-- A grant is one login: its session, and the family of tokens it issues. expires_at is the
-- family's absolute end (set at exchange, never extended).
CREATE TABLE grants (
  grant_id         TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL REFERENCES apps (app_id),
  tenant_key       TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  session_key_hash TEXT NOT NULL,
  code_hash        TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  revoked_at       INTEGER,
  revoke_reason    TEXT
) STRICT;
CREATE INDEX grants_app ON grants (app_id, created_at);
CREATE INDEX grants_user ON grants (tenant_key, user_id, created_at);
CREATE INDEX grants_ended ON grants (expires_at);

CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY,
  grant_id   TEXT NOT NULL REFERENCES grants (grant_id),
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  grant_id   TEXT NOT NULL REFERENCES grants (grant_id),
  used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE audit_events (
  id         INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,
  type       TEXT NOT NULL,
  app_id     TEXT,
  tenant_key TEXT,
  user_id    TEXT,
  grant_id   TEXT
) STRICT;

-- Fixed-window counters shared by every instance.
CREATE TABLE rate_limits (
  key          TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  window_end   INTEGER NOT NULL,
  count        INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;
CREATE INDEX rate_limits_end ON rate_limits (window_end);
