/**
 * The connection cap's knob (http/connection-guard.ts): `--max-connections`, MINA_AUTH_MAX_CONNECTIONS
 * and `max_connections` in the config file, by the usual precedence, each refused with a message
 * naming it when it is not a whole number. The cap itself is tested over HTTP in
 * edge-connections.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError, defaultConfig } from "../src/config.ts";
import { CONFIG_FILE_NAME, resolveConfig } from "../src/config-sources.ts";
import { runCli } from "./cli-process.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-max-connections-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("max_connections", () => {
  it("defaults to 10,000 and takes the flag over the environment over the file", () => {
    writeFileSync(join(dir, CONFIG_FILE_NAME), JSON.stringify({ max_connections: 300 }));
    const resolve = (flags: { maxConnections?: string }, env: Record<string, string>) =>
      resolveConfig({ flags, env, cwd: dir }).config.maxConnections;
    assert.equal(defaultConfig.maxConnections, 10_000);
    assert.equal(resolveConfig({ flags: {}, env: {}, cwd: tmpdir() }).config.maxConnections, 10_000);
    assert.equal(resolve({}, {}), 300, "the file");
    assert.equal(resolve({}, { MINA_AUTH_MAX_CONNECTIONS: "200" }), 200, "the environment");
    assert.equal(
      resolve({ maxConnections: "0" }, { MINA_AUTH_MAX_CONNECTIONS: "200" }),
      0,
      "the flag; 0: no cap",
    );
  });

  it("refuses what is not a whole number, naming the flag, the variable or the key", () => {
    const empty = mkdtempSync(join(dir, "empty-"));
    assert.throws(
      () => resolveConfig({ flags: { maxConnections: "many" }, env: {}, cwd: empty }),
      (error: unknown) =>
        error instanceof ConfigError && /--max-connections: must be a whole number/.test(error.message),
    );
    assert.throws(
      () => resolveConfig({ flags: {}, env: { MINA_AUTH_MAX_CONNECTIONS: "-1" }, cwd: empty }),
      (error: unknown) => error instanceof ConfigError && /MINA_AUTH_MAX_CONNECTIONS/.test(error.message),
    );
    const file = mkdtempSync(join(dir, "file-"));
    writeFileSync(join(file, CONFIG_FILE_NAME), JSON.stringify({ max_connections: 1.5 }));
    assert.throws(
      () => resolveConfig({ flags: {}, env: {}, cwd: file }),
      (error: unknown) => error instanceof ConfigError && /max_connections/.test(error.message),
    );
  });

  it("is listed by serve --help", async () => {
    const run = await runCli(["serve", "--help"]);
    assert.match(run.stdout, /--max-connections N/);
    assert.match(run.stdout, /MINA_AUTH_MAX_CONNECTIONS/);
  });
});
