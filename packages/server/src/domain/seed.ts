import { Formats } from "@mina-auth/protocol";
import { newAppId, newAppSecret, newTenantKey, newUnionId, newUserId, sha256Hex } from "../secrets.ts";
import type { App, CatalogSnapshot, Installation, Tenant, User, Visibility } from "../storage/port.ts";

/**
 * The seed file (contract §4): tenants, users and apps with fixed IDs so demos and tests are
 * repeatable. Every ID may be omitted and is then generated. `mina-auth export` writes the same
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
  visibility?: SeedVisibility;
  installations?: Array<{ tenant_key: string; visibility?: SeedVisibility }>;
}

/** A seed file that cannot be loaded; the message names the offending path. */
export class SeedError extends Error {
  override readonly name = "SeedError";
}

export interface LoadedSeed {
  snapshot: CatalogSnapshot;
  /**
   * Secrets given or generated for apps. `generated`: the seed left it out, so nobody knows it
   * yet and it must be shown once; the CLI does not print a given one (it would land in
   * terminals and CI logs).
   */
  appSecrets: Array<{ appId: string; name: string; appSecret: string; generated: boolean }>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function list(value: unknown, path: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new SeedError(`${path} must be an array`);
  return value;
}
function text(
  record: Json,
  key: string,
  path: string,
  options: { optional?: boolean; pattern?: RegExp } = {},
): string | undefined {
  const value = record[key];
  if (value === undefined || value === null) {
    if (options.optional) return undefined;
    throw new SeedError(`${path}.${key} is required`);
  }
  if (typeof value !== "string" || value.length === 0 || value.length > 512) {
    throw new SeedError(`${path}.${key} must be a non-empty string`);
  }
  if (options.pattern && !options.pattern.test(value)) {
    throw new SeedError(`${path}.${key} has the wrong format (expected ${options.pattern.source})`);
  }
  return value;
}
function strings(value: unknown, path: string): string[] {
  return list(value, path).map((item, i) => {
    if (typeof item !== "string" || item.length === 0)
      throw new SeedError(`${path}[${i}] must be a non-empty string`);
    return item;
  });
}

export function parseVisibility(value: unknown, path: string): Visibility {
  if (value === undefined || value === "all") return { all: true };
  if (!isObject(value))
    throw new SeedError(`${path} must be "all" or {"users": [...], "departments": [...]}`);
  return {
    all: false,
    userIds: strings(value.users, `${path}.users`),
    departmentIds: strings(value.departments, `${path}.departments`),
  };
}

export type TenantCheck = (tenantKey: string, path: string) => void;

export function parseTenant(raw: unknown, path: string): Tenant {
  if (!isObject(raw)) throw new SeedError(`${path} must be an object`);
  return {
    tenantKey:
      text(raw, "tenant_key", path, { optional: true, pattern: Formats.tenantKey }) ?? newTenantKey(),
    name: text(raw, "name", path)!,
  };
}

export function parseUser(raw: unknown, path: string, checkTenant: TenantCheck): User {
  if (!isObject(raw)) throw new SeedError(`${path} must be an object`);
  const tenantKey = text(raw, "tenant_key", path)!;
  checkTenant(tenantKey, path);
  const status = raw.status ?? "active";
  if (status !== "active" && status !== "deactivated")
    throw new SeedError(`${path}.status must be "active" or "deactivated"`);
  const name = text(raw, "name", path)!;
  return {
    tenantKey,
    userId: text(raw, "user_id", path, { optional: true, pattern: Formats.userId }) ?? newUserId(),
    unionId: text(raw, "union_id", path, { optional: true, pattern: Formats.unionId }) ?? newUnionId(),
    name,
    enName: text(raw, "en_name", path, { optional: true }) ?? name,
    email: text(raw, "email", path, { optional: true }) ?? null,
    mobile: text(raw, "mobile", path, { optional: true }) ?? null,
    // "" is the stored "no avatar", and what export writes for it: accept it back.
    avatarUrl: raw.avatar_url === "" ? "" : (text(raw, "avatar_url", path, { optional: true }) ?? ""),
    status,
    departmentIds: strings(raw.department_ids, `${path}.department_ids`),
  };
}

export interface ParsedApp {
  app: App;
  installations: Installation[];
  /** The plaintext secret when the seed gave or we generated one (not when only a digest was given). */
  appSecret: string | null;
  /** Whether `appSecret` was generated here (the seed gave neither a secret nor its digest). */
  secretGenerated: boolean;
}

export function parseApp(raw: unknown, path: string, checkTenant: TenantCheck): ParsedApp {
  if (!isObject(raw)) throw new SeedError(`${path} must be an object`);
  const appId = text(raw, "app_id", path, { optional: true, pattern: Formats.appId }) ?? newAppId();
  const name = text(raw, "name", path)!;
  const type = raw.type ?? "self_built";
  if (type !== "self_built" && type !== "store")
    throw new SeedError(`${path}.type must be "self_built" or "store"`);
  let secretHash = text(raw, "app_secret_sha256", path, { optional: true, pattern: /^[0-9a-f]{64}$/ });
  let appSecret: string | null = null;
  let secretGenerated = false;
  if (!secretHash) {
    appSecret = text(raw, "app_secret", path, { optional: true }) ?? null;
    if (appSecret === null) {
      appSecret = newAppSecret();
      secretGenerated = true;
    }
    if (appSecret.length < 16) throw new SeedError(`${path}.app_secret must be at least 16 characters`);
    secretHash = sha256Hex(appSecret);
  }
  const installations: Installation[] = [];
  if (type === "self_built") {
    const tenantKey = text(raw, "tenant_key", path)!;
    checkTenant(tenantKey, path);
    if (raw.installations !== undefined) {
      throw new SeedError(`${path}: a self_built app has tenant_key and visibility, not installations`);
    }
    installations.push({
      appId,
      tenantKey,
      visibility: parseVisibility(raw.visibility, `${path}.visibility`),
    });
  } else {
    list(raw.installations, `${path}.installations`).forEach((inst, j) => {
      const ipath = `${path}.installations[${j}]`;
      if (!isObject(inst)) throw new SeedError(`${ipath} must be an object`);
      const tenantKey = text(inst, "tenant_key", ipath)!;
      checkTenant(tenantKey, ipath);
      installations.push({
        appId,
        tenantKey,
        visibility: parseVisibility(inst.visibility, `${ipath}.visibility`),
      });
    });
  }
  return {
    app: { appId, name, type, scopes: strings(raw.scopes, `${path}.scopes`), secretHash },
    installations,
    appSecret,
    secretGenerated,
  };
}

export function loadSeed(input: unknown, existingTenants: Iterable<string> = []): LoadedSeed {
  if (!isObject(input)) throw new SeedError("the seed must be a JSON object");
  const tenants = list(input.tenants, "tenants").map((raw, i) => parseTenant(raw, `tenants[${i}]`));
  const tenantKeys = new Set([...existingTenants, ...tenants.map((t) => t.tenantKey)]);
  const checkTenant: TenantCheck = (key, path) => {
    if (!tenantKeys.has(key)) throw new SeedError(`${path}: unknown tenant_key ${key}`);
  };
  const users = list(input.users, "users").map((raw, i) => parseUser(raw, `users[${i}]`, checkTenant));
  const apps: App[] = [];
  const installations: Installation[] = [];
  const appSecrets: LoadedSeed["appSecrets"] = [];
  list(input.apps, "apps").forEach((raw, i) => {
    const parsed = parseApp(raw, `apps[${i}]`, checkTenant);
    apps.push(parsed.app);
    installations.push(...parsed.installations);
    if (parsed.appSecret)
      appSecrets.push({
        appId: parsed.app.appId,
        name: parsed.app.name,
        appSecret: parsed.appSecret,
        generated: parsed.secretGenerated,
      });
  });
  const openIds = list(input.open_ids, "open_ids").map((raw, i) => {
    const path = `open_ids[${i}]`;
    if (!isObject(raw)) throw new SeedError(`${path} must be an object`);
    return {
      appId: text(raw, "app_id", path)!,
      tenantKey: text(raw, "tenant_key", path)!,
      userId: text(raw, "user_id", path)!,
      openId: text(raw, "open_id", path, { pattern: Formats.openId })!,
    };
  });
  return { snapshot: { tenants, users, apps, installations, openIds }, appSecrets };
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
