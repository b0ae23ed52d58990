// The systems the bench measures, each with the same shape: `start()` launches its server and
// answers with its port, the request to send (path, headers, what a success contains) and
// `bodies(n)`, n fresh request bodies (codes minted just before a measurement). Stopping is the
// caller's: every server is a tracked child process (processes.mjs).
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { debug, log } from "./options.mjs";
import { cleanups, launch, root, SERVER_CPU, waitFor } from "./processes.mjs";

// --- HTTP helpers (loopback only) ---------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(port, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = typeof body === "string" ? body : JSON.stringify(body);
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Codes per POST /admin/v1/login-codes (its most). */
const MINT_CHUNK = 1000;

/** Runs `task(i)` for i in [0, n) with `concurrency` in flight; returns results in order. */
async function pool(n, concurrency, task) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

/** Ends the keep-alive connections of the bench's own requests. */
export function closeAgent() {
  agent.destroy();
}

/** A scratch folder for the SQLite files and the request bodies, removed however the bench ends. */
export function makeWorkDir() {
  const work = mkdtempSync(join(tmpdir(), "mina-auth-bench-"));
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  process.on("exit", () => rmSync(work, { recursive: true, force: true }));
  return work;
}

// The demo app `serve --demo` loads (packages/server/src/demo-seed.ts): public demo credentials.
const DEMO_APP_ID = "cli_a1b2c3d4e5f6a7b8";
const DEMO_APP_SECRET = "demo-app-secret-2f7c9e41b8d3a6f0";
const DEMO_TENANT = "2c5914ac018f97";
const DEMO_USERS = ["6c486g", "7d597h"]; // both visible to the demo app

/** Source through tsx unless a build at least as new as every source file exists. */
function minaEntry() {
  const dist = join(root, "packages/server/dist/cli.js");
  if (existsSync(dist)) {
    const newest = (dir, ext) => {
      let t = 0;
      for (const name of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, name.name);
        t = Math.max(
          t,
          name.isDirectory() ? newest(p, ext) : name.name.endsWith(ext) ? statSync(p).mtimeMs : 0,
        );
      }
      return t;
    };
    const srcNewest = Math.max(
      newest(join(root, "packages/server/src"), ".ts"),
      newest(join(root, "packages/protocol/src"), ".ts"),
    );
    // tsc -b rewrites only the outputs that changed: the build is as new as its newest file.
    const distNewest = Math.max(
      newest(join(root, "packages/server/dist"), ".js"),
      newest(join(root, "packages/protocol/dist"), ".js"),
    );
    if (distNewest >= srcNewest) return { args: [dist], from: "dist" };
  }
  return {
    args: ["--conditions=source", "--import", "tsx", join(root, "packages/server/src/cli.ts")],
    from: "source (tsx)",
  };
}

/** mina-auth serving the demo data from `dbUrl`, with the bench's settings and then `settings`. */
export function minaSystem(opts, name, dbUrl, settings = {}) {
  const adminToken = `adm-bench-${randomBytes(16).toString("hex")}`;
  return {
    name,
    guessRate: 10_000,
    async start() {
      const entry = minaEntry();
      // The caller's MINA_AUTH_* settings stay out, unless named with --server-env (to measure one).
      const env = {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MINA_AUTH_"))),
        ...opts.serverEnv,
        ...settings,
      };
      // Debug only: e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof" or "--import ./bench/batch-probe.mjs".
      const extra = process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
      const args = [
        ...extra,
        ...entry.args,
        "serve",
        "--demo",
        "--db",
        dbUrl,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--admin-token",
        adminToken,
        "--log-level",
        opts.logLevel,
      ];
      // Logs go to /dev/null: the cost measured is producing them, not a terminal drawing them.
      const child = launch(process.execPath, args, { cpu: SERVER_CPU, env, stdout: "ignore" });
      if (extra.length > 0) child.stderr.on("data", (c) => opts.verbose && process.stderr.write(c));
      const m = await waitFor(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
      const port = Number(m[1]);
      const res = await post(port, "/open-apis/auth/v3/app_access_token/internal", {
        app_id: DEMO_APP_ID,
        app_secret: DEMO_APP_SECRET,
      });
      const token = JSON.parse(res.text).app_access_token;
      if (!token) throw new Error(`no app token: ${res.text}`);
      debug(`${name}: pid ${child.pid}, port ${port}, from ${entry.from}`);
      return {
        child,
        port,
        note: `from ${entry.from}, --log-level ${opts.logLevel}`,
        path: "/open-apis/mina/v2/tokenLoginValidate",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        ok: '"code":0,"msg":"success"',
        // Through the admin API, as a test suite would, a thousand codes per call.
        async bodies(n) {
          const chunks = await pool(Math.ceil(n / MINT_CHUNK), 4, async (i) => {
            const r = await post(
              port,
              "/admin/v1/login-codes",
              {
                app_id: DEMO_APP_ID,
                user_id: DEMO_USERS[i % 2],
                tenant_key: DEMO_TENANT,
                count: Math.min(MINT_CHUNK, n - i * MINT_CHUNK),
              },
              { authorization: `Bearer ${adminToken}` },
            );
            if (r.status !== 201) throw new Error(`minting failed: ${r.status} ${r.text}`);
            return JSON.parse(r.text).codes;
          });
          return chunks.flat().map((code) => `{"code":"${code}"}`);
        },
      };
    },
  };
}

export const ceiling = {
  name: "node-http-ceiling",
  guessRate: 50_000,
  async start() {
    const child = launch(process.execPath, [join(root, "bench/ceiling-server.mjs")], { cpu: SERVER_CPU });
    const m = await waitFor(child, /"port":(\d+)/);
    return {
      child,
      port: Number(m[1]),
      note: "",
      path: "/open-apis/mina/v2/tokenLoginValidate",
      headers: { "Content-Type": "application/json", Authorization: `Bearer t-${"0".repeat(64)}` },
      ok: '"code":0',
      // Same shape as mina-auth's requests; nothing is consumed, so a smaller set may cycle.
      reusable: true,
      async bodies(n) {
        return Array.from(
          { length: Math.min(n, 50_000) },
          () => `{"code":"${randomBytes(16).toString("hex")}"}`,
        );
      },
    };
  },
};

export const oidc = {
  name: "oidc-provider-authcode",
  guessRate: 5_000,
  async start() {
    const child = launch(process.execPath, [join(root, "bench/oidc-server.mjs")], { cpu: SERVER_CPU });
    const m = await waitFor(child, /^(\{"port".*\})$/m);
    const info = JSON.parse(m[1]);
    const redirect = encodeURIComponent(info.redirectUri);
    const basic = Buffer.from(`${info.clientId}:${info.clientSecret}`).toString("base64");
    return {
      child,
      port: info.port,
      note: "oidc-provider in memory, client_secret_basic, scope offline_access",
      path: "/token",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${basic}` },
      ok: '"refresh_token"',
      async bodies(n) {
        const codes = [];
        for (let done = 0; done < n; done += 10_000) {
          const r = await new Promise((resolve, reject) => {
            http
              .get(
                {
                  host: "127.0.0.1",
                  port: info.mintPort,
                  path: `/mint?n=${Math.min(10_000, n - done)}`,
                  method: "POST",
                },
                (res) => {
                  let text = "";
                  res.on("data", (c) => {
                    text += c;
                  });
                  res.on("end", () => resolve(text));
                },
              )
              .on("error", reject);
          });
          codes.push(...r.split("\n").filter(Boolean));
        }
        return codes.map((code) => `grant_type=authorization_code&code=${code}&redirect_uri=${redirect}`);
      },
    };
  },
};

/**
 * mina-auth on a database of its own, created through `opts.pgAdminUrl`; `{ skip }` with the reason
 * when PostgreSQL cannot be used.
 */
export async function postgresSystem(opts) {
  let pg;
  try {
    pg = (await import("pg")).default;
  } catch {
    return { skip: "the pg module is not installed" };
  }
  const adminUrl = opts.pgAdminUrl;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  // Idle through every other system's rounds: a dropped connection must not end the bench (the
  // drop then fails, and says so).
  admin.on("error", (error) => debug(`PostgreSQL admin connection: ${error.message}`));
  try {
    await admin.connect();
  } catch (error) {
    return {
      skip: `PostgreSQL unreachable at ${adminUrl.replace(/:[^:@/]*@/, ":***@")} (${error.code ?? error.message})`,
    };
  }
  const dbName = `mina_auth_bench_${randomBytes(6).toString("hex")}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    const sql = `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`;
    try {
      await admin.query(sql);
    } catch {
      // The admin connection idled through every other system's rounds; it may be gone.
      const again = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
      again.on("error", () => {});
      try {
        await again.connect();
        await again.query(sql);
      } catch (error) {
        log(`bench: could not drop the database ${dbName} (${error.message}); drop it by hand`);
      } finally {
        await again.end().catch(() => {});
      }
    }
    await admin.end().catch(() => {});
  };
  // Before CREATE: an interruption while it runs still drops what it may have made.
  cleanups.push(drop);
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
  } catch (error) {
    await drop();
    return { skip: `cannot create a database: ${error.message}` };
  }
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const system = minaSystem(opts, "mina-auth-postgres", url.toString());
  return { system, drop };
}
