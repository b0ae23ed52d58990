/**
 * The PostgreSQL read-back of an exchange whose COMMIT was lost (storage/postgres/outcome.ts)
 * answers from a code only when the presenter speaks for it: a tenant token's exchange of another
 * tenant's used code reads back as "nothing committed" (a retry answers it as another app's),
 * never as that tenant's `reused` login. Real PostgreSQL, real HTTP for the login it reads.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { storageKey } from "../src/secrets.ts";
import { StorageUnavailableError } from "../src/storage/port.ts";
import { CommitInDoubtError, resolveExchange } from "../src/storage/postgres/outcome.ts";
import { createPostgresStorage } from "../src/storage/postgres/postgres-storage.ts";
import {
  createTestDatabase,
  postgresForTests,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import { DEMO, startTestServer, type TestServer } from "./harness.ts";

const { skip } = await postgresForTests();

describe("PostgreSQL read-back after a lost COMMIT honours the presenter's tenant", { skip }, () => {
  let t: TestServer;
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
    t = await startTestServer({ storage: createPostgresStorage({ url: database.url }) });
  });
  after(async () => {
    await t.close();
    await database.drop();
  });

  it("another tenant's replayed code reads back as nothing committed, not as a reuse of that tenant's login", async () => {
    const appToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
    const code = await t.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex);
    assert.equal((await t.exchange(code, appToken)).body.code, 0);
    assert.equal((await t.exchange(code, appToken)).body.code, 10213, "the replay revoked the first login");
    const pool = new pg.Pool({ connectionString: database.url });
    try {
      const input = {
        codeHash: storageKey("login_code", code),
        appId: DEMO.storeAppId,
        now: t.clock.now(),
        grantId: `g_readback_${Date.now()}`,
        sessionKeyHash: "0".repeat(64),
        tokens: { accessTokenHash: "1".repeat(64), accessExpiresAt: 0, refreshTokenHash: "2".repeat(64) },
        familyExpiresAt: 0,
        revokeGrantOnReuse: true,
      };
      const lost = () => new CommitInDoubtError(2_147_483_000, new Error("connection cut after COMMIT"));
      // Nothing of tenant A's exchange committed: "retry" is true, and the retry answers foreign.
      await assert.rejects(
        resolveExchange(pool, { ...input, tenantKey: DEMO.acme }, lost()),
        StorageUnavailableError,
      );
      const asGlobex = await resolveExchange(pool, { ...input, tenantKey: DEMO.globex }, lost());
      assert.equal(asGlobex.kind, "reused", "the code's own tenant reads back the reuse");
    } finally {
      await pool.end();
    }
  });
});
