/** Storage contract cases: The catalogue, app tokens, server keys and the schema. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { App, AppTokenRecord, Installation, Millis, User } from "../port.ts";
import {
  byKey,
  HOUR,
  hex,
  mintCode,
  newSecret,
  SECOND,
  type SuiteContext,
  seedWorld,
  sha256,
  T0,
} from "./fixtures.ts";

export function catalogueCases({ open, openWorld }: SuiteContext): void {
  describe("schema", () => {
    it("migrate is idempotent and keeps data; ping answers", async () => {
      const { s, w } = await openWorld();
      await s.migrate();
      await s.ping();
      assert.deepEqual(await s.getTenant(w.tenant.tenantKey), w.tenant);
    });
  });

  describe("server keys", () => {
    it("ensureServerKey: the first candidate wins, even when proposed together; later ones change nothing", async () => {
      const s = await open();
      const name = `key-${hex(4)}`;
      assert.deepEqual(await s.listServerKeys(name), []);
      const candidates = Array.from({ length: 8 }, () => hex(16));
      const answers = await Promise.all(candidates.map((c) => s.ensureServerKey(name, c, T0)));
      const winner = answers[0]!;
      assert.ok(candidates.includes(winner.value));
      for (const answer of answers) assert.deepEqual(answer, winner);
      assert.deepEqual(winner, { name, version: 1, value: winner.value, createdAt: T0 });
      assert.deepEqual(await s.ensureServerKey(name, "later", T0 + SECOND), winner);
      assert.deepEqual(await s.listServerKeys(name), [winner]);
      assert.deepEqual(await s.listServerKeys(`other-${hex(4)}`), [], "names are apart");
    });

    it("rotateServerKey: each rotation adds the next version and keeps the older ones; concurrent rotations keep every value", async () => {
      const s = await open();
      const name = `key-${hex(4)}`;
      const first = await s.rotateServerKey(name, "v1", T0);
      assert.deepEqual(first, { name, version: 1, value: "v1", createdAt: T0 });
      const second = await s.rotateServerKey(name, "v2", T0 + SECOND);
      assert.equal(second.version, 2);
      assert.deepEqual(
        await s.ensureServerKey(name, "ignored", T0 + 2 * SECOND),
        second,
        "ensure answers the newest",
      );
      const racing = await Promise.all(
        ["a", "b", "c", "d"].map((v) => s.rotateServerKey(name, v, T0 + 3 * SECOND)),
      );
      assert.deepEqual(racing.map((k) => k.version).sort(), [3, 4, 5, 6]);
      const all = await s.listServerKeys(name);
      assert.deepEqual(
        all.map((k) => k.version),
        [6, 5, 4, 3, 2, 1],
      );
      assert.deepEqual(all.slice(-2), [second, first]);
      assert.deepEqual(new Set(all.slice(0, 4).map((k) => k.value)), new Set(["a", "b", "c", "d"]));
    });
  });

  describe("catalogue", () => {
    it("tenants: upsert replaces, get and list", async () => {
      const { s, w } = await openWorld();
      assert.deepEqual(await s.getTenant(w.tenant.tenantKey), w.tenant);
      await s.upsertTenant({ tenantKey: w.tenant.tenantKey, name: "Acme Renamed" });
      assert.deepEqual(await s.getTenant(w.tenant.tenantKey), {
        tenantKey: w.tenant.tenantKey,
        name: "Acme Renamed",
      });
      assert.equal(await s.getTenant(hex(7)), null);
      const keys = (await s.listTenants()).map((t) => t.tenantKey);
      assert.ok(keys.includes(w.tenant.tenantKey) && keys.includes(w.other.tenantKey));
    });

    it("users: round trip with departments; upsert replaces the whole record", async () => {
      const { s, w } = await openWorld();
      assert.deepEqual(await s.getUser(w.alice.tenantKey, w.alice.userId), w.alice);
      assert.deepEqual(await s.getUser(w.bob.tenantKey, w.bob.userId), w.bob);
      assert.deepEqual(await s.getUser(w.carol.tenantKey, w.carol.userId), w.carol);
      assert.equal(await s.getUser(w.tenant.tenantKey, "nobody"), null);
      assert.equal(await s.getUser(w.other.tenantKey, w.alice.userId), null, "user ids are per tenant");

      const replaced: User = {
        ...w.alice,
        name: "Alice B",
        email: null,
        mobile: "+1 555 0100",
        status: "deactivated",
        departmentIds: ["od-z", w.deptB, "od-a"],
      };
      await s.upsertUser(replaced);
      assert.deepEqual(
        await s.getUser(w.alice.tenantKey, w.alice.userId),
        replaced,
        "departments keep their order",
      );
      await s.upsertUser({ ...replaced, departmentIds: [] });
      assert.deepEqual((await s.getUser(w.alice.tenantKey, w.alice.userId))?.departmentIds, []);

      const inTenant = await s.listUsers(w.tenant.tenantKey);
      assert.deepEqual(
        inTenant.map((u) => u.userId).sort(),
        [w.alice, w.bob, w.carol, w.eve].map((u) => u.userId).sort(),
      );
      assert.deepEqual(
        inTenant.find((u) => u.userId === w.eve.userId),
        w.eve,
      );
      const all = await s.listUsers();
      assert.ok(all.some((u) => u.userId === w.dave.userId && u.tenantKey === w.other.tenantKey));
    });

    it("apps: round trip; upsert replaces scopes, name and secret hash", async () => {
      const { s, w } = await openWorld();
      assert.deepEqual(await s.getApp(w.app.appId), w.app);
      assert.deepEqual(await s.getApp(w.rival.appId), w.rival, "empty scopes survive");
      assert.equal(await s.getApp(`cli_${hex(8)}`), null);
      const changed: App = {
        ...w.app,
        name: "Demo 2",
        scopes: ["a:b", "c:d"],
        secretHash: sha256(newSecret("")),
      };
      await s.upsertApp(changed);
      assert.deepEqual(await s.getApp(w.app.appId), changed);
      const listed = await s.listApps();
      assert.deepEqual(
        listed.find((a) => a.appId === w.listed.appId),
        w.listed,
      );
    });

    it("id lists keep each id once, in first-mention order (departments, visible users and departments)", async () => {
      // The adapters once disagreed (SQLite kept each once, PostgreSQL every mention).
      const { s, w } = await openWorld();
      const [d1, d2] = [`od-${hex(8)}`, `od-${hex(8)}`];
      const user = { ...w.bob, departmentIds: [d2, d1, d2, d1] };
      await s.upsertUser(user);
      assert.deepEqual((await s.getUser(user.tenantKey, user.userId))?.departmentIds, [d2, d1]);
      await s.upsertInstallation({
        appId: w.listed.appId,
        tenantKey: w.tenant.tenantKey,
        visibility: {
          all: false,
          userIds: [w.eve.userId, w.bob.userId, w.eve.userId],
          departmentIds: [d1, d1],
        },
      });
      const installation = (await s.listInstallations(w.listed.appId)).find(
        (i) => i.tenantKey === w.tenant.tenantKey,
      );
      assert.deepEqual(installation?.visibility, {
        all: false,
        userIds: [w.eve.userId, w.bob.userId],
        departmentIds: [d1],
      });
    });

    it("installations: all, listed users and departments; upsert replaces the visibility", async () => {
      const { s, w } = await openWorld();
      const installs = (await s.listInstallations(w.listed.appId)).sort(byKey((i) => i.tenantKey));
      const expected: Installation[] = [
        {
          appId: w.listed.appId,
          tenantKey: w.tenant.tenantKey,
          visibility: { all: false, userIds: [w.bob.userId], departmentIds: [w.deptA] },
        },
        { appId: w.listed.appId, tenantKey: w.other.tenantKey, visibility: { all: true } },
      ];
      assert.deepEqual(installs, expected.sort(byKey((i) => i.tenantKey)));

      const narrowed: Installation = {
        appId: w.app.appId,
        tenantKey: w.tenant.tenantKey,
        visibility: { all: false, userIds: [w.eve.userId, w.alice.userId], departmentIds: [] },
      };
      await s.upsertInstallation(narrowed);
      assert.deepEqual(await s.listInstallations(w.app.appId), [narrowed]);
      await s.upsertInstallation({ ...narrowed, visibility: { all: true } });
      assert.deepEqual(await s.listInstallations(w.app.appId), [{ ...narrowed, visibility: { all: true } }]);
      assert.deepEqual(await s.listInstallations(`cli_${hex(8)}`), []);
    });

    it("open_id: assigned once (idempotent), different per app", async () => {
      const { s, w } = await openWorld();
      const first = `ou_${hex(16)}`;
      assert.equal(await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, first), first);
      assert.equal(
        await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
        first,
      );
      const [a, b] = await Promise.all([
        s.ensureOpenId(w.rival.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
        s.ensureOpenId(w.rival.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
      ]);
      assert.equal(a, b, "concurrent assignment settles on one open_id");
      assert.notEqual(a, first, "another app sees another open_id");
      const bobs = await s.ensureOpenId(w.app.appId, w.bob.tenantKey, w.bob.userId, `ou_${hex(16)}`);
      assert.notEqual(bobs, first);
    });

    it("importCatalog / exportCatalog round trip (secret hashes and open_ids included)", async () => {
      const source = await open();
      const w = await seedWorld(source);
      await mintCode(source, w.app, w.alice);
      await mintCode(source, w.listed, w.dave);
      const exported = await source.exportCatalog();

      const mine = (snapshot: typeof exported) => {
        const tenants = new Set([w.tenant.tenantKey, w.other.tenantKey]);
        const apps = new Set([w.app.appId, w.rival.appId, w.listed.appId]);
        return {
          tenants: snapshot.tenants.filter((t) => tenants.has(t.tenantKey)).sort(byKey((t) => t.tenantKey)),
          users: snapshot.users
            .filter((u) => tenants.has(u.tenantKey))
            .sort(byKey((u) => `${u.tenantKey}/${u.userId}`)),
          apps: snapshot.apps.filter((a) => apps.has(a.appId)).sort(byKey((a) => a.appId)),
          installations: snapshot.installations
            .filter((i) => apps.has(i.appId))
            .sort(byKey((i) => `${i.appId}/${i.tenantKey}`)),
          openIds: snapshot.openIds
            .filter((o) => apps.has(o.appId))
            .sort(byKey((o) => `${o.appId}/${o.tenantKey}/${o.userId}`)),
        };
      };
      const expected = mine(exported);
      assert.equal(expected.tenants.length, 2);
      assert.equal(expected.users.length, 5);
      assert.deepEqual(
        expected.users.find((u) => u.userId === w.alice.userId),
        w.alice,
      );
      assert.deepEqual(
        expected.apps.find((a) => a.appId === w.app.appId),
        w.app,
      );
      assert.equal(expected.installations.length, 4);
      assert.equal(expected.openIds.length, 2);
      assert.ok(!JSON.stringify(exported).includes("grant_"), "no grants or tokens in a catalogue export");

      const target = await open();
      await target.importCatalog(exported);
      assert.deepEqual(mine(await target.exportCatalog()), expected);
      // Imported open_ids stay: a later ensureOpenId returns them.
      const alices = expected.openIds.find((o) => o.userId === w.alice.userId)!;
      assert.equal(
        await target.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`),
        alices.openId,
      );
      // Importing again changes nothing (upserts).
      await target.importCatalog(exported);
      assert.deepEqual(mine(await target.exportCatalog()), expected);
    });
  });

  describe("app tokens", () => {
    function appToken(app: App, kind: AppTokenRecord["kind"], tenantKey: string | null, issuedAt: Millis) {
      const raw = newSecret("t-");
      const record: AppTokenRecord = {
        tokenHash: sha256(raw),
        kind,
        appId: app.appId,
        tenantKey,
        salt: hex(16),
        issuedAt,
        expiresAt: issuedAt + 2 * HOUR,
      };
      return record;
    }

    it("latestAppToken: the newest unexpired token of that kind for (app, tenant)", async () => {
      const { s, w } = await openWorld();
      const tenantKey = w.tenant.tenantKey;
      const older = appToken(w.app, "app", tenantKey, T0);
      const newer = appToken(w.app, "app", tenantKey, T0 + 95 * 60 * SECOND);
      const tenantToken = appToken(w.app, "tenant", tenantKey, T0 + 10 * SECOND);
      const storeToken = appToken(w.listed, "app", null, T0);
      for (const t of [older, tenantToken, storeToken]) await s.saveAppToken(t);
      assert.deepEqual(await s.latestAppToken("app", w.app.appId, tenantKey, T0 + HOUR), older);
      // With 25 minutes left the domain issues a new token; both stay valid, the newer wins.
      await s.saveAppToken(newer);
      assert.deepEqual(
        await s.latestAppToken("app", w.app.appId, tenantKey, T0 + HOUR),
        older,
        "a token not yet issued at `now` is not the latest",
      );
      assert.deepEqual(await s.latestAppToken("app", w.app.appId, tenantKey, T0 + 95 * 60 * SECOND), newer);
      assert.deepEqual(await s.findAppToken(older.tokenHash, T0 + 95 * 60 * SECOND), older);
      assert.deepEqual(await s.latestAppToken("app", w.app.appId, tenantKey, older.expiresAt), newer);
      assert.deepEqual(await s.latestAppToken("tenant", w.app.appId, tenantKey, T0 + HOUR), tenantToken);
      assert.deepEqual(await s.latestAppToken("app", w.listed.appId, null, T0 + HOUR), storeToken);
      assert.equal(await s.latestAppToken("app", w.listed.appId, tenantKey, T0 + HOUR), null);
      assert.equal(await s.latestAppToken("app", w.rival.appId, tenantKey, T0 + HOUR), null);
      assert.equal(await s.latestAppToken("app", w.app.appId, tenantKey, newer.expiresAt), null);
    });

    it("findAppToken: by hash, either kind, unexpired only (expiresAt is exclusive)", async () => {
      const { s, w } = await openWorld();
      const app = appToken(w.app, "app", w.tenant.tenantKey, T0);
      const tenant = appToken(w.app, "tenant", w.tenant.tenantKey, T0);
      await s.saveAppToken(app);
      await s.saveAppToken(tenant);
      assert.deepEqual(await s.findAppToken(app.tokenHash, T0), app);
      assert.deepEqual(await s.findAppToken(tenant.tokenHash, T0 + HOUR), tenant);
      assert.deepEqual(await s.findAppToken(app.tokenHash, app.expiresAt - 1), app);
      assert.equal(await s.findAppToken(app.tokenHash, app.expiresAt), null);
      assert.equal(await s.findAppToken(sha256(newSecret("t-")), T0), null);
    });

    it("saveAppToken refuses a token hash already stored and keeps the stored record", async () => {
      // The adapters once disagreed (SQLite refused, PostgreSQL replaced): port.ts says which.
      const { s, w } = await openWorld();
      const first = appToken(w.app, "app", w.tenant.tenantKey, T0);
      await s.saveAppToken(first);
      await assert.rejects(
        s.saveAppToken({ ...first, kind: "tenant", salt: hex(16), expiresAt: T0 + 3 * HOUR }),
      );
      assert.deepEqual(await s.findAppToken(first.tokenHash, T0), first);
    });
  });
}
