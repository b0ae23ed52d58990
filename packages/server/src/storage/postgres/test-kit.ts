/**
 * The PostgreSQL adapter's test kit: a fresh database per test file (`mina_auth_test_<random>`,
 * dropped with FORCE afterwards), one schema per storage so that every test starts empty, and the
 * seed and helpers the adapter's test files share. Importing it registers the database's
 * before/after hooks in the importing file.
 *
 * Without a reachable PostgreSQL those tests skip with the reason, except with CI=true, where
 * that is a failure.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import pg from "pg";
import type { ExchangeInput, Storage } from "../port.ts";
import type { StorageTestHooks } from "../test-hooks.ts";
import { createPostgresStorage, type PostgresStorageOptions } from "./postgres-storage.ts";
import { createTestDatabase, probePostgres, type TestDatabase } from "./test-database.ts";

export const probe = await probePostgres();
export const inCi = process.env.CI === "true";
export const skip = probe.ok ? false : `${probe.reason}; start it or set MINA_AUTH_TEST_PG_ADMIN_URL`;

if (!probe.ok && inCi) {
  test("PostgreSQL is reachable (required with CI=true)", () => {
    assert.fail(probe.reason);
  });
}
if (!probe.ok && !inCi) {
  test("storage contract: postgres", { skip }, () => {});
}

export let database: TestDatabase | null = null;
export let admin: pg.Client | null = null;
export let schemaCounter = 0;
export const opened: Storage[] = [];

before(async () => {
  if (!probe.ok) return;
  database = await createTestDatabase();
  admin = new pg.Client({ connectionString: database.url });
  admin.on("error", () => {});
  await admin.connect();
});

after(async () => {
  await Promise.allSettled(opened.map((storage) => storage.close()));
  await admin?.end().catch(() => {});
  await database?.drop();
});

export const schemaByStorage = new WeakMap<Storage, string>();
export const schemaOfUrl = (url: string) => new URL(url).searchParams.get("options")!.split("=")[1]!;
export const schemaOf = (storage: Storage) => schemaByStorage.get(storage)!;

/** A URL of the test database whose connections work in a fresh, empty schema. */
export async function freshSchemaUrl(): Promise<string> {
  const schema = `t${++schemaCounter}_${randomBytes(3).toString("hex")}`;
  await admin!.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(database!.url);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
}

/** A migrated storage on a fresh schema; closed after the run. */
export async function openStorage(
  extra: Partial<PostgresStorageOptions> = {},
  url?: string,
): Promise<{ storage: Storage; url: string }> {
  const target = url ?? (await freshSchemaUrl());
  const storage = createPostgresStorage({ url: target, poolSize: 8, ...extra });
  opened.push(storage);
  schemaByStorage.set(storage, schemaOfUrl(target));
  await storage.migrate();
  return { storage, url: target };
}

/** Rounds of the concurrency tests; raise with MINA_AUTH_PG_ROUNDS for a longer one-off run. */
export const ROUNDS = Number(process.env.MINA_AUTH_PG_ROUNDS ?? 25);
export const sha = (value: string) => createHash("sha256").update(value).digest("hex");
export const NOW = 1_750_000_000_000;
export const TENANT = "2c5914ac018f97";
export const APP = "cli_a1b2c3d4e5f6a7b8";
export const OTHER_APP = "cli_0000000000000001";

export async function seed(storage: Storage): Promise<void> {
  await storage.upsertTenant({ tenantKey: TENANT, name: "Acme" });
  await storage.upsertUser({
    tenantKey: TENANT,
    userId: "6c486g",
    unionId: `on_${"a".repeat(32)}`,
    name: "Zhang San",
    enName: "San Zhang",
    email: "zhangsan@acme.test",
    mobile: null,
    avatarUrl: "https://example.test/a.png",
    status: "active",
    departmentIds: ["d1"],
  });
  for (const appId of [APP, OTHER_APP]) {
    await storage.upsertApp({
      appId,
      name: appId,
      type: "self_built",
      scopes: ["contact:user.employee_id:readonly"],
      secretHash: sha(`secret-${appId}`),
    });
    await storage.upsertInstallation({ appId, tenantKey: TENANT, visibility: { all: true } });
    await storage.ensureOpenId(appId, TENANT, "6c486g", `ou_${randomBytes(16).toString("hex")}`);
  }
}

export async function mint(storage: Storage, now = NOW): Promise<string> {
  const codeHash = sha(randomBytes(16).toString("hex"));
  await storage.saveLoginCodes([
    {
      codeHash,
      appId: APP,
      tenantKey: TENANT,
      userId: "6c486g",
      issuedAt: now,
      expiresAt: now + 180_000,
    },
  ]);
  return codeHash;
}

export function exchangeInput(codeHash: string, overrides: Partial<ExchangeInput> = {}): ExchangeInput {
  const tag = randomBytes(16).toString("hex");
  return {
    codeHash,
    appId: APP,
    now: NOW + 1000,
    grantId: `g_${tag}`,
    sessionKeyHash: sha(`sk-${tag}`),
    tokens: {
      accessTokenHash: sha(`u-${tag}`),
      accessExpiresAt: NOW + 6_901_000,
      refreshTokenHash: sha(`ur-${tag}`),
    },
    familyExpiresAt: NOW + 30 * 86_400_000,
    revokeGrantOnReuse: true,
    ...overrides,
  };
}

/** The code was left exactly as it was: unconsumed, and it redeems now. */
export async function assertUnconsumedThenIssued(storage: Storage, codeHash: string): Promise<void> {
  const { rows } = await admin!.query(
    `SELECT consumed_at FROM ${schemaOf(storage)}.login_codes WHERE code_hash = $1`,
    [codeHash],
  );
  assert.equal(rows[0].consumed_at, null);
  assert.equal(
    (await storage.exchangeLoginCode(exchangeInput(codeHash))).kind,
    "issued",
    "the retry succeeds",
  );
}

/** Another session's open transaction holding a code's row, as a stalled or cut-off one would. */
export async function lockCodeRow(schema: string, codeHash: string): Promise<pg.Client> {
  const holder = new pg.Client({ connectionString: database!.url });
  holder.on("error", () => {});
  await holder.connect();
  await holder.query("BEGIN");
  await holder.query(`SELECT 1 FROM ${schema}.login_codes WHERE code_hash = $1 FOR UPDATE`, [codeHash]);
  return holder;
}

/** Releases everyone once `size` callers wait (a test-only pause before the conditional write). */
export function barrier(size: number): StorageTestHooks & { reset(): void } {
  let waiting: Array<() => void> = [];
  return {
    beforeConsume() {
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length >= size) {
          for (const release of waiting.splice(0)) release();
        }
      });
    },
    reset() {
      waiting = [];
    },
  };
}
