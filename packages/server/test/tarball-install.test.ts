/**
 * What a user gets from the three tarballs `npm pack` makes (the README's way to install before
 * the packages are published): installed together into an empty folder outside the workspace,
 * `npx mina-auth` runs, serves, the client logs in against it, and the emulator runs in a test.
 * Needs `npm run build` (dist/) and the npm registry for the packages' own dependencies.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { until } from "./harness.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";
const run = promisify(execFile);
const PACKAGES = [
  { dir: "packages/protocol", name: "@mina-auth/protocol" },
  { dir: "packages/server", name: "mina-auth" },
  { dir: "packages/client", name: "@mina-auth/client" },
];

let scratch: string;
let app: string;
const contents = new Map<string, string[]>();

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "mina-auth-install-"));
  const tarballs: string[] = [];
  for (const pkg of PACKAGES) {
    assert.ok(existsSync(join(ROOT, pkg.dir, "dist")), `${pkg.dir}/dist is missing: run npm run build`);
    const { stdout } = await run(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], {
      cwd: join(ROOT, pkg.dir),
    });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    contents.set(
      pkg.name,
      packed!.files.map((f) => f.path),
    );
    tarballs.push(join(scratch, packed!.filename));
  }
  app = join(scratch, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "newcomer", private: true, type: "module" }),
  );
  // All three in one command: the server's dependency on @mina-auth/protocol is met by the
  // tarball beside it. The rest comes from the registry (or npm's cache). Install scripts are
  // skipped: better-sqlite3's would compile for minutes; the workspace's build of the same
  // version is copied in instead (or rebuilt when the versions differ).
  await run(
    npm,
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", ...tarballs],
    {
      cwd: app,
      timeout: 300_000,
    },
  );
  const version = (dir: string) =>
    (
      JSON.parse(readFileSync(join(dir, "node_modules/better-sqlite3/package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  if (version(app) === version(ROOT)) {
    cpSync(join(ROOT, "node_modules/better-sqlite3/build"), join(app, "node_modules/better-sqlite3/build"), {
      recursive: true,
    });
  } else {
    await run(npm, ["rebuild", "better-sqlite3"], { cwd: app, timeout: 600_000 });
  }
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the three tarballs, installed into an empty folder", () => {
  it("each holds its README, LICENSE and types, and no test code", () => {
    for (const pkg of PACKAGES) {
      const files = contents.get(pkg.name)!;
      for (const needed of ["README.md", "LICENSE", "package.json", "dist/index.d.ts", "dist/index.js"])
        assert.ok(files.includes(needed), `${pkg.name}: ${needed}`);
      for (const file of files) {
        assert.doesNotMatch(
          file,
          /contract-suite|test-fixture|test-database|\.test\./,
          `${pkg.name}: ${file}`,
        );
      }
    }
    const server = contents.get("mina-auth")!;
    for (const needed of [
      "bin/mina-auth.js",
      "dist/cli.js",
      "dist/testing.d.ts",
      "migrations/0001_init.sqlite.sql",
    ])
      assert.ok(server.includes(needed), needed);
    const license = readFileSync(join(app, "node_modules/mina-auth/LICENSE"), "utf8");
    assert.match(license, /^MIT License/);
  });

  it("npx mina-auth --version", () => {
    const out = execFileSync(npx, ["--offline", "mina-auth", "--version"], { cwd: app, encoding: "utf8" });
    assert.equal(out, "0.1.0\n");
  });

  it("mina-auth serve --demo serves; the client logs in against it; SIGTERM stops it", async () => {
    // The file npx runs; npx itself would not pass SIGTERM on to it.
    const child = spawn(join(app, "node_modules/.bin/mina-auth"), ["serve", "--demo", "--port", "0"], {
      cwd: app,
      env: { ...process.env, MINA_AUTH_PURGE_INTERVAL_MS: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let banner = "";
    child.stderr.on("data", (c: Buffer) => {
      banner += c.toString();
    });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await until(
        () => banner.includes("Log lines (JSON) follow") || child.exitCode !== null,
        "no banner",
        60_000,
      );
      const url = /listening on (http:\/\/\S+)/.exec(banner)?.[1];
      const admin = /^Admin token: (adm-\S+)$/m.exec(banner)?.[1];
      assert.ok(url && admin, banner);
      // The default database went into ./data, created and said so.
      assert.match(banner, /Created .*data for the default database/);
      assert.ok(existsSync(join(app, "data", "mina-auth.db")));
      writeFileSync(
        join(app, "login.mjs"),
        `import { MinaClient, MinaApiError } from "@mina-auth/client";
const [url, admin] = process.argv.slice(2);
const minted = await fetch(url + "/admin/v1/login-codes", {
  method: "POST",
  headers: { authorization: "Bearer " + admin, "content-type": "application/json" },
  body: JSON.stringify({ app_id: "cli_a1b2c3d4e5f6a7b8", user_id: "6c486g" }),
}).then((r) => r.json());
const client = new MinaClient({ appId: "cli_a1b2c3d4e5f6a7b8", appSecret: "demo-app-secret-2f7c9e41b8d3a6f0", baseUrl: url });
const session = await client.tokenLoginValidate(minted.code);
const user = await client.getUserInfo(session.accessToken);
// A replay is refused (and revokes what the first redemption issued).
const again = await client.tokenLoginValidate(minted.code).catch((e) => e instanceof MinaApiError && e.code);
console.log(JSON.stringify({ employeeId: session.employeeId, again, name: user.enName ?? user.name }));
`,
      );
      const { stdout } = await run(process.execPath, ["login.mjs", url, admin], { cwd: app });
      assert.deepEqual(JSON.parse(stdout), { employeeId: "6c486g", again: 10213, name: "Zhang San" });
    } finally {
      child.kill("SIGTERM");
      assert.equal(await exited, 0, banner);
    }
  });

  it("the emulator runs in a user's node:test file, and the types resolve", async () => {
    writeFileSync(
      join(app, "login.test.mjs"),
      `import assert from "node:assert/strict";
import { test } from "node:test";
import { MinaClient } from "@mina-auth/client";
import { startEmulator } from "mina-auth/testing";

test("a user logs in against the emulator", async () => {
  const emu = await startEmulator();
  try {
    const client = new MinaClient({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
    const session = await client.tokenLoginValidate(await emu.mintCode({ userId: emu.users[0].userId }));
    assert.equal(session.employeeId, emu.users[0].userId);
  } finally {
    await emu.close();
  }
});
`,
    );
    const { stdout } = await run(process.execPath, ["--test", "--test-reporter=tap", "login.test.mjs"], {
      cwd: app,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined },
    });
    assert.match(stdout, /^# pass 1$/m);
    assert.match(stdout, /^# fail 0$/m);

    writeFileSync(
      join(app, "types.ts"),
      `import { MinaClient, type LoginSession } from "@mina-auth/client";
import { type Emulator, startEmulator } from "mina-auth/testing";
export async function check(): Promise<LoginSession> {
  const emu: Emulator = await startEmulator();
  const client = new MinaClient({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  return client.tokenLoginValidate(await emu.mintCode({ userId: emu.users[0]!.userId }));
}
`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["types.ts"],
      }),
    );
    await run(join(ROOT, "node_modules/.bin/tsc"), ["-p", app], { cwd: app }).catch(
      (error: { stdout?: string }) => assert.fail(`tsc: ${error.stdout ?? String(error)}`),
    );
  });
});
