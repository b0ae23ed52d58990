import { systemClock } from "../clock.ts";
import {
  childPath,
  type Field,
  Issues,
  isRecord,
  issuesError,
  type JsonDocument,
  JsonInputError,
  readJsonFile,
  throwIssues,
} from "../json-input.ts";
import { newAppId, newAppSecret, newTenantKey, newUnionId, newUserId, sha256Hex } from "../secrets.ts";
import type {
  App,
  CatalogSnapshot,
  Installation,
  Storage,
  Tenant,
  User,
  Visibility,
} from "../storage/port.ts";
import { EventSecretBox } from "./event-secrets.ts";
import {
  type AppFields,
  appFields,
  checkAppShape,
  type openIdFields,
  seedFields,
  tenantFields,
  userFields,
  VISIBILITY_SHAPE,
  visibilityField,
} from "./seed-fields.ts";

/**
 * The seed file (contract §4): tenants, users and apps with fixed IDs so demos and tests are
 * repeatable. Every ID may be omitted and is then generated, or matched by a natural key when
 * storage already holds the entry (see `loadSeed`). Read strictly (json-input.ts). `mina-auth export` writes the same
 * format, with `app_secret_sha256` in place of secrets it no longer knows.
 */
export interface SeedFile {
  tenants?: SeedTenant[];
  users?: SeedUser[];
  apps?: SeedApp[];
  open_ids?: Array<{ app_id: string; tenant_key: string; user_id: string; open_id: string }>;
}
export interface SeedTenant {
  tenant_key?: string;
  name: string;
}
export interface SeedUser {
  tenant_key: string;
  user_id?: string;
  name: string;
  en_name?: string;
  union_id?: string;
  email?: string | null;
  mobile?: string | null;
  avatar_url?: string;
  status?: "active" | "deactivated";
  department_ids?: string[];
}
export type SeedVisibility = "all" | { users?: string[]; departments?: string[] };
export interface SeedApp {
  app_id?: string;
  app_secret?: string;
  app_secret_sha256?: string;
  name: string;
  type?: "self_built" | "store";
  tenant_key?: string;
  scopes?: string[];
  /** Required for a self_built app (a store app's installations each carry their own). */
  visibility?: SeedVisibility;
  installations?: Array<{ tenant_key: string; visibility: SeedVisibility }>;
  /**
   * Where events (a store app's app_ticket) are pushed. Loaded without the url_verification
   * challenge (the receiver may not be up yet); never exported (its secrets stay sealed).
   */
  events?: { url: string; verification_token: string; encrypt_key?: string };
}

/** An app's event settings from a seed, in the clear until importSeed seals them. */
export interface SeedEventSettings {
  appId: string;
  eventUrl: string;
  verificationToken: string;
  encryptKey: string | null;
}

/** A seed that cannot be loaded, with every issue found in it (each names its JSON path). */
export class SeedError extends JsonInputError {
  override name = "SeedError";
}

export interface LoadedSeed {
  snapshot: CatalogSnapshot;
  /**
   * Secrets given or generated for apps. `generated`: the seed left it out, so nobody knows it
   * yet and it must be shown once; the CLI does not print a given one (it would land in
   * terminals and CI logs). An app already stored whose secret the seed leaves out keeps its
   * secret and is not listed.
   */
  appSecrets: Array<{ appId: string; name: string; appSecret: string; generated: boolean }>;
  /** Apps' event settings, stored (sealed) by importSeed after the catalogue. */
  eventSettings: SeedEventSettings[];
  /** How many of each kind the seed adds, and how many it matches (and replaces) in storage. */
  counts: Record<"tenants" | "users" | "apps", { added: number; matched: number }>;
}

/**
 * The admin import API's body limit (`POST /admin/v1/import`), in place of the 64 KiB every other
 * endpoint keeps: a seed of some ten thousand users is a few MiB. Only a caller holding the
 * admin token gets to send it (the token is checked before the body is read).
 */
export const SEED_IMPORT_LIMIT = { bytes: 16 * 1024 * 1024, text: "16 MiB" } as const;

const EMPTY_CATALOG: CatalogSnapshot = { tenants: [], users: [], apps: [], installations: [], openIds: [] };

// --- One resource at a time (admin API) -----------------------------------------------------

export type TenantCheck = (tenantKey: string, path: string) => void;

function readOne<T>(
  field: Field<T>,
  raw: unknown,
  path: string,
  more?: (read: T, issues: Issues) => void,
): T {
  const issues = new Issues();
  const read = field(raw, path, issues);
  if (read !== undefined) more?.(read, issues);
  if (read === undefined || issues.count > 0) throw new SeedError("request body", issues.list);
  return read;
}

export function parseVisibility(value: unknown, path: string): Visibility {
  if (value === undefined)
    throw new SeedError("request body", [{ path, message: `is required: ${VISIBILITY_SHAPE}` }]);
  return readOne(visibilityField, value, path);
}

export function parseTenant(raw: unknown, path: string): Tenant {
  const read = readOne(tenantFields, raw, path);
  return { tenantKey: read.tenant_key ?? newTenantKey(), name: read.name };
}

type UserFields = NonNullable<ReturnType<typeof userFields>>;
function toUser(read: UserFields, ids: { userId: string; unionId: string }): User {
  return {
    tenantKey: read.tenant_key,
    userId: ids.userId,
    unionId: ids.unionId,
    name: read.name,
    enName: read.en_name ?? read.name,
    email: read.email ?? null,
    mobile: read.mobile ?? null,
    avatarUrl: read.avatar_url ?? "",
    status: read.status ?? "active",
    departmentIds: read.department_ids ?? [],
  };
}

export function parseUser(raw: unknown, path: string, checkTenant: TenantCheck): User {
  const read = readOne(userFields, raw, path);
  checkTenant(read.tenant_key, path);
  return toUser(read, { userId: read.user_id ?? newUserId(), unionId: read.union_id ?? newUnionId() });
}

export interface ParsedApp {
  app: App;
  installations: Installation[];
  /** The plaintext secret when the seed gave or we generated one (not when only a digest was given). */
  appSecret: string | null;
  /** Whether `appSecret` was generated here (the seed gave neither a secret nor its digest). */
  secretGenerated: boolean;
  events: SeedEventSettings | null;
}

/** An app from its fields; `keptSecretHash`: the stored app's, when the seed gives no secret. */
function toApp(read: AppFields, appId: string, keptSecretHash: string | null): ParsedApp {
  let appSecret = read.app_secret ?? null;
  let secretGenerated = false;
  let secretHash = read.app_secret_sha256 ?? (appSecret === null ? keptSecretHash : sha256Hex(appSecret));
  if (secretHash === null) {
    appSecret = newAppSecret();
    secretGenerated = true;
    secretHash = sha256Hex(appSecret);
  }
  const type = read.type ?? "self_built";
  const installations: Installation[] =
    type === "self_built"
      ? [{ appId, tenantKey: read.tenant_key!, visibility: read.visibility! }]
      : (read.installations ?? []).map((i) => ({ appId, tenantKey: i.tenant_key, visibility: i.visibility }));
  return {
    app: { appId, name: read.name, type, scopes: read.scopes ?? [], secretHash },
    installations,
    appSecret: read.app_secret_sha256 === undefined ? appSecret : null,
    secretGenerated,
    events: read.events
      ? {
          appId,
          eventUrl: read.events.url,
          verificationToken: read.events.verification_token,
          encryptKey: read.events.encrypt_key ?? null,
        }
      : null,
  };
}

export function parseApp(raw: unknown, path: string, checkTenant: TenantCheck): ParsedApp {
  const read = readOne(appFields, raw, path, (app, issues) => checkAppShape(raw, app, path, issues));
  const parsed = toApp(read, read.app_id ?? newAppId(), null);
  for (const installation of parsed.installations) checkTenant(installation.tenantKey, path);
  return parsed;
}

// --- A whole seed ---------------------------------------------------------------------------

/**
 * Reads a seed against what storage already holds (`existing`, from `exportCatalog`). Every
 * issue is collected before anything is thrown. Re-importing is idempotent: an entry without its
 * ID is matched by its natural key in storage (a tenant by name, a user by name within its
 * tenant, an app by name) and keeps its IDs, union_id and app secret; where that key matches
 * more than one, the seed is refused and told to give the ID.
 */
export function loadSeed(document: JsonDocument, existing: CatalogSnapshot = EMPTY_CATALOG): LoadedSeed {
  const issues = new Issues();
  const read = seedFields(document.value, "", issues);
  if (read === undefined) throw issuesError(document, issues, SeedError);
  const seed = new SeedReader(issues, existing, knownIds(document.value, existing));
  const rawApps = isRecord(document.value) && Array.isArray(document.value.apps) ? document.value.apps : [];
  const tenants = (read.tenants ?? []).map((t, i) => seed.tenant(t, `tenants[${i}]`));
  const users = (read.users ?? []).map((u, i) => seed.user(u, `users[${i}]`));
  const apps = (read.apps ?? []).flatMap((a, i) => seed.app(rawApps[i], a, `apps[${i}]`) ?? []);
  const openIds = (read.open_ids ?? []).map((o, i) => seed.openId(o, `open_ids[${i}]`));
  throwIssues(document, issues, SeedError);
  return {
    snapshot: {
      tenants,
      users,
      apps: apps.map((a) => a.app),
      installations: apps.flatMap((a) => a.installations),
      openIds,
    },
    appSecrets: apps.flatMap(({ app, appSecret, secretGenerated }) =>
      appSecret ? [{ appId: app.appId, name: app.name, appSecret, generated: secretGenerated }] : [],
    ),
    eventSettings: apps.flatMap((a) => (a.events ? [a.events] : [])),
    counts: seed.counts,
  };
}

/** Groups items by a key; answers the items with that key. */
function grouped<T>(items: readonly T[], keyOf: (item: T) => string): (key: string) => readonly T[] {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = map.get(key);
    if (group) group.push(item);
    else map.set(key, [item]);
  }
  return (key) => map.get(key) ?? [];
}

type TenantFields = NonNullable<ReturnType<typeof tenantFields>>;
type OpenIdFields = NonNullable<ReturnType<typeof openIdFields>>;

/** One seed's entries, resolved against storage in file order; issues go to `issues`. */
class SeedReader {
  readonly counts: LoadedSeed["counts"] = {
    tenants: { added: 0, matched: 0 },
    users: { added: 0, matched: 0 },
    apps: { added: 0, matched: 0 },
  };
  /** The first path of each ID or natural key, to report a second one. */
  readonly #firstAt = new Map<string, string>();
  readonly #unionIds = new Map<string, string>();
  readonly #tenantsNamed: (name: string) => readonly Tenant[];
  readonly #usersNamed: (tenantAndName: string) => readonly User[];
  readonly #storedUsers: Map<string, User>;
  readonly #appsNamed: (name: string) => readonly App[];
  readonly #storedApps: Map<string, App>;
  readonly #installedIn: (appId: string) => readonly Installation[];

  constructor(
    private readonly issues: Issues,
    existing: CatalogSnapshot,
    private readonly known: ReturnType<typeof knownIds>,
  ) {
    this.#tenantsNamed = grouped(existing.tenants, (t) => t.name);
    this.#usersNamed = grouped(existing.users, (u) => `${u.tenantKey}/${u.name}`);
    this.#storedUsers = new Map(existing.users.map((u) => [`${u.tenantKey}/${u.userId}`, u]));
    this.#appsNamed = grouped(existing.apps, (a) => a.name);
    this.#storedApps = new Map(existing.apps.map((a) => [a.appId, a]));
    this.#installedIn = grouped(existing.installations, (i) => i.appId);
  }

  tenant(t: TenantFields, path: string): Tenant {
    const matched =
      t.tenant_key === undefined ? this.#matchOne(this.#tenantsNamed(t.name), path, "tenants") : undefined;
    const tenantKey = t.tenant_key ?? matched?.tenantKey ?? newTenantKey();
    if (t.tenant_key === undefined) this.#once(`tenant named ${t.name}`, path, "a tenant of this name");
    else this.#once(`tenant ${tenantKey}`, path, "tenant_key");
    this.known.tenants.add(tenantKey);
    this.counts.tenants[this.known.storedTenants.has(tenantKey) ? "matched" : "added"]++;
    return { tenantKey, name: t.name };
  }

  user(u: UserFields, path: string): User {
    this.#checkTenant(u.tenant_key, childPath(path, "tenant_key"));
    const matched =
      u.user_id === undefined
        ? this.#matchOne(this.#usersNamed(`${u.tenant_key}/${u.name}`), path, "users of this tenant")
        : this.#storedUsers.get(`${u.tenant_key}/${u.user_id}`);
    const userId = u.user_id ?? matched?.userId ?? newUserId();
    if (u.user_id === undefined)
      this.#once(`user named ${u.tenant_key}/${u.name}`, path, "a user of this name");
    else this.#once(`user ${u.tenant_key}/${userId}`, path, "user_id");
    this.counts.users[matched ? "matched" : "added"]++;
    if (u.union_id !== undefined) {
      const first = this.#unionIds.get(u.union_id);
      if (first !== undefined)
        this.issues.add(childPath(path, "union_id"), `is also the union_id of ${first}`);
      else this.#unionIds.set(u.union_id, path);
    }
    // A stored user keeps its union_id when the seed leaves it out: it is the user's identity.
    return toUser(u, { userId, unionId: u.union_id ?? matched?.unionId ?? newUnionId() });
  }

  /** The app, or undefined when its own fields contradict each other (already reported). */
  app(raw: unknown, a: AppFields, path: string): ParsedApp | undefined {
    const before = this.issues.count;
    checkAppShape(raw, a, path, this.issues);
    const stored =
      a.app_id === undefined
        ? this.#matchOne(this.#appsNamed(a.name), path, "apps")
        : this.#storedApps.get(a.app_id);
    const appId = a.app_id ?? stored?.appId ?? newAppId();
    if (a.app_id === undefined) this.#once(`app named ${a.name}`, path, "an app of this name");
    else this.#once(`app ${appId}`, path, "app_id");
    this.known.apps.add(appId);
    this.counts.apps[stored ? "matched" : "added"]++;
    if (this.issues.count > before) return undefined;
    const type = a.type ?? "self_built";
    if (stored && stored.type !== type)
      this.issues.add(
        childPath(path, "type"),
        `app ${appId} is a ${stored.type} app in storage: import cannot change its type`,
      );
    const elsewhere = this.#installedIn(appId).find((x) => x.tenantKey !== a.tenant_key);
    if (type === "self_built" && stored?.type === "self_built" && elsewhere)
      this.issues.add(
        childPath(path, "tenant_key"),
        `app ${appId} belongs to tenant ${elsewhere.tenantKey} in storage, and a self_built app has one tenant`,
      );
    // A stored app whose secret the seed leaves out keeps its own.
    const parsed = toApp(a, appId, stored?.secretHash ?? null);
    parsed.installations.forEach((installation, j) => {
      const at = type === "self_built" ? path : `${path}.installations[${j}]`;
      this.#checkTenant(installation.tenantKey, childPath(at, "tenant_key"));
      this.#checkVisibility(installation.visibility, installation.tenantKey, childPath(at, "visibility"));
    });
    return parsed;
  }

  openId(o: OpenIdFields, path: string): CatalogSnapshot["openIds"][number] {
    if (!this.known.apps.has(o.app_id))
      this.issues.add(childPath(path, "app_id"), `no app ${o.app_id} in this seed or in storage`);
    this.#checkTenant(o.tenant_key, childPath(path, "tenant_key"));
    if (!this.known.users.has(`${o.tenant_key}/${o.user_id}`))
      this.issues.add(childPath(path, "user_id"), `no user ${o.user_id} in tenant ${o.tenant_key}`);
    return { appId: o.app_id, tenantKey: o.tenant_key, userId: o.user_id, openId: o.open_id };
  }

  #once(key: string, path: string, what: string): void {
    const first = this.#firstAt.get(key);
    if (first !== undefined) this.issues.add(path, `${what} twice (also at ${first})`);
    else this.#firstAt.set(key, path);
  }

  /** The one stored entry with this natural key; an issue when several have it. */
  #matchOne<T>(found: readonly T[], path: string, what: string): T | undefined {
    if (found.length > 1)
      this.issues.add(path, `${found.length} ${what} in storage have this name: give the ID to say which`);
    return found.length === 1 ? found[0] : undefined;
  }

  #checkTenant(tenantKey: string, path: string): void {
    if (!this.known.tenants.has(tenantKey))
      this.issues.add(path, `no tenant ${tenantKey} in this seed or in storage`);
  }

  #checkVisibility(visibility: Visibility, tenantKey: string, path: string): void {
    if (visibility.all) return;
    visibility.userIds.forEach((userId, k) => {
      if (!this.known.users.has(`${tenantKey}/${userId}`))
        this.issues.add(`${path}.users[${k}]`, `no user ${userId} in tenant ${tenantKey}`);
    });
    visibility.departmentIds.forEach((department, k) => {
      if (!this.known.departments.has(`${tenantKey}/${department}`))
        this.issues.add(`${path}.departments[${k}]`, `no user of tenant ${tenantKey} is in this department`);
    });
  }
}

/**
 * IDs a reference may name: storage's, and the seed's own read leniently (an entry with other
 * mistakes still counts as present, so one mistake is not reported again as a dangling
 * reference everywhere it is named).
 */
function knownIds(input: unknown, existing: CatalogSnapshot) {
  const entries = (key: string) =>
    isRecord(input) && Array.isArray(input[key]) ? input[key].filter(isRecord) : [];
  const str = (value: unknown) => (typeof value === "string" ? value : undefined);
  const known = {
    storedTenants: new Set(existing.tenants.map((t) => t.tenantKey)),
    tenants: new Set(existing.tenants.map((t) => t.tenantKey)),
    users: new Set(existing.users.map((u) => `${u.tenantKey}/${u.userId}`)),
    departments: new Set(existing.users.flatMap((u) => u.departmentIds.map((d) => `${u.tenantKey}/${d}`))),
    apps: new Set(existing.apps.map((a) => a.appId)),
  };
  for (const t of entries("tenants")) if (str(t.tenant_key)) known.tenants.add(str(t.tenant_key)!);
  for (const u of entries("users")) {
    const tenantKey = str(u.tenant_key);
    if (tenantKey === undefined) continue;
    if (str(u.user_id)) known.users.add(`${tenantKey}/${str(u.user_id)}`);
    if (Array.isArray(u.department_ids))
      for (const d of u.department_ids) if (str(d)) known.departments.add(`${tenantKey}/${d}`);
  }
  for (const a of entries("apps")) if (str(a.app_id)) known.apps.add(str(a.app_id)!);
  return known;
}

/** A seed file's text, parsed; a syntax error is a SeedError with its line and column. */
export function readSeedFile(path: string): JsonDocument {
  return readJsonFile(path, SeedError);
}

/**
 * Reads a seed against storage's catalogue and imports it in one transaction. The read and the
 * write are two steps: two imports racing on the same natural keys may both add an entry (an
 * operator's action, not a request path; IDs in the file make it exact).
 */
export async function importSeed(storage: Storage, document: JsonDocument): Promise<LoadedSeed> {
  const seed = loadSeed(document, await storage.exportCatalog());
  await storage.importCatalog(seed.snapshot);
  if (seed.eventSettings.length > 0) {
    const box = new EventSecretBox(storage, systemClock);
    for (const events of seed.eventSettings) {
      await storage.setAppEventSettings({
        appId: events.appId,
        eventUrl: events.eventUrl,
        verificationTokenSealed: await box.seal(events.verificationToken),
        encryptKeySealed: events.encryptKey === null ? null : await box.seal(events.encryptKey),
        updatedAt: Date.now(),
      });
    }
  }
  return seed;
}

function seedVisibility(v: Visibility): SeedVisibility {
  return v.all ? "all" : { users: v.userIds, departments: v.departmentIds };
}

/** The catalogue in seed-file form. Secrets are exported as their digests only. */
export function toSeedFile(snapshot: CatalogSnapshot): SeedFile {
  return {
    tenants: snapshot.tenants.map((t) => ({ tenant_key: t.tenantKey, name: t.name })),
    users: snapshot.users.map((u) => ({
      tenant_key: u.tenantKey,
      user_id: u.userId,
      name: u.name,
      en_name: u.enName,
      union_id: u.unionId,
      email: u.email,
      mobile: u.mobile,
      avatar_url: u.avatarUrl,
      status: u.status,
      department_ids: u.departmentIds,
    })),
    apps: snapshot.apps.map((a) => {
      const own = snapshot.installations.filter((i) => i.appId === a.appId);
      const base: SeedApp = {
        app_id: a.appId,
        app_secret_sha256: a.secretHash,
        name: a.name,
        type: a.type,
        scopes: a.scopes,
      };
      if (a.type === "self_built" && own[0])
        return { ...base, tenant_key: own[0].tenantKey, visibility: seedVisibility(own[0].visibility) };
      return {
        ...base,
        installations: own.map((i) => ({
          tenant_key: i.tenantKey,
          visibility: seedVisibility(i.visibility),
        })),
      };
    }),
    open_ids: snapshot.openIds.map((o) => ({
      app_id: o.appId,
      tenant_key: o.tenantKey,
      user_id: o.userId,
      open_id: o.openId,
    })),
  };
}
