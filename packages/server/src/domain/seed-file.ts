/**
 * The seed file's format (contract §4), both ways: the document `mina-auth import`, `serve --seed`
 * and the admin import API read (seed-reader.ts checks it against storage), and the catalogue
 * written in it by `mina-auth export`. seed.ts re-exports it.
 */
import { type JsonDocument, JsonInputError, readJsonFile } from "../json-input.ts";
import type { CatalogSnapshot, Visibility } from "../storage/port.ts";

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

/** A seed that cannot be loaded, with every issue found in it (each names its JSON path). */
export class SeedError extends JsonInputError {
  override name = "SeedError";
}

/**
 * The admin import API's body limit (`POST /admin/v1/import`), in place of the 64 KiB every other
 * endpoint keeps: a seed of some ten thousand users is a few MiB. Only a caller holding the
 * admin token gets to send it (the token is checked before the body is read).
 */
export const SEED_IMPORT_LIMIT = { bytes: 16 * 1024 * 1024, text: "16 MiB" } as const;

/** A seed file's text, parsed; a syntax error is a SeedError with its line and column. */
export function readSeedFile(path: string): JsonDocument {
  return readJsonFile(path, SeedError);
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
