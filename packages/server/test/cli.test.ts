/**
 * The `mina-auth` CLI as a user runs it (a child process): migrate, import, export, code, and
 * the way it refuses bad input (exit code 2, one line, no stack trace).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../src/clock.ts";
import { DEMO_APP_SECRET, demoSeed } from "../src/demo-seed.ts";
import { createTestDatabase, probePostgres } from "../src/storage/postgres/test-database.ts";
import { startServerProcess, stopServerProcess } from "./child-server.ts";
import { type CliRun, runCli } from "./cli-process.ts";
import { DEMO, startTestServer, until } from "./harness.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

type Run = CliRun;

/** The CLI on its sources, from the repository root (cli-process.ts). */
const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCli(args, { env });

/** Exit 2, one line on stderr that starts with `mina-auth:`, no stack trace. */
function assertRefused(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 2, `exit code (stderr: ${run.stderr})`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${run.stderr}`);
  assert.match(lines[0]!, /^mina-auth: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "mina-auth-cli-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sqliteMigrations = readdirSync(new URL("../migrations/", import.meta.url))
  .filter((f) => f.endsWith(".sqlite.sql"))
  .map((f) => f.replace(".sqlite.sql", ""))
  .sort();

describe("mina-auth migrate", () => {
  it("creates the schema in a new file, and is idempotent", async () => {
    const db = join(dir, "migrate.db");
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
    const db = join(dir, "from-env.db");
    const run = await cli(["migrate"], { MINA_AUTH_DB: `sqlite:${db}` });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(db));
  });
});

/** The demo seed plus an app with no app_id and no app_secret: both are generated. */
function seedWithGeneratedApp(name: string): string {
  const seedFile = join(dir, name);
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
    const out = join(dir, "export.json");
    const run = await cli(["export", "--db", `sqlite:${db}`, "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `exported 2 tenant(s), 4 user(s), 3 app(s) to ${out}\n`);
    const second = join(dir, "reimported.db");
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

describe("refusals: exit 2, one line, no stack trace", () => {
  it("an unknown flag", async () => {
    assertRefused(
      await cli(["migrate", "--nope"]),
      /^mina-auth: migrate has no flag --nope \(mina-auth migrate --help lists them\)$/,
    );
    // A flag of another command is unknown to this one.
    assertRefused(await cli(["migrate", "--app", "x"]), /^mina-auth: migrate has no flag --app /);
    assertRefused(await cli(["code", "--app"]), /^mina-auth: --app needs a value: --app APP_ID$/);
    assertRefused(await cli(["serve", "--db", "--demo"]), /^mina-auth: --db needs a value/);
    assertRefused(await cli(["serve", "--demo=yes"]), /^mina-auth: --demo takes no value$/);
    assertRefused(
      await cli(["serve", "--seed-mode", "merge"]),
      /--seed-mode must be one of skip, upsert, fail/,
    );
    assertRefused(
      await cli(["serve", "--seed-mode", "upsert"]),
      /--seed-mode says what to do with a seed: give --seed FILE or --demo/,
    );
    assertRefused(await cli(["migrate", "extra"]), /migrate takes no arguments, got extra/);
    assertRefused(await cli(["--db", "x", "migrate"]), /name a command before --db/);
  });

  it("an unknown command", async () => {
    assertRefused(await cli(["frobnicate"]), /unknown command frobnicate \(mina-auth --help lists them\)/);
    assertRefused(await cli(["help", "frobnicate"]), /unknown command frobnicate/);
  });

  it("import without a FILE, or of a missing or broken file", async () => {
    const db = `sqlite:${join(dir, "refusals.db")}`;
    assertRefused(await cli(["import", "--db", db]), /^mina-auth: import needs FILE/);
    assertRefused(await cli(["import", join(dir, "missing.json"), "--db", db]), /missing\.json.*ENOENT/);
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ not json");
    assertRefused(await cli(["import", broken, "--db", db]), /not valid JSON/);
    const invalid = join(dir, "invalid.json");
    writeFileSync(invalid, JSON.stringify({ apps: [{ name: "x", type: "galactic" }] }));
    assertRefused(await cli(["import", invalid, "--db", db]), /type|galactic/);
  });

  it("code without --app or --user", async () => {
    assertRefused(await cli(["code", "--app", DEMO.appId]), /--user/);
    assertRefused(await cli(["code", "--user", "u"]), /--app/);
  });

  it("serve with an invalid --port, --db or admin token", async () => {
    assertRefused(await cli(["serve", "--port", "eighty"]), /^mina-auth: --port: port must be a number/);
    assertRefused(await cli(["serve", "--port", "70000"]), /--port: port must be an integer from 0 to 65535/);
    assertRefused(await cli(["serve", "--db", "mysql://x"]), /^mina-auth: --db: db must be/);
    assertRefused(await cli(["serve", "--admin-token", "short"]), /--admin-token: admin token/);
    assertRefused(
      await cli(["serve"], { MINA_AUTH_REQUEST_TIMEOUT_MS: "soon" }),
      /MINA_AUTH_REQUEST_TIMEOUT_MS/,
    );
    assertRefused(
      await cli(["serve"], { MINA_AUTH_RATE_LIMITS: "maybe" }),
      /MINA_AUTH_RATE_LIMITS must be true or false/,
    );
    assertRefused(
      await cli(["serve"], { MINA_AUTH_PURGE_INTERVAL_MS: "hourly" }),
      /MINA_AUTH_PURGE_INTERVAL_MS must be a whole number of milliseconds/,
    );
    assertRefused(
      await cli(["serve"], { MINA_AUTH_PURGE_INTERVAL_MS: "4294967296" }),
      /^mina-auth: MINA_AUTH_PURGE_INTERVAL_MS must be an integer from 0 to 2147483647$/,
    );
  });

  it("a bad environment variable is named, and a secret or database URL is never echoed", async () => {
    const db = await cli(["migrate"], { MINA_AUTH_DB: "mysql://root:hunter2hunter2@db/x" });
    assertRefused(
      db,
      /^mina-auth: MINA_AUTH_DB has the wrong format \(expected sqlite:PATH, sqlite::memory: or postgres:\/\/…\)$/,
    );
    assert.doesNotMatch(db.stderr, /hunter2/);
    assertRefused(
      await cli(["serve"], { MINA_AUTH_PORT: "http" }),
      /^mina-auth: MINA_AUTH_PORT must be a whole number \(got http\)$/,
    );
    const token = await cli(["serve"], { MINA_AUTH_ADMIN_TOKEN: "tiny-secret" });
    assertRefused(token, /^mina-auth: MINA_AUTH_ADMIN_TOKEN needs at least 16 characters$/);
    assert.doesNotMatch(token.stderr, /tiny-secret/);
    assertRefused(
      await cli(["serve"], { MINA_AUTH_LOG_LEVEL: "loud" }),
      /^mina-auth: MINA_AUTH_LOG_LEVEL must be one of "fatal", .*$/,
    );
    assertRefused(await cli(["serve", "--log-level", "loud"]), /^mina-auth: --log-level must be one of/);
    assertRefused(
      await cli(["serve"], { MINA_AUTH_CORS_ORIGINS: "http://localhost:*,localhost:5173" }),
      /^mina-auth: MINA_AUTH_CORS_ORIGINS\[1\] has the wrong format \(expected scheme:\/\/host, scheme:\/\/host:port, scheme:\/\/host:\* or \*\)$/,
    );
    assertRefused(
      await cli(["serve"], { MINA_AUTH_RATE_LIMITS: "yes" }),
      /^mina-auth: MINA_AUTH_RATE_LIMITS must be true or false$/,
    );
  });

  it("no directory is created for a database or an export in a directory that does not exist", async () => {
    const missing = join(dir, "no-such-dir", "deeper");
    assertRefused(
      await cli(["migrate", "--db", `sqlite:${join(missing, "x.db")}`]),
      new RegExp(`^mina-auth: --db: directory ${missing} does not exist`),
    );
    assertRefused(
      await cli(["serve", "--port", "0"], { MINA_AUTH_DB: `sqlite:${join(missing, "x.db")}` }),
      /^mina-auth: MINA_AUTH_DB: directory .* does not exist/,
    );
    assertRefused(
      await cli(["export", "--db", "sqlite::memory:", "--out", join(missing, "x.json")]),
      new RegExp(`^mina-auth: --out: directory ${missing} does not exist`),
    );
    assert.ok(!existsSync(join(dir, "no-such-dir")), "nothing was created");
  });

  it("code for a store app without --tenant names the flag and the tenants it is installed in", async () => {
    const db = `sqlite:${join(dir, "store.db")}`;
    const seedFile = join(dir, "demo.json");
    writeFileSync(seedFile, JSON.stringify(demoSeed));
    assert.equal((await cli(["import", seedFile, "--db", db])).code, 0);
    assertRefused(
      await cli(["code", "--app", DEMO.storeAppId, "--user", DEMO.globexUser, "--db", db]),
      new RegExp(
        `^mina-auth: app ${DEMO.storeAppId} is a store app: name the tenant with --tenant TENANT_KEY \\(installed in: .*${DEMO.globex}`,
      ),
    );
  });
});

describe("help, version and completion", () => {
  it("--help lists the commands; each command's --help shows its own flags and examples", async () => {
    const run = await cli(["--help"]);
    assert.equal(run.code, 0);
    for (const command of ["serve", "import", "export", "code", "migrate", "admin-token", "completion"])
      assert.match(run.stdout, new RegExp(`^  ${command} `, "m"));
    const pages = new Map<string, string>();
    for (const command of ["serve", "code", "import"]) {
      const help = await cli([command, "--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^Usage: mina-auth ${command} `, "m"));
      assert.match(help.stdout, new RegExp(`^Examples:\n  mina-auth ${command} `, "m"));
      pages.set(command, help.stdout);
    }
    assert.equal(new Set(pages.values()).size, 3, "three different pages");
    assert.match(pages.get("serve")!, /--log-level LEVEL/);
    assert.match(pages.get("serve")!, /--seed-mode MODE/);
    assert.match(pages.get("code")!, /--tenant TENANT_KEY/);
    assert.doesNotMatch(pages.get("code")!, /--seed/);
    assert.equal((await cli(["help", "code"])).stdout, pages.get("code"));
    assert.equal((await cli(["code", "-h"])).stdout, pages.get("code"));
  });

  it("no command prints the overview on stderr and exits 2", async () => {
    const run = await cli([]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage: mina-auth COMMAND/);
  });

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-v"]) {
      const run = await cli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${version}\n`);
    }
  });

  it("completion bash and zsh print scripts the shells accept, naming every command", async () => {
    for (const shell of ["bash", "zsh"]) {
      const run = await cli(["completion", shell]);
      assert.equal(run.code, 0, run.stderr);
      for (const word of ["serve", "admin-token", "--seed-mode", "--tenant", "upsert"])
        assert.ok(run.stdout.includes(word), `${shell}: ${word}`);
      const file = join(dir, `completion.${shell}`);
      writeFileSync(file, run.stdout);
      const check = spawnSync(shell, ["-n", file], { encoding: "utf8" });
      if (check.error && (check.error as NodeJS.ErrnoException).code === "ENOENT") continue; // zsh may be absent
      assert.equal(check.status, 0, `${shell} -n: ${check.stderr}`);
    }
    // bash: the function completes a command's flags and a flag's values.
    const script = join(dir, "completion.bash");
    const complete = (words: string) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source ${script}; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _mina_auth; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: "utf8" },
      ).stdout.trim();
    assert.equal(complete("mina-auth mig"), "migrate");
    assert.equal(complete("mina-auth serve --seed-m"), "--seed-mode");
    assert.equal(complete("mina-auth serve --seed-mode u"), "upsert");
    assert.equal(complete("mina-auth code --te"), "--tenant");
    assert.equal(complete("mina-auth completion z"), "zsh");
    assertRefused(await cli(["completion", "fish"]), /completion takes bash or zsh, not fish/);
  });
});

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
  const file = join(dir, `serve-${process.hrtime.bigint()}.log`);
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
    const file = join(dir, "admin-token.db");
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
    const db = `sqlite:${join(dir, "seed-modes.db")}`;
    const seedFile = join(dir, "seed-modes.json");
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
        await fetch(`${upserted.url}/open-apis/auth/v3/app_access_token/internal`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret }),
        })
      ).json();
      assert.equal((token as { code: number }).code, 0, "the app the edited file added is there");
    } finally {
      assert.equal(await upserted.stop(), 0);
    }
  });

  it("--demo and --seed combine: the demo apps and the file's", async () => {
    const seedFile = join(dir, "mine.json");
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
