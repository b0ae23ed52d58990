-- mina-auth schema, version 5 (SQLite): what a login code was granted, and its PKCE challenge.
--
-- tt.requestAccess names the scopes the user grants (its scopeList); the code carries them to
-- whichever door redeems it, and the login keeps them. Stored as the scope string of OAuth
-- (RFC 6749 §3.3: space-separated, a scope never contains a space). NULL means "every scope of
-- the app", which is what a code from tt.login (and every code and login before this version)
-- gets; the scopes in force are always intersected with the app's current ones.
--
-- A code may carry an RFC 7636 challenge: the exchange then consumes it only together with a
-- verifier that matches (the condition is part of the one conditional UPDATE).

ALTER TABLE login_codes ADD COLUMN scopes TEXT;
ALTER TABLE login_codes ADD COLUMN code_challenge TEXT;
ALTER TABLE login_codes ADD COLUMN code_challenge_method TEXT
  CHECK (code_challenge_method IN ('S256', 'plain'));
ALTER TABLE grants ADD COLUMN scopes TEXT;
