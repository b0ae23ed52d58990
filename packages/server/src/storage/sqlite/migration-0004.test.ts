/**
 * Migration 0004 (one row per login) on a SQLite file made by schema 0001–0003, holding the rows
 * today's adapter writes (the statements below are the ones it ran), carried over through the
 * port: see migration-0004.fixture.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import Database from "better-sqlite3";
import { CODE_TTL } from "../contract-suite.ts";
import {
  assertCarriedOver,
  FRESH_CODE_AT,
  type LegacyWorld,
  legacyWorld,
} from "../migration-0004.fixture.ts";
import { applyMigrations, loadMigrations } from "./migrations.ts";
import { createSqliteStorage } from "./sqlite-storage.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-migrate-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeVersion3(path: string, w: LegacyWorld): void {
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    applyMigrations(
      db,
      loadMigrations().filter((m) => m.version <= 3),
      Date.now(),
    );
    db.prepare("INSERT INTO tenants (tenant_key, name) VALUES (?, ?)").run(w.tenantKey, "Acme");
    db.prepare(
      `INSERT INTO users (tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status)
       VALUES (?, ?, 'on_x', 'Alice', 'Alice', NULL, NULL, 'https://a.test/a.png', 'active')`,
    ).run(w.tenantKey, w.userId);
    db.prepare(
      "INSERT INTO apps (app_id, name, type, scopes, secret_hash) VALUES (?, 'App', 'self_built', '[]', ?)",
    ).run(w.appId, w.secretHash);
    db.prepare("INSERT INTO installations (app_id, tenant_key, visibility_all) VALUES (?, ?, 1)").run(
      w.appId,
      w.tenantKey,
    );
    db.prepare("INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES (?, ?, ?, ?)").run(
      w.appId,
      w.tenantKey,
      w.userId,
      w.openId,
    );
    const code = db.prepare(
      `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at, consumed_at, grant_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const grant = db.prepare(
      `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
         revoked_at, revoke_reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const access = db.prepare(
      "INSERT INTO access_tokens (token_hash, grant_id, expires_at) VALUES (?, ?, ?)",
    );
    const refresh = db.prepare("INSERT INTO refresh_tokens (token_hash, grant_id, used_at) VALUES (?, ?, ?)");
    for (const g of Object.values(w.grants)) {
      const issued = g.createdAt - 1000;
      code.run(g.codeHash, w.appId, w.tenantKey, w.userId, issued, issued + CODE_TTL, g.createdAt, g.grantId);
      grant.run(
        g.grantId,
        w.appId,
        w.tenantKey,
        w.userId,
        `${g.codeHash.slice(0, 60)}sess`,
        g.codeHash,
        g.createdAt,
        g.createdAt + 30 * 24 * 3600 * 1000,
        g.revokedAt,
        g.revokedAt === null ? null : "admin",
      );
      for (const [hash, expiresAt] of g.access) access.run(hash, g.grantId, expiresAt);
      for (const [hash, usedAt] of g.refresh) refresh.run(hash, g.grantId, usedAt);
    }
    code.run(
      w.codes.fresh,
      w.appId,
      w.tenantKey,
      w.userId,
      FRESH_CODE_AT,
      FRESH_CODE_AT + CODE_TTL,
      null,
      null,
    );
    const audit = db.prepare(
      "INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id) VALUES (?, ?, ?, ?, ?, ?)",
    );
    for (const [at, type, grantId] of w.audit) audit.run(at, type, w.appId, w.tenantKey, w.userId, grantId);
  } finally {
    db.close();
  }
}

it("sqlite: migration 0004 carries a version-3 file over; every login, token and family keeps working", async () => {
  const path = join(dir, "v3.db");
  const world = legacyWorld("sqlite");
  writeVersion3(path, world);
  const storage = createSqliteStorage({ path });
  try {
    await storage.migrate();
    await assertCarriedOver(storage, world);
  } finally {
    await storage.close();
  }
  // Migrated once: a second start finds version 4 applied and changes nothing.
  const db = new Database(path);
  try {
    const versions = db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all();
    // Later migrations (0006…) follow; up to 0004 SQLite has no 0002.
    assert.deepEqual(
      (versions as number[]).filter((v) => v <= 4),
      [1, 3, 4],
      "SQLite has no 0002",
    );
  } finally {
    db.close();
  }
});
