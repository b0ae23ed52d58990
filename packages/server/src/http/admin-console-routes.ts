import type { FastifyInstance } from "fastify";
import type { Clock } from "../clock.ts";
import { ApiError } from "../domain/errors.ts";
import type { AuditEvent, GrantSummary, Storage } from "../storage/port.ts";
import { sessionView } from "./admin-routes.ts";

/**
 * What the web console needs beyond the rest of the admin API: counts for its overview, a cursor
 * to tail the audit log, and one session with its refresh-token family. Registered inside the
 * admin scope (admin-routes.ts), so the admin token guards every route here.
 *
 * A session's family is read from the audit events that carry its grant id, not from token
 * tables: the events are the one record of rotations, reuse and revocation that every storage
 * layout keeps.
 */
export interface AdminConsoleDeps {
  storage: Storage;
  clock: Clock;
}

const tags = ["admin", "console"];
const doc = (summary: string, response?: object) => ({
  doc: { summary, tags, security: "admin" as const, ...(response ? { response } : {}) },
});

/** Live sessions counted at most; beyond it the overview says "at least". */
const LIVE_SESSION_COUNT_CAP = 10_000;
/** Audit events read per page while scanning, and at most per scan (newest first). */
const AUDIT_PAGE = 1000;
const AUDIT_SCAN_MAX = 20_000;
/** Recent logins the overview lists. */
const RECENT_LOGINS = 10;

const eventView = (e: AuditEvent) => ({
  id: e.id,
  at: Math.floor(e.at / 1000),
  type: e.type,
  app_id: e.appId,
  tenant_key: e.tenantKey,
  user_id: e.userId,
  session_id: e.grantId,
});
type EventView = ReturnType<typeof eventView>;

const liveSessionView = (g: GrantSummary, now: number) => ({
  ...sessionView(g),
  live: g.revokedAt === null && g.expiresAt > now,
});

const eventSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    at: { type: "integer", description: "Unix seconds" },
    type: { type: "string" },
    app_id: { type: ["string", "null"] },
    tenant_key: { type: ["string", "null"] },
    user_id: { type: ["string", "null"] },
    session_id: { type: ["string", "null"] },
  },
};

function intParam(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ApiError("AdminInvalidRequest", `${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

/**
 * Reads audit events newest first, page by page, until `stop` says so, the log ends, or
 * AUDIT_SCAN_MAX events were read (`complete: false` then: older events were not looked at).
 */
async function scanAudit(
  storage: Storage,
  visit: (event: AuditEvent) => "continue" | "stop",
): Promise<{ complete: boolean }> {
  let before: number | undefined;
  let read = 0;
  while (read < AUDIT_SCAN_MAX) {
    const page = await storage.listAuditEvents(AUDIT_PAGE, before);
    for (const event of page) if (visit(event) === "stop") return { complete: true };
    read += page.length;
    if (page.length < AUDIT_PAGE) return { complete: true };
    before = page[page.length - 1]!.id;
  }
  return { complete: false };
}

export function registerAdminConsoleRoutes(admin: FastifyInstance, deps: AdminConsoleDeps): void {
  const { storage, clock } = deps;

  admin.get(
    "/overview",
    {
      config: doc("Counts and the most recent logins, for the console's overview", {
        type: "object",
        properties: {
          tenants: { type: "integer" },
          users: { type: "integer" },
          apps: { type: "integer" },
          live_sessions: { type: "integer" },
          live_sessions_capped: {
            type: "boolean",
            description: `true when there are at least ${LIVE_SESSION_COUNT_CAP} (counting stopped there)`,
          },
          recent_logins: { type: "array", items: eventSchema },
        },
      }),
    },
    async () => {
      const [tenants, users, apps, live] = await Promise.all([
        storage.listTenants(),
        storage.listUsers(),
        storage.listApps(),
        storage.listGrants({ activeAt: clock.now(), limit: LIVE_SESSION_COUNT_CAP }),
      ]);
      const recent: EventView[] = [];
      await scanAudit(storage, (e) => {
        if (e.type === "login_code.consumed") recent.push(eventView(e));
        return recent.length >= RECENT_LOGINS ? "stop" : "continue";
      });
      return {
        tenants: tenants.length,
        users: users.length,
        apps: apps.length,
        live_sessions: live.length,
        live_sessions_capped: live.length >= LIVE_SESSION_COUNT_CAP,
        recent_logins: recent,
      };
    },
  );

  admin.get<{ Querystring: Record<string, string | undefined> }>(
    "/audit-events/tail",
    {
      config: doc(
        "Audit events after a cursor, oldest first, for a live tail: after=<id> (left out: the latest), limit (1-1000, default 100), filters type, app_id, tenant_key, user_id, session_id. Poll again with the returned cursor.",
        {
          type: "object",
          properties: {
            events: { type: "array", items: eventSchema },
            cursor: { type: "integer", description: "the newest event id seen; pass as after=" },
            truncated: {
              type: "boolean",
              description:
                "more events than one answer holds came after the cursor: older ones were left out",
            },
          },
        },
      ),
    },
    async (request) => {
      const q = request.query;
      const after = intParam("after", q.after, 0, Number.MAX_SAFE_INTEGER);
      const limit = intParam("limit", q.limit, 1, AUDIT_PAGE) ?? 100;
      const filters: Array<[keyof EventView, string]> = [];
      for (const key of ["type", "app_id", "tenant_key", "user_id", "session_id"] as const) {
        const value = q[key];
        if (value !== undefined && value !== "") filters.push([key, value]);
      }
      // Newest first, up to one page; kept only the events past the cursor.
      const page = await storage.listAuditEvents(AUDIT_PAGE);
      const newer = after === undefined ? page : page.filter((e) => e.id > after);
      const cursor = page[0]?.id ?? after ?? 0;
      const matching = newer.map(eventView).filter((e) => filters.every(([key, value]) => e[key] === value));
      const truncated =
        matching.length > limit ||
        (after !== undefined && page.length === AUDIT_PAGE && page[page.length - 1]!.id > after + 1);
      return { events: matching.slice(0, limit).reverse(), cursor, truncated };
    },
  );

  admin.get<{ Params: { session_id: string }; Querystring: Record<string, string | undefined> }>(
    "/sessions/:session_id",
    {
      config: doc(
        "One session with its refresh-token family: the audit events of its grant (login, rotations, reuse, revocation), oldest first. app_id, tenant_key and user_id, when given, find a session older than the audit events read",
        {
          type: "object",
          properties: {
            session_id: { type: "string" },
            app_id: { type: "string" },
            tenant_key: { type: "string" },
            user_id: { type: "string" },
            created_at: { type: "integer" },
            expires_at: { type: "integer" },
            revoked_at: { type: ["integer", "null"] },
            revoke_reason: { type: ["string", "null"] },
            live: { type: "boolean" },
            family: {
              type: "object",
              properties: {
                rotations: { type: "integer" },
                reused: { type: "boolean", description: "a rotated refresh token or the code was replayed" },
                revoked: { type: "boolean" },
                events: { type: "array", items: eventSchema },
                complete: {
                  type: "boolean",
                  description: `false when the session is older than the newest ${AUDIT_SCAN_MAX} audit events read`,
                },
              },
            },
          },
        },
      ),
    },
    async (request) => {
      const sessionId = request.params.session_id;
      const events: AuditEvent[] = [];
      const { complete } = await scanAudit(storage, (e) => {
        if (e.grantId !== sessionId) return "continue";
        events.push(e);
        // The login that opened the grant is its first event: nothing older belongs to it.
        return e.type === "login_code.consumed" ? "stop" : "continue";
      });
      // The grant is looked up among its owner's: named by the caller, or by its events.
      const q = request.query;
      const opened = events.find((e) => e.type === "login_code.consumed") ?? events[0];
      const appId = q.app_id || opened?.appId;
      const tenantKey = q.tenant_key || opened?.tenantKey;
      const userId = q.user_id || opened?.userId;
      const grants =
        appId && tenantKey && userId
          ? await storage.listGrants({ appId, tenantKey, userId, limit: 1000 })
          : [];
      const grant = grants.find((g) => g.grantId === sessionId);
      if (!grant) {
        throw new ApiError(
          "AdminNotFound",
          complete
            ? `session ${sessionId}`
            : `session ${sessionId} (older ones are found with app_id, tenant_key and user_id)`,
        );
      }
      const family = events.reverse();
      return {
        ...liveSessionView(grant, clock.now()),
        family: {
          rotations: family.filter((e) => e.type === "refresh_token.rotated").length,
          reused: family.some((e) => e.type === "refresh_token.reused" || e.type === "login_code.reused"),
          revoked: grant.revokedAt !== null,
          events: family.map(eventView),
          complete,
        },
      };
    },
  );
}
