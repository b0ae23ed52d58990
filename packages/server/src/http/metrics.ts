/**
 * Prometheus counters by route and result code, in this process. The label space is bounded:
 * routes are the registered patterns and codes come from the error registry (security.md H7).
 */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly durationSum = new Map<string, number>();

  record(route: string, code: number, seconds: number): void {
    const key = `${route}\u0000${code}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.durationSum.set(route, (this.durationSum.get(route) ?? 0) + seconds);
  }

  render(): string {
    const lines = [
      "# HELP mina_auth_requests_total Requests answered, by route pattern and result code (0 = success).",
      "# TYPE mina_auth_requests_total counter",
    ];
    for (const [key, count] of this.requests) {
      const [route, code] = key.split("\u0000");
      lines.push(`mina_auth_requests_total{route="${route}",code="${code}"} ${count}`);
    }
    lines.push(
      "# HELP mina_auth_request_duration_seconds_sum Total time spent answering, by route pattern.",
      "# TYPE mina_auth_request_duration_seconds_sum counter",
    );
    for (const [route, sum] of this.durationSum) {
      lines.push(`mina_auth_request_duration_seconds_sum{route="${route}"} ${sum.toFixed(6)}`);
    }
    const memory = process.memoryUsage();
    lines.push(
      "# HELP process_resident_memory_bytes Resident memory size in bytes.",
      "# TYPE process_resident_memory_bytes gauge",
      `process_resident_memory_bytes ${memory.rss}`,
    );
    return `${lines.join("\n")}\n`;
  }
}
