-- mina-auth schema, version 1 (PostgreSQL). Mirrors 0001_init.sqlite.sql.
--
-- Every instant is a bigint of Unix milliseconds handed in by the application's single clock:
-- the database clock never decides validity. Secrets appear only as SHA-256 hex digests.
-- Identifier columns use the "C" collation so that listings sort byte-wise, as on SQLite.

CREATE TABLE tenants (
  tenant_key text COLLATE "C" PRIMARY KEY,
  name       text NOT NULL
);

CREATE TABLE users (
  tenant_key     text COLLATE "C" NOT NULL REFERENCES tenants (tenant_key),
  user_id        text COLLATE "C" NOT NULL,
  union_id       text NOT NULL,
  name           text NOT NULL,
  en_name        text NOT NULL,
  email          text,
  mobile         text,
  avatar_url     text NOT NULL,
  status         text NOT NULL CHECK (status IN ('active', 'deactivated')),
  -- In the caller's order; the visibility check is one array-overlap expression.
  department_ids text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_key, user_id)
);

CREATE TABLE apps (
  app_id      text COLLATE "C" PRIMARY KEY,
  name        text NOT NULL,
  type        text NOT NULL CHECK (type IN ('self_built', 'store')),
  scopes      text[] NOT NULL DEFAULT '{}',
  secret_hash text NOT NULL
);

-- One row per tenant an app is installed in, with who may log in there.
CREATE TABLE installations (
  app_id                 text COLLATE "C" NOT NULL REFERENCES apps (app_id),
  tenant_key             text COLLATE "C" NOT NULL REFERENCES tenants (tenant_key),
  -- true: every member of the tenant; false: only the listed users and departments.
  visibility_all         boolean NOT NULL,
  visible_user_ids       text[] NOT NULL DEFAULT '{}',
  visible_department_ids text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (app_id, tenant_key)
);

-- open_id per (app, user): assigned once (an import may set it), read at every use.
CREATE TABLE open_ids (
  app_id     text COLLATE "C" NOT NULL REFERENCES apps (app_id),
  tenant_key text COLLATE "C" NOT NULL,
  user_id    text COLLATE "C" NOT NULL,
  open_id    text COLLATE "C" NOT NULL UNIQUE,
  PRIMARY KEY (app_id, tenant_key, user_id),
  FOREIGN KEY (tenant_key, user_id) REFERENCES users (tenant_key, user_id)
);

CREATE TABLE app_tokens (
  token_hash text PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('app', 'tenant')),
  app_id     text COLLATE "C" NOT NULL REFERENCES apps (app_id),
  tenant_key text COLLATE "C",
  salt       text NOT NULL,
  issued_at  bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX app_tokens_latest ON app_tokens (app_id, kind, tenant_key, issued_at DESC);
CREATE INDEX app_tokens_expiry ON app_tokens (expires_at);

-- A grant is one successful login: the session and the refresh family. Revoking it kills
-- every access and refresh token it issued; expires_at is the family's absolute limit.
CREATE TABLE grants (
  grant_id         text COLLATE "C" PRIMARY KEY,
  app_id           text COLLATE "C" NOT NULL REFERENCES apps (app_id),
  tenant_key       text COLLATE "C" NOT NULL,
  user_id          text COLLATE "C" NOT NULL,
  session_key_hash text NOT NULL,
  code_hash        text NOT NULL,
  created_at       bigint NOT NULL,
  expires_at       bigint NOT NULL,
  revoked_at       bigint,
  revoke_reason    text
);
CREATE INDEX grants_by_app ON grants (app_id, created_at DESC);
CREATE INDEX grants_by_user ON grants (tenant_key, user_id, created_at DESC);
CREATE INDEX grants_ended ON grants (expires_at);

-- consumed_at flags a redeemed code until it expires, so that every replay is detected;
-- grant_id is the grant its first redemption created (NULL when not visible).
CREATE TABLE login_codes (
  code_hash   text PRIMARY KEY,
  app_id      text COLLATE "C" NOT NULL REFERENCES apps (app_id),
  tenant_key  text COLLATE "C" NOT NULL,
  user_id     text COLLATE "C" NOT NULL,
  issued_at   bigint NOT NULL,
  expires_at  bigint NOT NULL,
  consumed_at bigint,
  grant_id    text COLLATE "C",
  FOREIGN KEY (tenant_key, user_id) REFERENCES users (tenant_key, user_id)
);
CREATE INDEX login_codes_expiry ON login_codes (expires_at);

CREATE TABLE access_tokens (
  token_hash text PRIMARY KEY,
  grant_id   text COLLATE "C" NOT NULL REFERENCES grants (grant_id),
  issued_at  bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

-- A spent refresh token (used_at set) is kept while its family lives, to detect replays.
CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  grant_id   text COLLATE "C" NOT NULL REFERENCES grants (grant_id),
  issued_at  bigint NOT NULL,
  used_at    bigint
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE audit_events (
  id         bigserial PRIMARY KEY,
  at         bigint NOT NULL,
  type       text NOT NULL,
  app_id     text,
  tenant_key text,
  user_id    text,
  grant_id   text
);

-- Fixed-window counters shared by every instance.
CREATE TABLE rate_limits (
  key          text NOT NULL,
  window_start bigint NOT NULL,
  window_end   bigint NOT NULL,
  count        integer NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_end ON rate_limits (window_end);
