import { useState } from "preact/hooks";
import { admin, query } from "../api.ts";
import { ErrorNote, Field, Note, Table, useAction, useLoad } from "../components.tsx";
import type { Tenant, User } from "../types.ts";

const splitList = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

export function TenantsPage() {
  const tenants = useLoad(() => admin<{ tenants: Tenant[] }>("GET", "/tenants"), []);
  const [selected, setSelected] = useState<string | null>(null);
  const current = selected ?? tenants.data?.tenants[0]?.tenant_key ?? null;
  return (
    <>
      <ErrorNote error={tenants.error} />
      <section aria-labelledby="tenants-title">
        <h2 id="tenants-title">Tenants</h2>
        <Table caption="Tenants">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">tenant_key</th>
              <th scope="col">Users</th>
            </tr>
          </thead>
          <tbody>
            {tenants.data?.tenants.map((t) => (
              <tr key={t.tenant_key} class={t.tenant_key === current ? "selected" : ""}>
                <td>{t.name}</td>
                <td>
                  <code>{t.tenant_key}</code>
                </td>
                <td>
                  <button
                    type="button"
                    class="secondary"
                    aria-pressed={t.tenant_key === current}
                    onClick={() => setSelected(t.tenant_key)}
                  >
                    Show users of {t.name}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
        <CreateTenant
          onCreated={(key) => {
            tenants.reload();
            setSelected(key);
          }}
        />
      </section>
      {current ? (
        <Users
          key={current}
          tenant={tenants.data?.tenants.find((t) => t.tenant_key === current) ?? null}
          tenantKey={current}
        />
      ) : null}
    </>
  );
}

function CreateTenant({ onCreated }: { onCreated: (tenantKey: string) => void }) {
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [created, setCreated] = useState<Tenant | null>(null);
  const action = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const tenant = await action.run(() =>
      admin<Tenant>("POST", "/tenants", { name, ...(key.trim() ? { tenant_key: key.trim() } : {}) }),
    );
    if (tenant) {
      setCreated(tenant);
      setName("");
      setKey("");
      onCreated(tenant.tenant_key);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="new-tenant-title">
      <h3 id="new-tenant-title">New tenant</h3>
      <div class="row">
        <Field label="Tenant name">
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="tenant_key (optional)" hint="Generated when left empty">
          <input value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </Field>
      </div>
      <button type="submit" disabled={action.busy}>
        Create tenant
      </button>
      <ErrorNote error={action.error} />
      {created ? (
        <Note>
          Created tenant {created.name} (<code>{created.tenant_key}</code>).
        </Note>
      ) : null}
    </form>
  );
}

function Users({ tenantKey, tenant }: { tenantKey: string; tenant: Tenant | null }) {
  const users = useLoad(
    () => admin<{ users: User[] }>("GET", `/users${query({ tenant_key: tenantKey })}`),
    [tenantKey],
  );
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<User | null>(null);
  const action = useAction();
  const needle = search.trim().toLowerCase();
  const shown = (users.data?.users ?? []).filter(
    (u) =>
      needle === "" ||
      [u.name, u.user_id, u.email ?? "", ...u.department_ids].some((v) => v.toLowerCase().includes(needle)),
  );
  const departments = new Map<string, number>();
  for (const u of users.data?.users ?? [])
    for (const d of u.department_ids) departments.set(d, (departments.get(d) ?? 0) + 1);

  const setStatus = async (u: User, status: User["status"]) => {
    const done = await action.run(() =>
      admin<User>("PATCH", `/users/${encodeURIComponent(u.tenant_key)}/${encodeURIComponent(u.user_id)}`, {
        status,
      }),
    );
    if (done) users.reload();
  };

  const label = tenant?.name ?? tenantKey;
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users of {label}</h2>
      <ErrorNote error={users.error ?? action.error} />
      <Field label="Search users" hint="Name, user_id, email or department">
        <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
      </Field>
      <Table caption={`Users of ${label}: ${shown.length} shown`}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">user_id</th>
            <th scope="col">Email</th>
            <th scope="col">Departments</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((u) => (
            <tr key={u.user_id}>
              <td>{u.name}</td>
              <td>
                <code>{u.user_id}</code>
              </td>
              <td>{u.email ?? "—"}</td>
              <td>{u.department_ids.join(", ") || "—"}</td>
              <td>{u.status}</td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => setEditing(u)}>
                  Edit {u.name}
                </button>
                {u.status === "active" ? (
                  <button type="button" class="danger" onClick={() => setStatus(u, "deactivated")}>
                    Deactivate {u.name}
                  </button>
                ) : (
                  <button type="button" class="secondary" onClick={() => setStatus(u, "active")}>
                    Reactivate {u.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
      <h3>Departments</h3>
      {departments.size === 0 ? (
        <p>No departments in this tenant yet: give users department IDs.</p>
      ) : (
        <ul class="chips" aria-label="Departments and their members">
          {[...departments].map(([d, n]) => (
            <li key={d}>
              {d}: {n} user{n === 1 ? "" : "s"}
            </li>
          ))}
        </ul>
      )}
      <UserForm
        key={editing?.user_id ?? "new"}
        tenantKey={tenantKey}
        editing={editing}
        onDone={() => {
          setEditing(null);
          users.reload();
        }}
      />
    </section>
  );
}

/** Creates a user, or edits the one given. */
function UserForm({
  tenantKey,
  editing,
  onDone,
}: {
  tenantKey: string;
  editing: User | null;
  onDone: () => void;
}) {
  const [name, setName] = useState(editing?.name ?? "");
  const [userId, setUserId] = useState("");
  const [email, setEmail] = useState(editing?.email ?? "");
  const [mobile, setMobile] = useState(editing?.mobile ?? "");
  const [departments, setDepartments] = useState(editing?.department_ids.join(", ") ?? "");
  const [saved, setSaved] = useState<User | null>(null);
  const action = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const fields = {
      name,
      department_ids: splitList(departments),
      ...(email.trim() ? { email: email.trim() } : {}),
      ...(mobile.trim() ? { mobile: mobile.trim() } : {}),
    };
    const user = await action.run(() =>
      editing
        ? admin<User>(
            "PATCH",
            `/users/${encodeURIComponent(tenantKey)}/${encodeURIComponent(editing.user_id)}`,
            fields,
          )
        : admin<User>("POST", "/users", {
            ...fields,
            tenant_key: tenantKey,
            ...(userId.trim() ? { user_id: userId.trim() } : {}),
          }),
    );
    if (user) {
      setSaved(user);
      if (!editing) {
        setName("");
        setUserId("");
        setEmail("");
        setMobile("");
        setDepartments("");
      }
      onDone();
    }
  };
  const title = editing ? `Edit ${editing.name}` : "New user";
  return (
    <form class="panel" onSubmit={submit} aria-label={title}>
      <h3>{title}</h3>
      <div class="row">
        <Field label="User name">
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        {editing ? null : (
          <Field label="user_id (optional)" hint="Generated when left empty">
            <input value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />
          </Field>
        )}
        <Field label="Email (optional)">
          <input type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label="Mobile (optional)">
          <input value={mobile} onInput={(e) => setMobile(e.currentTarget.value)} />
        </Field>
        <Field label="Departments" hint="Department IDs, separated by commas">
          <input value={departments} onInput={(e) => setDepartments(e.currentTarget.value)} />
        </Field>
      </div>
      <button type="submit" disabled={action.busy}>
        {editing ? "Save user" : "Create user"}
      </button>
      {editing ? (
        <button type="button" class="secondary" onClick={onDone}>
          Cancel
        </button>
      ) : null}
      <ErrorNote error={action.error} />
      {saved ? (
        <Note>
          Saved {saved.name} (<code>{saved.user_id}</code>).
        </Note>
      ) : null}
    </form>
  );
}
