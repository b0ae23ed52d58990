import { useEffect, useRef, useState } from "preact/hooks";
import { admin, query } from "../api.ts";
import { ErrorNote, Field, SessionLink, Table, time } from "../components.tsx";
import { type AuditEvent, EVENT_TYPES } from "../types.ts";

const POLL_MS = 2000;
const KEEP = 500;

interface Filters {
  type: string;
  app_id: string;
  tenant_key: string;
  user_id: string;
  session_id: string;
}
const NO_FILTERS: Filters = { type: "", app_id: "", tenant_key: "", user_id: "", session_id: "" };

/** A live tail: polls the server's cursor (GET /admin/v1/audit-events/tail?after=) every 2 s. */
export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [follow, setFollow] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [truncated, setTruncated] = useState(false);
  const cursor = useRef<number | undefined>(undefined);

  useEffect(() => {
    let stopped = false;
    cursor.current = undefined;
    setEvents([]);
    setTruncated(false);
    const poll = async () => {
      try {
        const answer = await admin<{ events: AuditEvent[]; cursor: number; truncated: boolean }>(
          "GET",
          `/audit-events/tail${query({ ...filters, after: cursor.current, limit: 200 })}`,
        );
        if (stopped) return;
        cursor.current = answer.cursor;
        if (answer.truncated) setTruncated(true);
        if (answer.events.length > 0) setEvents((old) => [...answer.events.reverse(), ...old].slice(0, KEEP));
        setError(null);
      } catch (failure) {
        if (!stopped) setError(failure);
      }
    };
    poll();
    const timer = follow ? setInterval(poll, POLL_MS) : undefined;
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [filters, follow]);

  const set = (key: keyof Filters) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setDraft({ ...draft, [key]: e.currentTarget.value });
  return (
    <>
      <form
        class="panel"
        aria-label="Filter audit events"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        <div class="row">
          <Field label="Event type">
            <select value={draft.type} onChange={set("type")}>
              <option value="">any type</option>
              {EVENT_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </Field>
          <Field label="app_id">
            <input value={draft.app_id} onInput={set("app_id")} />
          </Field>
          <Field label="tenant_key">
            <input value={draft.tenant_key} onInput={set("tenant_key")} />
          </Field>
          <Field label="user_id">
            <input value={draft.user_id} onInput={set("user_id")} />
          </Field>
          <Field label="session_id">
            <input value={draft.session_id} onInput={set("session_id")} />
          </Field>
        </div>
        <button type="submit">Apply filters</button>
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />{" "}
          Follow live (every 2 s)
        </label>
      </form>
      <ErrorNote error={error} />
      {truncated ? (
        <p class="note">More events arrived than one answer holds: some older ones are not shown.</p>
      ) : null}
      <Table caption={`Audit events, newest first: ${events.length}${follow ? ", following" : ""}`}>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Type</th>
            <th scope="col">App</th>
            <th scope="col">Tenant</th>
            <th scope="col">User</th>
            <th scope="col">Session</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{e.id}</td>
              <td>{time(e.at)}</td>
              <td>
                <code>{e.type}</code>
              </td>
              <td>{e.app_id ?? "—"}</td>
              <td>{e.tenant_key ?? "—"}</td>
              <td>{e.user_id ?? "—"}</td>
              <td>
                <SessionLink of={e} />
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
    </>
  );
}
