/** The catalogue on PostgreSQL: tenants, users, apps, installations, open_ids, import and export. */
import type { App, CatalogSnapshot, CatalogueStorage, Installation, Tenant, User } from "../port.ts";
import type { PgAccess, Queryable } from "./access.ts";
import { ensureOpenIdWith } from "./flow.ts";

export interface UserRow {
  tenant_key: string;
  user_id: string;
  union_id: string;
  name: string;
  en_name: string;
  email: string | null;
  mobile: string | null;
  avatar_url: string;
  status: User["status"];
  department_ids: string[];
}

interface AppRow {
  app_id: string;
  name: string;
  type: App["type"];
  scopes: string[];
  secret_hash: string;
}

interface InstallationRow {
  app_id: string;
  tenant_key: string;
  visibility_all: boolean;
  visible_user_ids: string[];
  visible_department_ids: string[];
}

export const USER_COLUMNS =
  "tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status, department_ids";
const APP_COLUMNS = "app_id, name, type, scopes, secret_hash";
const INSTALLATION_COLUMNS = "app_id, tenant_key, visibility_all, visible_user_ids, visible_department_ids";

export function toUser(row: UserRow): User {
  return {
    tenantKey: row.tenant_key,
    userId: row.user_id,
    unionId: row.union_id,
    name: row.name,
    enName: row.en_name,
    email: row.email,
    mobile: row.mobile,
    avatarUrl: row.avatar_url,
    status: row.status,
    departmentIds: row.department_ids,
  };
}

function toApp(row: AppRow): App {
  return {
    appId: row.app_id,
    name: row.name,
    type: row.type,
    scopes: row.scopes,
    secretHash: row.secret_hash,
  };
}

function toInstallation(row: InstallationRow): Installation {
  return {
    appId: row.app_id,
    tenantKey: row.tenant_key,
    visibility: row.visibility_all
      ? { all: true }
      : { all: false, userIds: row.visible_user_ids, departmentIds: row.visible_department_ids },
  };
}

async function upsertTenantWith(q: Queryable, tenant: Tenant): Promise<void> {
  await q.query(
    "INSERT INTO tenants (tenant_key, name) VALUES ($1, $2) ON CONFLICT (tenant_key) DO UPDATE SET name = EXCLUDED.name",
    [tenant.tenantKey, tenant.name],
  );
}

async function upsertUserWith(q: Queryable, user: User): Promise<void> {
  await q.query(
    `INSERT INTO users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (tenant_key, user_id) DO UPDATE SET
       union_id = EXCLUDED.union_id, name = EXCLUDED.name, en_name = EXCLUDED.en_name,
       email = EXCLUDED.email, mobile = EXCLUDED.mobile, avatar_url = EXCLUDED.avatar_url,
       status = EXCLUDED.status, department_ids = EXCLUDED.department_ids`,
    [
      user.tenantKey,
      user.userId,
      user.unionId,
      user.name,
      user.enName,
      user.email,
      user.mobile,
      user.avatarUrl,
      user.status,
      // A list names each department once, in first-mention order, as on SQLite (port.ts).
      distinct(user.departmentIds),
    ],
  );
}

async function upsertAppWith(q: Queryable, app: App): Promise<void> {
  await q.query(
    `INSERT INTO apps (${APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (app_id) DO UPDATE SET
       name = EXCLUDED.name, type = EXCLUDED.type, scopes = EXCLUDED.scopes, secret_hash = EXCLUDED.secret_hash`,
    [app.appId, app.name, app.type, app.scopes, app.secretHash],
  );
}

async function upsertInstallationWith(q: Queryable, installation: Installation): Promise<void> {
  const v = installation.visibility;
  await q.query(
    `INSERT INTO installations (${INSTALLATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (app_id, tenant_key) DO UPDATE SET
       visibility_all = EXCLUDED.visibility_all,
       visible_user_ids = EXCLUDED.visible_user_ids,
       visible_department_ids = EXCLUDED.visible_department_ids`,
    [
      installation.appId,
      installation.tenantKey,
      v.all,
      v.all ? [] : distinct(v.userIds),
      v.all ? [] : distinct(v.departmentIds),
    ],
  );
}

export function pgCatalogue(db: PgAccess): CatalogueStorage {
  const { query, direct, transaction } = db;
  return {
    async upsertTenant(tenant) {
      await direct((q) => upsertTenantWith(q, tenant));
    },

    async getTenant(tenantKey) {
      const rows = await query<{ tenant_key: string; name: string }>(
        "SELECT tenant_key, name FROM tenants WHERE tenant_key = $1",
        [tenantKey],
      );
      const row = rows[0];
      return row ? { tenantKey: row.tenant_key, name: row.name } : null;
    },

    async listTenants() {
      const rows = await query<{ tenant_key: string; name: string }>(
        "SELECT tenant_key, name FROM tenants ORDER BY tenant_key",
      );
      return rows.map((row) => ({ tenantKey: row.tenant_key, name: row.name }));
    },

    async upsertUser(user) {
      await direct((q) => upsertUserWith(q, user));
    },

    async getUser(tenantKey, userId) {
      const rows = await query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE tenant_key = $1 AND user_id = $2`,
        [tenantKey, userId],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },

    async listUsers(tenantKey) {
      const rows =
        tenantKey === undefined
          ? await query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY tenant_key, user_id`)
          : await query<UserRow>(
              `SELECT ${USER_COLUMNS} FROM users WHERE tenant_key = $1 ORDER BY tenant_key, user_id`,
              [tenantKey],
            );
      return rows.map(toUser);
    },

    async upsertApp(app) {
      await direct((q) => upsertAppWith(q, app));
    },

    async getApp(appId) {
      const rows = await query<AppRow>(`SELECT ${APP_COLUMNS} FROM apps WHERE app_id = $1`, [appId]);
      return rows[0] ? toApp(rows[0]) : null;
    },

    async listApps() {
      const rows = await query<AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY app_id`);
      return rows.map(toApp);
    },

    async upsertInstallation(installation) {
      await direct((q) => upsertInstallationWith(q, installation));
    },

    async listInstallations(appId) {
      const rows = await query<InstallationRow>(
        `SELECT ${INSTALLATION_COLUMNS} FROM installations WHERE app_id = $1 ORDER BY tenant_key`,
        [appId],
      );
      return rows.map(toInstallation);
    },

    async ensureOpenId(appId, tenantKey, userId, candidate) {
      return direct(async (q) => {
        // Already assigned (the common case: every mint asks): a read, no row lock, no new tuple.
        const { rows } = await q.query<{ open_id: string }>(
          "SELECT open_id FROM open_ids WHERE app_id = $1 AND tenant_key = $2 AND user_id = $3",
          [appId, tenantKey, userId],
        );
        return rows[0]?.open_id ?? ensureOpenIdWith(q, appId, tenantKey, userId, candidate);
      });
    },

    async importCatalog(snapshot: CatalogSnapshot) {
      await transaction(async (client) => {
        for (const tenant of snapshot.tenants) await upsertTenantWith(client, tenant);
        for (const user of snapshot.users) await upsertUserWith(client, user);
        for (const app of snapshot.apps) await upsertAppWith(client, app);
        for (const installation of snapshot.installations) await upsertInstallationWith(client, installation);
        for (const o of snapshot.openIds) {
          // An import restores the exported open_id, replacing one assigned meanwhile.
          await client.query(
            `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = EXCLUDED.open_id`,
            [o.appId, o.tenantKey, o.userId, o.openId],
          );
        }
      });
    },

    async exportCatalog() {
      // One snapshot for the whole export.
      return transaction(async (client) => {
        await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        const tenants = await client.query<{ tenant_key: string; name: string }>(
          "SELECT tenant_key, name FROM tenants ORDER BY tenant_key",
        );
        const users = await client.query<UserRow>(
          `SELECT ${USER_COLUMNS} FROM users ORDER BY tenant_key, user_id`,
        );
        const apps = await client.query<AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY app_id`);
        const installations = await client.query<InstallationRow>(
          `SELECT ${INSTALLATION_COLUMNS} FROM installations ORDER BY app_id, tenant_key`,
        );
        const openIds = await client.query<{
          app_id: string;
          tenant_key: string;
          user_id: string;
          open_id: string;
        }>("SELECT app_id, tenant_key, user_id, open_id FROM open_ids ORDER BY app_id, tenant_key, user_id");
        return {
          tenants: tenants.rows.map((row) => ({ tenantKey: row.tenant_key, name: row.name })),
          users: users.rows.map(toUser),
          apps: apps.rows.map(toApp),
          installations: installations.rows.map(toInstallation),
          openIds: openIds.rows.map((row) => ({
            appId: row.app_id,
            tenantKey: row.tenant_key,
            userId: row.user_id,
            openId: row.open_id,
          })),
        };
      });
    },
  };
}

function distinct(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
