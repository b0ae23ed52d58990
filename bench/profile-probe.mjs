// Debug preload for a benchmarked server (never loaded by default): SIGUSR2 starts the V8 CPU
// profiler, the next SIGUSR2 stops it and writes $BENCH_PROFILE_DIR/run-<n>.cpuprofile. The bench
// sends SIGUSR2 around each measured load when BENCH_SERVER_NODE_ARGS loads this file, so the
// profile holds the exchanges only, not the minting.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const session = new Session();
session.connect();
const post = (method, params) =>
  new Promise((resolve, reject) =>
    session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
  );
let running = false;
let n = 0;
process.on("SIGUSR2", async () => {
  if (!running) {
    running = true;
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 200 });
    await post("Profiler.start");
  } else {
    running = false;
    const { profile } = await post("Profiler.stop");
    writeFileSync(
      join(process.env.BENCH_PROFILE_DIR ?? ".", `run-${++n}.cpuprofile`),
      JSON.stringify(profile),
    );
  }
});
