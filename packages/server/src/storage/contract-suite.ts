/**
 * THE storage contract suite: every adapter of `port.ts` runs it, unchanged.
 *
 * Adapter-neutral by construction: each test opens a fresh storage through `makeStorage`,
 * migrates it, and seeds its own world under random ids, so the suite also holds on a shared
 * database that is never emptied (PostgreSQL). Time is always an explicit `now`; secrets are
 * random and reach storage only as SHA-256 digests.
 *
 * @example
 * runStorageContract("sqlite :memory:", (hooks) =>
 *   Promise.resolve(createSqliteStorage({ path: ":memory:", hooks })),
 * );
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import type {
  App,
  AppTokenRecord,
  ExchangeInput,
  ExchangeOutcome,
  GrantIdentity,
  Installation,
  LoginCodeRecord,
  Millis,
  RotateOutcome,
  Storage,
  Tenant,
  User,
} from "./port.ts";
import { ENDED_GRANT_KEPT_MS } from "./port.ts";
import type { StorageTestHooks } from "./test-hooks.ts";

export type MakeStorage = (hooks?: StorageTestHooks) => Promise<Storage>;
/** Runs after the storage of each test was closed (delete a file, drop a schema…). */
export type TeardownStorage = (storage: Storage) => Promise<void>;

// --- Fixed clock values ----------------------------------------------------------------------

export const T0: Millis = 1_700_000_000_000;
export const SECOND = 1000;
export const CODE_TTL = 180 * SECOND;
export const ACCESS_TTL = 6900 * SECOND;
export const FAMILY_TTL = 30 * 24 * 3600 * SECOND;
const HOUR = 3600 * SECOND;

// --- Secrets ---------------------------------------------------------------------------------

const issuedSecrets = new Set<string>();

/**
 * Every raw secret this suite handed out, as its 32-hex-digit random part (128 bits), so that
 * an adapter test can scan its database bytes for any of them.
 */
export function suiteSecrets(): ReadonlySet<string> {
  return issuedSecrets;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/** A fresh raw secret `<prefix><32 hex>`, remembered for the at-rest scan. */
export function newSecret(prefix: string): string {
  const random = hex(16);
  issuedSecrets.add(random);
  return `${prefix}${random}`;
}

// --- A small world per test ------------------------------------------------------------------

export interface World {
  tenant: Tenant;
  other: Tenant;
  /** active, department `deptA` */
  alice: User;
  /** active, no department */
  bob: User;
  /** deactivated */
  carol: User;
  /** active, department `deptB` */
  eve: User;
  /** active, in the other tenant */
  dave: User;
  deptA: string;
  deptB: string;
  /** self-built in `tenant`, visible to all */
  app: App;
  /** another self-built app in `tenant`, visible to all; not installed in `other` */
  rival: App;
  /** store app: in `tenant` visible to bob and to deptA; in `other` visible to all */
  listed: App;
}

function makeUser(tenantKey: string, name: string, patch: Partial<User> = {}): User {
  return {
    tenantKey,
    userId: `${name}${hex(3)}`,
    unionId: `on_${hex(16)}`,
    name,
    enName: name.toUpperCase(),
    email: `${name}@example.test`,
    mobile: null,
    avatarUrl: `https://avatar.example.test/${name}.png`,
    status: "active",
    departmentIds: [],
    ...patch,
  };
}

function makeApp(name: string, type: App["type"], scopes: string[]): App {
  return { appId: `cli_${hex(8)}`, name, type, scopes, secretHash: sha256(newSecret("")) };
}

export async function seedWorld(storage: Storage): Promise<World> {
  const tenant: Tenant = { tenantKey: hex(7), name: "Acme" };
  const other: Tenant = { tenantKey: hex(7), name: "Globex" };
  const deptA = `od-${hex(8)}`;
  const deptB = `od-${hex(8)}`;
  const world: World = {
    tenant,
    other,
    deptA,
    deptB,
    alice: makeUser(tenant.tenantKey, "alice", { departmentIds: [deptA] }),
    bob: makeUser(tenant.tenantKey, "bob", { email: null, mobile: "+86 100 0000 0000" }),
    carol: makeUser(tenant.tenantKey, "carol", { status: "deactivated" }),
    eve: makeUser(tenant.tenantKey, "eve", { departmentIds: [deptB] }),
    dave: makeUser(other.tenantKey, "dave"),
    app: makeApp("Demo", "self_built", ["contact:user.employee_id:readonly"]),
    rival: makeApp("Rival", "self_built", []),
    listed: makeApp("Store", "store", ["contact:user.base:readonly", "contact:user.employee_id:readonly"]),
  };
  await storage.upsertTenant(tenant);
  await storage.upsertTenant(other);
  for (const user of [world.alice, world.bob, world.carol, world.eve, world.dave]) {
    await storage.upsertUser(user);
  }
  for (const app of [world.app, world.rival, world.listed]) await storage.upsertApp(app);
  await storage.upsertInstallation({
    appId: world.app.appId,
    tenantKey: tenant.tenantKey,
    visibility: { all: true },
  });
  await storage.upsertInstallation({
    appId: world.rival.appId,
    tenantKey: tenant.tenantKey,
    visibility: { all: true },
  });
  await storage.upsertInstallation({
    appId: world.listed.appId,
    tenantKey: tenant.tenantKey,
    visibility: { all: false, userIds: [world.bob.userId], departmentIds: [deptA] },
  });
  await storage.upsertInstallation({
    appId: world.listed.appId,
    tenantKey: other.tenantKey,
    visibility: { all: true },
  });
  return world;
}

// --- Flow helpers ----------------------------------------------------------------------------

export interface MintedCode {
  raw: string;
  record: LoginCodeRecord;
  openId: string;
}

/** What `tt.login` does: assign the open_id, then save the code (hashed). */
/** A new code's record for that app and user, not yet stored. */
function freshCode(app: App, user: User, issuedAt: Millis = T0): LoginCodeRecord {
  return {
    codeHash: sha256(newSecret("")),
    appId: app.appId,
    tenantKey: user.tenantKey,
    userId: user.userId,
    issuedAt,
    expiresAt: issuedAt + CODE_TTL,
  };
}

export async function mintCode(
  storage: Storage,
  app: App,
  user: User,
  issuedAt: Millis = T0,
): Promise<MintedCode> {
  const raw = newSecret("");
  const openId = await storage.ensureOpenId(app.appId, user.tenantKey, user.userId, `ou_${hex(16)}`);
  const record: LoginCodeRecord = { ...freshCode(app, user, issuedAt), codeHash: sha256(raw) };
  await storage.saveLoginCodes([record]);
  return { raw, record, openId };
}

export interface IssuedSecrets {
  accessToken: string;
  refreshToken: string;
  accessTokenHash: string;
  refreshTokenHash: string;
  accessExpiresAt: Millis;
}

function newTokens(now: Millis): IssuedSecrets {
  const accessToken = newSecret("u-");
  const refreshToken = newSecret("ur-");
  return {
    accessToken,
    refreshToken,
    accessTokenHash: sha256(accessToken),
    refreshTokenHash: sha256(refreshToken),
    accessExpiresAt: now + ACCESS_TTL,
  };
}

export function exchangeInput(
  codeHash: string,
  appId: string,
  now: Millis,
  revokeGrantOnReuse = true,
): { input: ExchangeInput; secrets: IssuedSecrets } {
  const secrets = newTokens(now);
  const input: ExchangeInput = {
    codeHash,
    appId,
    now,
    grantId: `grant_${hex(12)}`,
    sessionKeyHash: sha256(newSecret("")),
    tokens: {
      accessTokenHash: secrets.accessTokenHash,
      accessExpiresAt: secrets.accessExpiresAt,
      refreshTokenHash: secrets.refreshTokenHash,
    },
    familyExpiresAt: now + FAMILY_TTL,
    revokeGrantOnReuse,
  };
  return { input, secrets };
}

export interface Login extends IssuedSecrets {
  grantId: string;
  identity: GrantIdentity;
  familyExpiresAt: Millis;
  code: MintedCode;
  now: Millis;
}

/** Mints a code and redeems it; fails the test unless it is issued. */
export async function login(
  storage: Storage,
  app: App,
  user: User,
  now: Millis = T0 + SECOND,
): Promise<Login> {
  const code = await mintCode(storage, app, user, now - SECOND);
  const { input, secrets } = exchangeInput(code.record.codeHash, app.appId, now);
  const outcome = await storage.exchangeLoginCode(input);
  assert.equal(outcome.kind, "issued", `expected issued, got ${outcome.kind}`);
  const identity = (outcome as Extract<ExchangeOutcome, { kind: "issued" }>).identity;
  return { ...secrets, grantId: input.grantId, identity, familyExpiresAt: input.familyExpiresAt, code, now };
}

async function rotate(
  storage: Storage,
  refreshTokenHash: string,
  appId: string,
  now: Millis,
): Promise<{ outcome: RotateOutcome; next: IssuedSecrets }> {
  const next = newTokens(now);
  const outcome = await storage.rotateRefreshToken({
    refreshTokenHash,
    appId,
    now,
    next: {
      accessTokenHash: next.accessTokenHash,
      accessExpiresAt: next.accessExpiresAt,
      refreshTokenHash: next.refreshTokenHash,
    },
  });
  return { outcome, next };
}

function countKinds(outcomes: Array<{ kind: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return counts;
}

/**
 * Hooks whose `beforeConsume` holds every caller until `parties` of them arrived, then lets
 * them all go in the same instant. Inert until `arm()`.
 */
export function barrierHooks(parties: number): {
  hooks: StorageTestHooks;
  arm: () => void;
  arrived: () => number;
} {
  let armed = false;
  let count = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    arm: () => {
      armed = true;
    },
    arrived: () => count,
    hooks: {
      beforeConsume: async () => {
        if (!armed) return;
        count += 1;
        if (count >= parties) release();
        await gate;
      },
    },
  };
}

function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

// --- The suite -------------------------------------------------------------------------------

export function runStorageContract(name: string, makeStorage: MakeStorage, teardown?: TeardownStorage): void {
  describe(`storage contract: ${name}`, () => {
    const opened: Storage[] = [];

    async function open(hooks?: StorageTestHooks): Promise<Storage> {
      const storage = await makeStorage(hooks);
      opened.push(storage);
      await storage.migrate();
      return storage;
    }

    async function openWorld(hooks?: StorageTestHooks): Promise<{ s: Storage; w: World }> {
      const s = await open(hooks);
      return { s, w: await seedWorld(s) };
    }

    afterEach(async () => {
      for (const storage of opened.splice(0)) {
        await storage.close();
        await teardown?.(storage);
      }
    });

    describe("schema", () => {
      it("migrate is idempotent and keeps data; ping answers", async () => {
        const { s, w } = await openWorld();
        await s.migrate();
        await s.ping();
        assert.deepEqual(await s.getTenant(w.tenant.tenantKey), w.tenant);
      });
    });

    describe("server keys", () => {
      it("ensureServerKey: the first candidate wins, even when proposed together; later ones change nothing", async () => {
        const s = await open();
        const name = `key-${hex(4)}`;
        assert.deepEqual(await s.listServerKeys(name), []);
        const candidates = Array.from({ length: 8 }, () => hex(16));
        const answers = await Promise.all(candidates.map((c) => s.ensureServerKey(name, c, T0)));
        const winner = answers[0]!;
        assert.ok(candidates.includes(winner.value));
        for (const answer of answers) assert.deepEqual(answer, winner);
        assert.deepEqual(winner, { name, version: 1, value: winner.value, createdAt: T0 });
        assert.deepEqual(await s.ensureServerKey(name, "later", T0 + SECOND), winner);
        assert.deepEqual(await s.listServerKeys(name), [winner]);
        assert.deepEqual(await s.listServerKeys(`other-${hex(4)}`), [], "names are apart");
      });

      it("rotateServerKey: each rotation adds the next version and keeps the older ones; concurrent rotations keep every value", async () => {
        const s = await open();
        const name = `key-${hex(4)}`;
        const first = await s.rotateServerKey(name, "v1", T0);
        assert.deepEqual(first, { name, version: 1, value: "v1", createdAt: T0 });
        const second = await s.rotateServerKey(name, "v2", T0 + SECOND);
        assert.equal(second.version, 2);
        assert.deepEqual(
          await s.ensureServerKey(name, "ignored", T0 + 2 * SECOND),
          second,
          "ensure answers the newest",
        );
        const racing = await Promise.all(
          ["a", "b", "c", "d"].map((v) => s.rotateServerKey(name, v, T0 + 3 * SECOND)),
        );
        assert.deepEqual(racing.map((k) => k.version).sort(), [3, 4, 5, 6]);
        const all = await s.listServerKeys(name);
        assert.deepEqual(
          all.map((k) => k.version),
          [6, 5, 4, 3, 2, 1],
        );
        assert.deepEqual(all.slice(-2), [second, first]);
        assert.deepEqual(new Set(all.slice(0, 4).map((k) => k.value)), new Set(["a", "b", "c", "d"]));
      });
    });

    describe("catalogue", () => {
      it("tenants: upsert replaces, get and list", async () => {
        const { s, w } = await openWorld();
        assert.deepEqual(await s.getTenant(w.tenant.tenantKey), w.tenant);
        await s.upsertTenant({ tenantKey: w.tenant.tenantKey, name: "Acme Renamed" });
        assert.deepEqual(await s.getTenant(w.tenant.tenantKey), {
          tenantKey: w.tenant.tenantKey,
          name: "Acme Renamed",
        });
        assert.equal(await s.getTenant(hex(7)), null);
        const keys = (await s.listTenants()).map((t) => t.tenantKey);
        assert.ok(keys.includes(w.tenant.tenantKey) && keys.includes(w.other.tenantKey));
      });

      it("users: round trip with departments; upsert replaces the whole record", async () => {
        const { s, w } = await openWorld();
        assert.deepEqual(await s.getUser(w.alice.tenantKey, w.alice.userId), w.alice);
        assert.deepEqual(await s.getUser(w.bob.tenantKey, w.bob.userId), w.bob);
        assert.deepEqual(await s.getUser(w.carol.tenantKey, w.carol.userId), w.carol);
        assert.equal(await s.getUser(w.tenant.tenantKey, "nobody"), null);
        assert.equal(await s.getUser(w.other.tenantKey, w.alice.userId), null, "user ids are per tenant");

        const replaced: User = {
          ...w.alice,
          name: "Alice B",
          email: null,
          mobile: "+1 555 0100",
          status: "deactivated",
          departmentIds: ["od-z", w.deptB, "od-a"],
        };
        await s.upsertUser(replaced);
        assert.deepEqual(
          await s.getUser(w.alice.tenantKey, w.alice.userId),
          replaced,
          "departments keep their order",
        );
        await s.upsertUser({ ...replaced, departmentIds: [] });
        assert.deepEqual((await s.getUser(w.alice.tenantKey, w.alice.userId))?.departmentIds, []);

        const inTenant = await s.listUsers(w.tenant.tenantKey);
        assert.deepEqual(
          inTenant.map((u) => u.userId).sort(),
          [w.alice, w.bob, w.carol, w.eve].map((u) => u.userId).sort(),
        );
        assert.deepEqual(
          inTenant.find((u) => u.userId === w.eve.userId),
          w.eve,
        );
        const all = await s.listUsers();
        assert.ok(all.some((u) => u.userId === w.dave.userId && u.tenantKey === w.other.tenantKey));
      });

      it("apps: round trip; upsert replaces scopes, name and secret hash", async () => {
        const { s, w } = await openWorld();
        assert.deepEqual(await s.getApp(w.app.appId), w.app);
        assert.deepEqual(await s.getApp(w.rival.appId), w.rival, "empty scopes survive");
        assert.equal(await s.getApp(`cli_${hex(8)}`), null);
        const changed: App = {
          ...w.app,
          name: "Demo 2",
          scopes: ["a:b", "c:d"],
          secretHash: sha256(newSecret("")),
        };
        await s.upsertApp(changed);
        assert.deepEqual(await s.getApp(w.app.appId), changed);
        const listed = await s.listApps();
        assert.deepEqual(
          listed.find((a) => a.appId === w.listed.appId),
          w.listed,
        );
      });

      it("installations: all, listed users and departments; upsert replaces the visibility", async () => {
        const { s, w } = await openWorld();
        const installs = (await s.listInstallations(w.listed.appId)).sort(byKey((i) => i.tenantKey));
        const expected: Installation[] = [
          {
            appId: w.listed.appId,
            tenantKey: w.tenant.tenantKey,
            visibility: { all: false, userIds: [w.bob.userId], departmentIds: [w.deptA] },
          },
          { appId: w.listed.appId, tenantKey: w.other.tenantKey, visibility: { all: true } },
        ];
        assert.deepEqual(installs, expected.sort(byKey((i) => i.tenantKey)));

        const narrowed: Installation = {
          appId: w.app.appId,
          tenantKey: w.tenant.tenantKey,
          visibility: { all: false, userIds: [w.eve.userId, w.alice.userId], departmentIds: [] },
        };
        await s.upsertInstallation(narrowed);
        assert.deepEqual(await s.listInstallations(w.app.appId), [narrowed]);
        await s.upsertInstallation({ ...narrowed, visibility: { all: true } });
        assert.deepEqual(await s.listInstallations(w.app.appId), [
          { ...narrowed, visibility: { all: true } },
        ]);
        assert.deepEqual(await s.listInstallations(`cli_${hex(8)}`), []);
      });

      it("open_id: assigned once (idempotent), different per app", async () => {
        const { s, w } = await openWorld();
        const first = `ou_${hex(16)}`;
        assert.equal(await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, first), first);
        assert.equal(
          await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
          first,
        );
        const [a, b] = await Promise.all([
          s.ensureOpenId(w.rival.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
          s.ensureOpenId(w.rival.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
        ]);
        assert.equal(a, b, "concurrent assignment settles on one open_id");
        assert.notEqual(a, first, "another app sees another open_id");
        const bobs = await s.ensureOpenId(w.app.appId, w.bob.tenantKey, w.bob.userId, `ou_${hex(16)}`);
        assert.notEqual(bobs, first);
      });

      it("importCatalog / exportCatalog round trip (secret hashes and open_ids included)", async () => {
        const source = await open();
        const w = await seedWorld(source);
        await mintCode(source, w.app, w.alice);
        await mintCode(source, w.listed, w.dave);
        const exported = await source.exportCatalog();

        const mine = (snapshot: typeof exported) => {
          const tenants = new Set([w.tenant.tenantKey, w.other.tenantKey]);
          const apps = new Set([w.app.appId, w.rival.appId, w.listed.appId]);
          return {
            tenants: snapshot.tenants.filter((t) => tenants.has(t.tenantKey)).sort(byKey((t) => t.tenantKey)),
            users: snapshot.users
              .filter((u) => tenants.has(u.tenantKey))
              .sort(byKey((u) => `${u.tenantKey}/${u.userId}`)),
            apps: snapshot.apps.filter((a) => apps.has(a.appId)).sort(byKey((a) => a.appId)),
            installations: snapshot.installations
              .filter((i) => apps.has(i.appId))
              .sort(byKey((i) => `${i.appId}/${i.tenantKey}`)),
            openIds: snapshot.openIds
              .filter((o) => apps.has(o.appId))
              .sort(byKey((o) => `${o.appId}/${o.tenantKey}/${o.userId}`)),
          };
        };
        const expected = mine(exported);
        assert.equal(expected.tenants.length, 2);
        assert.equal(expected.users.length, 5);
        assert.deepEqual(
          expected.users.find((u) => u.userId === w.alice.userId),
          w.alice,
        );
        assert.deepEqual(
          expected.apps.find((a) => a.appId === w.app.appId),
          w.app,
        );
        assert.equal(expected.installations.length, 4);
        assert.equal(expected.openIds.length, 2);
        assert.ok(!JSON.stringify(exported).includes("grant_"), "no grants or tokens in a catalogue export");

        const target = await open();
        await target.importCatalog(exported);
        assert.deepEqual(mine(await target.exportCatalog()), expected);
        // Imported open_ids stay: a later ensureOpenId returns them.
        const alices = expected.openIds.find((o) => o.userId === w.alice.userId)!;
        assert.equal(
          await target.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
          alices.openId,
        );
        // Importing again changes nothing (upserts).
        await target.importCatalog(exported);
        assert.deepEqual(mine(await target.exportCatalog()), expected);
      });
    });

    describe("app tokens", () => {
      function appToken(app: App, kind: AppTokenRecord["kind"], tenantKey: string | null, issuedAt: Millis) {
        const raw = newSecret("t-");
        const record: AppTokenRecord = {
          tokenHash: sha256(raw),
          kind,
          appId: app.appId,
          tenantKey,
          salt: hex(16),
          issuedAt,
          expiresAt: issuedAt + 2 * HOUR,
        };
        return record;
      }

      it("latestAppToken: the newest unexpired token of that kind for (app, tenant)", async () => {
        const { s, w } = await openWorld();
        const tenantKey = w.tenant.tenantKey;
        const older = appToken(w.app, "app", tenantKey, T0);
        const newer = appToken(w.app, "app", tenantKey, T0 + 95 * 60 * SECOND);
        const tenantToken = appToken(w.app, "tenant", tenantKey, T0 + 10 * SECOND);
        const storeToken = appToken(w.listed, "app", null, T0);
        for (const t of [older, tenantToken, storeToken]) await s.saveAppToken(t);
        assert.deepEqual(await s.latestAppToken("app", w.app.appId, tenantKey, T0 + HOUR), older);
        // With 25 minutes left the domain issues a new token; both stay valid, the newer wins.
        await s.saveAppToken(newer);
        assert.deepEqual(
          await s.latestAppToken("app", w.app.appId, tenantKey, T0 + HOUR),
          older,
          "a token not yet issued at `now` is not the latest",
        );
        assert.deepEqual(await s.latestAppToken("app", w.app.appId, tenantKey, T0 + 95 * 60 * SECOND), newer);
        assert.deepEqual(await s.findAppToken(older.tokenHash, T0 + 95 * 60 * SECOND), older);
        assert.deepEqual(await s.latestAppToken("app", w.app.appId, tenantKey, older.expiresAt), newer);
        assert.deepEqual(await s.latestAppToken("tenant", w.app.appId, tenantKey, T0 + HOUR), tenantToken);
        assert.deepEqual(await s.latestAppToken("app", w.listed.appId, null, T0 + HOUR), storeToken);
        assert.equal(await s.latestAppToken("app", w.listed.appId, tenantKey, T0 + HOUR), null);
        assert.equal(await s.latestAppToken("app", w.rival.appId, tenantKey, T0 + HOUR), null);
        assert.equal(await s.latestAppToken("app", w.app.appId, tenantKey, newer.expiresAt), null);
      });

      it("findAppToken: by hash, either kind, unexpired only (expiresAt is exclusive)", async () => {
        const { s, w } = await openWorld();
        const app = appToken(w.app, "app", w.tenant.tenantKey, T0);
        const tenant = appToken(w.app, "tenant", w.tenant.tenantKey, T0);
        await s.saveAppToken(app);
        await s.saveAppToken(tenant);
        assert.deepEqual(await s.findAppToken(app.tokenHash, T0), app);
        assert.deepEqual(await s.findAppToken(tenant.tokenHash, T0 + HOUR), tenant);
        assert.deepEqual(await s.findAppToken(app.tokenHash, app.expiresAt - 1), app);
        assert.equal(await s.findAppToken(app.tokenHash, app.expiresAt), null);
        assert.equal(await s.findAppToken(sha256(newSecret("t-")), T0), null);
      });
    });

    describe("saveLoginCodes", () => {
      it("stores every code of the call, each redeemable once; an empty call stores nothing", async () => {
        const { s, w } = await openWorld();
        await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
        await s.saveLoginCodes([]);
        const codes = Array.from({ length: 5 }, () => freshCode(w.app, w.alice));
        await s.saveLoginCodes(codes);
        for (const code of codes) {
          const redeem = () =>
            s.exchangeLoginCode(exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input);
          assert.equal((await redeem()).kind, "issued");
          assert.equal((await redeem()).kind, "reused");
        }
      });

      it("stores none of them when one fails (a duplicate hash)", async () => {
        const { s, w } = await openWorld();
        const existing = await mintCode(s, w.app, w.alice, T0);
        const batch = [
          freshCode(w.app, w.alice),
          { ...existing.record, expiresAt: T0 + 10 * HOUR },
          freshCode(w.app, w.alice),
        ];
        await assert.rejects(s.saveLoginCodes(batch));
        for (const code of [batch[0]!, batch[2]!]) {
          const outcome = await s.exchangeLoginCode(
            exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input,
          );
          assert.equal(outcome.kind, "invalid", "no code of the failed call was stored");
        }
        const kept = await s.exchangeLoginCode(
          exchangeInput(existing.record.codeHash, w.app.appId, T0 + SECOND).input,
        );
        assert.equal(kept.kind, "issued", "the existing code is unchanged");
      });
    });

    describe("exchangeLoginCode", () => {
      it("issued: identity fields, grant, session and tokens", async () => {
        const { s, w } = await openWorld();
        const code = await mintCode(s, w.app, w.alice, T0);
        const now = T0 + 5 * SECOND;
        const { input } = exchangeInput(code.record.codeHash, w.app.appId, now);
        const outcome = await s.exchangeLoginCode(input);
        assert.deepEqual(outcome, {
          kind: "issued",
          identity: {
            grantId: input.grantId,
            appId: w.app.appId,
            tenantKey: w.tenant.tenantKey,
            userId: w.alice.userId,
            openId: code.openId,
            scopes: w.app.scopes,
          },
        });
        const subject = await s.findAccessToken(input.tokens.accessTokenHash, now);
        assert.deepEqual(subject?.user, w.alice);
        const grants = await s.listGrants({ appId: w.app.appId, limit: 10 });
        assert.deepEqual(grants, [
          {
            grantId: input.grantId,
            appId: w.app.appId,
            tenantKey: w.tenant.tenantKey,
            userId: w.alice.userId,
            createdAt: now,
            expiresAt: input.familyExpiresAt,
            revokedAt: null,
            revokeReason: null,
          },
        ]);
      });

      it("issued for a code saved without an open_id: the exchange assigns one, kept from then on", async () => {
        // The adapters once disagreed here (SQLite threw, PostgreSQL assigned): port.ts says which.
        const { s, w } = await openWorld();
        const record: LoginCodeRecord = { ...freshCode(w.app, w.alice), codeHash: sha256(newSecret("")) };
        await s.saveLoginCodes([record]);
        const { input } = exchangeInput(record.codeHash, w.app.appId, T0 + SECOND);
        const outcome = await s.exchangeLoginCode(input);
        assert.equal(outcome.kind, "issued");
        const openId = (outcome as Extract<ExchangeOutcome, { kind: "issued" }>).identity.openId;
        assert.match(openId, /^ou_[0-9a-f]{32}$/);
        assert.equal(
          await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, "ou_other"),
          openId,
        );
        const subject = await s.findAccessToken(input.tokens.accessTokenHash, T0 + SECOND);
        assert.equal(subject?.identity.openId, openId);
      });

      it("invalid: unknown code; nothing created", async () => {
        const { s, w } = await openWorld();
        const { input } = exchangeInput(sha256(newSecret("")), w.app.appId, T0);
        assert.deepEqual(await s.exchangeLoginCode(input), { kind: "invalid" });
        assert.deepEqual(await s.listGrants({ appId: w.app.appId, limit: 10 }), []);
      });

      it("invalid: expired code (issued+179 s redeems, issued+180 s and +181 s do not)", async () => {
        const { s, w } = await openWorld();
        const ok = await mintCode(s, w.app, w.alice, T0);
        const atLimit = await mintCode(s, w.app, w.alice, T0);
        const late = await mintCode(s, w.app, w.alice, T0);
        const exchange = (code: MintedCode, now: Millis) =>
          s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, now).input);
        assert.equal((await exchange(ok, T0 + 179 * SECOND)).kind, "issued");
        assert.deepEqual(await exchange(atLimit, T0 + 180 * SECOND), { kind: "invalid" });
        assert.deepEqual(await exchange(late, T0 + 181 * SECOND), { kind: "invalid" });
        // Expired stays invalid on every later try, and nothing was consumed by those tries.
        assert.deepEqual(await exchange(late, T0 + 181 * SECOND), { kind: "invalid" });
        assert.equal(
          (await exchange(late, T0 + 179 * SECOND)).kind,
          "issued",
          "the refused tries consumed nothing (same code, judged at an earlier now)",
        );
      });

      it("foreign: another app's code changes nothing; the owner redeems it afterwards", async () => {
        const { s, w } = await openWorld();
        const code = await mintCode(s, w.app, w.alice, T0);
        const foreign = exchangeInput(code.record.codeHash, w.rival.appId, T0 + SECOND);
        assert.deepEqual(await s.exchangeLoginCode(foreign.input), { kind: "foreign" });
        assert.deepEqual(
          await s.exchangeLoginCode(foreign.input),
          { kind: "foreign" },
          "still foreign, not reused",
        );
        assert.deepEqual(await s.listGrants({ appId: w.rival.appId, limit: 10 }), []);
        const own = exchangeInput(code.record.codeHash, w.app.appId, T0 + 2 * SECOND);
        assert.equal((await s.exchangeLoginCode(own.input)).kind, "issued");
      });

      it("reused: the replay revokes the first redemption's grant and tokens; later replays stay reused", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0 + SECOND);
        assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + 2 * SECOND));

        const replay = exchangeInput(first.code.record.codeHash, w.app.appId, T0 + 3 * SECOND);
        assert.deepEqual(await s.exchangeLoginCode(replay.input), {
          kind: "reused",
          revokedGrantId: first.grantId,
        });
        assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + 4 * SECOND), null);
        assert.equal(
          (await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 4 * SECOND)).outcome.kind,
          "revoked",
        );
        const [grant] = await s.listGrants({ appId: w.app.appId, limit: 10 });
        assert.equal(grant?.revokedAt, T0 + 3 * SECOND);
        assert.equal(typeof grant?.revokeReason, "string");
        assert.deepEqual(await s.findAccessToken(replay.input.tokens.accessTokenHash, T0 + 4 * SECOND), null);

        const third = exchangeInput(first.code.record.codeHash, w.app.appId, T0 + 170 * SECOND);
        assert.deepEqual(await s.exchangeLoginCode(third.input), {
          kind: "reused",
          revokedGrantId: first.grantId,
        });
        assert.equal(
          (await s.listGrants({ appId: w.app.appId, limit: 10 }))[0]?.revokedAt,
          T0 + 3 * SECOND,
          "a later replay does not move the revocation time",
        );
      });

      it("reused with revokeGrantOnReuse=false: nothing revoked, the replay is still reused", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0 + SECOND);
        for (const at of [T0 + 2 * SECOND, T0 + 3 * SECOND]) {
          const replay = exchangeInput(first.code.record.codeHash, w.app.appId, at, false);
          assert.deepEqual(await s.exchangeLoginCode(replay.input), { kind: "reused", revokedGrantId: null });
        }
        assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + 4 * SECOND));
        assert.equal((await s.listGrants({ appId: w.app.appId, limit: 10 }))[0]?.revokedAt, null);
      });

      it("not_visible: a deactivated user; the code is consumed anyway, no grant", async () => {
        const { s, w } = await openWorld();
        const code = await mintCode(s, w.app, w.carol, T0);
        const { input } = exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND);
        assert.deepEqual(await s.exchangeLoginCode(input), { kind: "not_visible" });
        assert.equal(await s.findAccessToken(input.tokens.accessTokenHash, T0 + SECOND), null);
        assert.deepEqual(await s.listGrants({ appId: w.app.appId, limit: 10 }), []);
        const replay = exchangeInput(code.record.codeHash, w.app.appId, T0 + 2 * SECOND);
        assert.deepEqual(await s.exchangeLoginCode(replay.input), { kind: "reused", revokedGrantId: null });
      });

      it("not_visible: a user outside the listed users and departments", async () => {
        const { s, w } = await openWorld();
        const code = await mintCode(s, w.listed, w.eve, T0);
        const { input } = exchangeInput(code.record.codeHash, w.listed.appId, T0 + SECOND);
        assert.deepEqual(await s.exchangeLoginCode(input), { kind: "not_visible" });
        assert.deepEqual(await s.listGrants({ appId: w.listed.appId, limit: 10 }), []);
      });

      it("visible: a listed user, a member of a listed department, everyone where visibility is all", async () => {
        const { s, w } = await openWorld();
        const bob = await login(s, w.listed, w.bob);
        assert.equal(bob.identity.userId, w.bob.userId);
        const alice = await login(s, w.listed, w.alice);
        assert.equal(alice.identity.userId, w.alice.userId, "visible through department deptA");
        const dave = await login(s, w.listed, w.dave);
        assert.equal(dave.identity.tenantKey, w.other.tenantKey, "store app, installed with visibility all");
        // Moving eve into deptA makes her visible; visibility is judged at redemption time.
        await s.upsertUser({ ...w.eve, departmentIds: [w.deptB, w.deptA] });
        assert.equal((await login(s, w.listed, w.eve)).identity.userId, w.eve.userId);
      });

      it("not_visible: the app is not installed in the code's tenant", async () => {
        const { s, w } = await openWorld();
        const code = await mintCode(s, w.rival, w.dave, T0);
        const { input } = exchangeInput(code.record.codeHash, w.rival.appId, T0 + SECOND);
        assert.deepEqual(await s.exchangeLoginCode(input), { kind: "not_visible" });
      });

      it("64 concurrent redemptions of one code: exactly one issued, 63 reused (5 rounds)", async () => {
        const { s, w } = await openWorld();
        for (let round = 0; round < 5; round++) {
          const code = await mintCode(s, w.app, w.alice, T0 + round * SECOND);
          const now = T0 + round * SECOND + 500;
          const outcomes = await Promise.all(
            Array.from({ length: 64 }, () =>
              s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, now).input),
            ),
          );
          assert.deepEqual(countKinds(outcomes), { issued: 1, reused: 63 }, `round ${round}`);
          const issued = outcomes.find((o) => o.kind === "issued") as Extract<
            ExchangeOutcome,
            { kind: "issued" }
          >;
          for (const o of outcomes) {
            if (o.kind === "reused") assert.equal(o.revokedGrantId, issued.identity.grantId);
          }
        }
        assert.equal(
          (await s.listGrants({ appId: w.app.appId, limit: 100 })).length,
          5,
          "one grant per code",
        );
      });

      it("beforeConsume race: two redemptions released together at the consume point, one issued", async () => {
        const barrier = barrierHooks(2);
        const { s, w } = await openWorld(barrier.hooks);
        const code = await mintCode(s, w.app, w.alice, T0);
        barrier.arm();
        const outcomes = await Promise.all([
          s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND).input),
          s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND).input),
        ]);
        assert.equal(barrier.arrived(), 2, "both callers waited at the hook");
        assert.deepEqual(countKinds(outcomes), { issued: 1, reused: 1 });
        assert.equal((await s.listGrants({ appId: w.app.appId, limit: 10 })).length, 1);
      });
    });

    describe("rotateRefreshToken", () => {
      it("rotated: same grant and family end; the old token is spent, the new one works", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
        assert.deepEqual(r1.outcome, {
          kind: "rotated",
          identity: first.identity,
          familyExpiresAt: first.familyExpiresAt,
        });
        const subject = await s.findAccessToken(r1.next.accessTokenHash, T0 + HOUR);
        assert.equal(subject?.identity.grantId, first.grantId);
        const r2 = await rotate(s, r1.next.refreshTokenHash, w.app.appId, T0 + 2 * HOUR);
        assert.equal(r2.outcome.kind, "rotated");
        assert.equal(
          (r2.outcome as Extract<RotateOutcome, { kind: "rotated" }>).familyExpiresAt,
          first.familyExpiresAt,
          "rotation never extends the family",
        );
        // The spent token no longer rotates.
        assert.notEqual(
          (await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 3 * HOUR)).outcome.kind,
          "rotated",
        );
      });

      it("reused: a spent token presented again revokes the whole family", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
        assert.equal(r1.outcome.kind, "rotated");
        const replay = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 2 * HOUR);
        assert.deepEqual(replay.outcome, { kind: "reused", revokedGrantId: first.grantId });
        assert.equal(
          (await rotate(s, r1.next.refreshTokenHash, w.app.appId, T0 + 3 * HOUR)).outcome.kind,
          "revoked",
        );
        assert.equal(await s.findAccessToken(r1.next.accessTokenHash, T0 + 3 * HOUR), null);
        assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + 3 * HOUR), null);
        assert.equal(await s.findAccessToken(replay.next.accessTokenHash, T0 + 3 * HOUR), null);
        const grant = (await s.listGrants({ appId: w.app.appId, limit: 1 }))[0];
        assert.equal(grant?.revokedAt, T0 + 2 * HOUR);
      });

      it("reused: ANY token the family spent, not only the last, revokes it when presented again", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        let token = first.refreshTokenHash;
        const spent: string[] = [];
        for (let i = 1; i <= 3; i++) {
          const r = await rotate(s, token, w.app.appId, T0 + i * HOUR);
          assert.equal(r.outcome.kind, "rotated");
          spent.push(token);
          token = r.next.refreshTokenHash;
        }
        assert.deepEqual((await rotate(s, spent[0]!, w.app.appId, T0 + 4 * HOUR)).outcome, {
          kind: "reused",
          revokedGrantId: first.grantId,
        });
        assert.deepEqual((await rotate(s, token, w.app.appId, T0 + 5 * HOUR)).outcome, { kind: "revoked" });
      });

      it("rotated: the refresh ends the access token it replaces; the new one lives its full term", async () => {
        // The platform's rule (refreshing invalidates the previous user_access_token): one row
        // per login holds one current access token.
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + HOUR));
        const r = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
        assert.equal(r.outcome.kind, "rotated");
        assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + HOUR), null);
        assert.ok(await s.findAccessToken(r.next.accessTokenHash, r.next.accessExpiresAt - 1));
        assert.equal(await s.findAccessToken(r.next.accessTokenHash, r.next.accessExpiresAt), null);
      });

      it("expired: at the family's absolute end (exclusive), whatever the token", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        const end = first.familyExpiresAt;
        const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, end - 1);
        assert.equal(r1.outcome.kind, "rotated");
        assert.deepEqual((await rotate(s, r1.next.refreshTokenHash, w.app.appId, end)).outcome, {
          kind: "expired",
        });
        assert.deepEqual((await rotate(s, r1.next.refreshTokenHash, w.app.appId, end + HOUR)).outcome, {
          kind: "expired",
        });
      });

      it("invalid: unknown token; foreign: another app's token, which stays usable by its owner", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        assert.deepEqual((await rotate(s, sha256(newSecret("ur-")), w.app.appId, T0 + 1)).outcome, {
          kind: "invalid",
        });
        assert.deepEqual((await rotate(s, first.refreshTokenHash, w.rival.appId, T0 + 1)).outcome, {
          kind: "foreign",
        });
        assert.equal((await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 2)).outcome.kind, "rotated");
      });

      it("revoked: the grant was revoked before", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        assert.equal(await s.revokeGrant(first.grantId, T0 + 1, "admin"), true);
        assert.deepEqual((await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 2)).outcome, {
          kind: "revoked",
        });
      });

      it("16 concurrent rotations of one token: exactly one rotated (3 rounds)", async () => {
        const { s, w } = await openWorld();
        for (let round = 0; round < 3; round++) {
          const first = await login(s, w.app, w.alice, T0 + round * HOUR);
          const outcomes = await Promise.all(
            Array.from({ length: 16 }, () =>
              rotate(s, first.refreshTokenHash, w.app.appId, T0 + round * HOUR + SECOND).then(
                (r) => r.outcome,
              ),
            ),
          );
          const kinds = countKinds(outcomes);
          assert.equal(kinds.rotated, 1, `round ${round}: ${JSON.stringify(kinds)}`);
          assert.equal(kinds.rotated + (kinds.reused ?? 0) + (kinds.revoked ?? 0), 16);
        }
      });

      it("beforeConsume race: two rotations released together at the spend point, one rotated", async () => {
        const barrier = barrierHooks(2);
        const { s, w } = await openWorld(barrier.hooks);
        const first = await login(s, w.app, w.alice, T0);
        barrier.arm();
        const outcomes = await Promise.all([
          rotate(s, first.refreshTokenHash, w.app.appId, T0 + SECOND).then((r) => r.outcome),
          rotate(s, first.refreshTokenHash, w.app.appId, T0 + SECOND).then((r) => r.outcome),
        ]);
        assert.equal(barrier.arrived(), 2);
        assert.deepEqual(countKinds(outcomes), { rotated: 1, reused: 1 });
      });
    });

    describe("findAccessToken", () => {
      it("live until its expiry (exclusive), with the full user and the app's current scopes", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        const subject = await s.findAccessToken(first.accessTokenHash, first.accessExpiresAt - 1);
        assert.deepEqual(subject, { identity: first.identity, user: w.alice });
        assert.equal(await s.findAccessToken(first.accessTokenHash, first.accessExpiresAt), null);
        assert.equal(await s.findAccessToken(sha256(newSecret("u-")), T0), null);

        await s.upsertApp({ ...w.app, scopes: ["contact:user.base:readonly"] });
        const later = await s.findAccessToken(first.accessTokenHash, T0 + SECOND);
        assert.deepEqual(later?.identity.scopes, ["contact:user.base:readonly"]);
      });

      it("dead once its grant is revoked or its family has ended", async () => {
        const { s, w } = await openWorld();
        const revoked = await login(s, w.app, w.alice, T0);
        await s.revokeGrant(revoked.grantId, T0 + SECOND, "admin");
        assert.equal(await s.findAccessToken(revoked.accessTokenHash, T0 + 2 * SECOND), null);

        // An access token outliving its family (rotated just before the end) dies with it.
        const ending = await login(s, w.app, w.bob, T0);
        const r = await rotate(s, ending.refreshTokenHash, w.app.appId, ending.familyExpiresAt - SECOND);
        assert.equal(r.outcome.kind, "rotated");
        assert.ok(await s.findAccessToken(r.next.accessTokenHash, ending.familyExpiresAt - 1));
        assert.equal(await s.findAccessToken(r.next.accessTokenHash, ending.familyExpiresAt), null);
      });
    });

    describe("grants and audit", () => {
      it("listGrants filters by app, tenant, user and activity, newest first, limited", async () => {
        const { s, w } = await openWorld();
        const a1 = await login(s, w.app, w.alice, T0 + 1 * SECOND);
        const a2 = await login(s, w.app, w.bob, T0 + 2 * SECOND);
        const a3 = await login(s, w.app, w.alice, T0 + 3 * SECOND);
        const l1 = await login(s, w.listed, w.dave, T0 + 4 * SECOND);
        await s.revokeGrant(a2.grantId, T0 + 5 * SECOND, "admin");

        const ids = (grants: Array<{ grantId: string }>) => grants.map((g) => g.grantId);
        assert.deepEqual(ids(await s.listGrants({ appId: w.app.appId, limit: 10 })), [
          a3.grantId,
          a2.grantId,
          a1.grantId,
        ]);
        assert.deepEqual(ids(await s.listGrants({ appId: w.app.appId, limit: 2 })), [a3.grantId, a2.grantId]);
        assert.deepEqual(ids(await s.listGrants({ appId: w.app.appId, userId: w.alice.userId, limit: 10 })), [
          a3.grantId,
          a1.grantId,
        ]);
        assert.deepEqual(ids(await s.listGrants({ tenantKey: w.other.tenantKey, limit: 10 })), [l1.grantId]);
        assert.deepEqual(
          ids(await s.listGrants({ tenantKey: w.tenant.tenantKey, userId: w.bob.userId, limit: 10 })),
          [a2.grantId],
        );
        assert.deepEqual(
          ids(await s.listGrants({ appId: w.app.appId, activeAt: T0 + 6 * SECOND, limit: 10 })),
          [a3.grantId, a1.grantId],
        );
        assert.deepEqual(
          ids(await s.listGrants({ appId: w.app.appId, activeAt: a1.familyExpiresAt, limit: 10 })),
          [a3.grantId],
        );
        const revoked = (await s.listGrants({ appId: w.app.appId, userId: w.bob.userId, limit: 1 }))[0];
        assert.equal(revoked?.revokedAt, T0 + 5 * SECOND);
        assert.equal(revoked?.revokeReason, "admin");
      });

      it("revokeGrant: true once, false when already revoked or unknown; every token of the grant dies", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0);
        const r = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + SECOND);
        assert.equal(await s.revokeGrant(first.grantId, T0 + 2 * SECOND, "user_logout"), true);
        assert.equal(await s.revokeGrant(first.grantId, T0 + 3 * SECOND, "again"), false);
        assert.equal(await s.revokeGrant(`grant_${hex(12)}`, T0 + 3 * SECOND, "admin"), false);
        assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + 4 * SECOND), null);
        assert.equal(await s.findAccessToken(r.next.accessTokenHash, T0 + 4 * SECOND), null);
        assert.equal(
          (await rotate(s, r.next.refreshTokenHash, w.app.appId, T0 + 4 * SECOND)).outcome.kind,
          "revoked",
        );
        const grant = (await s.listGrants({ appId: w.app.appId, limit: 1 }))[0];
        assert.equal(grant?.revokedAt, T0 + 2 * SECOND);
        assert.equal(grant?.revokeReason, "user_logout");
      });

      it("audit events: every consume, reuse, rejection, rotation and revocation, newest first, paged", async () => {
        const { s, w } = await openWorld();
        const first = await login(s, w.app, w.alice, T0 + SECOND);
        await s.exchangeLoginCode(
          exchangeInput(first.code.record.codeHash, w.app.appId, T0 + 2 * SECOND).input,
        );
        const hidden = await mintCode(s, w.app, w.carol, T0 + 3 * SECOND);
        await s.exchangeLoginCode(exchangeInput(hidden.record.codeHash, w.app.appId, T0 + 4 * SECOND).input);
        const second = await login(s, w.app, w.bob, T0 + 5 * SECOND);
        await rotate(s, second.refreshTokenHash, w.app.appId, T0 + 6 * SECOND);
        await rotate(s, second.refreshTokenHash, w.app.appId, T0 + 7 * SECOND);
        const third = await login(s, w.app, w.alice, T0 + 8 * SECOND);
        await s.revokeGrant(third.grantId, T0 + 9 * SECOND, "admin");

        const events = (await s.listAuditEvents(500)).filter((e) => e.appId === w.app.appId);
        for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.id > events[i]!.id, "newest first");
        const summary = events
          .slice()
          .reverse()
          .map((e) => `${e.type}@${(e.at - T0) / SECOND}`);
        assert.deepEqual(
          summary.filter((x) => !x.startsWith("grant.revoked")),
          [
            "login_code.consumed@1",
            "login_code.reused@2",
            "login_code.rejected_visibility@4",
            "login_code.consumed@5",
            "refresh_token.rotated@6",
            "refresh_token.reused@7",
            "login_code.consumed@8",
          ],
        );
        assert.deepEqual(
          summary.filter((x) => x.startsWith("grant.revoked")),
          ["grant.revoked@2", "grant.revoked@7", "grant.revoked@9"],
        );
        const consumed = events.find((e) => e.type === "login_code.consumed" && e.at === T0 + SECOND);
        assert.deepEqual(
          {
            appId: consumed?.appId,
            tenantKey: consumed?.tenantKey,
            userId: consumed?.userId,
            grantId: consumed?.grantId,
          },
          {
            appId: w.app.appId,
            tenantKey: w.tenant.tenantKey,
            userId: w.alice.userId,
            grantId: first.grantId,
          },
        );
        const rejected = events.find((e) => e.type === "login_code.rejected_visibility");
        assert.equal(rejected?.userId, w.carol.userId);
        assert.equal(rejected?.grantId, null);

        const page1 = await s.listAuditEvents(2);
        assert.equal(page1.length, 2);
        const page2 = await s.listAuditEvents(2, page1[1]!.id);
        assert.equal(page2.length, 2);
        assert.ok(page2[0]!.id < page1[1]!.id);
      });
    });

    describe("hitRateLimit", () => {
      it("counts attempts in a fixed window, refuses past the limit, resets in the next window", async () => {
        const s = await open();
        const key = `redeem-ip:${hex(4)}`;
        const windowMs = 60 * SECOND;
        const start = Math.floor(T0 / windowMs) * windowMs + windowMs;
        const hit = (now: Millis, k = key) => s.hitRateLimit({ key: k, now, windowMs, limit: 3 });
        assert.deepEqual(await hit(start), { allowed: true, retryAfterMs: 0 });
        assert.deepEqual(await hit(start + 10 * SECOND), { allowed: true, retryAfterMs: 0 });
        assert.deepEqual(await hit(start + 20 * SECOND), { allowed: true, retryAfterMs: 0 });
        assert.deepEqual(await hit(start + 45 * SECOND), { allowed: false, retryAfterMs: 15 * SECOND });
        assert.deepEqual(await hit(start + 59 * SECOND), { allowed: false, retryAfterMs: SECOND });
        assert.deepEqual(await hit(start + 30 * SECOND, `${key}:other`), { allowed: true, retryAfterMs: 0 });
        assert.deepEqual(await hit(start + windowMs), { allowed: true, retryAfterMs: 0 }, "a new window");

        const burst = await Promise.all(Array.from({ length: 10 }, () => hit(start + 5 * windowMs)));
        assert.equal(burst.filter((r) => r.allowed).length, 3, "concurrent hits are counted exactly");
      });
    });

    describe("purgeExpired", () => {
      it("deletes what can no longer decide anything, keeps what still can", async () => {
        const { s, w } = await openWorld();
        const cut = T0 + FAMILY_TTL + 10 * HOUR;
        // Gone after the purge:
        const oldCode = await mintCode(s, w.app, w.alice, cut - CODE_TTL - SECOND);
        const oldAppToken: AppTokenRecord = {
          tokenHash: sha256(newSecret("t-")),
          kind: "app",
          appId: w.app.appId,
          tenantKey: w.tenant.tenantKey,
          salt: hex(16),
          issuedAt: cut - 3 * HOUR,
          expiresAt: cut - HOUR,
        };
        await s.saveAppToken(oldAppToken);
        const oldLogin = await login(s, w.app, w.alice, cut - ACCESS_TTL - HOUR);
        // A family that ended just over ENDED_GRANT_KEPT_MS ago, rotated in its last second: a
        // spent and a current refresh token; its access tokens expired long before.
        const endedLogin = await login(s, w.app, w.bob, cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL - SECOND);
        const lastRotation = await rotate(
          s,
          endedLogin.refreshTokenHash,
          w.app.appId,
          endedLogin.familyExpiresAt - SECOND,
        );
        assert.equal(lastRotation.outcome.kind, "rotated");
        const rlKey = `k:${hex(4)}`;
        await s.hitRateLimit({ key: rlKey, now: cut - 2 * HOUR, windowMs: HOUR, limit: 1 });
        // Kept:
        const liveCode = await mintCode(s, w.app, w.alice, cut - SECOND);
        const liveLogin = await login(s, w.app, w.eve, cut - 2 * HOUR);
        const spent = await rotate(s, liveLogin.refreshTokenHash, w.app.appId, cut - HOUR);
        assert.equal(spent.outcome.kind, "rotated");
        const revokedLogin = await login(s, w.app, w.bob, cut - 2 * HOUR);
        await s.revokeGrant(revokedLogin.grantId, cut - HOUR, "admin");
        const recentlyEnded = await login(s, w.app, w.eve, cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL + SECOND);

        let deleted = 0;
        let calls = 0;
        for (let n = -1; n !== 0; calls++) {
          n = await s.purgeExpired(cut);
          deleted += n;
        }
        // old code, app token and rate-limit window; three access tokens (two of the ended
        // family); the ended grant and its two refresh tokens; more when the database is shared.
        assert.ok(deleted >= 9, `deleted ${deleted}`);
        assert.ok(calls <= 3, `a grant goes at the latest one call after its tokens (${calls} calls)`);

        const before = cut - CODE_TTL;
        assert.deepEqual(
          await s.exchangeLoginCode(exchangeInput(oldCode.record.codeHash, w.app.appId, before).input),
          { kind: "invalid" },
          "the expired code is gone (it would redeem at an earlier now otherwise)",
        );
        assert.equal(await s.findAppToken(oldAppToken.tokenHash, cut - 2 * HOUR), null);
        assert.equal(await s.findAccessToken(oldLogin.accessTokenHash, oldLogin.now), null);
        assert.equal(
          await s.findAccessToken(lastRotation.next.accessTokenHash, endedLogin.familyExpiresAt - SECOND),
          null,
        );
        for (const spentOrLast of [endedLogin.refreshTokenHash, lastRotation.next.refreshTokenHash]) {
          assert.deepEqual((await rotate(s, spentOrLast, w.app.appId, cut)).outcome, { kind: "invalid" });
        }
        const grants = (await s.listGrants({ appId: w.app.appId, limit: 20 })).map((g) => g.grantId);
        assert.ok(!grants.includes(endedLogin.grantId), "the ended grant is gone");
        assert.equal(await s.revokeGrant(endedLogin.grantId, cut, "admin"), false);
        assert.deepEqual(
          await s.hitRateLimit({ key: rlKey, now: cut - 2 * HOUR, windowMs: HOUR, limit: 1 }),
          { allowed: true, retryAfterMs: 0 },
          "the old window was deleted",
        );

        assert.equal(
          (await s.exchangeLoginCode(exchangeInput(liveCode.record.codeHash, w.app.appId, cut).input)).kind,
          "issued",
        );
        assert.ok(await s.findAccessToken(spent.next.accessTokenHash, cut));
        assert.deepEqual(
          (await rotate(s, liveLogin.refreshTokenHash, w.app.appId, cut + 1)).outcome,
          { kind: "reused", revokedGrantId: liveLogin.grantId },
          "a spent refresh token of a live family is kept, so its replay is still detected",
        );
        assert.deepEqual((await rotate(s, revokedLogin.refreshTokenHash, w.app.appId, cut)).outcome, {
          kind: "revoked",
        });
        assert.deepEqual((await rotate(s, recentlyEnded.refreshTokenHash, w.app.appId, cut)).outcome, {
          kind: "expired",
        });
        for (const kept of [liveLogin, revokedLogin, recentlyEnded]) {
          assert.ok(grants.includes(kept.grantId), "live, revoked and recently ended grants are kept");
        }
      });

      it("with a limit deletes at most that many of each kind per call, until it returns 0", async () => {
        const { s, w } = await openWorld();
        const cut = T0 + 10 * HOUR;
        const old = [];
        for (let i = 0; i < 3; i++) old.push(await mintCode(s, w.app, w.alice, cut - CODE_TTL - SECOND));
        const ended = await login(s, w.app, w.bob, cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL - SECOND);
        for (let i = 0, token = ended.refreshTokenHash; i < 3; i++) {
          const next = await rotate(s, token, w.app.appId, ended.now + (i + 1) * HOUR);
          assert.equal(next.outcome.kind, "rotated");
          token = next.next.refreshTokenHash;
        }
        let calls = 0;
        for (let deleted = -1; deleted !== 0; calls++) {
          assert.ok(calls < 10_000, "the purge ends");
          deleted = await s.purgeExpired(cut, 1);
        }
        // Four refresh tokens (and four expired access tokens) of an ended family, and whatever
        // else the database holds, at one per call and kind: at least four calls that deleted
        // something (the grant with the last of its tokens, or in the call after), then the one
        // that found nothing left.
        assert.ok(calls >= 5, `${calls} calls`);
        const grants = await s.listGrants({ appId: w.app.appId, limit: 10 });
        assert.ok(!grants.some((g) => g.grantId === ended.grantId), "the ended grant is gone");
        for (const code of old) {
          const redeemed = await s.exchangeLoginCode(
            exchangeInput(code.record.codeHash, w.app.appId, cut - CODE_TTL).input,
          );
          assert.deepEqual(redeemed, { kind: "invalid" }, "every expired code is gone");
        }
      });

      it("a backlog of ended grants goes a bounded number of tokens per call, oldest first", async () => {
        const { s, w } = await openWorld();
        const cut = T0 + 10 * HOUR;
        const start = cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL - HOUR;
        const ended: Login[] = [];
        for (let i = 0; i < 12; i++) {
          const l = await login(s, w.app, w.bob, start + i * SECOND);
          for (let r = 1, token = l.refreshTokenHash; r <= 4; r++) {
            const next = await rotate(s, token, w.app.appId, l.now + r * HOUR);
            assert.equal(next.outcome.kind, "rotated");
            token = next.next.refreshTokenHash;
          }
          ended.push(l);
        }
        const remaining = async () => {
          const ids = new Set((await s.listGrants({ appId: w.app.appId, limit: 50 })).map((g) => g.grantId));
          return ended.filter((l) => ids.has(l.grantId)).length;
        };
        let calls = 0;
        let sawPartial = false;
        for (let deleted = -1; deleted !== 0; calls++) {
          assert.ok(calls < 10_000, "the purge ends");
          deleted = await s.purgeExpired(cut, 5);
          const left = await remaining();
          if (left > 0 && left < ended.length) sawPartial = true;
        }
        assert.equal(await remaining(), 0, "every ended grant is gone");
        // 60 refresh tokens (five a family) at 5 per call: at least twelve calls.
        assert.ok(calls >= 12, `${calls} calls`);
        assert.ok(sawPartial, "grants went over several calls, not all in one");
      });
    });

    describe("write isolation and shutdown", () => {
      it("one failing write among concurrent writes rejects alone; the others commit", async () => {
        const { s, w } = await openWorld();
        const existing = await mintCode(s, w.app, w.alice, T0);
        await s.ensureOpenId(w.app.appId, w.bob.tenantKey, w.bob.userId, `ou_${hex(16)}`);
        const a = freshCode(w.app, w.bob);
        const b = freshCode(w.app, w.alice);
        const renamed: Tenant = { tenantKey: w.tenant.tenantKey, name: "Committed" };
        const results = await Promise.allSettled([
          s.saveLoginCodes([a]),
          // A duplicate hash must never overwrite a code (that would reset a consumed one).
          s.saveLoginCodes([{ ...existing.record, userId: w.bob.userId, expiresAt: T0 + 10 * HOUR }]),
          s.saveLoginCodes([b]),
          s.upsertTenant(renamed),
          s.hitRateLimit({ key: `k:${hex(4)}`, now: T0, windowMs: HOUR, limit: 5 }),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"],
        );
        assert.deepEqual(await s.getTenant(w.tenant.tenantKey), renamed);
        const redeem = (code: LoginCodeRecord) =>
          s.exchangeLoginCode(exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input);
        const outcomes = await Promise.all([redeem(a), redeem(b), redeem(existing.record)]);
        assert.deepEqual(
          outcomes.map((o) => (o.kind === "issued" ? o.identity.userId : o.kind)),
          [w.bob.userId, w.alice.userId, w.alice.userId],
          "the duplicate changed nothing of the existing code",
        );
      });

      it("close() waits for queued writes; a write after close rejects", async () => {
        const s = await makeStorage();
        await s.migrate();
        const w = await seedWorld(s);
        const settled: string[] = [];
        const writes = [
          ...Array.from({ length: 20 }, (_, i) =>
            s.hitRateLimit({ key: `close:${i}`, now: T0, windowMs: HOUR, limit: 5 }),
          ),
          s.upsertTenant({ tenantKey: w.tenant.tenantKey, name: "Last write" }),
        ].map((p, i) =>
          p.then(
            () => settled.push(`ok${i}`),
            (error: unknown) =>
              settled.push(`failed${i}: ${error instanceof Error ? error.message : String(error)}`),
          ),
        );
        await s.close();
        assert.equal(settled.length, writes.length, "every queued write settled before close resolved");
        assert.ok(
          settled.every((x) => x.startsWith("ok")),
          settled.join(","),
        );
        await assert.rejects(s.upsertTenant({ tenantKey: hex(7), name: "too late" }));
        await teardown?.(s);
      });
    });
  });
}
