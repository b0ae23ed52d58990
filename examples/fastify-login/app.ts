import { ErrorCodes, MinaApiError, MinaClient } from "@mina-auth/client";
import Fastify, { type FastifyInstance } from "fastify";

/**
 * A mini program's backend: `tt.login()` on the device yields a one-time code, the device posts
 * it here, and the backend exchanges it for the user's identity. The session key and the user's
 * tokens stay on the server; the device gets only a session of this backend's own.
 */
/** The platform's answers that mean "this code logs no one in": the device's problem, not ours. */
const REFUSED: ReadonlySet<number> = new Set([
  ErrorCodes.CodeAppIdNotMatch,
  ErrorCodes.InvalidCode,
  ErrorCodes.UserNoVisibility,
]);

export interface LoginAppOptions {
  appId: string;
  appSecret: string;
  /** "feishu" | "lark" | any URL (the emulator's in tests). */
  baseUrl?: string;
}

export function buildLoginApp(options: LoginAppOptions): FastifyInstance {
  const mina = new MinaClient({
    appId: options.appId,
    appSecret: options.appSecret,
    baseUrl: options.baseUrl ?? "feishu",
  });
  const sessions = new Map<string, { openId: string; refreshToken: string }>();
  const app = Fastify();

  app.post<{ Body: { code?: unknown } }>("/login", async (request, reply) => {
    const code = request.body?.code;
    if (typeof code !== "string" || code === "") return reply.code(400).send({ error: "code is required" });
    try {
      const session = await mina.tokenLoginValidate(code);
      const sid = crypto.randomUUID();
      sessions.set(sid, { openId: session.openId, refreshToken: session.refreshToken });
      return { sid, openId: session.openId, employeeId: session.employeeId ?? null };
    } catch (error) {
      if (error instanceof MinaApiError && REFUSED.has(error.code)) {
        const status = error.code === ErrorCodes.UserNoVisibility ? 403 : 401;
        return reply.code(status).send({ error: "login failed", code: error.code });
      }
      // A wrong app secret (10014), the network, a timeout: this backend's problem, a 500.
      throw error;
    }
  });

  app.get<{ Headers: { "x-session"?: string } }>("/me", async (request, reply) => {
    const stored = sessions.get(request.headers["x-session"] ?? "");
    if (!stored) return reply.code(401).send({ error: "no session" });
    // Refresh rotates: keep the new refresh token, the old one is dead.
    const refreshed = await mina.refreshUserAccessToken(stored.refreshToken);
    stored.refreshToken = refreshed.refreshToken;
    const user = await mina.getUserInfo(refreshed.accessToken);
    return { name: user.name, openId: user.openId, unionId: user.unionId };
  });

  return app;
}
