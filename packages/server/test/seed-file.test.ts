/**
 * Seed files read strictly: every mistake is reported at once with its JSON path (and, from a
 * file, its line and column); nothing of a refused seed is imported; a file without IDs imports
 * again without duplicating anything. Through the real CLI (a child process) on a real SQLite
 * file, `serve --seed`, the admin import API over HTTP, and the emulator.
 * @see issue 14, item 10
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { loadSeed, SeedError } from "../src/domain/seed.ts";
import { parseJsonText } from "../src/json-input.ts";
import { startEmulator } from "../src/testing.ts";
import { type CliRun, REPO_ROOT, runCli } from "./cli-process.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";

const TENANT = "aaaabbbbccccdd";
const SECRET = "seed-file-secret-0123456789";

/** A seed with one mistake of each kind the issue names, plus a few more. */
const MISTAKES = {
  tenants: [
    { tenant_key: TENANT, name: "Fixed Co" },
    { tenantKey: "bbbbccccddddee", name: "Typo Co" },
  ],
  users: [
    { tenant_key: TENANT, user_id: "u1", name: "One", department_ids: ["od-eng"] },
    { tenant_key: TENANT, user_id: "u1", name: "One again" },
    { tenant_key: "ffffffffffffff", user_id: "u3", name: "Nowhere" },
  ],
  apps: [
    { name: "No visibility", tenant_key: TENANT },
    {
      name: "Bad references",
      tenant_key: TENANT,
      scopes: ["contact:user.emial:readonly"],
      visibility: { users: ["u1", "ghost"], departments: ["od-none"] },
    },
    { name: "Short secret", tenant_key: TENANT, visibility: "all", app_secret: "short" },
  ],
};

/** Each mistake of MISTAKES, by its path. */
const EXPECTED: Array<[path: string, message: RegExp]> = [
  ["tenants[1].tenantKey", /unknown key \(did you mean "tenant_key"\?\)/],
  ["users[1]", /user_id twice \(also at users\[0\]\)/],
  ["users[2].tenant_key", /no tenant ffffffffffffff/],
  ["apps[0].visibility", /is required for a self_built app/],
  ["apps[1].scopes[0]", /must be one of "contact:user\.employee_id:readonly"/],
  ["apps[1].visibility.users[1]", /no user ghost in tenant aaaabbbbccccdd/],
  ["apps[1].visibility.departments[0]", /no user of tenant aaaabbbbccccdd is in this department/],
  ["apps[2].app_secret", /needs at least 16 characters/],
];

/** Exit 2, every expected issue listed (each on its own line), no stack trace, no secret. */
function assertAllListed(run: CliRun, expected: Array<[string, RegExp]>): void {
  assert.equal(run.code, 2, `exit code (stderr: ${run.stderr})`);
  assert.match(run.stderr, new RegExp(`^mina-auth: .*: ${expected.length} errors\\n`));
  for (const [path, message] of expected) {
    const line = run.stderr
      .split("\n")
      .find((l) => l.trim().startsWith(`${path} (`) || l.trim().startsWith(`${path}:`));
    assert.ok(line, `${path} is listed:\n${run.stderr}`);
    assert.match(line, message);
  }
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
}

function count(dbPath: string, table: "tenants" | "users" | "apps"): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function rows(dbPath: string, sql: string): unknown[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "mina-auth-seed-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("mina-auth import: a seed with mistakes is refused whole, with every mistake listed", () => {
  it("a misspelt visiblity is refused with its line and column, not read as visibility all", async () => {
    const seed = {
      tenants: [{ tenant_key: TENANT, name: "Fixed Co" }],
      users: [{ tenant_key: TENANT, user_id: "u1", name: "One" }],
      apps: [{ name: "Typo", tenant_key: TENANT, visiblity: { users: ["u1"] } }],
    };
    const text = JSON.stringify(seed, null, 2);
    const file = join(dir, "visiblity.json");
    writeFileSync(file, text);
    const lines = text.split("\n");
    const line = lines.findIndex((l) => l.includes('"visiblity"')) + 1;
    const column = lines[line - 1]!.indexOf('"visiblity"') + 1;
    const db = join(dir, "visiblity.db");
    const run = await runCli(["import", file, "--db", `sqlite:${db}`]);
    assertAllListed(run, [
      [
        "apps[0].visiblity",
        new RegExp(`line ${line}, column ${column}\\): unknown key \\(did you mean "visibility"\\?\\)`),
      ],
      ["apps[0].visibility", /is required for a self_built app: "all" or \{"users"/],
    ]);
    assert.equal(count(db, "apps"), 0, "nothing of the seed was imported");
    assert.equal(count(db, "tenants"), 0);
  });

  it("lists every mistake at once: unknown keys, users, departments, scopes, tenants, duplicates", async () => {
    const file = join(dir, "mistakes.json");
    writeFileSync(file, JSON.stringify(MISTAKES, null, 2));
    const db = join(dir, "mistakes.db");
    const run = await runCli(["import", file, "--db", `sqlite:${db}`]);
    assertAllListed(run, EXPECTED);
    assert.match(run.stderr, /line \d+, column \d+/);
    assert.equal(count(db, "users"), 0, "nothing of the seed was imported");
  });

  it("a JSON syntax error names its line and column, and never quotes the text (a secret)", async () => {
    const file = join(dir, "syntax.json");
    // A trailing comma after the secret, on line 6.
    writeFileSync(
      file,
      `{\n  "apps": [\n    {\n      "name": "Broken",\n      "tenant_key": "${TENANT}",\n      "app_secret": "${SECRET}",\n    }\n  ]\n}\n`,
    );
    const run = await runCli(["import", file, "--db", `sqlite:${join(dir, "syntax.db")}`]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /^mina-auth: .*syntax\.json: not valid JSON: expected a key in double quotes \(a trailing comma\?\) \(line 7, column 5\)\n$/,
    );
    assert.ok(!run.stderr.includes(SECRET), "the secret is not quoted");
  });

  it("serve --seed refuses the same file, listing the same mistakes, and does not start", async () => {
    const file = join(dir, "serve-mistakes.json");
    writeFileSync(file, JSON.stringify(MISTAKES));
    const run = await runCli([
      "serve",
      "--port",
      "0",
      "--seed",
      file,
      "--db",
      `sqlite:${join(dir, "serve.db")}`,
    ]);
    assertAllListed(run, EXPECTED);
  });
});

describe("mina-auth import: a file without IDs imports again without duplicating anything", () => {
  const seed = {
    tenants: [{ name: "Keyless Co" }, { tenant_key: TENANT, name: "Fixed Co" }],
    users: [
      { tenant_key: TENANT, name: "No Id", department_ids: ["od-eng"] },
      { tenant_key: TENANT, user_id: "u1", name: "Fixed Id" },
    ],
    apps: [{ name: "No id app", tenant_key: TENANT, visibility: { departments: ["od-eng"] } }],
  };

  it("matches tenants, users and apps by name, keeping their IDs, union_ids and app secret", async () => {
    const file = join(dir, "keyless.json");
    writeFileSync(file, JSON.stringify(seed));
    const db = join(dir, "keyless.db");
    const first = await runCli(["import", file, "--db", `sqlite:${db}`]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /app cli_[0-9a-f]{16} \(No id app\): app_secret \S+/,
      "the generated secret, once",
    );
    const snapshot = () => ({
      tenants: rows(db, "SELECT tenant_key, name FROM tenants ORDER BY name"),
      users: rows(db, "SELECT tenant_key, user_id, union_id, name FROM users ORDER BY name"),
      apps: rows(db, "SELECT app_id, name, secret_hash FROM apps"),
    });
    const once = snapshot();
    assert.deepEqual([once.tenants.length, once.users.length, once.apps.length], [2, 2, 1]);

    const second = await runCli(["import", file, "--db", `sqlite:${db}`]);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /app_secret [A-Za-z0-9]/, "no new secret: the app keeps its own");
    assert.deepEqual(snapshot(), once, "the same rows, IDs, union_ids and secret digest");
  });
});

describe("the admin import API reads seeds as strictly, with its own body limit", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());
  const post = (body: unknown) => t.request("POST", "/admin/v1/import", { token: ADMIN_TOKEN, body });

  it("answers 400 {9400} listing every mistake, and imports nothing of it", async () => {
    const users = (await t.request("GET", "/admin/v1/users", { token: ADMIN_TOKEN })).body.users.length;
    const res = await post(MISTAKES);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 9400);
    assert.match(res.body.msg, /^invalid request: request body: 8 errors; /);
    for (const [path, message] of EXPECTED) {
      const item = (res.body.msg as string).split("; ").find((part) => part.startsWith(`${path}:`));
      assert.ok(item, `${path} is listed: ${res.body.msg}`);
      assert.match(item, message);
    }
    assert.equal(
      (await t.request("GET", "/admin/v1/users", { token: ADMIN_TOKEN })).body.users.length,
      users,
    );
  });

  it("checks references against storage: a stored user may be listed, a missing one may not", async () => {
    const app = (users: string[]) => ({
      apps: [{ name: "Refs", tenant_key: DEMO.acme, visibility: { users }, scopes: [] }],
    });
    const ok = await post(app([DEMO.visibleUser]));
    assert.equal(ok.status, 200, ok.text);
    const bad = await post(app([DEMO.visibleUser, "nobody1"]));
    assert.equal(bad.status, 400, bad.text);
    assert.match(
      bad.body.msg,
      new RegExp(`apps\\[0\\]\\.visibility\\.users\\[1\\]: no user nobody1 in tenant ${DEMO.acme}`),
    );
    // "Refs" was matched by name, not added twice.
    const again = await post(app([DEMO.otherVisibleUser]));
    assert.equal(again.status, 200, again.text);
    const apps = (await t.request("GET", "/admin/v1/apps", { token: ADMIN_TOKEN })).body.apps as Array<{
      name: string;
    }>;
    assert.equal(apps.filter((a) => a.name === "Refs").length, 1);
  });

  it("refuses what an import cannot do to stored entries, and shapes that contradict an app's type", async () => {
    const hash = "0".repeat(64);
    const res = await post({
      tenants: [{ name: "Same" }, { name: "Same" }],
      users: [
        { tenant_key: DEMO.acme, user_id: "x1", name: "X1", union_id: `on_${"a".repeat(32)}` },
        { tenant_key: DEMO.acme, user_id: "x2", name: "X2", union_id: `on_${"a".repeat(32)}` },
      ],
      apps: [
        {
          app_id: DEMO.storeAppId,
          name: "Now self-built",
          type: "self_built",
          tenant_key: DEMO.acme,
          visibility: "all",
        },
        { app_id: DEMO.appId, name: "Moved", tenant_key: DEMO.globex, visibility: "all" },
        {
          name: "Both secrets",
          tenant_key: DEMO.acme,
          visibility: "all",
          app_secret: SECRET,
          app_secret_sha256: hash,
        },
        { name: "Store with a tenant", type: "store", tenant_key: DEMO.acme, installations: [] },
        {
          name: "Self-built with installations",
          tenant_key: DEMO.acme,
          visibility: "all",
          installations: [],
        },
      ],
      open_ids: [
        {
          app_id: "cli_0000000000000000",
          tenant_key: DEMO.acme,
          user_id: "nobody1",
          open_id: `ou_${"b".repeat(32)}`,
        },
      ],
    });
    assert.equal(res.status, 400, res.text);
    const expected: Array<[string, RegExp]> = [
      ["tenants[1]", /a tenant of this name twice \(also at tenants\[0\]\)/],
      ["users[1].union_id", /is also the union_id of users\[0\]/],
      [
        "apps[0].type",
        new RegExp(`app ${DEMO.storeAppId} is a store app in storage: import cannot change its type`),
      ],
      [
        "apps[1].tenant_key",
        new RegExp(`belongs to tenant ${DEMO.acme} in storage, and a self_built app has one tenant`),
      ],
      ["apps[2].app_secret_sha256", /give app_secret or app_secret_sha256, not both/],
      ["apps[3].tenant_key", /a store app lists installations instead/],
      ["apps[4].installations", /a self_built app has tenant_key and visibility instead/],
      ["open_ids[0].app_id", /no app cli_0000000000000000/],
      ["open_ids[0].user_id", /no user nobody1 in tenant/],
    ];
    const parts = (res.body.msg as string).split("; ");
    assert.match(parts[0]!, new RegExp(`request body: ${expected.length} errors$`));
    for (const [path, message] of expected) {
      const item = parts.find((part) => part.startsWith(`${path}:`));
      assert.ok(item, `${path} is listed: ${res.body.msg}`);
      assert.match(item, message);
    }
    const store = await t.request("GET", `/admin/v1/apps/${DEMO.storeAppId}`, { token: ADMIN_TOKEN });
    assert.equal(store.body.type, "store", "nothing was changed");
  });

  it("refuses a name that matches several stored entries, saying to give the ID", async () => {
    for (const tenant_key of ["cccc000000000001", "cccc000000000002"]) {
      assert.equal((await post({ tenants: [{ tenant_key, name: "Twin" }] })).status, 200);
    }
    const res = await post({ tenants: [{ name: "Twin" }] });
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.msg, /tenants\[0\]: 2 tenants in storage have this name: give the ID to say which/);
  });

  it(`accepts a seed far over 64 KiB (here about 1 MiB), and answers 413 over its own limit`, async () => {
    const users = Array.from({ length: 8000 }, (_, i) => ({
      tenant_key: DEMO.globex,
      user_id: `bulk${i}`,
      name: `Bulk user ${i}`,
      email: `bulk${i}@globex.test`,
    }));
    const big = { users };
    assert.ok(JSON.stringify(big).length > 512 * 1024);
    const res = await post(big);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.deepEqual(res.body.imported, { tenants: 0, users: 8000, apps: 0 });

    const tooBig = await t.request("POST", "/admin/v1/import", {
      token: ADMIN_TOKEN,
      raw: `{"users": [], "padding": "${"x".repeat(16 * 1024 * 1024)}"}`,
      headers: { "content-type": "application/json" },
    });
    assert.equal(tooBig.status, 413, tooBig.text);
    assert.deepEqual(tooBig.body, { code: 9413, msg: "request body exceeds 16 MiB" });
    // Every other endpoint keeps 64 KiB, the admin API's other routes too.
    const tenant = await t.request("POST", "/admin/v1/tenants", {
      token: ADMIN_TOKEN,
      raw: `{"name": "${"x".repeat(65 * 1024)}"}`,
      headers: { "content-type": "application/json" },
    });
    assert.deepEqual(tenant.body, { code: 9413, msg: "request body exceeds 64 KiB" });
  });

  it("POST /apps and PUT …/installations require visibility: leaving it out no longer means all", async () => {
    const app = await t.request("POST", "/admin/v1/apps", {
      token: ADMIN_TOKEN,
      body: { name: "No visibility", tenant_key: DEMO.acme },
    });
    assert.equal(app.status, 400, app.text);
    assert.match(app.body.msg, /body\.visibility: is required/);
    const put = await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/installations/${DEMO.globex}`, {
      token: ADMIN_TOKEN,
      body: { visiblity: "all" },
    });
    assert.equal(put.status, 400, put.text);
    assert.match(put.body.msg, /body must have required property .visibility./);
  });
});

describe("the emulator refuses a seed with mistakes", () => {
  it("startEmulator({seed}) rejects with a SeedError listing each", async () => {
    await assert.rejects(
      startEmulator({ seed: MISTAKES as never }),
      (error: unknown) =>
        error instanceof SeedError &&
        error.issues.length === EXPECTED.length &&
        EXPECTED.every(([path]) => error.issues.some((issue) => issue.path === path)),
    );
  });
});

describe("the README's seed example", () => {
  it("is a seed that loads as it stands", () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Seed file"));
    const example = /```json\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, "the section opens with a JSON example");
    const loaded = loadSeed(parseJsonText(example, "README.md"));
    assert.deepEqual(
      [loaded.snapshot.tenants.length, loaded.snapshot.users.length, loaded.snapshot.apps.length],
      [1, 1, 1],
    );
  });
});
