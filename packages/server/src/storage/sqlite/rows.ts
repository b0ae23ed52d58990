/** Row shapes shared by the SQLite modules (column aliases match these names), and their mapping. */
import type { App, User } from "../port.ts";

/** A user as its row holds it: the departments live in their own table. */
export type UserRow = Omit<User, "departmentIds">;

export interface AppRow {
  appId: string;
  name: string;
  type: App["type"];
  scopes: string;
  secretHash: string;
}

/** Scopes are stored as a JSON array of strings. */
export function parseScopes(text: string | null): string[] {
  if (text === null || text === "[]") return [];
  return JSON.parse(text) as string[];
}

export function toApp(row: AppRow): App {
  return { ...row, scopes: parseScopes(row.scopes) };
}

export function toAppRow(app: App): AppRow {
  return {
    appId: app.appId,
    name: app.name,
    type: app.type,
    scopes: JSON.stringify(app.scopes),
    secretHash: app.secretHash,
  };
}

export function toUserRow(user: User): UserRow {
  return {
    tenantKey: user.tenantKey,
    userId: user.userId,
    unionId: user.unionId,
    name: user.name,
    enName: user.enName,
    email: user.email,
    mobile: user.mobile,
    avatarUrl: user.avatarUrl,
    status: user.status,
  };
}

export function fromUserRow(row: UserRow, departmentIds: string[]): User {
  return {
    tenantKey: row.tenantKey,
    userId: row.userId,
    unionId: row.unionId,
    name: row.name,
    enName: row.enName,
    email: row.email,
    mobile: row.mobile,
    avatarUrl: row.avatarUrl,
    status: row.status,
    departmentIds,
  };
}

export function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}

/** The open_id of (app, tenant, user), assigning the candidate (4th parameter) if it has none. */
export const ENSURE_OPEN_ID_SQL = `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES (?, ?, ?, ?)
  ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = open_ids.open_id
  RETURNING open_id`;
