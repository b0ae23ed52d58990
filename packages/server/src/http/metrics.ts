import { readdirSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/**
 * Upper bounds, in seconds, of the request-duration buckets: fine below 10 ms, where a login
 * answers, so that p50/p90/p99 can be read with `histogram_quantile` while the server runs.
 */
export const DURATION_BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** How often the event loop is sampled, in milliseconds. */
const LOOP_SAMPLE_MS = 10;

/** One route's request durations: cumulative-at-render bucket counts, a sum and a count. */
class Histogram {
  readonly counts = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** Label values are route patterns; the escape keeps the text format valid whatever they hold. */
const label = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * The Prometheus exposition of this process (text format 0.0.4): requests by route pattern and
 * result code, request durations per route as a histogram, and the usual process and Node.js
 * metrics. The label space is bounded: routes are the registered patterns and codes come from
 * the error registry (security.md H7). Recording a request costs a map lookup and a bucket scan
 * (no allocation once a route and code were seen); everything else is computed at scrape time.
 */
export class Metrics {
  private readonly requests = new Map<string, Map<number, number>>();
  private readonly durations = new Map<string, Histogram>();
  private readonly eventLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  private readonly startedAt = Date.now() / 1000 - process.uptime();

  constructor() {
    this.eventLoop.enable();
  }

  record(route: string, code: number, seconds: number): void {
    let byCode = this.requests.get(route);
    let histogram = this.durations.get(route);
    if (byCode === undefined || histogram === undefined) {
      byCode = new Map();
      histogram = new Histogram();
      this.requests.set(route, byCode);
      this.durations.set(route, histogram);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    histogram.observe(seconds);
  }

  /** Stops the event-loop sampler (the app's close). */
  stop(): void {
    this.eventLoop.disable();
  }

  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family(
      "mina_auth_requests_total",
      "counter",
      "Requests answered, by route pattern and result code (0 = success).",
    );
    for (const [route, byCode] of this.requests) {
      for (const [code, count] of byCode) {
        out.push(`mina_auth_requests_total{route="${label(route)}",code="${code}"} ${count}`);
      }
    }

    family(
      "mina_auth_request_duration_seconds",
      "histogram",
      "Time from a request's arrival to its answer, by route pattern.",
    );
    for (const [route, h] of this.durations) {
      const r = label(route);
      let cumulative = 0;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += h.counts[i]!;
        out.push(
          `mina_auth_request_duration_seconds_bucket{route="${r}",le="${DURATION_BUCKETS[i]}"} ${cumulative}`,
        );
      }
      out.push(`mina_auth_request_duration_seconds_bucket{route="${r}",le="+Inf"} ${h.count}`);
      out.push(`mina_auth_request_duration_seconds_sum{route="${r}"} ${h.sum.toFixed(6)}`);
      out.push(`mina_auth_request_duration_seconds_count{route="${r}"} ${h.count}`);
    }

    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    family("process_cpu_user_seconds_total", "counter", "User CPU time spent in seconds.");
    out.push(`process_cpu_user_seconds_total ${(cpu.user / 1e6).toFixed(6)}`);
    family("process_cpu_system_seconds_total", "counter", "System CPU time spent in seconds.");
    out.push(`process_cpu_system_seconds_total ${(cpu.system / 1e6).toFixed(6)}`);
    family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    out.push(`process_cpu_seconds_total ${((cpu.user + cpu.system) / 1e6).toFixed(6)}`);
    family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out.push(`process_resident_memory_bytes ${memory.rss}`);
    family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    out.push(`process_start_time_seconds ${this.startedAt.toFixed(3)}`);
    const fds = openFds();
    if (fds !== null) {
      family("process_open_fds", "gauge", "Number of open file descriptors.");
      out.push(`process_open_fds ${fds}`);
    }
    family("nodejs_heap_size_total_bytes", "gauge", "Process heap size from Node.js in bytes.");
    out.push(`nodejs_heap_size_total_bytes ${memory.heapTotal}`);
    family("nodejs_heap_size_used_bytes", "gauge", "Process heap size used from Node.js in bytes.");
    out.push(`nodejs_heap_size_used_bytes ${memory.heapUsed}`);
    family("nodejs_external_memory_bytes", "gauge", "Node.js external memory size in bytes.");
    out.push(`nodejs_external_memory_bytes ${memory.external}`);

    // Event-loop delay since the previous scrape. The sampler's timer fires every LOOP_SAMPLE_MS
    // and records the whole interval, so the delay is what exceeds that interval.
    const loop = this.eventLoop;
    const lag = (ns: number) =>
      (loop.count > 0 && Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS) / 1000 : 0).toFixed(6);
    family("nodejs_eventloop_lag_seconds", "gauge", "Mean event-loop delay since the previous scrape.");
    out.push(`nodejs_eventloop_lag_seconds ${lag(loop.mean)}`);
    family(
      "nodejs_eventloop_lag_p99_seconds",
      "gauge",
      "99th percentile event-loop delay since the previous scrape.",
    );
    out.push(`nodejs_eventloop_lag_p99_seconds ${lag(loop.percentile(99))}`);
    family(
      "nodejs_eventloop_lag_max_seconds",
      "gauge",
      "Largest event-loop delay since the previous scrape.",
    );
    out.push(`nodejs_eventloop_lag_max_seconds ${lag(loop.max)}`);
    loop.reset();
    return `${out.join("\n")}\n`;
  }
}

/** Open descriptors from /proc (Linux); null where there is no /proc, and the metric is left out. */
function openFds(): number | null {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}
