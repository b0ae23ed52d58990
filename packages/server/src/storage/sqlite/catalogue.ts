/** The catalogue on SQLite: tenants, users, apps, installations, open_ids, import and export. */
import type BetterSqlite3 from "better-sqlite3";
import type { App, CatalogSnapshot, Installation, Tenant, User, Visibility } from "../port.ts";
import {
  type AppRow,
  ENSURE_OPEN_ID_SQL,
  fromUserRow,
  pairKey,
  toApp,
  toAppRow,
  toUserRow,
  type UserRow,
} from "./rows.ts";

interface InstallationRow {
  appId: string;
  tenantKey: string;
  visibilityAll: number;
}
interface VisibilityRow {
  appId: string;
  tenantKey: string;
  kind: "user" | "department";
  subjectId: string;
}
interface DepartmentRow {
  tenantKey: string;
  userId: string;
  departmentId: string;
}

const USER_COLUMNS = `tenant_key AS tenantKey, user_id AS userId, union_id AS unionId, name,
  en_name AS enName, email, mobile, avatar_url AS avatarUrl, status`;
const APP_COLUMNS = "app_id AS appId, name, type, scopes, secret_hash AS secretHash";

function prepareCatalogue(db: BetterSqlite3.Database) {
  return {
    upsertTenant: db.prepare<[string, string]>(
      `INSERT INTO tenants (tenant_key, name) VALUES (?, ?)
       ON CONFLICT (tenant_key) DO UPDATE SET name = excluded.name`,
    ),
    getTenant: db.prepare<[string], Tenant>(
      "SELECT tenant_key AS tenantKey, name FROM tenants WHERE tenant_key = ?",
    ),
    listTenants: db.prepare<[], Tenant>(
      "SELECT tenant_key AS tenantKey, name FROM tenants ORDER BY tenant_key",
    ),

    upsertUser: db.prepare<[UserRow]>(
      `INSERT INTO users (tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status)
       VALUES (@tenantKey, @userId, @unionId, @name, @enName, @email, @mobile, @avatarUrl, @status)
       ON CONFLICT (tenant_key, user_id) DO UPDATE SET
         union_id = excluded.union_id, name = excluded.name, en_name = excluded.en_name,
         email = excluded.email, mobile = excluded.mobile, avatar_url = excluded.avatar_url,
         status = excluded.status`,
    ),
    deleteDepartments: db.prepare<[string, string]>(
      "DELETE FROM user_departments WHERE tenant_key = ? AND user_id = ?",
    ),
    insertDepartment: db.prepare<[string, string, string, number]>(
      `INSERT OR IGNORE INTO user_departments (tenant_key, user_id, department_id, position)
       VALUES (?, ?, ?, ?)`,
    ),
    getUser: db.prepare<[string, string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE tenant_key = ? AND user_id = ?`,
    ),
    listUsers: db.prepare<[string | null, string | null], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE (? IS NULL OR tenant_key = ?) ORDER BY tenant_key, user_id`,
    ),
    userDepartments: db
      .prepare<[string, string], string>(
        "SELECT department_id FROM user_departments WHERE tenant_key = ? AND user_id = ? ORDER BY position",
      )
      .pluck(),
    allDepartments: db.prepare<[], DepartmentRow>(
      `SELECT tenant_key AS tenantKey, user_id AS userId, department_id AS departmentId
       FROM user_departments ORDER BY tenant_key, user_id, position`,
    ),

    upsertApp: db.prepare<[AppRow]>(
      `INSERT INTO apps (app_id, name, type, scopes, secret_hash)
       VALUES (@appId, @name, @type, @scopes, @secretHash)
       ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, type = excluded.type,
         scopes = excluded.scopes, secret_hash = excluded.secret_hash`,
    ),
    getApp: db.prepare<[string], AppRow>(`SELECT ${APP_COLUMNS} FROM apps WHERE app_id = ?`),
    listApps: db.prepare<[], AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY app_id`),

    upsertInstallation: db.prepare<[string, string, number]>(
      `INSERT INTO installations (app_id, tenant_key, visibility_all) VALUES (?, ?, ?)
       ON CONFLICT (app_id, tenant_key) DO UPDATE SET visibility_all = excluded.visibility_all`,
    ),
    deleteVisibility: db.prepare<[string, string]>(
      "DELETE FROM app_visibility WHERE app_id = ? AND tenant_key = ?",
    ),
    insertVisibility: db.prepare<[string, string, string, string, number]>(
      `INSERT OR IGNORE INTO app_visibility (app_id, tenant_key, kind, subject_id, position)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    listInstallations: db.prepare<[string | null, string | null], InstallationRow>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, visibility_all AS visibilityAll
       FROM installations WHERE (? IS NULL OR app_id = ?) ORDER BY app_id, tenant_key`,
    ),
    listVisibility: db.prepare<[string | null, string | null], VisibilityRow>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, kind, subject_id AS subjectId
       FROM app_visibility WHERE (? IS NULL OR app_id = ?) ORDER BY app_id, tenant_key, kind, position`,
    ),

    getOpenId: db
      .prepare<[string, string, string], string>(
        "SELECT open_id FROM open_ids WHERE app_id = ? AND tenant_key = ? AND user_id = ?",
      )
      .pluck(),
    ensureOpenId: db.prepare<[string, string, string, string], string>(ENSURE_OPEN_ID_SQL).pluck(),
    importOpenId: db.prepare<[string, string, string, string]>(
      `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = excluded.open_id`,
    ),
    listOpenIds: db.prepare<[], CatalogSnapshot["openIds"][number]>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, user_id AS userId, open_id AS openId
       FROM open_ids ORDER BY app_id, tenant_key, user_id`,
    ),
  };
}

type CatalogueStatements = ReturnType<typeof prepareCatalogue>;

function upsertUser(s: CatalogueStatements, user: User): void {
  s.upsertUser.run(toUserRow(user));
  s.deleteDepartments.run(user.tenantKey, user.userId);
  user.departmentIds.forEach((departmentId, position) => {
    s.insertDepartment.run(user.tenantKey, user.userId, departmentId, position);
  });
}

function getUser(s: CatalogueStatements, tenantKey: string, userId: string): User | null {
  const row = s.getUser.get(tenantKey, userId);
  return row ? fromUserRow(row, s.userDepartments.all(tenantKey, userId)) : null;
}

function listUsers(s: CatalogueStatements, tenantKey: string | null): User[] {
  const departments = new Map<string, string[]>();
  for (const d of s.allDepartments.iterate()) {
    if (tenantKey !== null && d.tenantKey !== tenantKey) continue;
    const key = pairKey(d.tenantKey, d.userId);
    const list = departments.get(key);
    if (list) list.push(d.departmentId);
    else departments.set(key, [d.departmentId]);
  }
  return s.listUsers
    .all(tenantKey, tenantKey)
    .map((row) => fromUserRow(row, departments.get(pairKey(row.tenantKey, row.userId)) ?? []));
}

function upsertApp(s: CatalogueStatements, app: App): void {
  s.upsertApp.run(toAppRow(app));
}

function getApp(s: CatalogueStatements, appId: string): App | null {
  const row = s.getApp.get(appId);
  return row ? toApp(row) : null;
}

function listApps(s: CatalogueStatements): App[] {
  return s.listApps.all().map(toApp);
}

function upsertInstallation(s: CatalogueStatements, installation: Installation): void {
  const { appId, tenantKey, visibility } = installation;
  s.upsertInstallation.run(appId, tenantKey, visibility.all ? 1 : 0);
  s.deleteVisibility.run(appId, tenantKey);
  if (visibility.all) return;
  visibility.userIds.forEach((userId, position) => {
    s.insertVisibility.run(appId, tenantKey, "user", userId, position);
  });
  visibility.departmentIds.forEach((departmentId, position) => {
    s.insertVisibility.run(appId, tenantKey, "department", departmentId, position);
  });
}

function listInstallations(s: CatalogueStatements, appId: string | null): Installation[] {
  const lists = new Map<string, { userIds: string[]; departmentIds: string[] }>();
  for (const v of s.listVisibility.iterate(appId, appId)) {
    const key = pairKey(v.appId, v.tenantKey);
    let entry = lists.get(key);
    if (!entry) {
      entry = { userIds: [], departmentIds: [] };
      lists.set(key, entry);
    }
    (v.kind === "user" ? entry.userIds : entry.departmentIds).push(v.subjectId);
  }
  return s.listInstallations.all(appId, appId).map((row) => {
    const visibility: Visibility =
      row.visibilityAll === 1
        ? { all: true }
        : {
            all: false,
            ...(lists.get(pairKey(row.appId, row.tenantKey)) ?? { userIds: [], departmentIds: [] }),
          };
    return { appId: row.appId, tenantKey: row.tenantKey, visibility };
  });
}

function importCatalog(s: CatalogueStatements, snapshot: CatalogSnapshot): void {
  for (const tenant of snapshot.tenants) s.upsertTenant.run(tenant.tenantKey, tenant.name);
  for (const user of snapshot.users) upsertUser(s, user);
  for (const app of snapshot.apps) upsertApp(s, app);
  for (const installation of snapshot.installations) upsertInstallation(s, installation);
  for (const o of snapshot.openIds) s.importOpenId.run(o.appId, o.tenantKey, o.userId, o.openId);
}

function exportCatalog(s: CatalogueStatements): CatalogSnapshot {
  return {
    tenants: s.listTenants.all(),
    users: listUsers(s, null),
    apps: listApps(s),
    installations: listInstallations(s, null),
    openIds: s.listOpenIds.all(),
  };
}

/** The catalogue's statements on one connection, prepared once the schema exists. */
export class SqliteCatalogue {
  readonly #s: CatalogueStatements;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepareCatalogue(db);
  }

  upsertTenant(tenant: Tenant): void {
    this.#s.upsertTenant.run(tenant.tenantKey, tenant.name);
  }
  getTenant(tenantKey: string): Tenant | null {
    return this.#s.getTenant.get(tenantKey) ?? null;
  }
  listTenants(): Tenant[] {
    return this.#s.listTenants.all();
  }
  upsertUser(user: User): void {
    upsertUser(this.#s, user);
  }
  getUser(tenantKey: string, userId: string): User | null {
    return getUser(this.#s, tenantKey, userId);
  }
  listUsers(tenantKey: string | null): User[] {
    return listUsers(this.#s, tenantKey);
  }
  upsertApp(app: App): void {
    upsertApp(this.#s, app);
  }
  getApp(appId: string): App | null {
    return getApp(this.#s, appId);
  }
  listApps(): App[] {
    return listApps(this.#s);
  }
  upsertInstallation(installation: Installation): void {
    upsertInstallation(this.#s, installation);
  }
  listInstallations(appId: string): Installation[] {
    return listInstallations(this.#s, appId);
  }
  getOpenId(appId: string, tenantKey: string, userId: string): string | undefined {
    return this.#s.getOpenId.get(appId, tenantKey, userId);
  }
  ensureOpenId(appId: string, tenantKey: string, userId: string, candidate: string): string {
    return this.#s.ensureOpenId.get(appId, tenantKey, userId, candidate)!;
  }
  importCatalog(snapshot: CatalogSnapshot): void {
    importCatalog(this.#s, snapshot);
  }
  /** Call inside one read transaction. */
  exportCatalog(): CatalogSnapshot {
    return exportCatalog(this.#s);
  }
}
