-- mina-auth schema, version 2 (PostgreSQL only): no foreign-key triggers on the rows every login
-- and every refresh inserts.
--
-- A PostgreSQL foreign key is a trigger that runs a locking SELECT on the parent for every
-- inserted row. The batched exchange statement inserts a grant, an access token and a refresh
-- token per login, so three such lookups per login: measured at 13 of about 80 µs of the
-- backend's time per exchange in batches of 40 (the statement timed alone on one connection),
-- and +15 % logins per second end to end (docs/performance.md, "Levers of 2026-12-01, an Intel
-- machine").
--
-- What the constraints guarded is held by the statements that write these rows:
-- - a grant's app_id is the app of the login code it redeems, read in the same statement from
--   login_codes, whose own foreign key to apps stays (codes are inserted at mint time, not per
--   login);
-- - an access or refresh token is inserted in the same statement (exchange) or transaction
--   (refresh rotation) as the grant row it names, or for a grant that statement just read;
-- - no grant or app is ever deleted (purge deletes only tokens, codes and counters);
-- - every read of a token joins its grant, so a token without one authenticates nothing.
-- SQLite keeps the same constraints: there a foreign key is an index probe, measured within
-- noise.

-- Dropping a constraint locks its tables exclusively. Behind a transaction of a serving
-- instance that would queue every login behind this migration; instead it gives up after 5 s
-- (the new instance does not start, the old ones serve on) and is run again.
SET LOCAL lock_timeout = '5s';

ALTER TABLE grants DROP CONSTRAINT IF EXISTS grants_app_id_fkey;
ALTER TABLE access_tokens DROP CONSTRAINT IF EXISTS access_tokens_grant_id_fkey;
ALTER TABLE refresh_tokens DROP CONSTRAINT IF EXISTS refresh_tokens_grant_id_fkey;
