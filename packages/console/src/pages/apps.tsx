import { useState } from "preact/hooks";
import { admin, query } from "../api.ts";
import { CopyButton, ErrorNote, Field, Note, Table, useAction, useLoad } from "../components.tsx";
import { appSecrets } from "../memory.ts";
import { href } from "../routes.ts";
import { type App, KNOWN_SCOPES, type Tenant, type User, type Visibility } from "../types.ts";

const describeVisibility = (v: Visibility) =>
  v === "all" ? "everyone" : `${v.users.length} user(s), ${v.departments.length} department(s)`;

export function AppsPage() {
  const apps = useLoad(() => admin<{ apps: App[] }>("GET", "/apps"), []);
  const tenants = useLoad(() => admin<{ tenants: Tenant[] }>("GET", "/tenants"), []);
  const [selected, setSelected] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ appId: string; secret: string; why: string } | null>(null);
  const current = apps.data?.apps.find((a) => a.app_id === selected) ?? null;
  const showSecret = (appId: string, value: string, why: string) => {
    appSecrets.set(appId, value);
    setSecret({ appId, secret: value, why });
  };
  return (
    <>
      <ErrorNote error={apps.error ?? tenants.error} />
      {secret ? (
        <section class="panel secret" aria-labelledby="secret-title">
          <h2 id="secret-title">
            App secret of <code>{secret.appId}</code>, {secret.why}
          </h2>
          <p>
            Shown once: the server keeps only its digest. This tab remembers it for "Log in as" until it is
            reloaded.
          </p>
          <p class="mono-line">
            <code class="app-secret">{secret.secret}</code>{" "}
            <CopyButton text={secret.secret} label="Copy the app secret" />
          </p>
          <button type="button" class="secondary" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </section>
      ) : null}
      <section aria-labelledby="apps-title">
        <h2 id="apps-title">Apps</h2>
        <Table caption="Apps">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">app_id</th>
              <th scope="col">Type</th>
              <th scope="col">Installed in</th>
              <th scope="col">Manage</th>
            </tr>
          </thead>
          <tbody>
            {apps.data?.apps.map((a) => (
              <tr key={a.app_id} class={a.app_id === selected ? "selected" : ""}>
                <td>{a.name}</td>
                <td>
                  <code>{a.app_id}</code>
                </td>
                <td>{a.type === "self_built" ? "self-built" : "store"}</td>
                <td>
                  {a.installations
                    .map((i) => `${i.tenant_key} (${describeVisibility(i.visibility)})`)
                    .join("; ")}
                </td>
                <td>
                  <button
                    type="button"
                    class="secondary"
                    aria-pressed={a.app_id === selected}
                    onClick={() => setSelected(a.app_id)}
                  >
                    Manage {a.name}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      </section>
      {current ? (
        <ManageApp
          key={current.app_id}
          app={current}
          tenants={tenants.data?.tenants ?? []}
          onChanged={apps.reload}
          onSecret={(value) => showSecret(current.app_id, value, "after rotation")}
        />
      ) : null}
      <CreateApp
        tenants={tenants.data?.tenants ?? []}
        onCreated={(app, value) => {
          apps.reload();
          setSelected(app.app_id);
          showSecret(app.app_id, value, "just created");
        }}
      />
    </>
  );
}

function ScopePicker({ scopes, onChange }: { scopes: string[]; onChange: (scopes: string[]) => void }) {
  const all = [...new Set([...KNOWN_SCOPES, ...scopes])];
  return (
    <fieldset>
      <legend>Scopes</legend>
      {all.map((s) => (
        <label key={s} class="check">
          <input
            type="checkbox"
            checked={scopes.includes(s)}
            onChange={(e) =>
              onChange(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))
            }
          />{" "}
          {s}
        </label>
      ))}
    </fieldset>
  );
}

function CreateApp({
  tenants,
  onCreated,
}: {
  tenants: Tenant[];
  onCreated: (app: App, secret: string) => void;
}) {
  const [name, setName] = useState("");
  const [type, setType] = useState<App["type"]>("self_built");
  const [tenantKey, setTenantKey] = useState("");
  const [scopes, setScopes] = useState<string[]>([KNOWN_SCOPES[0]!]);
  const action = useAction();
  const tenant = tenantKey || tenants[0]?.tenant_key || "";
  const submit = async (event: Event) => {
    event.preventDefault();
    const created = await action.run(() =>
      admin<App & { app_secret: string }>(
        "POST",
        "/apps",
        type === "self_built"
          ? { name, type, scopes, tenant_key: tenant, visibility: "all" }
          : { name, type, scopes, installations: [] },
      ),
    );
    if (created) {
      setName("");
      onCreated(created, created.app_secret);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="new-app-title">
      <h2 id="new-app-title">New app</h2>
      <div class="row">
        <Field label="App name">
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Type">
          <select value={type} onChange={(e) => setType(e.currentTarget.value as App["type"])}>
            <option value="self_built">self-built (one tenant)</option>
            <option value="store">store (installed per tenant)</option>
          </select>
        </Field>
        {type === "self_built" ? (
          <Field label="Tenant" hint="Installed there, visible to everyone until you choose">
            <select value={tenant} onChange={(e) => setTenantKey(e.currentTarget.value)}>
              {tenants.map((t) => (
                <option key={t.tenant_key} value={t.tenant_key}>
                  {t.name} ({t.tenant_key})
                </option>
              ))}
            </select>
          </Field>
        ) : null}
      </div>
      <ScopePicker scopes={scopes} onChange={setScopes} />
      <button type="submit" disabled={action.busy}>
        Create app
      </button>
      <ErrorNote error={action.error} />
    </form>
  );
}

function ManageApp({
  app,
  tenants,
  onChanged,
  onSecret,
}: {
  app: App;
  tenants: Tenant[];
  onChanged: () => void;
  onSecret: (secret: string) => void;
}) {
  const [scopes, setScopes] = useState(app.scopes);
  const [saved, setSaved] = useState("");
  const action = useAction();
  const saveScopes = async () => {
    const done = await action.run(() =>
      admin<App>("PATCH", `/apps/${encodeURIComponent(app.app_id)}`, { scopes }),
    );
    if (done) {
      setSaved("Scopes saved.");
      onChanged();
    }
  };
  const rotate = async () => {
    const done = await action.run(() =>
      admin<{ app_secret: string }>("POST", `/apps/${encodeURIComponent(app.app_id)}/secret`),
    );
    if (done) onSecret(done.app_secret);
  };
  // A self-built app lives in its one tenant; a store app may be installed in any.
  const installable =
    app.type === "self_built"
      ? tenants.filter((t) => app.installations.some((i) => i.tenant_key === t.tenant_key))
      : tenants;
  return (
    <section class="panel" aria-labelledby="manage-title">
      <h2 id="manage-title">
        {app.name} <code>{app.app_id}</code>
      </h2>
      <p>
        <a href={href("login-as", { app: app.app_id })}>Log in as a user of {app.name}</a>
      </p>
      <ScopePicker scopes={scopes} onChange={setScopes} />
      <div class="buttons">
        <button type="button" onClick={saveScopes} disabled={action.busy}>
          Save scopes
        </button>
        <button type="button" class="danger" onClick={rotate} disabled={action.busy}>
          Rotate the secret
        </button>
      </div>
      <ErrorNote error={action.error} />
      {saved ? <Note>{saved}</Note> : null}
      <h3>Installations and visibility</h3>
      {installable.map((t) => (
        <VisibilityEditor
          key={t.tenant_key}
          app={app}
          tenant={t}
          current={app.installations.find((i) => i.tenant_key === t.tenant_key)?.visibility ?? null}
          onSaved={onChanged}
        />
      ))}
    </section>
  );
}

/** Installs the app in a tenant or sets who there may log in: everyone, or chosen users and departments. */
function VisibilityEditor({
  app,
  tenant,
  current,
  onSaved,
}: {
  app: App;
  tenant: Tenant;
  current: Visibility | null;
  onSaved: () => void;
}) {
  const users = useLoad(
    () => admin<{ users: User[] }>("GET", `/users${query({ tenant_key: tenant.tenant_key })}`),
    [tenant.tenant_key],
  );
  const [mode, setMode] = useState<"all" | "chosen">(
    current === null || current === "all" ? "all" : "chosen",
  );
  const [chosenUsers, setChosenUsers] = useState<string[]>(current && current !== "all" ? current.users : []);
  const [chosenDepartments, setChosenDepartments] = useState<string[]>(
    current && current !== "all" ? current.departments : [],
  );
  const [saved, setSaved] = useState("");
  const action = useAction();
  const departments = [...new Set((users.data?.users ?? []).flatMap((u) => u.department_ids))];
  const toggle = (list: string[], set: (l: string[]) => void, id: string, on: boolean) =>
    set(on ? [...list, id] : list.filter((x) => x !== id));
  const save = async (event: Event) => {
    event.preventDefault();
    const visibility = mode === "all" ? "all" : { users: chosenUsers, departments: chosenDepartments };
    const done = await action.run(() =>
      admin(
        "PUT",
        `/apps/${encodeURIComponent(app.app_id)}/installations/${encodeURIComponent(tenant.tenant_key)}`,
        {
          visibility,
        },
      ),
    );
    if (done) {
      setSaved(`Saved: in ${tenant.name}, ${describeVisibility(visibility)} may log in.`);
      onSaved();
    }
  };
  const group = `visibility-${tenant.tenant_key}`;
  return (
    <form class="subpanel" onSubmit={save} aria-label={`Visibility in ${tenant.name}`}>
      <h4>
        {tenant.name} <code>{tenant.tenant_key}</code>: {current === null ? "not installed" : "installed"}
      </h4>
      <fieldset>
        <legend>Who in {tenant.name} may log in</legend>
        <label class="check">
          <input type="radio" name={group} checked={mode === "all"} onChange={() => setMode("all")} />{" "}
          Everyone
        </label>
        <label class="check">
          <input type="radio" name={group} checked={mode === "chosen"} onChange={() => setMode("chosen")} />{" "}
          Chosen users and departments
        </label>
      </fieldset>
      {mode === "chosen" ? (
        <div class="picker">
          <fieldset>
            <legend>Users</legend>
            {users.data?.users.map((u) => (
              <label key={u.user_id} class="check">
                <input
                  type="checkbox"
                  checked={chosenUsers.includes(u.user_id)}
                  onChange={(e) => toggle(chosenUsers, setChosenUsers, u.user_id, e.currentTarget.checked)}
                />{" "}
                {u.name} ({u.user_id})
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Departments</legend>
            {departments.length === 0 ? <p>None in this tenant.</p> : null}
            {departments.map((d) => (
              <label key={d} class="check">
                <input
                  type="checkbox"
                  checked={chosenDepartments.includes(d)}
                  onChange={(e) =>
                    toggle(chosenDepartments, setChosenDepartments, d, e.currentTarget.checked)
                  }
                />{" "}
                {d}
              </label>
            ))}
          </fieldset>
        </div>
      ) : null}
      <button type="submit" disabled={action.busy}>
        {current === null ? `Install in ${tenant.name}` : `Save visibility in ${tenant.name}`}
      </button>
      <ErrorNote error={action.error ?? users.error} />
      {saved ? <Note>{saved}</Note> : null}
    </form>
  );
}
