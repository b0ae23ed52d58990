import { useState } from "preact/hooks";
import { admin, send } from "../api.ts";
import { ErrorNote, Field, Note, Table, useAction, useLoad } from "../components.tsx";

/** A rule as GET /admin/v1/faults lists it (the server's test-tools/fault-rules.ts). */
interface FaultRule {
  id: string;
  match: { path: string; app_id?: string; tenant_key?: string; user_id?: string };
  effect: {
    type: string;
    code?: number;
    msg?: string;
    http_status?: number;
    ms?: number;
    min_ms?: number;
    max_ms?: number;
  };
  times_left: number | null;
  probability: number | null;
  expires_at: number | null;
  applied: number;
}

type EffectType = "answer" | "latency" | "drop" | "timeout" | "commit_then_drop";

const EFFECTS: Array<{ type: EffectType; words: string }> = [
  { type: "answer", words: "answer a code instead" },
  { type: "latency", words: "answer later" },
  { type: "drop", words: "close the connection" },
  { type: "timeout", words: "never answer" },
  { type: "commit_then_drop", words: "do the work, then lose the reply" },
];

const effectWords = (effect: FaultRule["effect"]): string => {
  if (effect.type === "answer") return `answer ${effect.code} (HTTP ${effect.http_status})`;
  if (effect.type === "latency")
    return effect.ms !== undefined ? `${effect.ms} ms later` : `${effect.min_ms}–${effect.max_ms} ms later`;
  return EFFECTS.find((e) => e.type === effect.type)?.words ?? effect.type;
};

const matchWords = (match: FaultRule["match"]): string =>
  [
    match.app_id && `app ${match.app_id}`,
    match.tenant_key && `tenant ${match.tenant_key}`,
    match.user_id && `user ${match.user_id}`,
  ]
    .filter(Boolean)
    .join(", ") || "every caller";

/** The platform paths a rule can match: the server's own list, from /openapi.json. */
function usePlatformPaths() {
  return useLoad(async () => {
    const answer = await send<{ paths?: Record<string, unknown> }>("GET", "/openapi.json");
    return Object.keys(answer.body.paths ?? {}).filter((path) => path.startsWith("/open-apis/"));
  }, []);
}

/** Fault rules (docs/testing-your-backend.md): list, add, delete, clear. Stored: every instance obeys them. */
export function FaultRulesPanel() {
  const rules = useLoad(() => admin<{ faults: FaultRule[] }>("GET", "/faults"), []);
  const paths = usePlatformPaths();
  const action = useAction();
  const [note, setNote] = useState("");
  const [path, setPath] = useState("");
  const [appId, setAppId] = useState("");
  const [userId, setUserId] = useState("");
  const [type, setType] = useState<EffectType>("answer");
  const [code, setCode] = useState("1500");
  const [ms, setMs] = useState("500");
  const [times, setTimes] = useState("1");

  const add = async (event: Event) => {
    event.preventDefault();
    const effect =
      type === "answer"
        ? { type, code: Number(code) }
        : type === "latency"
          ? { type, ms: Number(ms) }
          : { type };
    const rule = {
      match: {
        path: path || paths.data?.[0],
        ...(appId.trim() ? { app_id: appId.trim() } : {}),
        ...(userId.trim() ? { user_id: userId.trim() } : {}),
      },
      effect,
      ...(times.trim() ? { times: Number(times) } : {}),
    };
    const added = await action.run(() => admin<FaultRule>("POST", "/faults", rule));
    if (added) {
      setNote(`Added rule ${added.id}.`);
      rules.reload();
    }
  };
  const remove = async (id: string) => {
    if (await action.run(() => admin("DELETE", `/faults/${encodeURIComponent(id)}`))) {
      setNote(`Deleted rule ${id}.`);
      rules.reload();
    }
  };
  const clear = async () => {
    const done = await action.run(() => admin<{ cleared: number }>("DELETE", "/faults"));
    if (done) {
      setNote(`Cleared ${done.cleared} rule(s).`);
      rules.reload();
    }
  };

  const shown = rules.data?.faults ?? [];
  return (
    <>
      <ErrorNote error={rules.error ?? paths.error ?? action.error} />
      {note ? <Note>{note}</Note> : null}
      <form class="panel" onSubmit={add} aria-label="Add a fault rule">
        <div class="row">
          <Field label="Endpoint">
            <select value={path} onChange={(e) => setPath(e.currentTarget.value)}>
              {(paths.data ?? []).map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Effect">
            <select value={type} onChange={(e) => setType(e.currentTarget.value as EffectType)}>
              {EFFECTS.map((e) => (
                <option key={e.type} value={e.type}>
                  {e.words}
                </option>
              ))}
            </select>
          </Field>
          {type === "answer" ? (
            <Field label="Code" hint="msg and HTTP status: the endpoint's for that code">
              <input inputMode="numeric" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
            </Field>
          ) : null}
          {type === "latency" ? (
            <Field label="Delay (ms)">
              <input inputMode="numeric" value={ms} onInput={(e) => setMs(e.currentTarget.value)} />
            </Field>
          ) : null}
          <Field label="Times" hint="empty: until deleted">
            <input inputMode="numeric" value={times} onInput={(e) => setTimes(e.currentTarget.value)} />
          </Field>
          <Field label="Only app_id" hint="optional">
            <input value={appId} onInput={(e) => setAppId(e.currentTarget.value)} />
          </Field>
          <Field label="Only user_id" hint="optional: refresh and user_info know the user">
            <input value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />
          </Field>
        </div>
        <button type="submit" disabled={action.busy}>
          Add rule
        </button>
      </form>
      <Table caption={`Rules in force, first added applies first: ${shown.length}`}>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">Matches</th>
            <th scope="col">Effect</th>
            <th scope="col">Times left</th>
            <th scope="col">Applied</th>
            <th scope="col">Rule</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((rule) => (
            <tr key={rule.id}>
              <td>
                <code>{rule.match.path}</code>
              </td>
              <td>{matchWords(rule.match)}</td>
              <td>{effectWords(rule.effect)}</td>
              <td>
                {rule.times_left ?? (rule.probability !== null ? `p = ${rule.probability}` : "no limit")}
              </td>
              <td>{rule.applied}</td>
              <td>
                <button
                  type="button"
                  class="secondary"
                  onClick={() => remove(rule.id)}
                  aria-label={`Delete rule ${rule.id}`}
                  disabled={action.busy}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
      <div class="row">
        <button type="button" class="secondary" onClick={rules.reload}>
          Refresh
        </button>
        <button type="button" class="danger" onClick={clear} disabled={action.busy || shown.length === 0}>
          Delete every rule
        </button>
      </div>
    </>
  );
}
