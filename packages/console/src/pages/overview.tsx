import { useEffect, useState } from "preact/hooks";
import { admin, send } from "../api.ts";
import { ErrorNote, SessionLink, Table, time, useLoad } from "../components.tsx";
import { countExchanges } from "../metrics-text.ts";
import type { Overview } from "../types.ts";

interface Sample {
  at: number;
  logins: number;
  failures: number;
}
/** Samples of the server's counters, kept while the tab lives, newest last. */
const samples: Sample[] = [];

/**
 * Counted over the last minute of samples: how many, and over how many seconds (less than 60
 * while the page has been open for less than a minute). Null before two samples exist.
 */
function lastMinute(key: "logins" | "failures"): { count: number; seconds: number } | null {
  const last = samples[samples.length - 1];
  const first = samples.find((s) => last !== undefined && last.at - s.at <= 60_000);
  if (!last || !first || first === last) return null;
  return { count: Math.max(0, last[key] - first[key]), seconds: Math.round((last.at - first.at) / 1000) };
}

function useMetrics() {
  const [, setTick] = useState(0);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const sample = async () => {
      try {
        const answer = await send<string>("GET", "/metrics");
        samples.push({ at: Date.now(), ...countExchanges(String(answer.body)) });
        while (samples.length > 100) samples.shift();
        setError(null);
      } catch (failure) {
        setError(failure);
      }
      setTick((t) => t + 1);
    };
    sample();
    const timer = setInterval(sample, 5_000);
    return () => clearInterval(timer);
  }, []);
  return { latest: samples[samples.length - 1], error };
}

const rate = (value: { count: number; seconds: number } | null) =>
  value === null
    ? "measuring…"
    : value.seconds >= 55
      ? String(value.count)
      : `${value.count} in ${value.seconds} s`;

export function OverviewPage() {
  const { data, error } = useLoad(() => admin<Overview>("GET", "/overview"), []);
  const metrics = useMetrics();
  return (
    <>
      <ErrorNote error={error ?? metrics.error} />
      <section aria-label="Counts">
        <dl class="cards">
          <div>
            <dt>Tenants</dt>
            <dd>{data?.tenants ?? "…"}</dd>
          </div>
          <div>
            <dt>Users</dt>
            <dd>{data?.users ?? "…"}</dd>
          </div>
          <div>
            <dt>Apps</dt>
            <dd>{data?.apps ?? "…"}</dd>
          </div>
          <div>
            <dt>Live sessions</dt>
            <dd>{data ? `${data.live_sessions}${data.live_sessions_capped ? "+" : ""}` : "…"}</dd>
          </div>
          <div>
            <dt>Logins, last minute</dt>
            <dd>{rate(lastMinute("logins"))}</dd>
          </div>
          <div>
            <dt>Failed exchanges, last minute</dt>
            <dd>{rate(lastMinute("failures"))}</dd>
          </div>
        </dl>
        <p class="note">
          From the server's own /metrics since it started:{" "}
          {metrics.latest
            ? `${metrics.latest.logins} login(s), ${metrics.latest.failures} failed exchange(s).`
            : "…"}{" "}
          The last minute is measured while this page is open (every 5 s).
        </p>
      </section>
      <section aria-labelledby="recent-title">
        <h2 id="recent-title">Most recent logins</h2>
        {data && data.recent_logins.length === 0 ? <p>No login yet.</p> : null}
        {data && data.recent_logins.length > 0 ? (
          <Table caption="Most recent logins, newest first">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">User</th>
                <th scope="col">Tenant</th>
                <th scope="col">App</th>
                <th scope="col">Session</th>
              </tr>
            </thead>
            <tbody>
              {data.recent_logins.map((e) => (
                <tr key={e.id}>
                  <td>{time(e.at)}</td>
                  <td>{e.user_id}</td>
                  <td>{e.tenant_key}</td>
                  <td>{e.app_id}</td>
                  <td>
                    <SessionLink of={e} />
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        ) : null}
      </section>
    </>
  );
}
