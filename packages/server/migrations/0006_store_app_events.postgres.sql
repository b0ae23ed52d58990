-- Store apps as the platform runs them (issue 15): where an app's events go, the app_tickets
-- it was pushed (as digests), and a bounded record of the delivery attempts.
-- The verification token and encrypt key are secrets the server must use to push, so they are
-- kept sealed (AES-256-GCM under a server key, domain/event-secrets.ts), never in the clear.
CREATE TABLE app_event_settings (
  app_id                    text COLLATE "C" PRIMARY KEY REFERENCES apps (app_id),
  event_url                 text NOT NULL,
  verification_token_sealed text NOT NULL,
  encrypt_key_sealed        text,
  updated_at                BIGINT NOT NULL
);

CREATE TABLE app_tickets (
  ticket_hash text COLLATE "C" PRIMARY KEY,
  app_id      text COLLATE "C" NOT NULL,
  issued_at   BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL
);
CREATE INDEX app_tickets_expiry ON app_tickets (expires_at);

CREATE TABLE event_deliveries (
  id          BIGSERIAL PRIMARY KEY,
  app_id      text COLLATE "C" NOT NULL,
  event_id    text NOT NULL,
  event_type  text NOT NULL,
  attempt     INTEGER NOT NULL CHECK (attempt >= 1),
  at          BIGINT NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('delivered', 'failed')),
  http_status INTEGER,
  detail      text
);
CREATE INDEX event_deliveries_by_app ON event_deliveries (app_id, id);
