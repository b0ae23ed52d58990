import { useState } from "preact/hooks";
import { admin, query } from "../api.ts";
import { ErrorNote, Field, Note, SessionLink, Table, time, useAction, useLoad } from "../components.tsx";
import type { App, Session, SessionDetail, Tenant } from "../types.ts";

type State = "live" | "ended" | "all";

const isLive = (s: Session) => s.revoked_at === null && s.expires_at * 1000 > Date.now();

export function SessionsPage({ params }: { params: URLSearchParams }) {
  const apps = useLoad(() => admin<{ apps: App[] }>("GET", "/apps"), []);
  const tenants = useLoad(() => admin<{ tenants: Tenant[] }>("GET", "/tenants"), []);
  const [appId, setAppId] = useState("");
  const [tenantKey, setTenantKey] = useState("");
  const [userId, setUserId] = useState("");
  const [state, setState] = useState<State>("all");
  const [applied, setApplied] = useState({ appId: "", tenantKey: "", userId: "", state: "all" as State });
  const sessions = useLoad(
    () =>
      admin<{ sessions: Session[] }>(
        "GET",
        `/sessions${query({
          app_id: applied.appId,
          tenant_key: applied.tenantKey,
          user_id: applied.userId,
          active: applied.state === "live" ? "true" : undefined,
          limit: 200,
        })}`,
      ),
    [applied],
  );
  const selected = params.get("session");
  const owner = query({
    app_id: params.get("app") ?? undefined,
    tenant_key: params.get("tenant") ?? undefined,
    user_id: params.get("user") ?? undefined,
  });
  const shown = (sessions.data?.sessions ?? []).filter((s) => applied.state !== "ended" || !isLive(s));
  const filter = (event: Event) => {
    event.preventDefault();
    setApplied({ appId, tenantKey, userId: userId.trim(), state });
  };
  return (
    <>
      <ErrorNote error={apps.error ?? tenants.error ?? sessions.error} />
      {selected ? (
        <SessionDetails key={selected} sessionId={selected} owner={owner} onChanged={sessions.reload} />
      ) : null}
      <form class="panel" onSubmit={filter} aria-label="Filter sessions">
        <div class="row">
          <Field label="App">
            <select value={appId} onChange={(e) => setAppId(e.currentTarget.value)}>
              <option value="">any app</option>
              {apps.data?.apps.map((a) => (
                <option key={a.app_id} value={a.app_id}>
                  {a.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Tenant">
            <select value={tenantKey} onChange={(e) => setTenantKey(e.currentTarget.value)}>
              <option value="">any tenant</option>
              {tenants.data?.tenants.map((t) => (
                <option key={t.tenant_key} value={t.tenant_key}>
                  {t.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="user_id">
            <input value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />
          </Field>
          <Field label="State">
            <select value={state} onChange={(e) => setState(e.currentTarget.value as State)}>
              <option value="all">live and ended</option>
              <option value="live">live</option>
              <option value="ended">ended (revoked or expired)</option>
            </select>
          </Field>
        </div>
        <button type="submit">Show sessions</button>
      </form>
      <Table caption={`Sessions, newest first: ${shown.length}`}>
        <thead>
          <tr>
            <th scope="col">Opened</th>
            <th scope="col">User</th>
            <th scope="col">Tenant</th>
            <th scope="col">App</th>
            <th scope="col">State</th>
            <th scope="col">Session</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((s) => (
            <tr key={s.session_id} class={s.session_id === selected ? "selected" : ""}>
              <td>{time(s.created_at)}</td>
              <td>{s.user_id}</td>
              <td>{s.tenant_key}</td>
              <td>{s.app_id}</td>
              <td>
                {isLive(s) ? "live" : s.revoked_at !== null ? `revoked (${s.revoke_reason})` : "expired"}
              </td>
              <td>
                <SessionLink of={s} />
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
    </>
  );
}

const EVENT_WORDS: Record<string, string> = {
  "login_code.consumed": "Logged in: the code was exchanged and the session opened",
  "refresh_token.rotated": "Refresh token rotated",
  "refresh_token.reused": "A rotated refresh token was presented again: the family is revoked",
  "login_code.reused": "The login code was presented again",
  "grant.revoked": "Session revoked",
};

function SessionDetails({
  sessionId,
  owner,
  onChanged,
}: {
  sessionId: string;
  /** ?app_id=&tenant_key=&user_id= when known: the server then finds the session however old. */
  owner: string;
  onChanged: () => void;
}) {
  const detail = useLoad(
    () => admin<SessionDetail>("GET", `/sessions/${encodeURIComponent(sessionId)}${owner}`),
    [sessionId, owner],
  );
  const action = useAction();
  const [revoked, setRevoked] = useState(false);
  const revoke = async () => {
    const done = await action.run(() => admin("POST", `/sessions/${encodeURIComponent(sessionId)}/revoke`));
    if (done) {
      setRevoked(true);
      detail.reload();
      onChanged();
    }
  };
  const s = detail.data;
  return (
    <section class="panel" aria-labelledby="detail-title">
      <h2 id="detail-title">
        Session <code>{sessionId}</code>
      </h2>
      <ErrorNote error={detail.error ?? action.error} />
      {s ? (
        <>
          <dl class="facts">
            <dt>User</dt>
            <dd>
              {s.user_id} in {s.tenant_key}
            </dd>
            <dt>App</dt>
            <dd>{s.app_id}</dd>
            <dt>Opened</dt>
            <dd>{time(s.created_at)}</dd>
            <dt>Refresh family ends</dt>
            <dd>{time(s.expires_at)}</dd>
            <dt>State</dt>
            <dd>
              {s.live
                ? "live"
                : s.revoked_at !== null
                  ? `revoked ${time(s.revoked_at)} (${s.revoke_reason})`
                  : "expired"}
            </dd>
            <dt>Refresh-token family</dt>
            <dd>
              {s.family.rotations} rotation(s){s.family.reused ? ", reuse detected" : ""}
              {s.family.revoked ? ", revoked" : ""}
            </dd>
          </dl>
          <h3>Family history</h3>
          <ol class="timeline">
            {s.family.events.map((e) => (
              <li key={e.id}>
                <time>{time(e.at)}</time> {EVENT_WORDS[e.type] ?? e.type} <code>{e.type}</code>
              </li>
            ))}
          </ol>
          {s.family.complete ? null : (
            <p class="note">Older events were not read: the history may miss its start.</p>
          )}
          {s.live ? (
            <button type="button" class="danger" onClick={revoke} disabled={action.busy}>
              Revoke this session
            </button>
          ) : null}
          {revoked ? <Note>Revoked: its access and refresh tokens no longer work.</Note> : null}
        </>
      ) : null}
    </section>
  );
}
