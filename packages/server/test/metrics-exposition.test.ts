/**
 * /metrics is what a Prometheus user expects: `promtool check metrics` accepts it (where promtool
 * is installed: Debian's `prometheus` package; .ci installs it), and, everywhere, a parser of the
 * text format checks every family's HELP and TYPE, the names, and that each route's duration
 * histogram is cumulative and agrees with the request counter.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { DURATION_BUCKETS } from "../src/http/metrics.ts";
import { startTestServer, type TestServer } from "./harness.ts";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text format strictly: every sample belongs to the family declared just before it. */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  let family = "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      assert.match(name, NAME);
      if (kind === "HELP") helps.add(name);
      else {
        assert.ok(!types.has(name), `${name} declared twice`);
        assert.ok(["counter", "gauge", "histogram"].includes(rest), line);
        assert.ok(helps.has(name), `${name}: TYPE without HELP`);
        types.set(name, rest);
        family = name;
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const [, name, labelText = "", value] = match as unknown as [string, string, string | undefined, string];
    const base = types.get(family) === "histogram" ? name.replace(/_(bucket|sum|count)$/, "") : name;
    assert.equal(base, family, `${line} outside its family`);
    if (types.get(family) === "counter") assert.match(name, /_total$/, "a counter's name ends in _total");
    const labels: Record<string, string> = {};
    for (const [, key, val] of labelText.matchAll(LABEL)) labels[key!] = val!;
    samples.push({ name, labels, value: value === "+Inf" ? Number.POSITIVE_INFINITY : Number(value) });
  }
  return { types, samples };
}

describe("/metrics", () => {
  let t: TestServer;
  let text: string;
  before(async () => {
    t = await startTestServer();
    const token = await t.appToken();
    for (let i = 0; i < 3; i++) await t.exchange(await t.mintCode(), token);
    await t.exchange("0".repeat(44), token);
    await t.request("GET", "/open-apis/nothing");
    await t.request("GET", "/admin/v1/apps", { token: "wrong" });
    text = (await t.request("GET", "/metrics")).text;
  });
  after(() => t.close());

  it("is valid text format with a duration histogram per route that agrees with the counter", () => {
    const { types, samples } = parse(text);
    assert.equal(types.get("mina_auth_requests_total"), "counter");
    assert.equal(types.get("mina_auth_request_duration_seconds"), "histogram");
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
    ]) {
      assert.ok(types.has(name), name);
    }
    const routes = new Set(
      samples.filter((s) => s.name === "mina_auth_requests_total").map((s) => s.labels.route!),
    );
    assert.ok(
      routes.has(Paths.tokenLoginValidate) && routes.has("unmatched") && routes.has("/admin/v1/apps"),
    );
    for (const route of routes) {
      const requests = samples
        .filter((s) => s.name === "mina_auth_requests_total" && s.labels.route === route)
        .reduce((sum, s) => sum + s.value, 0);
      const buckets = samples.filter(
        (s) => s.name === "mina_auth_request_duration_seconds_bucket" && s.labels.route === route,
      );
      assert.deepEqual(
        buckets.map((b) => b.labels.le),
        [...DURATION_BUCKETS.map(String), "+Inf"],
        route,
      );
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, route);
      const count = samples.find(
        (s) => s.name === "mina_auth_request_duration_seconds_count" && s.labels.route === route,
      );
      assert.equal(count?.value, requests, route);
      assert.equal(buckets.at(-1)!.value, requests, route);
    }
    const tlv = samples.find(
      (s) =>
        s.name === "mina_auth_requests_total" &&
        s.labels.route === Paths.tokenLoginValidate &&
        s.labels.code === "0",
    );
    assert.equal(tlv?.value, 3);
    // Bounded labels: no raw URL, query or token.
    assert.doesNotMatch(text, /nothing|wrong|t-[0-9a-f]{8}/);
  });

  it("passes promtool check metrics", async (test) => {
    if (spawnSync("promtool", ["--version"]).error) {
      // CI installs it (.ci/run), so there its absence fails the test.
      assert.notEqual(process.env.CI, "true", "promtool is missing under CI");
      test.skip("promtool is not installed here (Debian: apt-get install prometheus)");
      return;
    }
    const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn("promtool", ["check", "metrics"]);
      let output = "";
      child.stdout.on("data", (chunk) => {
        output += chunk;
      });
      child.stderr.on("data", (chunk) => {
        output += chunk;
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, output }));
      child.stdin.end(text);
    });
    // promtool prints nothing and exits 0 when every name and family is as Prometheus expects.
    assert.equal(result.output, "");
    assert.equal(result.code, 0);
  });
});
