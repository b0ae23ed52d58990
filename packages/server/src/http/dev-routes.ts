import { Errors } from "@mina-auth/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type AdminTokenCheck, adminTokenCheck } from "../admin-token.ts";
import type { Clock } from "../clock.ts";
import { parseBearer } from "../domain/bearer.ts";
import { type DeviceRef, DeviceSessions } from "../domain/device-sessions.ts";
import { ApiError } from "../domain/errors.ts";
import type { LoginService } from "../domain/login.ts";
import type { Storage } from "../storage/port.ts";
import { markSuccess, sendError } from "./reply.ts";

export interface DevRouteDeps {
  storage: Storage;
  login: LoginService;
  clock: Clock;
  adminToken: string | AdminTokenCheck;
  /**
   * The emulator opens `/dev/v1` without the admin token, so that one line installs the tt shim
   * in a test (`createTt({ baseUrl, appId, userId })`). A served instance never does.
   */
  openDevEndpoints?: boolean;
}

const devDoc = (summary: string) => ({ doc: { summary, tags: ["dev"], security: "admin" as const } });

/** Fields of a JSON object body; anything else is a 9400 naming the field. */
function fields(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ApiError("AdminInvalidRequest", "body must be a JSON object");
  return body as Record<string, unknown>;
}

function text(record: Record<string, unknown>, name: string, optional: true): string | undefined;
function text(record: Record<string, unknown>, name: string): string;
function text(record: Record<string, unknown>, name: string, optional = false): string | undefined {
  const value = record[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > 256)
    throw new ApiError("AdminInvalidRequest", `${name} must be a non-empty string`);
  return value;
}

function device(record: Record<string, unknown>): DeviceRef {
  const tenantKey = text(record, "tenant_key", true);
  return {
    appId: text(record, "app_id"),
    userId: text(record, "user_id"),
    ...(tenantKey ? { tenantKey } : {}),
  };
}

/** tt.requestAccess's scopeList; absent for tt.login, whose code grants every scope of the app. */
function scopeList(record: Record<string, unknown>): string[] | undefined {
  const value = record.scope_list;
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 64 || !value.every((s) => typeof s === "string"))
    throw new ApiError("AdminInvalidRequest", "scope_list must be an array of strings");
  return value;
}

/**
 * The device's half of the login, for the tt shim (`@mina-auth/tt`) in tests and previews:
 * `/dev/v1/tt/*`, behind the admin token (or open in the emulator). And the rotation of the
 * key session keys are derived from, an admin operation.
 */
export function registerDevRoutes(app: FastifyInstance, deps: DevRouteDeps): void {
  const devices = new DeviceSessions(deps.storage, deps.clock, deps.login);
  const checkAdminToken = adminTokenCheck(deps.adminToken);
  const requireAdmin = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = parseBearer(request.headers.authorization);
    if (token === null || !(await checkAdminToken(token))) return sendError(reply, Errors.AdminUnauthorized);
  };
  const noStore = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode < 400) markSuccess(request);
    reply.header("cache-control", "no-store");
    return payload;
  };

  app.register(
    async (dev) => {
      if (!deps.openDevEndpoints) dev.addHook("onRequest", requireAdmin);
      dev.addHook("onSend", noStore);

      dev.post(
        "/tt/login",
        {
          config: devDoc(
            "tt.login / tt.requestAccess: a login code for the shim's user, scopes checked against the app's",
          ),
        },
        async (request, reply) => {
          const body = fields(request.body);
          const minted = await devices.requestAccess(device(body), scopeList(body));
          return reply.code(201).send({ code: minted.code, expires_at: minted.expiresAt });
        },
      );
      dev.post(
        "/tt/check-session",
        { config: devDoc("tt.checkSession: whether the session the code opened is alive") },
        async (request) => {
          const body = fields(request.body);
          return { alive: await devices.isAlive(device(body), text(body, "code")) };
        },
      );
      dev.post(
        "/tt/user-info",
        {
          config: devDoc(
            "tt.getUserInfo: userInfo and rawData; with with_credentials, signature, encryptedData and iv for the session the code opened (1001001 when it is not live)",
          ),
        },
        async (request) => {
          const body = fields(request.body);
          if (body.with_credentials !== undefined && typeof body.with_credentials !== "boolean")
            throw new ApiError("AdminInvalidRequest", "with_credentials must be a boolean");
          if (body.with_credentials !== true) return devices.userInfo(device(body));
          return devices.credentialedUserInfo(device(body), text(body, "code"));
        },
      );
    },
    { prefix: "/dev/v1" },
  );

  app.register(
    async (admin) => {
      admin.addHook("onRequest", requireAdmin);
      admin.addHook("onSend", noStore);
      admin.post(
        "/server-keys/session_key/rotate",
        {
          config: {
            doc: {
              summary: "Add a version of the key session keys are derived from; live sessions keep theirs",
              tags: ["admin"],
              security: "admin" as const,
            },
          },
        },
        async (_request, reply) => {
          const key = await deps.login.sessionKeys.rotate();
          return reply
            .code(201)
            .send({ name: key.name, version: key.version, created_at: Math.floor(key.createdAt / 1000) });
        },
      );
    },
    { prefix: "/admin/v1" },
  );
}
