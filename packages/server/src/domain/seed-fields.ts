import { Formats, Scopes } from "@mina-auth/protocol";
import {
  arrayOf,
  childPath,
  type Field,
  type Issues,
  isRecord,
  nullable,
  object,
  oneOf,
  string,
} from "../json-input.ts";
import type { Visibility } from "../storage/port.ts";

/**
 * The seed file's fields, read strictly (json-input.ts): what seed.ts checks every tenant, user,
 * app and open_id of a seed or an admin request against.
 */

export const text = string();
export const tenantKeyField = string({
  pattern: Formats.tenantKey,
  describe: "14 to 16 lowercase hex digits",
});
export const userIdField = string({ pattern: Formats.userId, describe: "1 to 64 letters and digits" });
export const appIdField = string({ pattern: Formats.appId, describe: "cli_ and 16 lowercase hex digits" });
/** The scopes the server acts on (user_info's fields); any other would silently do nothing. */
export const KNOWN_SCOPES = Object.values(Scopes);
export const VISIBILITY_SHAPE = '"all" or {"users": [...], "departments": [...]}';

export const visibilityObject = object(
  { users: arrayOf(userIdField, { unique: true }), departments: arrayOf(text, { unique: true }) },
  [],
);
export const visibilityField: Field<Visibility> = (value, path, issues) => {
  if (value === "all") return { all: true };
  if (!isRecord(value)) return void issues.add(path, `must be ${VISIBILITY_SHAPE}`);
  const read = visibilityObject(value, path, issues);
  return read && { all: false, userIds: read.users ?? [], departmentIds: read.departments ?? [] };
};

export const tenantFields = object({ tenant_key: tenantKeyField, name: text }, ["name"]);
export const userFields = object(
  {
    tenant_key: tenantKeyField,
    user_id: userIdField,
    name: text,
    en_name: text,
    union_id: string({ pattern: Formats.unionId, describe: "on_ and 32 lowercase hex digits" }),
    email: nullable(text),
    mobile: nullable(text),
    // "" is the stored "no avatar", and what export writes for it.
    avatar_url: string({ minLength: 0, maxLength: 2048 }),
    status: oneOf(["active", "deactivated"] as const),
    department_ids: arrayOf(text, { unique: true }),
  },
  ["tenant_key", "name"],
);
export const installationFields = object({ tenant_key: tenantKeyField, visibility: visibilityField }, [
  "tenant_key",
  "visibility",
]);
/** Where a store app's events (its app_ticket) are pushed; the secrets are sealed at rest. */
export const eventsFields = object(
  {
    url: string({ pattern: /^https?:\/\/\S+$/, describe: "an http:// or https:// URL", maxLength: 2048 }),
    verification_token: string({ maxLength: 256 }),
    encrypt_key: string({ maxLength: 256 }),
  },
  ["url", "verification_token"],
);
export const appFields = object(
  {
    app_id: appIdField,
    // 256: the most the token endpoints accept; a longer secret could never be presented.
    app_secret: string({ minLength: 16, maxLength: 256 }),
    app_secret_sha256: string({ pattern: /^[0-9a-f]{64}$/, describe: "64 lowercase hex digits" }),
    name: text,
    type: oneOf(["self_built", "store"] as const),
    tenant_key: tenantKeyField,
    scopes: arrayOf(oneOf(KNOWN_SCOPES), { unique: true }),
    visibility: visibilityField,
    installations: arrayOf(installationFields),
    events: eventsFields,
  },
  ["name"],
);
export type AppFields = NonNullable<ReturnType<typeof appFields>>;
export const openIdFields = object(
  {
    app_id: appIdField,
    tenant_key: tenantKeyField,
    user_id: userIdField,
    open_id: string({ pattern: Formats.openId, describe: "ou_ and 32 lowercase hex digits" }),
  },
  ["app_id", "tenant_key", "user_id", "open_id"],
);
export const seedFields = object(
  {
    tenants: arrayOf(tenantFields),
    users: arrayOf(userFields),
    apps: arrayOf(appFields),
    open_ids: arrayOf(openIdFields),
  },
  [],
);

/**
 * What an app's type requires: a self_built app names its one tenant and that tenant's
 * visibility; a store app lists installations. Visibility is required: when a misspelt or
 * missing key meant "all", a typo widened who could log in.
 */
export function checkAppShape(raw: unknown, app: AppFields, path: string, issues: Issues): void {
  const has = (key: string) => isRecord(raw) && raw[key] !== undefined;
  if (app.app_secret !== undefined && app.app_secret_sha256 !== undefined)
    issues.add(childPath(path, "app_secret_sha256"), "give app_secret or app_secret_sha256, not both");
  if ((app.type ?? "self_built") === "self_built") {
    if (!has("tenant_key")) issues.add(childPath(path, "tenant_key"), "is required for a self_built app");
    if (!has("visibility"))
      issues.add(childPath(path, "visibility"), `is required for a self_built app: ${VISIBILITY_SHAPE}`);
    if (has("installations"))
      issues.add(childPath(path, "installations"), "a self_built app has tenant_key and visibility instead");
    return;
  }
  if (!has("installations")) issues.add(childPath(path, "installations"), "is required for a store app");
  for (const key of ["tenant_key", "visibility"])
    if (has(key)) issues.add(childPath(path, key), "a store app lists installations instead");
  const seen = new Map<string, number>();
  app.installations?.forEach((installation, j) => {
    const first = seen.get(installation.tenant_key);
    if (first !== undefined)
      issues.add(
        childPath(childPath(path, "installations"), j),
        `tenant listed twice (also installations[${first}])`,
      );
    else seen.set(installation.tenant_key, j);
  });
}
