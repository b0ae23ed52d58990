// A scripted node:http server that answers like the Feishu platform, on loopback, so the
// client is tested over real HTTP. Each route's answer can be replaced per test.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const APP_ID = "cli_a1b2c3d4e5f6a7b8";
export const APP_SECRET = "sec-3f9a1c0de5b7428e9d6f0a1b2c3d4e5f";
export const LOGIN_CODE = "2ef0bb04e272d274aa55cc77dd99ee11";
export const SESSION_KEY = "e3aeb7df000c835365c630dac91bcf0a";
export const USER_TOKEN = "u-tpwcnx2XzIcq8yHyJ6KLabcdefghijklmnopqrstuvw";
export const REFRESH_TOKEN = "ur-W9dGvBJyVtwZmrwh0vBnabcdefghijklmnopqrstu";
export const NEW_USER_TOKEN = "u-NEWtokenNEWtokenNEWtokenNEWtokenNEWtoken12";
export const NEW_REFRESH_TOKEN = "ur-NEWrefreshNEWrefreshNEWrefreshNEWrefresh1";

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export interface Answer {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

export type Route = (req: Recorded, platform: FakePlatform) => Answer | Promise<Answer>;

export interface FakePlatform {
  baseUrl: string;
  requests: Recorded[];
  /** Every app token handed out, in order. */
  issued: string[];
  /** App tokens the platform currently accepts. */
  valid: Set<string>;
  /** `expire` sent with new app tokens. */
  expire: number;
  routes: Map<string, Route>;
  count(path: string): number;
  close(): Promise<void>;
}

export const P = {
  appToken: "/open-apis/auth/v3/app_access_token/internal",
  login: "/open-apis/mina/v2/tokenLoginValidate",
  refresh: "/open-apis/authen/v1/oidc/refresh_access_token",
  userInfo: "/open-apis/authen/v1/user_info",
} as const;

function bearer(req: Recorded): string | undefined {
  const h = req.headers.authorization;
  return typeof h === "string" && h.startsWith("Bearer ") ? h.slice(7) : undefined;
}

type Body = Record<string, unknown>;
const bodyOf = (req: Recorded): Body =>
  typeof req.body === "object" && req.body !== null ? (req.body as Body) : {};

export const defaultRoutes: Record<string, Route> = {
  [P.appToken]: (req, p) => {
    const b = bodyOf(req);
    if (b.app_id !== APP_ID) return { json: { code: 10003, msg: "invalid param", data: {} } };
    if (b.app_secret !== APP_SECRET) return { json: { code: 10014, msg: "app secret invalid", data: {} } };
    const token = `t-${randomBytes(16).toString("hex")}`;
    p.issued.push(token);
    p.valid.add(token);
    return { json: { code: 0, msg: "ok", app_access_token: token, expire: p.expire } };
  },
  [P.login]: (req, p) => {
    const t = bearer(req);
    if (!t || !p.valid.has(t)) return { json: { code: 10202, msg: "access token invalid" } };
    const code = bodyOf(req).code;
    if (code !== LOGIN_CODE) return { json: { code: 10226, msg: "invalid code" } };
    return {
      json: {
        code: 0,
        msg: "success",
        data: {
          open_id: "ou_194fcfc5e4b78db556a040ff5e42c0aa",
          employee_id: "6c486g",
          session_key: SESSION_KEY,
          tenant_key: "2c5914ac018f97",
          access_token: USER_TOKEN,
          expires_in: 1565512680,
          refresh_token: REFRESH_TOKEN,
        },
      },
    };
  },
  [P.refresh]: (req, p) => {
    const t = bearer(req);
    if (!t || !p.valid.has(t)) {
      return { json: { code: 20014, msg: "The app access token passed is invalid. Please check the value" } };
    }
    const b = bodyOf(req);
    if (b.grant_type !== "refresh_token")
      return { json: { code: 20036, msg: "The grant_type passed is not supported" } };
    if (b.refresh_token !== REFRESH_TOKEN) {
      return { json: { code: 20026, msg: "The refresh token passed is invalid. Please check the value" } };
    }
    return {
      json: {
        code: 0,
        msg: "success",
        data: {
          access_token: NEW_USER_TOKEN,
          refresh_token: NEW_REFRESH_TOKEN,
          token_type: "Bearer",
          expires_in: 6900,
          refresh_expires_in: 2591999,
          scope: "contact:user.employee_id:readonly",
        },
      },
    };
  },
  [P.userInfo]: (req) => {
    const t = bearer(req);
    if (t === undefined) {
      return {
        status: 400,
        json: {
          code: 99991661,
          msg: "Missing access token for authorization. Please make a request with token attached.",
        },
      };
    }
    if (t !== USER_TOKEN && t !== NEW_USER_TOKEN) {
      return {
        status: 400,
        json: {
          code: 99991668,
          msg: "Invalid access token for authorization. Please make a request with token attached.",
          error: { log_id: "20240101000000LOGIDFROMBODY" },
        },
      };
    }
    return {
      json: {
        code: 0,
        msg: "success",
        data: {
          name: "Zhang San",
          en_name: "San Zhang",
          avatar_url: "https://example.test/a.png",
          avatar_thumb: "https://example.test/a72.png",
          open_id: "ou_194fcfc5e4b78db556a040ff5e42c0aa",
          union_id: "on_8ed6aa67826108097d9ee143816345aa",
          tenant_key: "2c5914ac018f97",
          user_id: "6c486g",
          email: "zhangsan@acme.test",
          mobile: "+8613000000000",
        },
      },
    };
  },
};

export async function startFakePlatform(): Promise<FakePlatform> {
  const platform: FakePlatform = {
    baseUrl: "",
    requests: [],
    issued: [],
    valid: new Set(),
    expire: 7200,
    routes: new Map(Object.entries(defaultRoutes)),
    count: (path) => platform.requests.filter((r) => r.path === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const recorded: Recorded = { method: req.method ?? "", path, headers: req.headers, body };
      platform.requests.push(recorded);
      const route = platform.routes.get(path);
      const answer: Answer = route
        ? await route(recorded, platform)
        : { status: 404, json: { code: 99991201, msg: "resource not find" } };
      if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
      if (res.destroyed) return;
      const payload = answer.text ?? JSON.stringify(answer.json);
      res.writeHead(answer.status ?? 200, {
        "content-type": answer.text === undefined ? "application/json; charset=utf-8" : "text/html",
        ...answer.headers,
      });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  platform.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return platform;
}
