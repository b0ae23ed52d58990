import { ErrorCodes, MinaApiError, MinaClient } from "@mina-auth/client";
import Fastify from "fastify";

/** The platform's answers that mean "this code does not log anyone in": the caller's problem. */
const REFUSED: ReadonlySet<number> = new Set([
  ErrorCodes.CodeAppIdNotMatch, // 10213: another app's code, or used already
  ErrorCodes.InvalidCode, // 10226: malformed, unknown or expired
  ErrorCodes.UserNoVisibility, // 10228: the user may not use this app
]);

export function buildApp(opts: { appId: string; appSecret: string; baseUrl?: string }) {
  const mina = new MinaClient({ ...opts, baseUrl: opts.baseUrl ?? "feishu" }); // "feishu" | "lark" | a URL
  const app = Fastify();
  app.post<{ Body: { code?: unknown } }>("/login", async (req, reply) => {
    const code = req.body?.code;
    if (typeof code !== "string" || code === "") {
      return reply.code(400).send({ error: "code is required" }); // bad input: never reaches the platform
    }
    try {
      const s = await mina.tokenLoginValidate(code); // the code from tt.login
      // keep s.sessionKey, s.accessToken and s.refreshToken on the server; never send them to the client
      return { openId: s.openId, employeeId: s.employeeId ?? null };
    } catch (err) {
      if (err instanceof MinaApiError && REFUSED.has(err.code)) {
        return reply.code(401).send({ error: "login failed", code: err.code });
      }
      // A wrong app secret (10014), the network, a timeout: this server's problem, a 500.
      throw err;
    }
  });
  return app;
}
