import { useEffect, useState } from "preact/hooks";
import { admin, query, send } from "../api.ts";
import { CopyButton, ErrorNote, Field, Note, sessionHref, time, useAction, useLoad } from "../components.tsx";
import { inWords } from "../errors-in-words.ts";
import { appSecrets, lastLogin } from "../memory.ts";
import type { App, Session, Tenant, User } from "../types.ts";

const CODE_LIFETIME_S = 180;
const EXCHANGE = "/open-apis/mina/v2/tokenLoginValidate";
const APP_TOKEN = "/open-apis/auth/v3/app_access_token/internal";
/** A store app's, with the app_ticket pushed to it (here: the admin API's, as a push would bring it). */
const STORE_APP_TOKEN = "/open-apis/auth/v3/app_access_token";
const TENANT_TOKEN = "/open-apis/auth/v3/tenant_access_token/internal";
const USER_INFO = "/open-apis/authen/v1/user_info";

interface Minted {
  code: string;
  /** Browser time the code was answered: the countdown runs from it (the server's clock may differ). */
  receivedAt: number;
}
interface Exchange {
  request: string;
  status: number;
  answer: unknown;
}

const curls = (base: string, app: App, code: string) => {
  const appId = app.app_id;
  const pipe = (pick: string) => `  | node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).${pick}')`;
  const token = (path: string, name: string, pick: string) =>
    `${name}=$(curl -s -X POST ${base}${path} \\\n  -H 'Content-Type: application/json' \\\n  -d '{"app_id":"${appId}","app_secret":"'"$APP_SECRET"'"}' \\\n${pipe(pick)}`;
  const exchange = (bearer: string) =>
    `curl -s -X POST ${base}${EXCHANGE} \\\n  -H "Authorization: Bearer $${bearer}" \\\n  -H 'Content-Type: application/json; charset=utf-8' \\\n  -d '{"code":"${code}"}'`;
  if (app.type === "store") {
    // A store app's token takes the app_ticket pushed to its event URL; the admin API hands one
    // out as a push would (ADMIN_TOKEN: the server's admin token).
    const ticket = `APP_TICKET=$(curl -s -X POST ${base}/admin/v1/apps/${appId}/app-tickets \\\n  -H "Authorization: Bearer $ADMIN_TOKEN" \\\n${pipe("app_ticket")}`;
    const storeToken = `APP_TOKEN=$(curl -s -X POST ${base}${STORE_APP_TOKEN} \\\n  -H 'Content-Type: application/json' \\\n  -d '{"app_id":"${appId}","app_secret":"'"$APP_SECRET"'","app_ticket":"'"$APP_TICKET"'"}' \\\n${pipe("app_access_token")}`;
    return [
      {
        title: "tokenLoginValidate with a store app's app_access_token (from its app_ticket)",
        text: `${ticket}\n${storeToken}\n${exchange("APP_TOKEN")}`,
      },
    ];
  }
  return [
    {
      title: "tokenLoginValidate with an app_access_token",
      text: `${token(APP_TOKEN, "APP_TOKEN", "app_access_token")}\n${exchange("APP_TOKEN")}`,
    },
    {
      title: "tokenLoginValidate with a tenant_access_token",
      text: `${token(TENANT_TOKEN, "TENANT_TOKEN", "tenant_access_token")}\n${exchange("TENANT_TOKEN")}`,
    },
  ];
};

function Countdown({ receivedAt }: { receivedAt: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = Math.max(0, CODE_LIFETIME_S - Math.floor((now - receivedAt) / 1000));
  const text =
    left === 0 ? "expired" : `expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  return (
    <span role="timer" aria-label={`The code ${text}`} class={left < 30 ? "warn" : ""}>
      {text}
    </span>
  );
}

/** A platform answer ({code, msg, …}) in words; code 0 is success. */
function PlatformAnswer({ answer }: { answer: unknown }) {
  const body = answer as { code?: number; msg?: string };
  if (typeof body?.code !== "number") return <p class="error">The server answered something unexpected.</p>;
  if (body.code === 0) return <p class="ok">Success (code 0).</p>;
  return (
    <p class="error" role="alert">
      {inWords(body.code, body.msg ?? "")}
    </p>
  );
}

export function LoginAsPage({ params }: { params: URLSearchParams }) {
  const apps = useLoad(() => admin<{ apps: App[] }>("GET", "/apps"), []);
  const tenants = useLoad(() => admin<{ tenants: Tenant[] }>("GET", "/tenants"), []);
  const tenantName = (key: string) => tenants.data?.tenants.find((t) => t.tenant_key === key)?.name ?? key;
  const [appId, setAppId] = useState(params.get("app") ?? lastLogin.value?.appId ?? "");
  const app = apps.data?.apps.find((a) => a.app_id === appId) ?? apps.data?.apps[0] ?? null;
  const [tenantKey, setTenantKey] = useState(lastLogin.value?.tenantKey ?? "");
  const tenant =
    app?.installations.find((i) => i.tenant_key === tenantKey)?.tenant_key ??
    app?.installations[0]?.tenant_key ??
    "";
  const users = useLoad(
    () =>
      tenant
        ? admin<{ users: User[] }>("GET", `/users${query({ tenant_key: tenant })}`)
        : Promise.resolve({ users: [] }),
    [tenant],
  );
  const [userId, setUserId] = useState(lastLogin.value?.userId ?? "");
  const user = users.data?.users.find((u) => u.user_id === userId) ?? users.data?.users[0] ?? null;
  const [scopes, setScopes] = useState<string[] | null>(null);
  const chosenScopes = scopes ?? app?.scopes ?? [];
  const [secret, setSecret] = useState("");
  const appSecret = secret || (app ? (appSecrets.get(app.app_id) ?? "") : "");
  const [minted, setMinted] = useState<Minted | null>(null);
  const [exchange, setExchange] = useState<Exchange | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [userInfo, setUserInfo] = useState<{ status: number; answer: unknown } | null>(null);
  const [scopeNote, setScopeNote] = useState("");
  const action = useAction();

  const mint = async (event: Event) => {
    event.preventDefault();
    if (!app || !user) return;
    setExchange(null);
    setSession(null);
    setUserInfo(null);
    setScopeNote("");
    // The code grants the scopes ticked, as tt.requestAccess's scopeList does; all of them: the
    // app's every scope, as tt.login. The app itself is changed on the Apps page, never here.
    const granted = chosenScopes.filter((s) => app.scopes.includes(s));
    const every = granted.length === app.scopes.length;
    const answer = await action.run(async () =>
      admin<{ code: string; expires_at: number }>("POST", "/login-codes", {
        app_id: app.app_id,
        tenant_key: tenant,
        user_id: user.user_id,
        ...(every ? {} : { scopes: granted }),
      }),
    );
    setScopeNote(every ? "" : `The code grants only: ${granted.join(", ") || "the identity (no scope)"}.`);
    if (answer) setMinted({ code: answer.code, receivedAt: Date.now() });
  };

  const runExchange = async () => {
    if (!app || !minted || !user) return;
    await action.run(async () => {
      const store = app.type === "store";
      const ticket = store
        ? (await admin<{ app_ticket: string }>("POST", `/apps/${encodeURIComponent(app.app_id)}/app-tickets`))
            .app_ticket
        : null;
      const tokenPath = store ? STORE_APP_TOKEN : APP_TOKEN;
      const token = await send<{ code: number; msg: string; app_access_token?: string }>("POST", tokenPath, {
        body: {
          app_id: app.app_id,
          app_secret: appSecret,
          ...(ticket === null ? {} : { app_ticket: ticket }),
        },
      });
      if (token.body.code !== 0 || !token.body.app_access_token) {
        const hidden = ticket === null ? "" : ',"app_ticket":"(hidden)"';
        setExchange({
          request: `POST ${tokenPath}\nContent-Type: application/json\n\n{"app_id":"${app.app_id}","app_secret":"(hidden)"${hidden}}`,
          status: token.status,
          answer: token.body,
        });
        return;
      }
      const body = { code: minted.code };
      const request = `POST ${EXCHANGE}\nAuthorization: Bearer ${token.body.app_access_token}\nContent-Type: application/json; charset=utf-8\n\n${JSON.stringify(body)}`;
      const answer = await send<{ code: number; data?: { access_token?: string } }>("POST", EXCHANGE, {
        body,
        bearer: token.body.app_access_token,
      });
      setExchange({ request, status: answer.status, answer: answer.body });
      if (answer.body.code !== 0) return;
      const opened = await admin<{ sessions: Session[] }>(
        "GET",
        `/sessions${query({ app_id: app.app_id, tenant_key: tenant, user_id: user.user_id, limit: 1 })}`,
      );
      const found = opened.sessions[0] ?? null;
      setSession(found);
      lastLogin.value = {
        appId: app.app_id,
        tenantKey: tenant,
        userId: user.user_id,
        accessToken: answer.body.data?.access_token ?? null,
        sessionId: found?.session_id ?? null,
      };
    });
  };

  const callUserInfo = async () => {
    const token = lastLogin.value?.accessToken;
    if (!token) return;
    await action.run(async () => {
      const answer = await send("GET", USER_INFO, { bearer: token });
      setUserInfo({ status: answer.status, answer: answer.body });
    });
  };

  const base = location.origin;
  return (
    <>
      <ErrorNote error={apps.error ?? users.error} />
      <form class="panel" onSubmit={mint} aria-labelledby="who-title">
        <h2 id="who-title">Who logs in</h2>
        <div class="row">
          <Field label="App">
            <select
              value={app?.app_id ?? ""}
              onChange={(e) => {
                setAppId(e.currentTarget.value);
                setScopes(null);
              }}
            >
              {apps.data?.apps.map((a) => (
                <option key={a.app_id} value={a.app_id}>
                  {a.name} ({a.app_id})
                </option>
              ))}
            </select>
          </Field>
          <Field label="Tenant">
            <select value={tenant} onChange={(e) => setTenantKey(e.currentTarget.value)}>
              {app?.installations.map((i) => (
                <option key={i.tenant_key} value={i.tenant_key}>
                  {tenantName(i.tenant_key)} ({i.tenant_key})
                </option>
              ))}
            </select>
          </Field>
          <Field label="User">
            <select value={user?.user_id ?? ""} onChange={(e) => setUserId(e.currentTarget.value)}>
              {users.data?.users.map((u) => (
                <option key={u.user_id} value={u.user_id}>
                  {u.name} ({u.user_id}){u.status === "active" ? "" : ", deactivated"}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <fieldset>
          <legend>
            Scopes the code grants (tt.requestAccess's scopeList; the app's own are set on Apps)
          </legend>
          {app?.scopes.length === 0 ? (
            <p>The app holds no scope: the code grants the identity alone.</p>
          ) : null}
          {(app?.scopes ?? []).map((s) => (
            <label key={s} class="check">
              <input
                type="checkbox"
                checked={chosenScopes.includes(s)}
                onChange={(e) =>
                  setScopes(
                    e.currentTarget.checked ? [...chosenScopes, s] : chosenScopes.filter((x) => x !== s),
                  )
                }
              />{" "}
              {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={action.busy || !app || !user}>
          Get a login code
        </button>
      </form>
      <ErrorNote error={action.error} />
      {scopeNote ? <Note>{scopeNote}</Note> : null}
      {minted && app ? (
        <section class="panel" aria-labelledby="code-title">
          <h2 id="code-title">The code</h2>
          <p class="mono-line">
            Login code: <code class="login-code">{minted.code}</code>{" "}
            <CopyButton text={minted.code} label="Copy the code" />{" "}
            <Countdown key={minted.code} receivedAt={minted.receivedAt} />
          </p>
          <p>
            What tt.login hands the mini-program: single use, 3 minutes. Your backend exchanges it (set{" "}
            <code>APP_SECRET</code> first):
          </p>
          {curls(base, app, minted.code).map((c) => (
            <div key={c.title} class="snippet">
              <h3>{c.title}</h3>
              <pre>{c.text}</pre>
              <CopyButton text={c.text} label={`Copy the curl for ${c.title}`} />
            </div>
          ))}
          <h3>Run the exchange here</h3>
          <Field
            label="App secret"
            hint={
              appSecrets.has(app.app_id) && !secret
                ? "Remembered from when this tab was shown it"
                : "Needed for an app_access_token: the server keeps only its digest"
            }
          >
            <input
              type="password"
              autoComplete="off"
              value={secret || appSecret}
              onInput={(e) => setSecret(e.currentTarget.value)}
            />
          </Field>
          <button type="button" onClick={runExchange} disabled={action.busy || appSecret === ""}>
            Run the exchange
          </button>
        </section>
      ) : null}
      {exchange ? (
        <section class="panel" aria-labelledby="exchange-title">
          <h2 id="exchange-title">The exchange</h2>
          <PlatformAnswer answer={exchange.answer} />
          <h3>Request</h3>
          <pre>{exchange.request}</pre>
          <h3>Answer (HTTP {exchange.status})</h3>
          <pre>{JSON.stringify(exchange.answer, null, 2)}</pre>
        </section>
      ) : null}
      {session ? (
        <section class="panel" aria-labelledby="session-title">
          <h2 id="session-title">The session it opened</h2>
          <p>
            Session <code>{session.session_id}</code>, opened {time(session.created_at)}, refresh family until{" "}
            {time(session.expires_at)}. <a href={sessionHref(session)}>See it in Sessions</a>
          </p>
        </section>
      ) : null}
      {lastLogin.value?.accessToken ? (
        <section class="panel" aria-labelledby="user-info-title">
          <h2 id="user-info-title">The user's access token</h2>
          <p>
            From the last successful exchange ({lastLogin.value.userId} in {lastLogin.value.tenantKey}). Ask
            user_info with it, e.g. after revoking its session:
          </p>
          <button type="button" onClick={callUserInfo} disabled={action.busy}>
            Call user_info
          </button>
          {userInfo ? (
            <>
              <PlatformAnswer answer={userInfo.answer} />
              <h3>user_info answer (HTTP {userInfo.status})</h3>
              <pre>{JSON.stringify(userInfo.answer, null, 2)}</pre>
            </>
          ) : null}
        </section>
      ) : null}
    </>
  );
}
