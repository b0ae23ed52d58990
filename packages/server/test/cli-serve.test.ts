/**
 * `mina-auth serve` as a user runs it (a child process): the banner, the admin token (generated,
 * kept, rotated; one for instances started together on PostgreSQL), warnings and seeding.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEMO_APP_SECRET, demoSeed } from "../src/demo-seed.ts";
import { createTestDatabase, probePostgres } from "../src/storage/postgres/test-database.ts";
import { assertRefused, cli, scratchDir } from "./cli-suite.ts";
import { DEMO, until } from "./harness.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

const dir = scratchDir();

interface Served {
  url: string;
  /** The banner (stderr), complete once `serve` resolves. */
  banner: string;
  stop(): Promise<number | null>;
}

/**
 * `mina-auth serve ARGS` with stdout and stderr into one file, as a terminal shows them, so that
 * the order of the banner and the log lines can be checked. Resolves once the banner is out.
 */
async function serve(
  args: string[],
  env: Record<string, string> = {},
): Promise<Served & { output(): string }> {
  const file = join(dir(), `serve-${process.hrtime.bigint()}.log`);
  const fd = openSync(file, "w");
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", "packages/server/src/cli.ts", "serve", "--port", "0", ...args],
    {
      cwd: ROOT,
      env: { ...process.env, MINA_AUTH_PURGE_INTERVAL_MS: "0", ...env },
      stdio: ["ignore", fd, fd],
    },
  );
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const output = () => readFileSync(file, "utf8");
  let done = false;
  exited.then(() => {
    done = true;
  });
  await until(() => done || output().includes("Log lines (JSON) follow on stdout."), "no banner", 60_000);
  if (done) throw new Error(`serve exited before its banner:\n${output()}`);
  const text = output();
  const url = /listening on (http:\/\/\S+)/.exec(text)![1]!;
  return {
    url,
    banner: text,
    output,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

const adminGet = async (url: string, token: string) =>
  (await fetch(`${url}/admin/v1/apps`, { headers: { authorization: `Bearer ${token}` } })).status;

describe("serve: banner, admin token, warnings and seeding", () => {
  it("prints one plain banner, the log lines after it", async () => {
    const server = await serve(["--demo", "--db", "sqlite::memory:"]);
    try {
      await until(() => server.output().includes("Server listening"), "no log line after the banner", 60_000);
      const text = server.output();
      const firstLog = text.search(/^\{"level"/m);
      const bannerEnd = text.indexOf("Log lines (JSON) follow on stdout.");
      assert.ok(firstLog > bannerEnd, `no log line before or inside the banner:\n${text}`);
      assert.match(
        text.slice(0, bannerEnd),
        /^\nmina-auth \d+\.\d+\.\d+ listening on http:\/\/127\.0\.0\.1:\d+ /,
      );
      // The demo store app's secret is printed with the demo app's.
      assert.ok(
        text.includes(`Demo store app: app_id ${DEMO.storeAppId}  app_secret ${DEMO.storeAppSecret}`),
      );
      assert.ok(text.includes(`Demo app: app_id ${DEMO.appId}  app_secret ${DEMO_APP_SECRET}`));
      assert.doesNotMatch(text, /WARNING/, "loopback: no warning");
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it("keeps a generated admin token across restarts (hashed), and `admin-token rotate` replaces it at once", async () => {
    const file = join(dir(), "admin-token.db");
    const db = `sqlite:${file}`;
    const first = await serve(["--demo", "--db", db]);
    let token: string;
    try {
      token = /^Admin token: (adm-\S+)$/m.exec(first.banner)?.[1] ?? "";
      assert.ok(token, first.banner);
      assert.match(first.banner, /kept \(as its SHA-256\) in the database/);
      assert.match(first.banner, /mina-auth admin-token rotate/);
      assert.equal(await adminGet(first.url, token), 200);
    } finally {
      assert.equal(await first.stop(), 0);
    }
    // Only the digest is at rest.
    assert.ok(!readFileSync(file).includes(token), "the token is not in the database file");
    const second = await serve(["--db", db]);
    try {
      assert.doesNotMatch(second.banner, /adm-/, "a kept token is not printed again");
      assert.match(second.banner, /Admin token: the one printed when it was generated/);
      assert.equal(await adminGet(second.url, token), 200, "yesterday's token still works");

      const rotated = await cli(["admin-token", "rotate", "--db", db]);
      assert.equal(rotated.code, 0, rotated.stderr);
      const fresh = rotated.stdout.split("\n")[0]!;
      assert.match(fresh, /^adm-[A-Za-z0-9_-]{43}$/);
      assert.match(rotated.stdout, /shown this once/);
      assert.equal(
        await adminGet(second.url, token),
        401,
        "the old token stops working on the running server",
      );
      assert.equal(await adminGet(second.url, fresh), 200);
      assert.ok(!readFileSync(file).includes(fresh));
    } finally {
      assert.equal(await second.stop(), 0);
    }
    // --admin-token still overrides the stored one.
    const given = `adm-${"g".repeat(40)}`;
    const third = await serve(["--db", db, "--admin-token", given]);
    try {
      assert.match(third.banner, /Admin token: the one given/);
      assert.ok(!third.banner.includes(given), "a given token is not echoed");
      assert.equal(await adminGet(third.url, given), 200);
    } finally {
      assert.equal(await third.stop(), 0);
    }
  });

  it("warns when it listens beyond loopback with the demo data or a generated admin token", async () => {
    const server = await serve(["--demo", "--db", "sqlite::memory:", "--host", "0.0.0.0"]);
    try {
      assert.match(server.banner, /^WARNING: listening on 0\.0\.0\.0, beyond loopback, with the demo apps/m);
      assert.match(
        server.banner,
        /^WARNING: listening on 0\.0\.0\.0, beyond loopback, with a generated admin token/m,
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const quiet = await serve([
      "--db",
      "sqlite::memory:",
      "--host",
      "0.0.0.0",
      "--admin-token",
      `adm-${"q".repeat(40)}`,
    ]);
    try {
      assert.doesNotMatch(quiet.banner, /WARNING/, "own token, no demo data: nothing to warn about");
    } finally {
      assert.equal(await quiet.stop(), 0);
    }
  });

  it("--seed on a non-empty database says what it did; --seed-mode upsert loads it, fail refuses", async () => {
    const db = `sqlite:${join(dir(), "seed-modes.db")}`;
    const seedFile = join(dir(), "seed-modes.json");
    writeFileSync(
      seedFile,
      JSON.stringify({ tenants: demoSeed.tenants, users: demoSeed.users, apps: [demoSeed.apps![0]] }),
    );
    const first = await serve(["--seed", seedFile, "--db", db]);
    await first.stop();
    assert.match(first.banner, new RegExp(`Loaded ${seedFile} into the empty database: 1 app\\(s\\)`));
    // The edited file: one more app.
    writeFileSync(seedFile, JSON.stringify({ ...demoSeed }));
    const skipped = await serve(["--seed", seedFile, "--db", db]);
    await skipped.stop();
    assert.match(
      skipped.banner,
      /Did not load .*: the database already holds 1 app\(s\)\. --seed-mode upsert loads it over them/,
    );
    const refused = await cli([
      "serve",
      "--port",
      "0",
      "--seed",
      seedFile,
      "--seed-mode",
      "fail",
      "--db",
      db,
    ]);
    assertRefused(refused, /already holds 1 app\(s\); seed mode "fail" refuses/);
    const upserted = await serve(["--seed", seedFile, "--seed-mode", "upsert", "--db", db]);
    try {
      assert.match(
        upserted.banner,
        /Loaded .* over the 1 app\(s\) already in the database \(--seed-mode upsert\)/,
      );
      const token = await (
        await fetch(`${upserted.url}/open-apis/auth/v3/app_access_token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            app_id: DEMO.storeAppId,
            app_secret: DEMO.storeAppSecret,
            app_ticket: "never-pushed",
          }),
        })
      ).json();
      // 10012 (a ticket never pushed), not 10003 (no such store app) nor 10014 (another secret).
      assert.equal((token as { code: number }).code, 10012, "the app the edited file added is there");
    } finally {
      assert.equal(await upserted.stop(), 0);
    }
  });

  it("--demo and --seed combine: the demo apps and the file's", async () => {
    const seedFile = join(dir(), "mine.json");
    writeFileSync(
      seedFile,
      JSON.stringify({
        apps: [
          {
            app_id: "cli_00000000000000aa",
            app_secret: "mine-secret-0123456789",
            name: "Mine",
            type: "self_built",
            tenant_key: DEMO.acme,
            visibility: "all",
          },
        ],
      }),
    );
    const server = await serve(["--demo", "--seed", seedFile, "--db", "sqlite::memory:"]);
    try {
      assert.match(
        server.banner,
        /Loaded the demo data and .*mine\.json into the empty database: 3 app\(s\)/,
      );
      for (const [appId, secret] of [
        [DEMO.appId, DEMO_APP_SECRET],
        ["cli_00000000000000aa", "mine-secret-0123456789"],
      ]) {
        const res = await fetch(`${server.url}/open-apis/auth/v3/app_access_token/internal`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ app_id: appId, app_secret: secret }),
        });
        assert.equal(((await res.json()) as { code: number }).code, 0, appId);
      }
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

const pg = await probePostgres();
describe("serve: one generated admin token for instances started together on PostgreSQL", {
  skip: pg.ok || process.env.CI === "true" ? false : `${pg.ok ? "" : pg.reason}`,
}, () => {
  it("one of them generates and prints it, the other says it is stored; both accept it, and a rotation", async () => {
    const database = await createTestDatabase();
    const servers = await Promise.all([serve(["--db", database.url]), serve(["--db", database.url])]);
    try {
      const tokens = servers
        .map((s) => /^Admin token: (adm-\S+)$/m.exec(s.banner)?.[1])
        .filter((t) => t !== undefined);
      assert.equal(tokens.length, 1, servers.map((s) => s.banner).join("\n---\n"));
      assert.equal(
        servers.filter((s) => /Admin token: the one printed when it was generated/.test(s.banner)).length,
        1,
      );
      for (const s of servers) assert.equal(await adminGet(s.url, tokens[0]!), 200, s.url);
      const rotated = await cli(["admin-token", "rotate", "--db", database.url]);
      assert.equal(rotated.code, 0, rotated.stderr);
      const fresh = rotated.stdout.split("\n")[0]!;
      for (const s of servers) {
        assert.equal(await adminGet(s.url, tokens[0]!), 401, s.url);
        assert.equal(await adminGet(s.url, fresh), 200, s.url);
      }
    } finally {
      for (const s of servers) assert.equal(await s.stop(), 0);
      await database.drop();
    }
  });
});
