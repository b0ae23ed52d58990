/**
 * Migration 0004 (one row per login) on a PostgreSQL database made by schema 0001–0003, holding
 * the rows today's adapter writes (the statements below are the ones it ran), carried over
 * through the port: see migration-0004.fixture.ts.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { CODE_TTL } from "../contract-suite.ts";
import {
  assertCarriedOver,
  FRESH_CODE_AT,
  type LegacyWorld,
  legacyWorld,
} from "../migration-0004.fixture.ts";
import { MIGRATIONS_DIR, migrate } from "./migrate.ts";
import { createPostgresStorage } from "./postgres-storage.ts";
import { createTestDatabase, probePostgres } from "./test-database.ts";

const probe = await probePostgres();
const skip = probe.ok ? false : `${probe.reason}; start it or set MINA_AUTH_TEST_PG_ADMIN_URL`;

async function writeVersion3(client: pg.Client, w: LegacyWorld): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-pg-v3-"));
  try {
    for (const file of ["0001_init", "0002_hot_path_foreign_keys", "0003_server_keys"]) {
      copyFileSync(new URL(`${file}.postgres.sql`, MIGRATIONS_DIR), join(dir, `${file}.postgres.sql`));
    }
    assert.deepEqual(await migrate(client, pathToFileURL(`${dir}/`)), [1, 2, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const q = (text: string, values: unknown[]) => client.query(text, values);
  await q("INSERT INTO tenants (tenant_key, name) VALUES ($1, 'Acme')", [w.tenantKey]);
  await q(
    `INSERT INTO users (tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status, department_ids)
     VALUES ($1, $2, 'on_x', 'Alice', 'Alice', NULL, NULL, 'https://a.test/a.png', 'active', '{}')`,
    [w.tenantKey, w.userId],
  );
  await q(
    "INSERT INTO apps (app_id, name, type, scopes, secret_hash) VALUES ($1, 'App', 'self_built', '{}', $2)",
    [w.appId, w.secretHash],
  );
  await q("INSERT INTO installations (app_id, tenant_key, visibility_all) VALUES ($1, $2, true)", [
    w.appId,
    w.tenantKey,
  ]);
  await q("INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES ($1, $2, $3, $4)", [
    w.appId,
    w.tenantKey,
    w.userId,
    w.openId,
  ]);
  const code = `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at, consumed_at, grant_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
  for (const g of Object.values(w.grants)) {
    const issued = g.createdAt - 1000;
    await q(code, [
      g.codeHash,
      w.appId,
      w.tenantKey,
      w.userId,
      issued,
      issued + CODE_TTL,
      g.createdAt,
      g.grantId,
    ]);
    await q(
      `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
                           revoked_at, revoke_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
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
      ],
    );
    for (const [hash, expiresAt] of g.access) {
      await q(
        "INSERT INTO access_tokens (token_hash, grant_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        [hash, g.grantId, expiresAt - 6_900_000, expiresAt],
      );
    }
    for (const [hash, usedAt] of g.refresh) {
      await q(
        "INSERT INTO refresh_tokens (token_hash, grant_id, issued_at, used_at) VALUES ($1, $2, $3, $4)",
        [hash, g.grantId, g.createdAt, usedAt],
      );
    }
  }
  await q(code, [
    w.codes.fresh,
    w.appId,
    w.tenantKey,
    w.userId,
    FRESH_CODE_AT,
    FRESH_CODE_AT + CODE_TTL,
    null,
    null,
  ]);
  for (const [at, type, grantId] of w.audit) {
    await q(
      "INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id) VALUES ($1, $2, $3, $4, $5, $6)",
      [at, type, w.appId, w.tenantKey, w.userId, grantId],
    );
  }
}

it("postgres: migration 0004 carries a version-3 database over; every login, token and family keeps working", {
  skip,
}, async () => {
  const database = await createTestDatabase();
  try {
    const world = legacyWorld("pg");
    const client = new pg.Client({ connectionString: database.url });
    client.on("error", () => {});
    await client.connect();
    try {
      await writeVersion3(client, world);
    } finally {
      await client.end();
    }
    const storage = createPostgresStorage({ url: database.url, poolSize: 2 });
    try {
      await storage.migrate();
      await assertCarriedOver(storage, world);
    } finally {
      await storage.close();
    }
  } finally {
    await database.drop();
  }
});
