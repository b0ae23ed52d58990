// Debug preload for the mina-auth server (never loaded by default): tokenLoginValidate answers
// a fixed, well-formed login without touching storage or drawing secrets, so a run measures what
// the HTTP path alone costs (node:http, the fast lane, the app-token check, the reply), to set
// beside the ceiling and the real exchange. Nothing is consumed: codes are not checked at all.
// BENCH_PROBE_WORK_US=N adds N µs of busy CPU per login, in place of the exchange's work: how a
// microsecond of work per login turns into CPU per request and into logins per second.
// Use: BENCH_SERVER_NODE_ARGS="--import ./bench/http-only-probe.mjs" node scripts/bench.mjs --only mina-auth-sqlite
// The build must be current (the bench loads packages/server/dist when it is).
// The patch reaches only the built server: from source (tsx) the login service is another module
// (and the build's imports would not even load before tsx). Checked before anything is imported.
if (!process.argv[1]?.endsWith("/packages/server/dist/cli.js")) {
  throw new Error("http-only-probe: the server runs from source; run `npm run build` first");
}
const { LoginService } = await import(
  new URL("../packages/server/dist/domain/login.js", import.meta.url).href
);

const login = {
  open_id: "ou_94a1ee5551019f18cd73d9f111898cf2",
  employee_id: "6c486g",
  session_key: "0".repeat(64),
  tenant_key: "2c5914ac018f97",
  access_token: `u-${"A".repeat(51)}`,
  expires_in: 1_800_000_000,
  refresh_token: `ur-${"B".repeat(51)}`,
};
const workMs = Number(process.env.BENCH_PROBE_WORK_US ?? 0) / 1000;
LoginService.prototype.exchange = async () => {
  if (workMs > 0) {
    const until = performance.now() + workMs;
    while (performance.now() < until);
  }
  return { ...login };
};
process.stderr.write(`http-only-probe: tokenLoginValidate answers without storage (+${workMs * 1000} µs)\n`);
