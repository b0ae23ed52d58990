/**
 * The project's own admin API, `/admin/v1` (contract §4): sessions (list, revoke) and audit
 * events, on a server of their own so that the counts are this file's alone.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { USER_INFO_PATH } from "./admin-api.ts";
import {
  ADMIN_TOKEN,
  assertEnvelope as assertError,
  DEMO,
  startTestServer,
  type TestServer,
} from "./harness.ts";

const REFRESH_PATH = "/open-apis/authen/v1/refresh_access_token";
const DAY = 24 * 3600 * 1000;

interface Session {
  session_id: string;
  app_id: string;
  tenant_key: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}
interface AuditEventView {
  id: number;
  at: number;
  type: string;
  app_id: string | null;
  tenant_key: string | null;
  user_id: string | null;
  session_id: string | null;
}

describe("admin API", () => {
  describe("sessions", () => {
    let s: TestServer;
    let demoToken: string;
    let storeToken: string;
    before(async () => {
      s = await startTestServer();
      demoToken = await s.appToken();
      storeToken = await s.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
    });
    after(() => s.close());

    const list = async (query = "") => {
      const res = await s.request("GET", `/admin/v1/sessions${query}`, { token: ADMIN_TOKEN });
      assert.equal(res.status, 200, res.text);
      return res.body.sessions as Session[];
    };
    const login = async (userId: string, appId: string = DEMO.appId, tenantKey?: string) => {
      const res = await s.exchange(
        await s.mintCode(userId, appId, tenantKey),
        appId === DEMO.appId ? demoToken : storeToken,
      );
      assert.equal(res.body.code, 0, res.text);
      return res.body.data as { access_token: string; refresh_token: string };
    };

    it("lists sessions with their fields, filtered by app_id, tenant_key, user_id, limit", async () => {
      const now = Math.floor(s.clock.now() / 1000);
      await login(DEMO.visibleUser);
      await login(DEMO.visibleUser);
      await login(DEMO.otherVisibleUser);
      await login(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme);
      await login(DEMO.globexUser, DEMO.storeAppId, DEMO.globex);

      const all = await list();
      assert.equal(all.length, 5);
      const one = all[0]!;
      assert.deepEqual(Object.keys(one).sort(), [
        "app_id",
        "created_at",
        "expires_at",
        "revoke_reason",
        "revoked_at",
        "session_id",
        "tenant_key",
        "user_id",
      ]);
      assert.equal(one.created_at, now);
      assert.equal(one.expires_at, now + 30 * 24 * 3600);
      assert.equal(one.revoked_at, null);
      assert.equal(one.revoke_reason, null);
      assert.equal(new Set(all.map((x) => x.session_id)).size, 5);

      assert.equal((await list(`?app_id=${DEMO.appId}`)).length, 3);
      assert.equal((await list(`?app_id=${DEMO.storeAppId}`)).length, 2);
      assert.equal((await list(`?tenant_key=${DEMO.globex}`)).length, 1);
      assert.equal((await list(`?user_id=${DEMO.visibleUser}`)).length, 3);
      assert.equal((await list(`?app_id=${DEMO.appId}&user_id=${DEMO.visibleUser}`)).length, 2);
      assert.equal((await list("?limit=2")).length, 2);
      assertError(await s.request("GET", "/admin/v1/sessions?limit=zero", { token: ADMIN_TOKEN }), 9400, 400);
      // The list never carries a token or a session key.
      const text = JSON.stringify(all);
      assert.doesNotMatch(text, /"u-|"ur-|session_key/);
    });

    it("revokes a session: its access token gets 99991668 and its refresh token 20038; active=true drops it", async () => {
      s.clock.advance(1000); // so that this session is strictly the newest
      const session = await login(DEMO.otherVisibleUser);
      const [target] = await list(`?user_id=${DEMO.otherVisibleUser}&active=true&limit=1`);
      assert.ok(target);
      // The newest session of Li Si is the one just made: prove it by revoking and watching it die.
      const activeBefore = (await list("?active=true")).length;
      const revoked = await s.request("POST", `/admin/v1/sessions/${target.session_id}/revoke`, {
        token: ADMIN_TOKEN,
      });
      assert.equal(revoked.status, 200, revoked.text);
      assert.deepEqual(revoked.body, { session_id: target.session_id, revoked: true });

      const info = await s.request("GET", USER_INFO_PATH, { token: session.access_token });
      assertError(info, 99991668, 400);
      const refreshed = await s.request("POST", REFRESH_PATH, {
        token: demoToken,
        body: { grant_type: "refresh_token", refresh_token: session.refresh_token },
      });
      assertError(refreshed, 20038, 200);

      const active = await list("?active=true");
      assert.equal(active.length, activeBefore - 1);
      assert.ok(!active.some((x) => x.session_id === target.session_id));
      const row = (await list()).find((x) => x.session_id === target.session_id)!;
      assert.equal(row.revoked_at, Math.floor(s.clock.now() / 1000));
      assert.equal(row.revoke_reason, "admin");

      // Revoking again, or an unknown session: 404.
      assertError(
        await s.request("POST", `/admin/v1/sessions/${target.session_id}/revoke`, { token: ADMIN_TOKEN }),
        9404,
        404,
      );
      assertError(
        await s.request("POST", "/admin/v1/sessions/nope/revoke", { token: ADMIN_TOKEN }),
        9404,
        404,
      );
    });

    it("lists audit events newest first: consumption, reuse, revocations", async () => {
      const code = await s.mintCode(DEMO.visibleUser);
      const first = await s.exchange(code, demoToken);
      assert.equal(first.body.code, 0);
      assert.equal((await s.exchange(code, demoToken)).body.code, 10213);

      const res = await s.request("GET", "/admin/v1/audit-events?limit=3", { token: ADMIN_TOKEN });
      assert.equal(res.status, 200, res.text);
      const events = res.body.events as AuditEventView[];
      assert.equal(events.length, 3);
      assert.deepEqual(
        events.map((e) => e.type),
        ["login_code.reused", "grant.revoked", "login_code.consumed"],
      );
      assert.ok(events[0]!.id > events[1]!.id && events[1]!.id > events[2]!.id, "newest first");
      const grant = events[2]!.session_id;
      assert.ok(grant);
      for (const e of events) {
        assert.equal(e.session_id, grant);
        assert.equal(e.app_id, DEMO.appId);
        assert.equal(e.tenant_key, DEMO.acme);
        assert.equal(e.user_id, DEMO.visibleUser);
        assert.equal(e.at, Math.floor(s.clock.now() / 1000));
      }

      // Refresh reuse, then an admin revocation, each show up on top.
      const other = await login(DEMO.visibleUser);
      const rotated = await s.request("POST", REFRESH_PATH, {
        token: demoToken,
        body: { grant_type: "refresh_token", refresh_token: other.refresh_token },
      });
      assert.equal(rotated.body.code, 0);
      await s.request("POST", REFRESH_PATH, {
        token: demoToken,
        body: { grant_type: "refresh_token", refresh_token: other.refresh_token },
      });
      const afterReuse = (await s.request("GET", "/admin/v1/audit-events?limit=4", { token: ADMIN_TOKEN }))
        .body.events as AuditEventView[];
      assert.deepEqual(
        afterReuse.map((e) => e.type),
        ["refresh_token.reused", "grant.revoked", "refresh_token.rotated", "login_code.consumed"],
      );

      s.clock.advance(1000);
      const third = await login(DEMO.otherVisibleUser);
      assert.ok(third);
      const [newest] = await list(`?user_id=${DEMO.otherVisibleUser}&active=true&limit=1`);
      await s.request("POST", `/admin/v1/sessions/${newest!.session_id}/revoke`, { token: ADMIN_TOKEN });
      const top = (await s.request("GET", "/admin/v1/audit-events?limit=1", { token: ADMIN_TOKEN })).body
        .events as AuditEventView[];
      assert.equal(top[0]!.type, "grant.revoked");
      assert.equal(top[0]!.session_id, newest!.session_id);

      // Paging with before=<id>.
      const page = (
        await s.request("GET", `/admin/v1/audit-events?limit=2&before=${top[0]!.id}`, { token: ADMIN_TOKEN })
      ).body.events as AuditEventView[];
      assert.equal(page.length, 2);
      assert.ok(page.every((e) => e.id < top[0]!.id));
      // Events never carry secrets.
      const all = (await s.request("GET", "/admin/v1/audit-events?limit=1000", { token: ADMIN_TOKEN })).text;
      assert.ok(!all.includes(code));
      assert.ok(!all.includes(first.body.data.access_token));
    });

    it("active=true drops every session once its 30-day family has ended", async () => {
      assert.ok((await list("?active=true")).length > 0);
      s.clock.advance(30 * DAY);
      assert.equal((await list("?active=true")).length, 0);
      assert.ok((await list()).length > 0, "expired sessions are still listed without the filter");
    });
  });
});
