import { Errors } from "@mina-auth/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type AdminTokenCheck, adminTokenCheck } from "../admin-token.ts";
import type { Clock } from "../clock.ts";
import { parseBearer } from "../domain/bearer.ts";
import { ApiError } from "../domain/errors.ts";
import type { LoginService } from "../domain/login.ts";
import {
  importSeed,
  parseApp,
  parseTenant,
  parseUser,
  SEED_IMPORT_LIMIT,
  type TenantCheck,
  toSeedFile,
} from "../domain/seed.ts";
import { newAppSecret, sha256Hex } from "../secrets.ts";
import type { App, GrantSummary, Installation, Storage, User, Visibility } from "../storage/port.ts";
import { registerTestToolRoutes } from "../test-tools/routes.ts";
import type { TestTools } from "../test-tools/tools.ts";
import { registerAdminConsoleRoutes } from "./admin-console-routes.ts";
import { type AppEventDeps, registerAppEventRoutes } from "./admin-event-routes.ts";
import { MAX_CODES_PER_REQUEST, AdminSchemas as S, View } from "./admin-schemas.ts";
import { type MintCodesBody, mintRequestOf } from "./mint-request.ts";
import { adminRouteFor } from "./openapi.ts";
import { markSuccess, sendError } from "./reply.ts";

export interface AdminDeps {
  storage: Storage;
  login: LoginService;
  clock: Clock;
  /** The token itself, or a check against the stored digest (admin-token.ts). */
  adminToken: string | AdminTokenCheck;
  /** Fault rules, clock and journal routes (test-tools/routes.ts). */
  tools?: TestTools;
  /** Apps' event settings and delivery attempts (admin-event-routes.ts). */
  events?: Omit<AppEventDeps, "storage" | "clock">;
}

const route = adminRouteFor(["admin"]);

const userView = (u: User) => ({
  tenant_key: u.tenantKey,
  user_id: u.userId,
  union_id: u.unionId,
  name: u.name,
  en_name: u.enName,
  email: u.email,
  mobile: u.mobile,
  avatar_url: u.avatarUrl,
  status: u.status,
  department_ids: u.departmentIds,
});
const visibilityView = (i: Installation) =>
  i.visibility.all ? "all" : { users: i.visibility.userIds, departments: i.visibility.departmentIds };
const appView = (a: App, installations: Installation[]) => ({
  app_id: a.appId,
  name: a.name,
  type: a.type,
  scopes: a.scopes,
  installations: installations.map((i) => ({ tenant_key: i.tenantKey, visibility: visibilityView(i) })),
});
export const sessionView = (g: GrantSummary) => ({
  session_id: g.grantId,
  app_id: g.appId,
  tenant_key: g.tenantKey,
  user_id: g.userId,
  created_at: Math.floor(g.createdAt / 1000),
  expires_at: Math.floor(g.expiresAt / 1000),
  revoked_at: g.revokedAt === null ? null : Math.floor(g.revokedAt / 1000),
  revoke_reason: g.revokeReason,
});

/** What the installation schema admits (absent means "all", as in a seed file), as stored. */
type VisibilityBody = "all" | { users?: string[]; departments?: string[] } | undefined;
const toVisibility = (body: VisibilityBody): Visibility =>
  body === undefined || body === "all"
    ? { all: true }
    : { all: false, userIds: body.users ?? [], departmentIds: body.departments ?? [] };

/** A query value the route's schema already checked as a positive integer. */
const bounded = (value: string | undefined, fallback: number, max: number) =>
  value === undefined ? fallback : Math.min(Number(value), max);

/** The project's own admin API, `/admin/v1`, behind the admin bearer token. */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { storage, login, clock } = deps;

  const tenantCheck = async (): Promise<TenantCheck> => {
    const known = new Set((await storage.listTenants()).map((t) => t.tenantKey));
    return (key, path) => {
      if (!known.has(key)) throw new ApiError("AdminNotFound", `${path}: tenant ${key}`);
    };
  };
  const checkAdminToken = adminTokenCheck(deps.adminToken);
  const mustApp = async (appId: string) => {
    const found = await storage.getApp(appId);
    if (!found) throw new ApiError("AdminNotFound", `app ${appId}`);
    return found;
  };
  const mustUser = async (tenantKey: string, userId: string) => {
    const found = await storage.getUser(tenantKey, userId);
    if (!found) throw new ApiError("AdminNotFound", `user ${userId} in tenant ${tenantKey}`);
    return found;
  };

  app.register(
    async (admin) => {
      admin.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
        const token = parseBearer(request.headers.authorization);
        if (token === null || !(await checkAdminToken(token)))
          return sendError(reply, Errors.AdminUnauthorized);
      });
      admin.addHook("onSend", async (request, reply, payload) => {
        if (reply.statusCode < 400) markSuccess(request);
        reply.header("cache-control", "no-store");
        return payload;
      });
      if (deps.tools) registerTestToolRoutes(admin, deps.tools);
      if (deps.events) registerAppEventRoutes(admin, { storage, clock, ...deps.events });

      admin.get("/tenants", route("List tenants", {}, { response: S.tenants }), async () => ({
        tenants: (await storage.listTenants()).map((t) => ({ tenant_key: t.tenantKey, name: t.name })),
      }));
      admin.post(
        "/tenants",
        route(
          "Create a tenant (tenant_key generated when left out)",
          { body: S.tenantBody },
          { status: 201, errors: [409], response: View.tenant },
        ),
        async (request, reply) => {
          const tenant = parseTenant(request.body, "body");
          if (await storage.getTenant(tenant.tenantKey))
            throw new ApiError("AdminConflict", `tenant ${tenant.tenantKey}`);
          await storage.upsertTenant(tenant);
          return reply.code(201).send({ tenant_key: tenant.tenantKey, name: tenant.name });
        },
      );
      admin.get<{ Params: { tenant_key: string } }>(
        "/tenants/:tenant_key",
        route("One tenant", { params: S.tenantParams }, { response: View.tenant }),
        async (request) => {
          const tenant = await storage.getTenant(request.params.tenant_key);
          if (!tenant) throw new ApiError("AdminNotFound", `tenant ${request.params.tenant_key}`);
          return { tenant_key: tenant.tenantKey, name: tenant.name };
        },
      );

      admin.get<{ Querystring: { tenant_key?: string } }>(
        "/users",
        route("List users (filter: tenant_key)", { querystring: S.usersQuery }, { response: S.users }),
        async (request) => ({
          users: (await storage.listUsers(request.query.tenant_key)).map(userView),
        }),
      );
      admin.post(
        "/users",
        route(
          "Create a user (user_id and union_id generated when left out)",
          { body: S.userBody },
          { status: 201, errors: [404, 409], response: View.user },
        ),
        async (request, reply) => {
          const user = parseUser(request.body, "body", await tenantCheck());
          if (await storage.getUser(user.tenantKey, user.userId))
            throw new ApiError("AdminConflict", `user ${user.userId}`);
          await storage.upsertUser(user);
          return reply.code(201).send(userView(user));
        },
      );
      admin.get<{ Params: { tenant_key: string; user_id: string } }>(
        "/users/:tenant_key/:user_id",
        route("One user", { params: S.userParams }, { response: View.user }),
        async (request) => userView(await mustUser(request.params.tenant_key, request.params.user_id)),
      );
      admin.patch<{ Params: { tenant_key: string; user_id: string } }>(
        "/users/:tenant_key/:user_id",
        route(
          "Update a user (e.g. status: deactivated)",
          { params: S.userParams, body: S.userPatch },
          { response: View.user },
        ),
        async (request) => {
          const current = await mustUser(request.params.tenant_key, request.params.user_id);
          const merged = {
            ...userView(current),
            ...(request.body as object),
            tenant_key: current.tenantKey,
            user_id: current.userId,
          };
          const user = parseUser(merged, "body", () => {});
          await storage.upsertUser(user);
          return userView(user);
        },
      );

      admin.get("/apps", route("List apps (never their secrets)", {}, { response: S.apps }), async () => {
        const apps = await storage.listApps();
        return {
          apps: await Promise.all(
            apps.map(async (a) => appView(a, await storage.listInstallations(a.appId))),
          ),
        };
      });
      admin.post(
        "/apps",
        route(
          "Create an app; the answer shows its app_secret once",
          { body: S.appBody },
          { status: 201, errors: [404, 409], response: S.appWithSecret },
        ),
        async (request, reply) => {
          const parsed = parseApp(request.body, "body", await tenantCheck());
          if (await storage.getApp(parsed.app.appId))
            throw new ApiError("AdminConflict", `app ${parsed.app.appId}`);
          await storage.upsertApp(parsed.app);
          for (const installation of parsed.installations) await storage.upsertInstallation(installation);
          return reply
            .code(201)
            .send({ ...appView(parsed.app, parsed.installations), app_secret: parsed.appSecret });
        },
      );
      admin.get<{ Params: { app_id: string } }>(
        "/apps/:app_id",
        route("One app", { params: S.appParams }, { response: View.app }),
        async (request) => {
          const found = await mustApp(request.params.app_id);
          return appView(found, await storage.listInstallations(found.appId));
        },
      );
      admin.patch<{ Params: { app_id: string }; Body: { name?: string; scopes?: string[] } | undefined }>(
        "/apps/:app_id",
        route(
          "Update an app's name or scopes",
          { params: S.appParams, body: S.appPatch },
          { response: View.app },
        ),
        async (request) => {
          const found = await mustApp(request.params.app_id);
          const { name = found.name, scopes = found.scopes } = request.body ?? {};
          const updated = { ...found, name, scopes };
          await storage.upsertApp(updated);
          return appView(updated, await storage.listInstallations(found.appId));
        },
      );
      admin.post<{ Params: { app_id: string } }>(
        "/apps/:app_id/secret",
        route(
          "Rotate an app's secret; the answer shows the new one once",
          { params: S.appParams },
          { response: S.secret },
        ),
        async (request) => {
          const found = await mustApp(request.params.app_id);
          const appSecret = newAppSecret();
          await storage.upsertApp({ ...found, secretHash: sha256Hex(appSecret) });
          return { app_id: found.appId, app_secret: appSecret };
        },
      );
      admin.put<{
        Params: { app_id: string; tenant_key: string };
        Body: { visibility?: VisibilityBody } | undefined;
      }>(
        "/apps/:app_id/installations/:tenant_key",
        route(
          'Install an app in a tenant or change its visibility: {"visibility": "all" | {"users": [], "departments": []}}',
          { params: S.installationParams, body: S.installationBody },
          { response: S.installation },
        ),
        async (request) => {
          const found = await mustApp(request.params.app_id);
          const tenantKey = request.params.tenant_key;
          if (!(await storage.getTenant(tenantKey)))
            throw new ApiError("AdminNotFound", `tenant ${tenantKey}`);
          const existing = await storage.listInstallations(found.appId);
          if (found.type === "self_built" && existing.some((i) => i.tenantKey !== tenantKey)) {
            throw new ApiError("AdminInvalidRequest", "a self_built app belongs to one tenant");
          }
          const visibility = toVisibility(request.body?.visibility);
          const installation = { appId: found.appId, tenantKey, visibility };
          await storage.upsertInstallation(installation);
          return { tenant_key: tenantKey, visibility: visibilityView(installation) };
        },
      );

      admin.post<{ Body: MintCodesBody }>(
        "/login-codes",
        route(
          `Mint a login code, as tt.login (or, with scopes, tt.requestAccess) does on a device; with count (1–${MAX_CODES_PER_REQUEST}), that many at once as {codes, expires_at}`,
          { body: S.loginCodes },
          { status: 201, errors: [404], response: S.minted },
        ),
        async (request, reply) => {
          const { count } = request.body;
          const mint = mintRequestOf(request.body);
          const { codes, expiresAt } = await login.mintCodes(mint, count ?? 1);
          // Without count, the contract's one-code shape.
          const minted = count === undefined ? { code: codes[0] } : { codes };
          return reply.code(201).send({ ...minted, expires_at: expiresAt });
        },
      );

      admin.get<{ Querystring: Record<string, string | undefined> }>(
        "/sessions",
        route(
          "List sessions (filters: app_id, tenant_key, user_id, active=true, limit)",
          { querystring: S.sessionsQuery },
          { response: S.sessions },
        ),
        async (request) => {
          const q = request.query;
          const grants = await storage.listGrants({
            ...(q.app_id ? { appId: q.app_id } : {}),
            ...(q.tenant_key ? { tenantKey: q.tenant_key } : {}),
            ...(q.user_id ? { userId: q.user_id } : {}),
            ...(q.active === "true" ? { activeAt: clock.now() } : {}),
            limit: bounded(q.limit, 100, 1000),
          });
          return { sessions: grants.map(sessionView) };
        },
      );
      admin.post<{ Params: { session_id: string } }>(
        "/sessions/:session_id/revoke",
        route(
          "Revoke a session: its access and refresh tokens stop working",
          { params: S.sessionParams },
          { response: S.revoked },
        ),
        async (request) => {
          const revoked = await storage.revokeGrant(request.params.session_id, clock.now(), "admin");
          if (!revoked) throw new ApiError("AdminNotFound", `active session ${request.params.session_id}`);
          return { session_id: request.params.session_id, revoked: true };
        },
      );

      admin.get<{ Querystring: Record<string, string | undefined> }>(
        "/audit-events",
        route(
          "Audit events, newest first (limit, before=<id>)",
          { querystring: S.auditQuery },
          { response: S.events },
        ),
        async (request) => {
          const { before, limit } = request.query;
          const events = await storage.listAuditEvents(
            bounded(limit, 100, 1000),
            before === undefined ? undefined : bounded(before, 1, Number.MAX_SAFE_INTEGER),
          );
          return {
            events: events.map((e) => ({
              id: e.id,
              at: Math.floor(e.at / 1000),
              type: e.type,
              app_id: e.appId,
              tenant_key: e.tenantKey,
              user_id: e.userId,
              session_id: e.grantId,
            })),
          };
        },
      );

      admin.post(
        "/import",
        {
          ...route(
            `Import a seed file (up to ${SEED_IMPORT_LIMIT.text}; upserts; an entry without its ID is matched by name or generated)`,
            { body: S.importBody },
            { errors: [404], response: S.imported },
          ),
          bodyLimit: SEED_IMPORT_LIMIT.bytes,
        },
        async (request) => {
          const seed = await importSeed(storage, { value: request.body, source: "request body" });
          return {
            imported: {
              tenants: seed.snapshot.tenants.length,
              users: seed.snapshot.users.length,
              apps: seed.snapshot.apps.length,
            },
            app_secrets: seed.appSecrets.map((s) => ({ app_id: s.appId, app_secret: s.appSecret })),
          };
        },
      );
      admin.get(
        "/export",
        route(
          "Export the catalogue as a seed file (secrets as digests, never tokens)",
          {},
          { response: S.seedFile },
        ),
        async () => toSeedFile(await storage.exportCatalog()),
      );
      registerAdminConsoleRoutes(admin, { storage, clock });
    },
    { prefix: "/admin/v1" },
  );
}
