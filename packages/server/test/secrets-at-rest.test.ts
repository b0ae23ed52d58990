/**
 * security.md T2 (hashed at rest) and T7 (quiet logs): run the whole flow, keep every raw secret
 * the server handed out, then grep the SQLite file, its WAL, the captured log lines and every
 * error body for each of them.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { storageKey, type TimeLedSecret } from "../src/secrets.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

function storageBytes(dbPath: string): Buffer {
  const parts = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`]
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p));
  return Buffer.concat(parts);
}

/** Names of the secrets found in `haystack` (as UTF-8, and for hex secrets as raw bytes too). */
function leaked(haystack: Buffer, secrets: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [secret, label] of secrets) {
    if (haystack.includes(Buffer.from(secret, "utf8"))) found.push(label);
    else if (
      /^[0-9a-f]+$/.test(secret) &&
      secret.length % 2 === 0 &&
      haystack.includes(Buffer.from(secret, "hex"))
    )
      found.push(`${label} (as bytes)`);
  }
  return found;
}

describe("T2/T7: no raw secret at rest, in logs or in error bodies", () => {
  let t: TestServer;
  /** secret → what it is, for a readable failure. */
  const secrets = new Map<string, string>();
  const errorBodies: TestResponse[] = [];
  let whileRunning: Buffer;
  let afterClose: Buffer;
  let logs: string;
  let dbPath: string;

  const keep = (value: unknown, label: string) => {
    assert.equal(typeof value, "string", `${label} is a string`);
    assert.ok((value as string).length >= 16, `${label} is long enough to grep for`);
    secrets.set(value as string, label);
  };
  const expectError = (res: TestResponse, code: number) => {
    assert.equal(res.body?.code, code, res.text);
    errorBodies.push(res);
  };

  before(async () => {
    t = await startTestServer();
    dbPath = t.dbPath;
    keep(DEMO.appSecret, "demo app secret");
    keep(DEMO.storeAppSecret, "demo store app secret");
    keep(ADMIN_TOKEN, "admin token");

    const appToken = await t.appToken();
    keep(appToken, "app_access_token");
    const tenant = await t.request("POST", "/open-apis/auth/v3/tenant_access_token/internal", {
      body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    keep(tenant.body.tenant_access_token, "tenant_access_token");
    expectError(
      await t.request("POST", "/open-apis/auth/v3/app_access_token/internal", {
        body: { app_id: DEMO.appId, app_secret: `${DEMO.appSecret}x` },
      }),
      10014,
    );

    // Several logins; one replayed, one refreshed twice, one read on user_info.
    for (let i = 0; i < 4; i++) {
      const code = await t.mintCode(i % 2 === 0 ? DEMO.visibleUser : DEMO.otherVisibleUser);
      keep(code, `login code ${i}`);
      const res = await t.exchange(code, i === 3 ? tenant.body.tenant_access_token : appToken);
      assert.equal(res.body.code, 0, res.text);
      keep(res.body.data.access_token, `access token ${i}`);
      keep(res.body.data.refresh_token, `refresh token ${i}`);
      keep(res.body.data.session_key, `session_key ${i}`);
      if (i === 0) expectError(await t.exchange(code, appToken), 10213);
      if (i === 1) {
        let refresh = res.body.data.refresh_token as string;
        for (const variant of ["oidc/refresh_access_token", "refresh_access_token"]) {
          const r = await t.request("POST", `/open-apis/authen/v1/${variant}`, {
            token: appToken,
            body: { grant_type: "refresh_token", refresh_token: refresh },
          });
          assert.equal(r.body.code, 0, r.text);
          keep(r.body.data.access_token, `refreshed access token (${variant})`);
          keep(r.body.data.refresh_token, `rotated refresh token (${variant})`);
          const info = await t.request("GET", "/open-apis/authen/v1/user_info", {
            token: r.body.data.access_token,
          });
          assert.equal(info.body.code, 0, info.text);
          // the spent one, presented again: revokes the family, answers an error
          if (variant === "refresh_access_token") {
            const again = await t.request("POST", `/open-apis/authen/v1/${variant}`, {
              token: appToken,
              body: { grant_type: "refresh_token", refresh_token: refresh },
            });
            assert.notEqual(again.body.code, 0);
            errorBodies.push(again);
          }
          refresh = r.body.data.refresh_token;
        }
      }
      if (i === 2) {
        const info = await t.request("GET", "/open-apis/authen/v1/user_info", {
          token: res.body.data.access_token,
        });
        assert.equal(info.body.code, 0, info.text);
      }
    }
    // user_info on a garbage-but-well-formed token
    expectError(
      await t.request("GET", "/open-apis/authen/v1/user_info", { token: `u-${"A".repeat(43)}` }),
      99991668,
    );

    // Session keys are derived (issue 18): across a rotation of the key they come from, and
    // used by the tt shim's getUserInfo, none of them is stored.
    const rotatedKey = await t.request("POST", "/admin/v1/server-keys/session_key/rotate", {
      token: ADMIN_TOKEN,
    });
    assert.equal(rotatedKey.status, 201, rotatedKey.text);
    const devCode = await t.request("POST", "/dev/v1/tt/login", {
      token: ADMIN_TOKEN,
      body: { app_id: DEMO.appId, user_id: DEMO.visibleUser },
    });
    keep(devCode.body.code, "shim login code");
    const sealedUserInfo = () =>
      t.request("POST", "/dev/v1/tt/user-info", {
        token: ADMIN_TOKEN,
        body: {
          app_id: DEMO.appId,
          user_id: DEMO.visibleUser,
          code: devCode.body.code,
          with_credentials: true,
        },
      });
    expectError(await sealedUserInfo(), 1001001);
    const devLogin = await t.exchange(devCode.body.code, appToken);
    assert.equal(devLogin.body.code, 0, devLogin.text);
    keep(devLogin.body.data.session_key, "session_key after a key rotation");
    keep(devLogin.body.data.access_token, "access token after a key rotation");
    keep(devLogin.body.data.refresh_token, "refresh token after a key rotation");
    const sealed = await sealedUserInfo();
    assert.equal(sealed.status, 200, sealed.text);

    // An admin-created app with a generated secret, then its secret rotated.
    const created = await t.request("POST", "/admin/v1/apps", {
      token: ADMIN_TOKEN,
      body: { name: "Secrets test", type: "self_built", tenant_key: DEMO.acme, visibility: "all" },
    });
    assert.equal(created.status, 201, created.text);
    keep(created.body.app_secret, "generated app secret");
    const createdId = created.body.app_id as string;
    const createdToken = await t.appToken(createdId, created.body.app_secret);
    keep(createdToken, "created app's app token");
    const rotated = await t.request("POST", `/admin/v1/apps/${createdId}/secret`, { token: ADMIN_TOKEN });
    assert.equal(rotated.status, 200, rotated.text);
    keep(rotated.body.app_secret, "rotated app secret");
    assert.notEqual(rotated.body.app_secret, created.body.app_secret);
    keep(await t.appToken(createdId, rotated.body.app_secret), "app token from the rotated secret");
    const code = await t.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex);
    keep(code, "store app code");
    const storeToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
    keep(storeToken, "store app token");
    // Presented by the wrong app: 10213, and the owner still redeems it.
    expectError(await t.exchange(code, createdToken), 10213);
    const storeLogin = await t.exchange(code, storeToken);
    assert.equal(storeLogin.body.code, 0, storeLogin.text);
    keep(storeLogin.body.data.access_token, "store access token");
    keep(storeLogin.body.data.refresh_token, "store refresh token");
    keep(storeLogin.body.data.session_key, "store session_key");

    // Error paths that carry a secret in the request.
    expectError(await t.exchange(code, `${storeToken}0`), 10202);
    expectError(await t.request("GET", "/admin/v1/sessions", { token: `${ADMIN_TOKEN}-wrong` }), 9401);

    whileRunning = storageBytes(dbPath);
    logs = t.logs();
    await t.server.close();
    afterClose = storageBytes(dbPath);
  });
  after(() => t.close());

  it("handed out the secrets it is checked for", () => {
    assert.ok(secrets.size >= 30, `collected ${secrets.size} secrets`);
    assert.ok(whileRunning.length > 0 && afterClose.length > 0, "the database file exists");
  });

  it("the SQLite file and its WAL hold no raw secret, while running and after close", () => {
    assert.deepEqual(leaked(whileRunning, secrets), []);
    assert.deepEqual(leaked(afterClose, secrets), []);
  });

  it("the database does hold what the flow created (the grep looked at real data)", () => {
    // Sanity: the digests of the secrets are there, so the bytes searched are the live data.
    const text = afterClose.toString("latin1");
    const kinds: [RegExp, TimeLedSecret][] = [
      [/^login code/, "login_code"],
      [/^access token/, "access_token"],
      [/^(refresh token|rotated refresh)/, "refresh_token"],
    ];
    // One row per login holds its current access token: login 1's was replaced by its refresh.
    const replaced = new Set(["access token 1"]);
    const digests = [...secrets].flatMap(([secret, label]) => {
      if (replaced.has(label)) return [];
      const kind = kinds.find(([pattern]) => pattern.test(label))?.[1];
      return kind ? [storageKey(kind, secret)] : [];
    });
    assert.ok(digests.length >= 10);
    for (const digest of digests) assert.ok(text.includes(digest), `digest ${digest} is stored`);
  });

  it("no log line holds a secret", () => {
    assert.ok(logs.split("\n").filter(Boolean).length > 20, "requests were logged");
    assert.deepEqual(leaked(Buffer.from(logs), secrets), []);
  });

  it("no error body holds a secret, and each is a {code, msg}", () => {
    assert.ok(errorBodies.length >= 6);
    for (const res of errorBodies) {
      assert.equal(typeof res.body.code, "number");
      assert.equal(typeof res.body.msg, "string");
      assert.deepEqual(leaked(Buffer.from(res.text), secrets), [], res.text);
    }
  });
});
