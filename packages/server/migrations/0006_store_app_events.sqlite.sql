-- Store apps as the platform runs them (issue 15): where an app's events go, the app_tickets
-- it was pushed (as digests), and a bounded record of the delivery attempts.
-- The verification token and encrypt key are secrets the server must use to push, so they are
-- kept sealed (AES-256-GCM under a server key, domain/event-secrets.ts), never in the clear.
CREATE TABLE app_event_settings (
  app_id                    TEXT PRIMARY KEY REFERENCES apps (app_id),
  event_url                 TEXT NOT NULL,
  verification_token_sealed TEXT NOT NULL,
  encrypt_key_sealed        TEXT,
  updated_at                INTEGER NOT NULL
) STRICT;

CREATE TABLE app_tickets (
  ticket_hash TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX app_tickets_expiry ON app_tickets (expires_at);

CREATE TABLE event_deliveries (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id      TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  event_type  TEXT NOT NULL,
  attempt     INTEGER NOT NULL CHECK (attempt >= 1),
  at          INTEGER NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
  http_status INTEGER,
  detail      TEXT
) STRICT;
CREATE INDEX event_deliveries_by_app ON event_deliveries (app_id, id);
