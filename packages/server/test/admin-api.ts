/**
 * What the admin-*.test.ts files share: a server for the suite, the admin API as they call it
 * (the admin bearer, paths under /admin/v1), and the platform paths they check its effects through.
 */
import { after, before } from "node:test";
import { ADMIN_TOKEN, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

export const APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token/internal";
export const USER_INFO_PATH = "/open-apis/authen/v1/user_info";

/**
 * A demo server started in the calling suite's `before` and closed in its `after`. What it
 * returns stands for that server from the start, so that a suite can name it (and pass it on)
 * before the hook has run; using it outside the suite's tests is an error.
 */
export function serverForSuite(): TestServer {
  let started: TestServer | undefined;
  before(async () => {
    started = await startTestServer();
  });
  after(() => started?.close());
  const current = (): TestServer => {
    if (!started) throw new Error("the suite's server starts in its before hook");
    return started;
  };
  return {
    get server() {
      return current().server;
    },
    get url() {
      return current().url;
    },
    get clock() {
      return current().clock;
    },
    get dbPath() {
      return current().dbPath;
    },
    logs: () => current().logs(),
    request: (method, path, options) => current().request(method, path, options),
    appToken: (appId, appSecret) => current().appToken(appId, appSecret),
    mintCode: (userId, appId, tenantKey) => current().mintCode(userId, appId, tenantKey),
    exchange: (code, appToken) => current().exchange(code, appToken),
    close: () => current().close(),
  };
}

/** `admin(method, path, body?)`: `server`'s admin API with the admin bearer. */
export function adminCaller(
  server: TestServer,
): (method: string, path: string, body?: unknown) => Promise<TestResponse> {
  return (method, path, body) =>
    server.request(method, `/admin/v1${path}`, {
      token: ADMIN_TOKEN,
      ...(body !== undefined ? { body } : {}),
    });
}
