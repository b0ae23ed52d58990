// The fallback load generator (when wrk is not installed), run as its own process so it can be
// pinned to its own core. Same contract as walk.lua: one pre-generated body per request, every
// reply checked. Argument: a JSON object {url, bodiesFile, headers, ok, connections, duration}.
// Prints one line "BENCH_RESULT {…}" with the same fields as walk.lua.
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

const opts = JSON.parse(process.argv[2]);
const bodies = readFileSync(opts.bodiesFile, "utf8").split("\n").filter(Boolean);
let idx = 0;
let exhausted = 0;
let badBody = 0;
let non2xx = 0;
let sample = "";

const result = await autocannon({
  url: opts.url,
  method: "POST",
  connections: opts.connections,
  duration: opts.duration,
  headers: opts.headers,
  requests: [
    {
      setupRequest(req) {
        if (idx >= bodies.length) {
          exhausted++;
          idx = 0;
        }
        req.body = bodies[idx++];
        return req;
      },
      onResponse(status, body) {
        if (status < 200 || status > 299) {
          non2xx++;
          if (!sample) sample = `${status} ${String(body).slice(0, 200)}`;
        } else if (!String(body).includes(opts.ok)) {
          badBody++;
          if (!sample) sample = String(body).slice(0, 200);
        }
      },
    },
  ],
});
const ms = (v) => Math.round(v * 1000);
process.stdout.write(
  `BENCH_RESULT ${JSON.stringify({
    requests: result.requests.total,
    duration_us: Math.round(result.duration * 1e6),
    p50_us: ms(result.latency.p50),
    p99_us: ms(result.latency.p99),
    max_us: ms(result.latency.max),
    socket_errors: result.errors,
    timeouts: result.timeouts,
    non2xx,
    bad_body: badBody,
    exhausted,
    sample,
  })}\n`,
);
