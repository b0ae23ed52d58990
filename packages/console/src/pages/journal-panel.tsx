import { useState } from "preact/hooks";
import { admin, query } from "../api.ts";
import { ErrorNote, Field, Table, useLoad } from "../components.tsx";

/** An entry as GET /admin/v1/journal lists it: secrets already redacted by the server. */
interface JournalEntry {
  seq: number;
  at: number;
  method: string;
  route: string;
  app_id: string | null;
  status: number | null;
  code: number | null;
  ms: number;
  fault: string | null;
  request: { headers: Record<string, string>; body: unknown };
  response: unknown;
}

interface Filter {
  route: string;
  code: string;
  faultOnly: boolean;
}

/** The request journal (serve --journal N): the last platform requests, newest first here, filtered. */
export function JournalPanel() {
  const [route, setRoute] = useState("");
  const [code, setCode] = useState("");
  const [faultOnly, setFaultOnly] = useState(false);
  const [applied, setApplied] = useState<Filter>({ route: "", code: "", faultOnly: false });
  const journal = useLoad(
    () =>
      admin<{ entries: JournalEntry[]; capacity: number }>(
        "GET",
        `/journal${query({
          route: applied.route,
          code: applied.code.trim(),
          fault: applied.faultOnly ? "any" : undefined,
          limit: 100,
        })}`,
      ),
    [applied],
  );
  const filter = (event: Event) => {
    event.preventDefault();
    setApplied({ route: route.trim(), code, faultOnly });
  };
  const entries = [...(journal.data?.entries ?? [])].reverse();
  return (
    <>
      <ErrorNote error={journal.error} />
      <form class="panel" onSubmit={filter} aria-label="Filter the journal">
        <div class="row">
          <Field label="Endpoint" hint="a platform path, e.g. /open-apis/mina/v2/tokenLoginValidate">
            <input value={route} onInput={(e) => setRoute(e.currentTarget.value)} />
          </Field>
          <Field label="Code" hint="the answer's code, e.g. 0 or 10226">
            <input inputMode="numeric" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
          <div class="field">
            <label class="label">
              <input
                type="checkbox"
                checked={faultOnly}
                onChange={(e) => setFaultOnly(e.currentTarget.checked)}
              />{" "}
              Only requests a fault rule applied to
            </label>
          </div>
        </div>
        <button type="submit">Show requests</button>{" "}
        <button type="button" class="secondary" onClick={journal.reload}>
          Refresh
        </button>
      </form>
      <Table caption={`Recent platform requests, newest first: ${entries.length}`}>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">At</th>
            <th scope="col">Request</th>
            <th scope="col">App</th>
            <th scope="col">Status</th>
            <th scope="col">Code</th>
            <th scope="col">ms</th>
            <th scope="col">Fault</th>
            <th scope="col">Bodies</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>{new Date(e.at).toLocaleTimeString()}</td>
              <td>
                {e.method} <code>{e.route}</code>
              </td>
              <td>{e.app_id ?? "—"}</td>
              <td>{e.status ?? "no answer"}</td>
              <td>{e.code ?? "—"}</td>
              <td>{e.ms}</td>
              <td>{e.fault ?? "—"}</td>
              <td>
                <details>
                  <summary>Request and response</summary>
                  <pre>{JSON.stringify({ request: e.request, response: e.response }, null, 2)}</pre>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
    </>
  );
}
