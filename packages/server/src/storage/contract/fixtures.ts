/**
 * The storage contract suite's fixtures: fixed clock values, random secrets (kept so that an
 * adapter test can scan its database for them), a seeded world, and the login-flow steps the
 * cases and the adapters' own tests share. See ../contract-suite.ts.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type {
  App,
  ExchangeInput,
  ExchangeOutcome,
  GrantIdentity,
  LoginCodeRecord,
  Millis,
  RotateOutcome,
  Storage,
  Tenant,
  User,
} from "../port.ts";
import type { StorageTestHooks } from "../test-hooks.ts";

export type MakeStorage = (hooks?: StorageTestHooks) => Promise<Storage>;
/** Runs after the storage of each test was closed (delete a file, drop a schema…). */
export type TeardownStorage = (storage: Storage) => Promise<void>;

// --- Fixed clock values ----------------------------------------------------------------------

export const T0: Millis = 1_700_000_000_000;
export const SECOND = 1000;
export const CODE_TTL = 180 * SECOND;
export const ACCESS_TTL = 6900 * SECOND;
export const FAMILY_TTL = 30 * 24 * 3600 * SECOND;
export const HOUR = 3600 * SECOND;

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

export function hex(bytes: number): string {
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

export function makeUser(tenantKey: string, name: string, patch: Partial<User> = {}): User {
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

export function makeApp(name: string, type: App["type"], scopes: string[]): App {
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
export function freshCode(app: App, user: User, issuedAt: Millis = T0): LoginCodeRecord {
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

export function newTokens(now: Millis): IssuedSecrets {
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

export async function rotate(
  storage: Storage,
  refreshTokenHash: string,
  appId: string,
  now: Millis,
  tenantKey: string | null = null,
): Promise<{ outcome: RotateOutcome; next: IssuedSecrets }> {
  const next = newTokens(now);
  const outcome = await storage.rotateRefreshToken({
    refreshTokenHash,
    appId,
    tenantKey,
    now,
    next: {
      accessTokenHash: next.accessTokenHash,
      accessExpiresAt: next.accessExpiresAt,
      refreshTokenHash: next.refreshTokenHash,
    },
  });
  return { outcome, next };
}

export function countKinds(outcomes: Array<{ kind: string }>): Record<string, number> {
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

export function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

/** What every group of cases gets from the suite: fresh storages, closed after each test. */
export interface SuiteContext {
  open(hooks?: StorageTestHooks): Promise<Storage>;
  openWorld(hooks?: StorageTestHooks): Promise<{ s: Storage; w: World }>;
  /** The adapter's own factory and teardown, for a case that closes its storage itself. */
  makeStorage: MakeStorage;
  teardown?: TeardownStorage;
}
