/**
 * A whole seed read against what storage already holds (`loadSeed`): every entry checked, its
 * IDs given, matched by natural key or generated, and every issue collected before anything is
 * thrown. Also the records one entry makes (`toUser`, `toApp`), which the one-resource parsers
 * of the admin API (seed.ts) share. seed.ts re-exports what callers use.
 */
import { childPath, Issues, isRecord, issuesError, type JsonDocument, throwIssues } from "../json-input.ts";
import { newAppId, newAppSecret, newTenantKey, newUnionId, newUserId, sha256Hex } from "../secrets.ts";
import type { App, CatalogSnapshot, Installation, Tenant, User, Visibility } from "../storage/port.ts";
import {
  type AppFields,
  checkAppShape,
  type openIdFields,
  seedFields,
  type tenantFields,
  type userFields,
} from "./seed-fields.ts";
import { SeedError } from "./seed-file.ts";

/** An app's event settings from a seed, in the clear until importSeed seals them. */
export interface SeedEventSettings {
  appId: string;
  eventUrl: string;
  verificationToken: string;
  encryptKey: string | null;
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

const EMPTY_CATALOG: CatalogSnapshot = { tenants: [], users: [], apps: [], installations: [], openIds: [] };

export type UserFields = NonNullable<ReturnType<typeof userFields>>;
export function toUser(read: UserFields, ids: { userId: string; unionId: string }): User {
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
export function toApp(read: AppFields, appId: string, keptSecretHash: string | null): ParsedApp {
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
