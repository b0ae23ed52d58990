// What npm would publish: build, pack, install the tarball in a scratch folder outside the
// workspace, import it from plain ESM, and type-check a TypeScript file against its .d.ts.
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
const root = join(pkgDir, "..", "..");
const tsc = join(root, "node_modules", ".bin", "tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const quiet = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"], encoding: "utf8" as const };

let scratch: string;
let installed: string;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), "mina-client-pack-"));
  rmSync(join(pkgDir, "dist"), { recursive: true, force: true });
  rmSync(join(pkgDir, "tsconfig.tsbuildinfo"), { force: true });
  // The package's own build: tsc, then the protocol inlined into dist (scripts/inline-protocol.mjs).
  execFileSync(npm, ["run", "build"], { ...quiet, cwd: pkgDir });
  const packed = JSON.parse(
    execFileSync(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], {
      ...quiet,
      cwd: pkgDir,
    }),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(scratch, packed[0]?.filename ?? "");
  const app = join(scratch, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "scratch", private: true, type: "module" }),
  );
  execFileSync(npm, ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
    ...quiet,
    cwd: app,
  });
  installed = app;
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("packaging", () => {
  it("the tarball holds dist with .d.ts, no tests, and no runtime dependency", () => {
    const dir = join(installed, "node_modules", "@mina-auth", "client");
    for (const f of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/client.d.ts",
      "dist/internal/protocol/index.js",
      "dist/internal/protocol/index.d.ts",
      "package.json",
    ]) {
      assert.ok(existsSync(join(dir, f)), f);
    }
    assert.ok(!existsSync(join(dir, "test")));
    assert.ok(!existsSync(join(dir, "src", "errors.test.ts")));
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    assert.equal(manifest.dependencies, undefined);
    assert.equal(manifest.peerDependencies, undefined);
    // The only thing installed is the client itself.
    assert.deepEqual(
      readdirSync(join(installed, "node_modules")).filter((n) => !n.startsWith(".")),
      ["@mina-auth"],
    );
    for (const file of readdirSync(join(dir, "dist"), { recursive: true, encoding: "utf8" })) {
      if (!/\.(js|d\.ts)$/.test(file)) continue;
      const text = readFileSync(join(dir, "dist", file), "utf8");
      assert.ok(!text.includes("@mina-auth/protocol"), `dist/${file} refers to @mina-auth/protocol`);
      // Static, dynamic and type-position imports alike (comments aside): only relative specifiers.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
      assert.ok(!/\b(?:from|import)\s*\(?\s*["'](?!\.)/.test(code), `dist/${file} imports a package`);
    }
  });

  it("imports from an ESM .mjs script and runs a login with an injected fetch", () => {
    const script = `
import { MinaClient, MinaApiError, ErrorCodes, MemoryTokenCache, BaseUrls } from "@mina-auth/client";
const replies = {
  "/open-apis/auth/v3/app_access_token/internal": { code: 0, msg: "ok", app_access_token: "t-abc", expire: 7200 },
  "/open-apis/mina/v2/tokenLoginValidate": { code: 0, msg: "success", data: {
    open_id: "ou_1", session_key: "s".repeat(30), tenant_key: "2c5914ac018f97",
    access_token: "u-1", expires_in: 1565512680, refresh_token: "ur-1" } },
};
const fetch = async (url) => new Response(JSON.stringify(replies[new URL(url).pathname]), { status: 200 });
const client = new MinaClient({ appId: "cli_a", appSecret: "s", baseUrl: "lark", fetch, tokenCache: new MemoryTokenCache() });
const s = await client.tokenLoginValidate("code");
console.log(JSON.stringify({
  openId: s.openId, expiresAt: s.expiresAt.toISOString(), code: ErrorCodes.CodeAppIdNotMatch,
  base: client.baseUrl === BaseUrls.lark, isError: new MinaApiError({ code: 1, msg: "m", httpStatus: 200 }, { method: "GET", path: "/" }) instanceof Error,
}));
`;
    writeFileSync(join(installed, "check.mjs"), script);
    const out = JSON.parse(execFileSync(process.execPath, ["check.mjs"], { ...quiet, cwd: installed }));
    assert.deepEqual(out, {
      openId: "ou_1",
      expiresAt: "2019-08-11T08:38:00.000Z",
      code: 10213,
      base: true,
      isError: true,
    });
  });

  it("type-checks a strict TypeScript file against the published .d.ts (DOM lib, no @types/node)", () => {
    const source = `
import {
  MinaClient, MinaApiError, MinaTimeoutError, MinaTransportError, ErrorCodes,
  type LoginSession, type RefreshedTokens, type UserInfo, type TokenCache, type MinaClientError,
} from "@mina-auth/client";

const cache: TokenCache = { get: async () => undefined, set: async () => {} };
const client = new MinaClient({ appId: "cli_a", appSecret: "s", baseUrl: "feishu", timeoutMs: 5000, tokenCache: cache, logger: console });

export async function flow(code: string): Promise<[LoginSession, RefreshedTokens, UserInfo]> {
  const s = await client.tokenLoginValidate(code, { signal: AbortSignal.timeout(1000) });
  const when: Date = s.expiresAt;
  const employee: string | undefined = s.employeeId;
  void when; void employee;
  const r = await client.refreshUserAccessToken(s.refreshToken);
  const u = await client.getUserInfo(r.accessToken);
  const union: string = u.unionId;
  void union;
  // The wire types come from the inlined protocol: resolved, not \`any\`.
  const openId: string = s.raw.open_id;
  // @ts-expect-error open_id is a string
  const wrong: number = u.raw.open_id;
  void openId; void wrong;
  return [s, r, u];
}

export function classify(err: unknown): string {
  if (err instanceof MinaApiError) {
    const c: number = err.code;
    const used: 10213 = ErrorCodes.CodeAppIdNotMatch;
    return c === used ? "used" : err.msg + err.httpStatus + (err.logId ?? "");
  }
  if (err instanceof MinaTimeoutError) return err.reason;
  if (err instanceof MinaTransportError) return String(err.httpStatus);
  return "other";
}

export function exhaustive(err: MinaClientError): string {
  switch (err.name) {
    case "MinaApiError": return String(err.code);
    case "MinaTransportError": return "t";
    case "MinaTimeoutError": return err.reason;
  }
}

// @ts-expect-error baseUrl must be a string
new MinaClient({ appId: "a", appSecret: "s", baseUrl: 1 });
// @ts-expect-error appSecret is required
new MinaClient({ appId: "a" });
`;
    writeFileSync(join(installed, "check.ts"), source);
    writeFileSync(
      join(installed, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022", "DOM"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["check.ts"],
      }),
    );
    try {
      execFileSync(tsc, ["-p", installed], { ...quiet, cwd: installed });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`tsc failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  });
});
