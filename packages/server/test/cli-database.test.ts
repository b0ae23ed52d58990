/**
 * The `mina-auth` CLI as a user runs it (a child process) on a database file: migrate, import,
 * export and code, then a server on the same file.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../src/clock.ts";
import { DEMO_APP_SECRET, demoSeed } from "../src/demo-seed.ts";
import { startServerProcess, stopServerProcess } from "./child-server.ts";
import { assertRefused, cli, scratchDir } from "./cli-suite.ts";
import { DEMO, startTestServer } from "./harness.ts";

const dir = scratchDir();

const sqliteMigrations = readdirSync(new URL("../migrations/", import.meta.url))
  .filter((f) => f.endsWith(".sqlite.sql"))
  .map((f) => f.replace(".sqlite.sql", ""))
  .sort();

describe("mina-auth migrate", () => {
  it("creates the schema in a new file, and is idempotent", async () => {
    const db = join(dir(), "migrate.db");
    for (let i = 0; i < 2; i++) {
      const run = await cli(["migrate", "--db", `sqlite:${db}`]);
      assert.equal(run.code, 0, run.stderr);
      // What ran: every SQLite migration the first time, nothing the second.
      assert.equal(
        run.stdout.trim(),
        i === 0
          ? `sqlite:${db}: applied ${sqliteMigrations.length} migration(s): ${sqliteMigrations.join(", ")}`
          : `sqlite:${db}: schema up to date, nothing to apply`,
      );
    }
    const sqlite = new Database(db, { readonly: true });
    try {
      const tables = (
        sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
      ).map((r) => r.name);
      for (const table of [
        "tenants",
        "users",
        "apps",
        "login_codes",
        "grants",
        "spent_refresh_tokens",
        "audit_events",
      ])
        assert.ok(tables.includes(table), `table ${table}`);
    } finally {
      sqlite.close();
    }
  });

  it("takes the database from MINA_AUTH_DB too", async () => {
    const db = join(dir(), "from-env.db");
    const run = await cli(["migrate"], { MINA_AUTH_DB: `sqlite:${db}` });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(db));
  });
});

/** The demo seed plus an app with no app_id and no app_secret: both are generated. */
function seedWithGeneratedApp(name: string): string {
  const seedFile = join(dir(), name);
  const generated = {
    name: "Generated",
    type: "self_built",
    tenant_key: DEMO.acme,
    scopes: [],
    visibility: "all",
  };
  writeFileSync(seedFile, JSON.stringify({ ...demoSeed, apps: [...(demoSeed.apps ?? []), generated] }));
  return seedFile;
}

describe("import, export and code on one file, then a server on it", () => {
  const db = join(tmpdir(), `mina-auth-cli-flow-${process.pid}-${Date.now()}.db`);
  let generated: { appId: string; secret: string };
  let exported: string;
  after(() => {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${db}${suffix}`, { force: true });
  });

  it("import FILE loads a seed, prints each generated secret once and never a secret the file gave", async () => {
    const seedFile = seedWithGeneratedApp("seed.json");
    const run = await cli(["import", seedFile, "--db", `sqlite:${db}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 2 tenant\(s\), 4 user\(s\), 3 app\(s\)/);
    const printed = [...run.stdout.matchAll(/^app (cli_[0-9a-f]{16}) \((.+)\): app_secret (\S+)$/gm)];
    // The generated secret is shown (once: it is stored only as a digest).
    const mine = printed.find((m) => m[2] === "Generated");
    assert.ok(mine, run.stdout);
    assert.ok(mine[3]!.length >= 32, "a generated secret of at least 128 bits");
    assert.ok(!Object.values(DEMO).includes(mine[3]! as never));
    generated = { appId: mine[1]!, secret: mine[3]! };
    // The demo apps' secrets were in the file: named as such, never echoed.
    assert.equal(printed.length, 1, run.stdout);
    for (const app of demoSeed.apps ?? []) {
      assert.ok(app.app_secret && !run.stdout.includes(app.app_secret), `${app.name}'s secret not printed`);
      assert.ok(run.stdout.includes(`app ${app.app_id} (${app.name}): app_secret as given in ${seedFile}`));
    }
  });

  it("serve --seed FILE shows a secret the seed left out once, and not one it gave", async () => {
    const seedFile = seedWithGeneratedApp("serve-seed.json");
    const server = await startServerProcess({
      db: "sqlite::memory:",
      adminToken: `adm-${"s".repeat(40)}`,
      seedFile,
    });
    try {
      const line = /^app (cli_[0-9a-f]{16}) \(Generated\): app_secret (\S+)$/m;
      for (let i = 0; i < 100 && !line.test(server.stderr()); i++)
        await new Promise((r) => setTimeout(r, 20));
      const [, appId, secret] = line.exec(server.stderr()) ?? [];
      assert.ok(appId && secret, server.stderr());
      for (const app of demoSeed.apps ?? []) assert.ok(!server.stderr().includes(app.app_secret!));
      const res = await fetch(`${server.url}/open-apis/auth/v3/app_access_token/internal`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ app_id: appId, app_secret: secret }),
      });
      assert.equal(((await res.json()) as { code: number }).code, 0, "the printed secret is the app's");
    } finally {
      assert.equal(await stopServerProcess(server), 0);
    }
  });

  it("export writes a valid seed file with the catalogue and no raw secret", async () => {
    const run = await cli(["export", "--db", `sqlite:${db}`]);
    assert.equal(run.code, 0, run.stderr);
    exported = run.stdout;
    const seed = JSON.parse(exported) as {
      tenants: unknown[];
      users: unknown[];
      apps: Array<{ app_id: string; app_secret?: string; app_secret_sha256?: string }>;
    };
    assert.equal(seed.tenants.length, 2);
    assert.equal(seed.users.length, 4);
    assert.deepEqual(
      seed.apps.map((a) => a.app_id).sort(),
      [DEMO.appId, DEMO.storeAppId, generated.appId].sort(),
    );
    for (const app of seed.apps) {
      assert.equal(app.app_secret, undefined);
      assert.match(app.app_secret_sha256 ?? "", /^[0-9a-f]{64}$/);
    }
    for (const secret of [generated.secret, DEMO_APP_SECRET, DEMO.storeAppSecret]) {
      assert.ok(!exported.includes(secret), "no raw secret in the export");
    }
  });

  it("export --out writes the same document to a file, which imports into a new database", async () => {
    const out = join(dir(), "export.json");
    const run = await cli(["export", "--db", `sqlite:${db}`, "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `exported 2 tenant(s), 4 user(s), 3 app(s) to ${out}\n`);
    const second = join(dir(), "reimported.db");
    const imported = await cli(["import", out, "--db", `sqlite:${second}`]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /3 app\(s\)/);
    assert.doesNotMatch(imported.stdout, /app_secret/, "digests import as is: no secret is generated");
    const again = await cli(["export", "--db", `sqlite:${second}`]);
    assert.deepEqual(JSON.parse(again.stdout), JSON.parse(exported));
  });

  it("code --app --user prints {code, expires_at}; a server on the same file accepts it once", async () => {
    const run = await cli(["code", "--app", DEMO.appId, "--user", DEMO.visibleUser, "--db", `sqlite:${db}`]);
    assert.equal(run.code, 0, run.stderr);
    const minted = JSON.parse(run.stdout) as { code: string; expires_at: number };
    assert.deepEqual(Object.keys(minted).sort(), ["code", "expires_at"]);
    assert.match(minted.code, /^[0-9a-f]{44}$/);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(minted.expires_at > now && minted.expires_at <= now + 181, "expires about 3 minutes from now");

    // The server judges expiry by its own clock: give it the real time.
    const t = await startTestServer({ dbPath: db, clock: new ManualClock(Date.now()) });
    try {
      const first = await t.exchange(minted.code, await t.appToken());
      assert.equal(first.body.code, 0, first.text);
      assert.equal(first.body.data.employee_id, DEMO.visibleUser);
      const again = await t.exchange(minted.code, await t.appToken());
      assert.equal(again.body.code, 10213);
      // The generated app's printed secret works too.
      const token = await t.appToken(generated.appId, generated.secret);
      assert.match(token, /^t-/);
    } finally {
      await t.close();
    }
  });

  it("code --scopes grants those scopes (tt.requestAccess's scopeList); one the app lacks is refused", async () => {
    const run = await cli([
      "code",
      "--app",
      DEMO.appId,
      "--user",
      DEMO.visibleUser,
      "--scopes",
      "contact:user.email:readonly",
      "--db",
      `sqlite:${db}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { code } = JSON.parse(run.stdout) as { code: string };
    const t = await startTestServer({ dbPath: db, clock: new ManualClock(Date.now()) });
    try {
      const login = await t.exchange(code, await t.appToken());
      assert.equal(login.body.code, 0, login.text);
      assert.equal(login.body.data.employee_id, undefined, "employee_id was not granted");
    } finally {
      await t.close();
    }
    assertRefused(
      await cli([
        "code",
        "--app",
        DEMO.appId,
        "--user",
        DEMO.visibleUser,
        "--scopes",
        "calendar:calendar",
        "--db",
        `sqlite:${db}`,
      ]),
      /calendar:calendar/,
    );
  });

  it("code for a store app takes --tenant", async () => {
    const run = await cli([
      "code",
      "--app",
      DEMO.storeAppId,
      "--user",
      DEMO.globexUser,
      "--tenant",
      DEMO.globex,
      "--db",
      `sqlite:${db}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(JSON.parse(run.stdout).code, /^[0-9a-f]{44}$/);
  });

  it("code for an unknown app or user is refused", async () => {
    assertRefused(
      await cli([
        "code",
        "--app",
        "cli_0000000000000000",
        "--user",
        DEMO.visibleUser,
        "--db",
        `sqlite:${db}`,
      ]),
      /cli_0000000000000000/,
    );
    assertRefused(
      await cli(["code", "--app", DEMO.appId, "--user", "nobody", "--db", `sqlite:${db}`]),
      /nobody/,
    );
  });
});
