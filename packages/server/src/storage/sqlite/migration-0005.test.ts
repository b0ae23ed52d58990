/**
 * Migration 0005 (a code's granted scopes and PKCE challenge) on a SQLite file made by schema
 * 0001–0004: a code and a login stored before it grant every scope of the app, as they did.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import Database from "better-sqlite3";
import type { ExchangeOutcome } from "../port.ts";
import { applyMigrations, loadMigrations } from "./migrations.ts";
import { createSqliteStorage } from "./sqlite-storage.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-migrate-5-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const digest = () => createHash("sha256").update(randomBytes(16)).digest("hex");
const NOW = Date.UTC(2026, 10, 1);
const SCOPES = ["contact:user.employee_id:readonly", "contact:user.email:readonly"];

it("sqlite: a code and a login stored at version 4 keep every scope of the app after 0005", async () => {
  const path = join(dir, "v4.db");
  const ids = {
    app: "cli_00112233445566aa",
    tenant: "0011223344556677",
    user: "u1",
    openId: `ou_${"a".repeat(32)}`,
  };
  const code = digest();
  const access = digest();
  const db = new Database(path);
  try {
    applyMigrations(
      db,
      loadMigrations().filter((m) => m.version <= 4),
      NOW,
    );
    db.prepare("INSERT INTO tenants (tenant_key, name) VALUES (?, 'Acme')").run(ids.tenant);
    db.prepare(
      `INSERT INTO users (tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status)
       VALUES (?, ?, 'on_x', 'Alice', 'Alice', NULL, NULL, 'https://a.test/a.png', 'active')`,
    ).run(ids.tenant, ids.user);
    db.prepare(
      "INSERT INTO apps (app_id, name, type, scopes, secret_hash) VALUES (?, 'App', 'self_built', ?, ?)",
    ).run(ids.app, JSON.stringify(SCOPES), digest());
    db.prepare("INSERT INTO installations (app_id, tenant_key, visibility_all) VALUES (?, ?, 1)").run(
      ids.app,
      ids.tenant,
    );
    db.prepare("INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES (?, ?, ?, ?)").run(
      ids.app,
      ids.tenant,
      ids.user,
      ids.openId,
    );
    db.prepare(
      `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(code, ids.app, ids.tenant, ids.user, NOW, NOW + 180_000);
    db.prepare(
      `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
         access_hash, access_expires_at, refresh_hash)
       VALUES ('g-old', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      ids.app,
      ids.tenant,
      ids.user,
      digest(),
      digest(),
      NOW,
      NOW + 86_400_000,
      access,
      NOW + 6_900_000,
      digest(),
    );
  } finally {
    db.close();
  }

  const storage = createSqliteStorage({ path });
  try {
    // Later migrations (0006…) follow; 0005 is the one that carries the data over.
    assert.deepEqual(
      (await storage.migrate()).filter((v) => v <= 5),
      [5],
    );
    assert.deepEqual((await storage.findAccessToken(access, NOW + 1000))?.identity.scopes, SCOPES);
    const outcome = await storage.exchangeLoginCode({
      codeHash: code,
      appId: ids.app,
      now: NOW + 1000,
      grantId: "g-new",
      sessionKeyHash: digest(),
      tokens: { accessTokenHash: digest(), accessExpiresAt: NOW + 6_901_000, refreshTokenHash: digest() },
      familyExpiresAt: NOW + 86_400_000,
      revokeGrantOnReuse: true,
    });
    assert.equal(outcome.kind, "issued");
    assert.deepEqual((outcome as Extract<ExchangeOutcome, { kind: "issued" }>).identity.scopes, SCOPES);
  } finally {
    await storage.close();
  }
});
