/**
 * The `mina-auth` CLI as a user runs it (a child process): the way it refuses bad input (exit
 * code 2, one line, no stack trace).
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { demoSeed } from "../src/demo-seed.ts";
import { assertRefused, cli, scratchDir } from "./cli-suite.ts";
import { DEMO } from "./harness.ts";

const dir = scratchDir();

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
    const db = `sqlite:${join(dir(), "refusals.db")}`;
    assertRefused(await cli(["import", "--db", db]), /^mina-auth: import needs FILE/);
    assertRefused(await cli(["import", join(dir(), "missing.json"), "--db", db]), /missing\.json.*ENOENT/);
    const broken = join(dir(), "broken.json");
    writeFileSync(broken, "{ not json");
    assertRefused(await cli(["import", broken, "--db", db]), /not valid JSON/);
    const invalid = join(dir(), "invalid.json");
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
    const missing = join(dir(), "no-such-dir", "deeper");
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
    assert.ok(!existsSync(join(dir(), "no-such-dir")), "nothing was created");
  });

  it("code for a store app without --tenant names the flag and the tenants it is installed in", async () => {
    const db = `sqlite:${join(dir(), "store.db")}`;
    const seedFile = join(dir(), "demo.json");
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
