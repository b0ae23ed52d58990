-- Fault rules (test tools, docs/testing-your-backend.md), stored so that every instance on one
-- database obeys them. `effect` is the rule's effect as JSON (its meaning is the server's, not
-- storage's). `times_left` counts down in one conditional UPDATE; a rule whose count reached 0
-- stays as a row (nothing matches it) until deleted or cleared.
CREATE TABLE fault_rules (
  id               TEXT PRIMARY KEY,
  position         INTEGER NOT NULL,
  match_path       TEXT NOT NULL,
  match_app_id     TEXT,
  match_tenant_key TEXT,
  match_user_id    TEXT,
  effect           TEXT NOT NULL,
  times_left       INTEGER CHECK (times_left >= 0),
  probability      REAL,
  expires_at       INTEGER,
  applied          INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX fault_rules_position ON fault_rules (position);

-- The rule set's version: moved by every add, delete, clear and a count reaching 0. Each instance
-- polls this one row (off the request path) and reloads its cached rules when it moved.
CREATE TABLE fault_rule_set (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO fault_rule_set (id, version) VALUES (1, 0);
