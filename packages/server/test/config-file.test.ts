/**
 * The config file: `mina-auth.config.json` in the working directory or `--config FILE`, read as
 * strictly as a seed file; a flag wins over the environment, which wins over the file, which wins
 * over the default. Through the real CLI (child processes) on real SQLite files.
 * @see issue 19, item 5
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultConfig } from "../src/config.ts";
import { CONFIG_FILE_NAME, configurationKeys, resolveConfig } from "../src/config-sources.ts";
import { REPO_ROOT, runCli, serveCli } from "./cli-process.ts";

const TOKEN = "config-file-admin-token-0123456789";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "mina-auth-config-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh working directory holding a config file with `content`. */
function workdir(name: string, content: unknown): string {
  const cwd = join(dir, name);
  mkdirSync(cwd);
  writeFileSync(
    join(cwd, CONFIG_FILE_NAME),
    typeof content === "string" ? content : JSON.stringify(content, null, 2),
  );
  return cwd;
}

describe("precedence: flag > environment > file > default", () => {
  it("each source overrides the ones below it, setting by setting", () => {
    const cwd = workdir("precedence", {
      host: "127.0.0.2",
      port: 1111,
      log_level: "warn",
      rate_limits: false,
      request_timeout_ms: 5000,
    });
    const resolve = (flags: { port?: string }, env: Record<string, string>) =>
      resolveConfig({ flags, env, cwd }).config;
    const all = resolve({ port: "3333" }, { MINA_AUTH_PORT: "2222", MINA_AUTH_LOG_LEVEL: "error" });
    assert.equal(all.port, 3333, "the flag");
    assert.equal(all.logLevel, "error", "the environment over the file");
    assert.equal(all.host, "127.0.0.2", "the file over the default");
    assert.equal(all.rateLimits.enabled, false);
    assert.equal(all.requestTimeoutMs, 5000);
    assert.equal(all.purgeIntervalMs, defaultConfig.purgeIntervalMs, "the default where nothing says");
    assert.equal(resolve({}, { MINA_AUTH_PORT: "2222" }).port, 2222);
    assert.equal(resolve({}, {}).port, 1111);
    const none = resolveConfig({ flags: {}, env: {}, cwd: dir });
    assert.equal(none.file, null, "no file in the directory: none read");
    assert.equal(none.config.port, defaultConfig.port);
    assert.equal(resolveConfig({ flags: {}, env: {}, cwd }).file, join(cwd, CONFIG_FILE_NAME));
  });
});

describe("mina-auth with a config file", () => {
  it("takes db from mina-auth.config.json in the working directory, unless the environment or a flag says otherwise", async () => {
    const cwd = workdir("db", { db: "sqlite:./from-file.db" });
    assert.equal((await runCli(["migrate"], { cwd })).code, 0);
    assert.ok(existsSync(join(cwd, "from-file.db")), "the file's db");
    const env = { MINA_AUTH_DB: "sqlite:./from-env.db" };
    assert.equal((await runCli(["migrate"], { cwd, env })).code, 0);
    assert.ok(existsSync(join(cwd, "from-env.db")), "the environment's db");
    assert.equal((await runCli(["migrate", "--db", "sqlite:./from-flag.db"], { cwd, env })).code, 0);
    assert.ok(existsSync(join(cwd, "from-flag.db")), "the flag's db");
  });

  it("serve --config FILE takes the admin token and the rest from that file", async () => {
    const file = join(dir, "serve.json");
    writeFileSync(
      file,
      JSON.stringify({
        port: 0,
        db: `sqlite:${join(dir, "serve.db")}`,
        admin_token: TOKEN,
        log_level: "warn",
      }),
    );
    const server = await serveCli(["--config", file, "--demo"]);
    try {
      const tenants = await fetch(`${server.url}/admin/v1/tenants`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(tenants.status, 200, "the file's admin token is the server's");
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it("refuses a file with mistakes, naming the file and every key, with line and column, never the token", async () => {
    const cwd = workdir("mistakes", {
      prot: 8787,
      host: "127.0.0.1",
      port: "8787",
      admin_token: "short-secret",
      log_level: "loud",
      revoke_on_code_reuse: "yes",
    });
    const run = await runCli(["migrate"], { cwd });
    assert.equal(run.code, 2, run.stderr);
    const file = join(cwd, CONFIG_FILE_NAME).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(run.stderr, new RegExp(`^mina-auth: ${file}: 5 errors\\n`));
    for (const expected of [
      /\n {2}prot \(line 2, column 3\): unknown key \(did you mean "port"\?\)\n/,
      /\n {2}port \(line 4, column 3\): must be an integer from 0 to 65535\n/,
      /\n {2}admin_token \(line 5, column 3\): needs at least 16 characters\n/,
      /\n {2}log_level \(line 6, column 3\): must be one of "fatal", "error"/,
      /\n {2}revoke_on_code_reuse \(line 7, column 3\): must be true or false, not a string\n/,
    ])
      assert.match(run.stderr, expected);
    assert.ok(!run.stderr.includes("short-secret"), "the token is never echoed");
    assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
  });

  it("refuses a missing --config FILE, and a file that is not JSON, with its line and column", async () => {
    const missing = await runCli(["migrate", "--config", join(dir, "nowhere.json")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^mina-auth: .*nowhere\.json: cannot read: no such file \(ENOENT\)\n$/);
    const cwd = workdir("syntax", '{\n  "port": 8787\n  "host": "127.0.0.1"\n}\n');
    const broken = await runCli(["migrate"], { cwd });
    assert.equal(broken.code, 2);
    assert.match(
      broken.stderr,
      /mina-auth\.config\.json: not valid JSON: expected "," or "}" after a value \(a missing comma\?\) \(line 3, column 3\)\n$/,
    );
  });

  it("names the environment variable that is wrong", async () => {
    const run = await runCli(["migrate"], {
      env: { MINA_AUTH_DB: "mysql://x", MINA_AUTH_RATE_LIMITS: "maybe" },
      cwd: REPO_ROOT,
    });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /MINA_AUTH_DB has the wrong format \(expected sqlite:PATH, sqlite::memory: or postgres:\/\/…\)/,
    );
    assert.match(run.stderr, /MINA_AUTH_RATE_LIMITS must be true or false/);
  });
});

describe("the README documents the config file", () => {
  it("lists every key beside its environment variable", () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    for (const { env, key } of configurationKeys()) {
      const row = new RegExp(`\\| \`${env}\`\\s*\\| \`${key}\`\\s*\\|`);
      assert.ok(row.test(readme), `a README row names ${env} and the file key ${key}`);
    }
  });
});
