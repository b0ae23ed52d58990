/**
 * The served /openapi.json passes `redocly lint` (its recommended rules) with no errors: path and
 * query parameters, operationIds, request and response schemas, real status codes, servers. The
 * only warnings allowed are the operations endpoints' lack of a 4xx answer, which is the truth.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startTestServer, type TestServer } from "./harness.ts";

const REDOCLY = fileURLToPath(new URL("../../../node_modules/@redocly/cli/bin/cli.js", import.meta.url));

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: Array<{
    ruleId: string;
    severity: string;
    message: string;
    location: Array<{ pointer: string }>;
  }>;
}

function lint(file: string): Promise<LintReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [REDOCLY, "lint", file, "--format", "json"],
      {
        // No telemetry or update check: the suite talks to loopback only.
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        // redocly exits 1 when it found errors; the report says which.
        try {
          resolve(JSON.parse(stdout) as LintReport);
        } catch {
          reject(
            new Error(`redocly gave no report (${error?.message ?? "no error"}): ${stderr.slice(-2000)}`),
          );
        }
      },
    );
  });
}

describe("/openapi.json under redocly lint", () => {
  let t: TestServer;
  let dir: string;
  before(async () => {
    t = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), "mina-auth-openapi-"));
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has no errors, and warns only that the operations endpoints answer no 4xx", {
    timeout: 60_000,
  }, async () => {
    const res = await t.request("GET", "/openapi.json");
    assert.equal(res.status, 200);
    const file = join(dir, "openapi.json");
    writeFileSync(file, res.text);
    const report = await lint(file);
    const problems = report.problems.map(
      (p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`,
    );
    assert.equal(report.totals.errors, 0, problems.join("\n"));
    for (const problem of report.problems) {
      assert.equal(problem.ruleId, "operation-4xx-response", problems.join("\n"));
      assert.match(
        problem.location[0]?.pointer ?? "",
        /^#\/paths\/~1(healthz|readyz|metrics|openapi\.json)\//,
      );
    }
  });

  it("names every operation, its path parameters and its real statuses", async () => {
    const doc = (await t.request("GET", "/openapi.json")).body as {
      servers: unknown[];
      paths: Record<
        string,
        Record<
          string,
          {
            operationId: string;
            parameters?: Array<{ name: string; in: string }>;
            responses: Record<string, unknown>;
            requestBody?: unknown;
          }
        >
      >;
    };
    assert.ok(doc.servers.length > 0);
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        assert.ok(operation.operationId, `${method} ${path}`);
        assert.ok(!ids.has(operation.operationId), `${operation.operationId} twice`);
        ids.add(operation.operationId);
        const declared = (operation.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name);
        const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        assert.deepEqual(declared, inPath, `${method} ${path}`);
      }
    }
    const tlv = doc.paths["/open-apis/mina/v2/tokenLoginValidate"]!.post!;
    assert.deepEqual(Object.keys(tlv.responses).sort(), ["200", "400", "408", "413", "415", "429", "500"]);
    const userInfo = doc.paths["/open-apis/authen/v1/user_info"]!.get!;
    assert.ok(userInfo.responses["400"], "99991661 and 99991668 answer HTTP 400");
    const mint = doc.paths["/admin/v1/login-codes"]!.post!;
    assert.ok(mint.responses["201"] && !mint.responses["200"], "minting answers 201");
    assert.ok(mint.requestBody);
    const sessions = doc.paths["/admin/v1/sessions"]!.get!;
    assert.deepEqual(
      (sessions.parameters ?? []).map((p) => `${p.in} ${p.name}`),
      ["query app_id", "query tenant_key", "query user_id", "query active", "query limit"],
    );
  });
});
