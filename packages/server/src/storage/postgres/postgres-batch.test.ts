/**
 * The PostgreSQL adapter's batches, concurrent refreshes and concurrent purges against a real
 * PostgreSQL (see test-kit.ts).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import pg from "pg";
import type { Storage } from "../port.ts";
import { exchangeBatchWith } from "./flow.ts";
import {
  APP,
  admin,
  barrier,
  exchangeInput,
  mint,
  NOW,
  OTHER_APP,
  openStorage,
  ROUNDS,
  schemaOf,
  schemaOfUrl,
  seed,
  sha,
  skip,
  TENANT,
} from "./test-kit.ts";

describe("postgres adapter: batches and concurrency", { skip }, () => {
  test("a tenant token's entries: its own tenant's code is decided in the batch, another's is left undecided and untouched", async () => {
    const { storage, url } = await openStorage({ batchExchanges: false });
    await seed(storage);
    const own = await mint(storage);
    const elsewhere = await mint(storage);
    const inputs = [
      exchangeInput(own, { tenantKey: TENANT }),
      exchangeInput(elsewhere, { tenantKey: "0123456789abcdef" }),
    ];
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on("error", () => {});
    try {
      const outcomes = await exchangeBatchWith(pool, inputs);
      assert.deepEqual(
        outcomes.map((o) => o?.kind ?? null),
        ["issued", null],
      );
    } finally {
      await pool.end();
    }
    // The per-exchange path answers the other tenant's entry: foreign, and the code still works.
    assert.deepEqual(await storage.exchangeLoginCode(inputs[1]!), { kind: "foreign" });
    assert.equal((await storage.exchangeLoginCode(exchangeInput(elsewhere))).kind, "issued");
  });

  test("one statement decides a batch; what it cannot decide is left to the per-exchange path", async () => {
    const { storage, url } = await openStorage({ batchExchanges: false });
    await seed(storage);
    const schema = schemaOf(storage);
    // A user without an open_id for APP, and one the app cannot see.
    const lisi = {
      ...(await storage.getUser(TENANT, "6c486g"))!,
      userId: "7d597h",
      unionId: `on_${"b".repeat(32)}`,
    };
    await storage.upsertUser(lisi);
    await storage.upsertUser({ ...lisi, userId: "8e6a8i", status: "deactivated" });
    await storage.ensureOpenId(APP, TENANT, "8e6a8i", `ou_${randomBytes(16).toString("hex")}`);
    const codeFor = async (userId: string) => {
      const codeHash = sha(randomBytes(16).toString("hex"));
      await storage.saveLoginCodes([
        {
          codeHash,
          appId: APP,
          tenantKey: TENANT,
          userId,
          issuedAt: NOW,
          expiresAt: NOW + 180_000,
        },
      ]);
      return codeHash;
    };
    const fresh = [await mint(storage), await mint(storage)];
    const duplicate = await mint(storage);
    const consumed = await mint(storage);
    await storage.exchangeLoginCode(exchangeInput(consumed));
    const expired = await mint(storage, NOW - 180_000);
    const hidden = await codeFor("8e6a8i");
    const noOpenId = await codeFor("7d597h");
    const inputs = [
      exchangeInput(fresh[0]!),
      exchangeInput(duplicate),
      exchangeInput(sha("unknown")),
      exchangeInput(fresh[1]!, { appId: OTHER_APP }),
      exchangeInput(consumed),
      exchangeInput(expired),
      exchangeInput(hidden),
      exchangeInput(noOpenId),
      exchangeInput(duplicate),
      exchangeInput(fresh[1]!),
    ];
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on("error", () => {});
    let outcomes: Awaited<ReturnType<typeof exchangeBatchWith>>;
    try {
      outcomes = await exchangeBatchWith(pool, inputs);
    } finally {
      await pool.end();
    }
    const kinds = outcomes.map((o) => o?.kind ?? null);
    // The second entry of the duplicated code may be the one that wins: which one is PostgreSQL's choice.
    const [dupA, dupB] = [kinds[1], kinds[8]];
    assert.deepEqual([dupA, dupB].sort(), ["issued", null]);
    assert.deepEqual(
      [kinds[0], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6], kinds[7], kinds[9]],
      ["issued", null, null, null, null, "not_visible", null, "issued"],
    );
    const first = outcomes[0];
    assert.ok(first?.kind === "issued");
    assert.deepEqual(first.identity, {
      grantId: inputs[0]!.grantId,
      appId: APP,
      tenantKey: TENANT,
      userId: "6c486g",
      openId: await storage.ensureOpenId(APP, TENANT, "6c486g", "ou_unused"),
      scopes: ["contact:user.employee_id:readonly"],
    });
    // Committed when the statement answered: the tokens work, the code points at its grant.
    const subject = await storage.findAccessToken(inputs[0]!.tokens.accessTokenHash, NOW + 2000);
    assert.equal(subject?.identity.grantId, inputs[0]!.grantId);
    const codes = await admin!.query<{
      code_hash: string;
      consumed_at: string | null;
      grant_id: string | null;
    }>(`SELECT code_hash, consumed_at, grant_id FROM ${schema}.login_codes WHERE code_hash = ANY ($1)`, [
      [fresh[0], hidden, noOpenId, expired, duplicate],
    ]);
    const byHash = new Map(codes.rows.map((row) => [row.code_hash, row]));
    assert.equal(byHash.get(fresh[0]!)?.grant_id, inputs[0]!.grantId);
    assert.notEqual(byHash.get(hidden)?.consumed_at, null, "a code the user may not use is consumed anyway");
    assert.equal(byHash.get(hidden)?.grant_id, null);
    assert.equal(byHash.get(noOpenId)?.consumed_at, null, "left unconsumed for the per-exchange path");
    assert.equal(byHash.get(expired)?.consumed_at, null);
    const winner = dupA === "issued" ? inputs[1]! : inputs[8]!;
    assert.equal(byHash.get(duplicate)?.grant_id, winner.grantId);
    const grants = await admin!.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.grants`);
    assert.equal(Number(grants.rows[0]!.n), 4, "the earlier login and the three issued here");
    const events = (await storage.listAuditEvents(10)).map((e) => e.type).sort();
    assert.deepEqual(events, [...Array(4).fill("login_code.consumed"), "login_code.rejected_visibility"]);
    // And the entries it left undecided end as before on the default (batched) storage.
    const { storage: batched } = await openStorage({}, url);
    const later = await Promise.all(
      [2, 3, 4, 5, 7].map((i) => batched.exchangeLoginCode({ ...inputs[i]!, revokeGrantOnReuse: false })),
    );
    assert.deepEqual(
      later.map((o) => o.kind),
      ["invalid", "foreign", "reused", "expired", "issued"],
    );
  });

  test("a batch whose one exchange fails: the others are issued, the failing code stays unconsumed", async () => {
    // One batch in flight at a time: the first exchange goes alone, the next five queue into one batch.
    const gate = barrier(6);
    const { storage, url } = await openStorage({ hooks: gate, batchExchanges: { maxInFlight: 1 } });
    await seed(storage);
    const earlier = exchangeInput(await mint(storage));
    gate.reset();
    const filler = Array.from({ length: 5 }, () => gate.beforeConsume!());
    await Promise.all([storage.exchangeLoginCode(earlier), ...filler]);
    gate.reset();
    const codes = await Promise.all(Array.from({ length: 6 }, () => mint(storage)));
    const inputs = codes.map((code) => exchangeInput(code));
    // The same access-token hash as an existing token: a unique violation inside the batch statement.
    inputs[3] = exchangeInput(codes[3]!, {
      tokens: { ...inputs[3]!.tokens, accessTokenHash: earlier.tokens.accessTokenHash },
    });
    const results = await Promise.allSettled(inputs.map((input) => storage.exchangeLoginCode(input)));
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value.kind : "rejected")),
      ["issued", "issued", "issued", "rejected", "issued", "issued"],
    );
    const failure = (results[3] as PromiseRejectedResult).reason as { code?: string };
    assert.equal(failure.code, "23505", "a bug-class failure is passed on, not reported as unavailable");
    const { rows } = await admin!.query<{ consumed_at: string | null }>(
      `SELECT consumed_at FROM ${schemaOfUrl(url)}.login_codes WHERE code_hash = $1`,
      [codes[3]],
    );
    assert.equal(rows[0]!.consumed_at, null);
  });

  test("16 concurrent refreshes of one token over two instances: exactly one rotated", async () => {
    const gate = barrier(16);
    const { storage: a, url } = await openStorage({ hooks: gate });
    const { storage: b } = await openStorage({ hooks: gate }, url);
    await seed(a);
    for (let round = 0; round < ROUNDS; round++) {
      gate.reset();
      const login = exchangeInput(await mint(a));
      // Let the exchange itself pass the gate.
      const exchanged = a.exchangeLoginCode(login);
      const filler = Array.from({ length: 15 }, () => gate.beforeConsume!());
      await Promise.all([exchanged, ...filler]);
      gate.reset();
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (i % 2 === 0 ? a : b).rotateRefreshToken({
            refreshTokenHash: login.tokens.refreshTokenHash,
            appId: APP,
            now: NOW + 10_000,
            next: exchangeInput("n").tokens,
          }),
        ),
      );
      const kinds = outcomes.map((o) => o.kind);
      assert.equal(kinds.filter((k) => k === "rotated").length, 1, `round ${round}: ${kinds.join(",")}`);
      assert.ok(kinds.every((k) => k === "rotated" || k === "reused" || k === "revoked"));
    }
  });

  test("instances purging at once neither deadlock nor leave a token without its grant", async () => {
    const { storage, url } = await openStorage();
    await seed(storage);
    const schema = schemaOf(storage);
    const cut = NOW + 120 * 86_400_000;
    const endedBy = cut - 60 * 86_400_000 - 1000; // past its family's end and ENDED_GRANT_KEPT_MS
    // 600 ended grants, each one row with an expired access token and its current refresh
    // token, and a spent refresh token each, so that every instance's picks overlap the others'
    // grants; and one live grant that stays.
    await admin!.query(
      `INSERT INTO ${schema}.grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at,
                                     expires_at, access_hash, access_expires_at, refresh_hash)
       SELECT 'g_' || n, $1, $2, '6c486g', 'sk', 'c', $3::bigint, $4::bigint,
              'a_g_' || n, $3::bigint + 6900000, 'r2_g_' || n FROM generate_series(1, 600) AS n
       UNION ALL SELECT 'g_live', $1, $2, '6c486g', 'sk', 'c', $5::bigint, $5::bigint + 86400000,
              'a_g_live', $5::bigint + 6900000, 'r2_g_live'`,
      [APP, TENANT, endedBy - 30 * 86_400_000, endedBy, cut],
    );
    await admin!.query(
      `INSERT INTO ${schema}.spent_refresh_tokens (token_hash, grant_id, spent_at)
       SELECT 'r1_' || grant_id, grant_id, created_at FROM ${schema}.grants`,
    );
    const others = await Promise.all([openStorage({}, url), openStorage({}, url)]);
    const instances = [storage, ...others.map((o) => o.storage)];
    const purgeUntilDone = async (instance: Storage) => {
      for (let calls = 0; calls < 1000; calls++) if ((await instance.purgeExpired(cut, 100)) === 0) return;
    };
    // Several rounds: an instance that found the purge lock taken stops early, as its timer would.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled(instances.map(purgeUntilDone));
      const failures = results.filter((r) => r.status === "rejected").map((r) => String(r.reason));
      assert.deepEqual(failures, [], `round ${round}`);
    }
    const { rows } = await admin!.query<{ grants: string; access: string; spent: string; orphans: string }>(
      `SELECT (SELECT count(*) FROM ${schema}.grants) AS grants,
              (SELECT count(*) FROM ${schema}.grants WHERE access_hash IS NOT NULL) AS access,
              (SELECT count(*) FROM ${schema}.spent_refresh_tokens) AS spent,
              (SELECT count(*) FROM ${schema}.spent_refresh_tokens r
                WHERE NOT EXISTS (SELECT 1 FROM ${schema}.grants g WHERE g.grant_id = r.grant_id)) AS orphans`,
    );
    assert.deepEqual(
      rows[0],
      { grants: "1", access: "1", spent: "1", orphans: "0" },
      "only the live grant is left",
    );
  });
});
