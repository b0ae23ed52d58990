// @mina-auth/tt as published: pack it, install the tarball alone into a scratch project, and use
// it from plain ESM with an injected fetch. Zero dependencies, typed, no test files shipped.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(pkgDir, "..", "..", "node_modules", ".bin", "tsc");
const quiet = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"], encoding: "utf8" as const };
let scratch: string;
let app: string;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), "mina-tt-pack-"));
  execFileSync(tsc, ["-b", pkgDir], quiet);
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], {
      ...quiet,
      cwd: pkgDir,
    }),
  ) as Array<{ filename: string }>;
  app = join(scratch, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module" }),
  );
  const tarball = join(scratch, packed[0]?.filename ?? "");
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
    ...quiet,
    cwd: app,
  });
});
after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("@mina-auth/tt packaging", () => {
  it("ships dist with its .d.ts, no tests, no dependency, no import of a package", () => {
    const dir = join(app, "node_modules", "@mina-auth", "tt");
    for (const file of ["dist/index.js", "dist/index.d.ts", "package.json"])
      assert.ok(existsSync(join(dir, file)), file);
    assert.ok(!existsSync(join(dir, "test")));
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    assert.equal(manifest.dependencies, undefined);
    assert.deepEqual(readdirSync(join(app, "node_modules", "@mina-auth")), ["tt"]);
    const js = readFileSync(join(dir, "dist", "index.js"), "utf8");
    assert.ok(!/^(?:import|export)\b[^\n]*from "/m.test(js), "dist/index.js imports nothing");
  });

  it("installs as globalThis.tt in one line and answers login from plain ESM", () => {
    writeFileSync(
      join(app, "check.mjs"),
      `import { createTt } from "@mina-auth/tt";
const seen = [];
const fetch = async (url, init) => {
  seen.push([url, JSON.parse(init.body)]);
  return new Response(JSON.stringify({ code: "c".repeat(44), expires_at: 1 }), { status: 201 });
};
globalThis.tt = createTt({ baseUrl: "http://127.0.0.1:1/", appId: "cli_a1b2c3d4e5f6a7b8", userId: "6c486g", fetch });
const res = await tt.login();
console.log(JSON.stringify({ res, seen }));`,
    );
    const out = JSON.parse(execFileSync(process.execPath, ["check.mjs"], { ...quiet, cwd: app }));
    assert.deepEqual(out.res, { errMsg: "login:ok", code: "c".repeat(44) });
    assert.deepEqual(out.seen, [
      ["http://127.0.0.1:1/dev/v1/tt/login", { app_id: "cli_a1b2c3d4e5f6a7b8", user_id: "6c486g" }],
    ]);
  });
});
