import { Errors, Paths } from "@mina-auth/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AppTokenService } from "../domain/app-tokens.ts";
import { parseBearer } from "../domain/bearer.ts";
import type { LoginService } from "../domain/login.ts";
import type { AppTokenRecord } from "../storage/port.ts";
import { markSuccess, sendError } from "./reply.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The app behind the bearer app/tenant token, set by the route's onRequest check. */
    caller: AppTokenRecord | null;
  }
}

const credentialsBody = {
  type: "object",
  required: ["app_id", "app_secret"],
  properties: { app_id: { type: "string" }, app_secret: { type: "string" } },
};

const tokenLoginValidateReply = {
  type: "object",
  properties: {
    code: { type: "integer" },
    msg: { type: "string" },
    data: {
      type: "object",
      properties: {
        open_id: { type: "string" },
        employee_id: { type: "string" },
        session_key: { type: "string" },
        tenant_key: { type: "string" },
        access_token: { type: "string" },
        expires_in: { type: "integer" },
        refresh_token: { type: "string" },
      },
    },
  },
};

const refreshBody = {
  type: "object",
  required: ["grant_type", "refresh_token"],
  properties: { grant_type: { const: "refresh_token" }, refresh_token: { type: "string" } },
};

const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");

/**
 * Checks the app token before the body is even parsed, so that the platform's check order
 * holds (a bad app token answers its own code whatever the body).
 */
function requireAppToken(
  appTokens: AppTokenService,
  failure: "AccessTokenInvalid" | "RefreshAppTokenInvalid",
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    request.caller = await appTokens.authenticate(parseBearer(request.headers.authorization));
    if (!request.caller) return sendError(reply, Errors[failure]);
  };
}

export function registerPlatformRoutes(
  app: FastifyInstance,
  appTokens: AppTokenService,
  login: LoginService,
): void {
  app.decorateRequest("caller", null);

  app.post(Paths.appAccessToken, {
    config: {
      doc: {
        summary: "Get a self-built app's app_access_token (2 h; the same token while ≥ 30 min remain)",
        tags: ["platform"],
        body: credentialsBody,
      },
    },
    handler: async (request, reply) => {
      const issued = await appTokens.issue("app", request.body);
      markSuccess(request);
      return noStore(reply).send({
        code: 0,
        msg: "ok",
        app_access_token: issued.token,
        expire: issued.expire,
      });
    },
  });

  app.post(Paths.tenantAccessToken, {
    config: {
      doc: {
        summary: "Get a self-built app's tenant_access_token",
        tags: ["platform"],
        body: credentialsBody,
      },
    },
    handler: async (request, reply) => {
      const issued = await appTokens.issue("tenant", request.body);
      markSuccess(request);
      return noStore(reply).send({
        code: 0,
        msg: "ok",
        tenant_access_token: issued.token,
        expire: issued.expire,
      });
    },
  });

  app.post(Paths.tokenLoginValidate, {
    config: {
      doc: {
        summary: "Exchange a mini program's one-time login code for the user's identity and tokens",
        tags: ["platform"],
        security: "app",
        body: { type: "object", required: ["code"], properties: { code: { type: "string" } } },
        response: tokenLoginValidateReply,
      },
    },
    schema: { response: { 200: tokenLoginValidateReply } },
    onRequest: requireAppToken(appTokens, "AccessTokenInvalid"),
    handler: async (request, reply) => {
      const data = await login.exchange(request.caller!, request.body, request.ip);
      markSuccess(request);
      return noStore(reply).send({ code: 0, msg: "success", data });
    },
  });

  for (const [path, variant] of [
    [Paths.refreshAccessToken, "legacy"],
    [Paths.oidcRefreshAccessToken, "oidc"],
  ] as const) {
    app.post(path, {
      config: {
        doc: {
          summary:
            variant === "oidc"
              ? "Refresh a user_access_token (OIDC): rotates the refresh_token"
              : "Refresh a user_access_token (v1, with the user's profile): rotates the refresh_token",
          tags: ["platform"],
          security: "app",
          body: refreshBody,
        },
      },
      onRequest: requireAppToken(appTokens, "RefreshAppTokenInvalid"),
      handler: async (request, reply) => {
        const data =
          variant === "oidc"
            ? await login.refresh(request.caller!, request.body, "oidc")
            : await login.refresh(request.caller!, request.body, "legacy");
        markSuccess(request);
        return noStore(reply).send({ code: 0, msg: "success", data });
      },
    });
  }

  app.get(Paths.userInfo, {
    config: {
      doc: {
        summary: "The user behind a user_access_token; identity fields gated by the app's scopes",
        tags: ["platform"],
        security: "user",
      },
    },
    handler: async (request, reply) => {
      const data = await login.userInfo(parseBearer(request.headers.authorization));
      markSuccess(request);
      return noStore(reply).send({ code: 0, msg: "success", data });
    },
  });
}
