import {
  decryptUserData,
  ErrorCodes,
  MinaApiError,
  MinaClient,
  UserDataError,
  verifyUserInfoSignature,
} from "@mina-auth/client";
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
  /** How old getUserInfo's watermark may be when /profile receives it (default 5 minutes). */
  userDataMaxAgeMs?: number;
}

interface StoredSession {
  openId: string;
  refreshToken: string;
  /** Kept server-side only: it checks and opens what tt.getUserInfo returns on the device. */
  sessionKey: string;
}

export function buildLoginApp(options: LoginAppOptions): FastifyInstance {
  const mina = new MinaClient({
    appId: options.appId,
    appSecret: options.appSecret,
    baseUrl: options.baseUrl ?? "feishu",
  });
  const sessions = new Map<string, StoredSession>();
  const app = Fastify();

  app.post<{ Body: { code?: unknown } }>("/login", async (request, reply) => {
    const code = request.body?.code;
    if (typeof code !== "string" || code === "") return reply.code(400).send({ error: "code is required" });
    try {
      const session = await mina.tokenLoginValidate(code);
      const sid = crypto.randomUUID();
      sessions.set(sid, {
        openId: session.openId,
        refreshToken: session.refreshToken,
        sessionKey: session.sessionKey,
      });
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

  // The device posts what tt.getUserInfo({withCredentials: true}) gave it: the signature proves
  // rawData came from the platform for this session, the watermark that the encrypted data is
  // this app's and fresh. Only then are its sensitive fields trusted.
  app.post<{
    Headers: { "x-session"?: string };
    Body: { rawData?: unknown; signature?: unknown; encryptedData?: unknown; iv?: unknown };
  }>("/profile", async (request, reply) => {
    const stored = sessions.get(request.headers["x-session"] ?? "");
    if (!stored) return reply.code(401).send({ error: "no session" });
    const { rawData, signature, encryptedData, iv } = request.body ?? {};
    if (![rawData, signature, encryptedData, iv].every((v) => typeof v === "string"))
      return reply.code(400).send({ error: "rawData, signature, encryptedData and iv are required" });
    try {
      await verifyUserInfoSignature(rawData as string, signature as string, stored.sessionKey);
      const data = await decryptUserData(encryptedData as string, iv as string, stored.sessionKey, {
        appId: options.appId,
        maxAgeMs: options.userDataMaxAgeMs ?? 5 * 60_000,
      });
      if (data.openId !== stored.openId) return reply.code(403).send({ error: "another user's data" });
      const userInfo = JSON.parse(rawData as string) as { nickName?: string };
      return {
        nickName: userInfo.nickName ?? null,
        openId: data.openId,
        unionId: data.unionId,
        email: data.email ?? null,
      };
    } catch (error) {
      if (error instanceof UserDataError)
        return reply.code(422).send({ error: error.message, check: error.code });
      throw error;
    }
  });

  return app;
}
