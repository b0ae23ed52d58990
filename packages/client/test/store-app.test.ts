// A store (marketplace) app's client against the real mina-auth server (in-process, through
// mina-auth/testing): its event URL reads the pushed app_ticket with readPushedEvent (encrypted
// with an Encrypt Key), the client's `appTicket` source hands it over, and the client logs in
// users of two tenants; then each code of the ticket flow the client can meet.
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { ErrorCodes, MinaApiError, MinaClient, PushedEventError, readPushedEvent } from "../src/index.ts";

const ACME = "2c5914ac018f97";
const GLOBEX = "736588c9260f175d";
const OTHER = "1f2e3d4c5b6a7988";
const STORE = { appId: "cli_5a4b3c2d1e0f9a8b", appSecret: "client-store-secret-3c7e1a9f5b2d8e40" };
const VERIFICATION_TOKEN = "client-test-verification-token";
const ENCRYPT_KEY = "client-test-encrypt-key";

const seed = {
  tenants: [
    { tenant_key: ACME, name: "Acme" },
    { tenant_key: GLOBEX, name: "Globex" },
    { tenant_key: OTHER, name: "Other" },
  ],
  users: [
    { tenant_key: ACME, user_id: "6c486g", name: "张三", en_name: "Zhang San" },
    { tenant_key: GLOBEX, user_id: "a1b2c3", name: "赵六", en_name: "Zhao Liu" },
  ],
  apps: [
    {
      app_id: STORE.appId,
      app_secret: STORE.appSecret,
      name: "Store",
      type: "store" as const,
      scopes: [],
      installations: [
        { tenant_key: ACME, visibility: "all" as const },
        { tenant_key: GLOBEX, visibility: "all" as const },
      ],
    },
  ],
};

/** The app's event URL: answers the challenge, keeps the latest app_ticket. */
async function startEventUrl() {
  const state: { latest: string | undefined; pushes: number } = { latest: undefined, pushes: 0 };
  const server: Server = createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk: Buffer) => {
      raw += chunk.toString("utf8");
    });
    request.on("end", async () => {
      const pushed = await readPushedEvent(raw, {
        verificationToken: VERIFICATION_TOKEN,
        encryptKey: ENCRYPT_KEY,
        headers: request.headers,
      });
      response.setHeader("content-type", "application/json");
      if (pushed.kind === "challenge") return response.end(JSON.stringify({ challenge: pushed.challenge }));
      if (pushed.kind === "app_ticket" && pushed.appId === STORE.appId) {
        state.latest = pushed.appTicket;
        state.pushes += 1;
      }
      response.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until(condition: () => boolean, failure: string): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), failure);
}

describe("a store app's client with an app_ticket source", () => {
  let emu: Emulator;
  let events: Awaited<ReturnType<typeof startEventUrl>>;
  let client: MinaClient;

  before(async () => {
    emu = await startEmulator({ seed });
    events = await startEventUrl();
    client = new MinaClient({ ...STORE, baseUrl: emu.baseUrl, appTicket: () => events.state.latest });
  });
  after(async () => {
    await emu.close();
    await events.close();
  });

  it("before any ticket: fails with 10012 (no HTTP answer: httpStatus 0) and asks for a push", async () => {
    await assert.rejects(
      client.tokenLoginValidate(
        await emu.mintCode({ userId: "6c486g", appId: STORE.appId, tenantKey: ACME }),
      ),
      (err: unknown) =>
        err instanceof MinaApiError && err.code === ErrorCodes.AppTicketInvalid && err.httpStatus === 0,
    );
    await until(
      () => emu.journal().some((e) => e.route === "/open-apis/auth/v3/app_ticket/resend"),
      "the client called app_ticket/resend",
    );
  });

  it("once the encrypted push arrived: logs in a user of each of two tenants; tenant tokens per installed tenant", async () => {
    const set = await fetch(`${emu.baseUrl}/admin/v1/apps/${STORE.appId}/events`, {
      method: "PUT",
      headers: { authorization: `Bearer ${emu.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        event_url: events.url,
        verification_token: VERIFICATION_TOKEN,
        encrypt_key: ENCRYPT_KEY,
      }),
    });
    assert.equal(set.status, 200, await set.text());
    await until(() => events.state.latest !== undefined, "the app_ticket arrived at the event URL");
    for (const [userId, tenantKey] of [
      ["6c486g", ACME],
      ["a1b2c3", GLOBEX],
    ] as const) {
      const session = await client.tokenLoginValidate(
        await emu.mintCode({ userId, appId: STORE.appId, tenantKey }),
      );
      assert.equal(session.tenantKey, tenantKey);
      assert.match(session.openId, /^ou_/);
    }
    const acme = await client.getTenantAccessToken(ACME);
    assert.match(acme.token, /^t-[0-9a-f]{64}$/);
    assert.ok(acme.expiresAt > Date.now());
    await assert.rejects(
      client.getTenantAccessToken(OTHER),
      (err: unknown) => err instanceof MinaApiError && err.code === ErrorCodes.TenantAccessTokenFailed,
    );
    const journal = JSON.stringify(emu.journal());
    assert.ok(journal.includes("/open-apis/auth/v3/app_access_token"));
    assert.ok(!journal.includes(events.state.latest!), "the journal keeps the app_ticket redacted");
    await client.requestAppTicket();
    const pushes = events.state.pushes;
    await until(() => events.state.pushes > pushes, "requestAppTicket brought a new push");
  });

  it("getTenantAccessToken: a cached app token the platform no longer takes (10013) is replaced once", async () => {
    await client.getTenantAccessToken(ACME);
    const appTokenRequests = () =>
      emu.journal().filter((e) => e.route === "/open-apis/auth/v3/app_access_token").length;
    const before = appTokenRequests();
    assert.equal((await emu.expireNow.appTokens(STORE.appId)).app_id, STORE.appId);
    const acme = await client.getTenantAccessToken(ACME);
    assert.match(acme.token, /^t-[0-9a-f]{64}$/);
    assert.equal(appTokenRequests(), before + 1, "one new app token, then the tenant token");
    const refused = (err: unknown) =>
      err instanceof MinaApiError && err.code === ErrorCodes.TenantAccessTokenFailed;
    await assert.rejects(
      client.getTenantAccessToken(OTHER),
      refused,
      "not installed: still 10013 after the one retry",
    );
    // The new token was refused too: the tenant is the reason, and the next calls do not suspect the token.
    const settled = appTokenRequests();
    for (let i = 0; i < 3; i++) await assert.rejects(client.getTenantAccessToken(OTHER), refused);
    assert.equal(appTokenRequests(), settled, "no app token fetched for a tenant already known to refuse it");
  });

  it("a refused ticket: the platform's 10012, and a new push is asked for", async () => {
    const stale = new MinaClient({
      ...STORE,
      baseUrl: emu.baseUrl,
      appTicket: async () => "not-a-pushed-ticket",
    });
    const resends = () =>
      emu.journal().filter((e) => e.route === "/open-apis/auth/v3/app_ticket/resend").length;
    const before = resends();
    await assert.rejects(
      stale.tokenLoginValidate(await emu.mintCode({ userId: "6c486g", appId: STORE.appId, tenantKey: ACME })),
      (err: unknown) => err instanceof MinaApiError && err.code === 10012 && err.httpStatus === 200,
    );
    await until(() => resends() > before, "the refused ticket made the client ask for a new one");
  });

  it("emu.appTicket: a ticket without an event URL, for a store app's own tests; refused for a self-built app", async () => {
    const ticketed = new MinaClient({
      ...STORE,
      baseUrl: emu.baseUrl,
      appTicket: () => emu.appTicket(STORE.appId),
    });
    const session = await ticketed.tokenLoginValidate(
      await emu.mintCode({ userId: "a1b2c3", appId: STORE.appId, tenantKey: GLOBEX }),
    );
    assert.equal(session.tenantKey, GLOBEX);
    await assert.rejects(emu.appTicket("cli_0000000000000000"), /appTicket failed: 404/);
  });

  it("rejects an appTicket option that is not a function", () => {
    assert.throws(
      () => new MinaClient({ ...STORE, appTicket: "ticket" as unknown as () => string }),
      /appTicket must be a function/,
    );
  });
});

describe("readPushedEvent", () => {
  const encrypt = (plain: string, key = ENCRYPT_KEY) => {
    const iv = randomBytes(16);
    const cipher = createCipheriv("aes-256-cbc", createHash("sha256").update(key).digest(), iv);
    return Buffer.concat([iv, cipher.update(plain, "utf8"), cipher.final()]).toString("base64");
  };
  const signed = (body: string, key = ENCRYPT_KEY) => {
    const timestamp = "1733300000";
    const nonce = "n0nce";
    return {
      "x-lark-request-timestamp": timestamp,
      "x-lark-request-nonce": nonce,
      "x-lark-signature": createHash("sha256")
        .update(timestamp + nonce + key + body)
        .digest("hex"),
    };
  };
  const ticketEvent = (token = VERIFICATION_TOKEN) =>
    JSON.stringify({
      uuid: "u",
      token,
      ts: "1.0",
      type: "event_callback",
      event: { app_id: STORE.appId, app_ticket: "tk", type: "app_ticket" },
    });

  it("reads schema 1.0 and 2.0 app_ticket events, the challenge, and other events", async () => {
    assert.deepEqual(await readPushedEvent(ticketEvent(), { verificationToken: VERIFICATION_TOKEN }), {
      kind: "app_ticket",
      appId: STORE.appId,
      appTicket: "tk",
    });
    assert.deepEqual(
      await readPushedEvent({
        schema: "2.0",
        header: { event_type: "app_ticket", token: VERIFICATION_TOKEN },
        event: { app_id: STORE.appId, app_ticket: "tk2" },
      }),
      { kind: "app_ticket", appId: STORE.appId, appTicket: "tk2" },
    );
    assert.deepEqual(await readPushedEvent({ type: "url_verification", challenge: "c", token: "t" }), {
      kind: "challenge",
      challenge: "c",
    });
    assert.deepEqual(
      await readPushedEvent({ schema: "2.0", header: { event_type: "im.message.receive_v1" } }),
      {
        kind: "other",
        type: "im.message.receive_v1",
      },
    );
    const body = JSON.stringify({ encrypt: encrypt(ticketEvent()) });
    assert.deepEqual(await readPushedEvent(body, { encryptKey: ENCRYPT_KEY, headers: signed(body) }), {
      kind: "app_ticket",
      appId: STORE.appId,
      appTicket: "tk",
    });
    assert.deepEqual(
      await readPushedEvent(JSON.parse(body), {
        encryptKey: ENCRYPT_KEY,
        headers: new Headers(signed(body)),
      }),
      { kind: "app_ticket", appId: STORE.appId, appTicket: "tk" },
      "a parsed body, and a Fetch Headers object",
    );
    const mixedCase = Object.fromEntries(
      Object.entries(signed(body)).map(([name, value]) => [
        name.replace(/(^|-)x/g, "$1X").replace(/-(\w)/g, (m) => m.toUpperCase()),
        value,
      ]),
    );
    assert.ok(Object.keys(mixedCase).includes("X-Lark-Signature"));
    assert.equal(
      (await readPushedEvent(body, { encryptKey: ENCRYPT_KEY, headers: mixedCase })).kind,
      "app_ticket",
      "a plain object whose names are not lowercased (a Lambda event's)",
    );
    const challenge = JSON.stringify({
      encrypt: encrypt(JSON.stringify({ type: "url_verification", challenge: "c", token: "t" })),
    });
    assert.deepEqual(await readPushedEvent(challenge, { encryptKey: ENCRYPT_KEY }), {
      kind: "challenge",
      challenge: "c",
    });
  });

  it("with an Encrypt Key, refuses an event unsigned, signed for another body or key, or with the headers cut", async () => {
    const body = JSON.stringify({ encrypt: encrypt(ticketEvent()) });
    const refused = (headers: Record<string, string> | undefined, message: RegExp) =>
      assert.rejects(
        readPushedEvent(body, { encryptKey: ENCRYPT_KEY, ...(headers ? { headers } : {}) }),
        (err: unknown) => err instanceof PushedEventError && message.test(err.message),
      );
    await refused(undefined, /pass the request's headers/);
    const { "x-lark-request-nonce": _nonce, ...withoutNonce } = signed(body);
    await refused(withoutNonce, /pass the request's headers/);
    await refused(signed(JSON.stringify({ encrypt: encrypt(ticketEvent()) })), /does not match/);
    await refused(signed(body, "another-key"), /does not match/);
    await refused({ ...signed(body), "x-lark-signature": "0".repeat(64) }, /does not match/);
  });

  it("refuses another Verification Token, an encrypted body without or with another key, and non-JSON", async () => {
    const refused = (body: unknown, options = {}) =>
      assert.rejects(readPushedEvent(body, options), (err: unknown) => err instanceof PushedEventError);
    await refused(ticketEvent("other-token"), { verificationToken: VERIFICATION_TOKEN });
    await refused({ encrypt: encrypt(ticketEvent()) });
    await refused({ encrypt: encrypt(ticketEvent()) }, { encryptKey: "another-key" });
    await refused({ encrypt: "c2hvcnQ=" }, { encryptKey: ENCRYPT_KEY });
    await refused("not json");
    await refused("[1]");
  });
});
