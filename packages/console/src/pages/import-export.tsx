import { useState } from "preact/hooks";
import { ApiError, admin } from "../api.ts";
import { CopyButton, ErrorNote, Field, Note } from "../components.tsx";
import { fieldPath } from "../seed-errors.ts";

interface Imported {
  imported: { tenants: number; users: number; apps: number };
  app_secrets: Array<{ app_id: string; app_secret: string }>;
}

const at = (value: unknown, path: Array<string | number>): unknown =>
  path.reduce<unknown>(
    (v, key) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined),
    value,
  );

/** The entry the error names (e.g. users[1]), field by field, with the error beside its field. */
function FieldReport({
  seed,
  path,
  message,
}: {
  seed: unknown;
  path: Array<string | number>;
  message: string;
}) {
  // The entry is the path up to its last array index; the field is what follows.
  const lastIndex = path.findLastIndex((p) => typeof p === "number");
  const entryPath = lastIndex >= 0 ? path.slice(0, lastIndex + 1) : path.slice(0, 1);
  const field = String(path[entryPath.length] ?? "");
  const entry = at(seed, entryPath);
  const fields = entry !== null && typeof entry === "object" ? Object.entries(entry) : [];
  if (field && !fields.some(([k]) => k === field)) fields.push([field, undefined]);
  const name = entryPath
    .map((p) => (typeof p === "number" ? `[${p}]` : p))
    .join(".")
    .replace(/\.\[/g, "[");
  return (
    <section class="panel" aria-labelledby="report-title">
      <h2 id="report-title">In the file: {name}</h2>
      <dl class="facts report">
        {fields.map(([key, value]) => (
          <div key={key} class={key === field ? "bad" : ""}>
            <dt>{key}</dt>
            <dd>
              <code>{value === undefined ? "(missing)" : JSON.stringify(value)}</code>
              {key === field ? (
                <strong class="error" role="alert">
                  {" "}
                  ← {message}
                </strong>
              ) : null}
            </dd>
          </div>
        ))}
      </dl>
      {field ? null : <p class="error">{message}</p>}
    </section>
  );
}

export function ImportExportPage() {
  const [exportError, setExportError] = useState<unknown>(null);
  const [exported, setExported] = useState("");
  const [seed, setSeed] = useState<unknown>(undefined);
  const [fileName, setFileName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Imported | null>(null);

  const download = async () => {
    setExportError(null);
    try {
      const file = await admin<unknown>("GET", "/export");
      const url = URL.createObjectURL(
        new Blob([`${JSON.stringify(file, null, 2)}\n`], { type: "application/json" }),
      );
      const link = document.createElement("a");
      link.href = url;
      link.download = "mina-auth-seed.json";
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setExported("Downloaded mina-auth-seed.json (secrets as digests: tokens are never exported).");
    } catch (failure) {
      setExportError(failure);
    }
  };

  const upload = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setResult(null);
    try {
      setResult(await admin<Imported>("POST", "/import", seed));
    } catch (failure) {
      setError(failure);
    }
  };

  const choose = async (input: HTMLInputElement) => {
    setError(null);
    setResult(null);
    const file = input.files?.[0];
    if (!file) return;
    setFileName(file.name);
    try {
      setSeed(JSON.parse(await file.text()));
    } catch {
      setSeed(undefined);
      setError(new Error(`${file.name} is not valid JSON.`));
    }
  };

  const path = error instanceof ApiError && error.code === 9400 ? fieldPath(error.serverMsg) : null;
  return (
    <>
      <section class="panel" aria-labelledby="export-title">
        <h2 id="export-title">Export</h2>
        <p>The catalogue (tenants, users, apps, visibility) as a seed file.</p>
        <button type="button" onClick={download}>
          Download the seed file
        </button>
        <ErrorNote error={exportError} />
        {exported ? <Note>{exported}</Note> : null}
      </section>
      <form class="panel" onSubmit={upload} aria-labelledby="import-title">
        <h2 id="import-title">Import</h2>
        <p>Upserts every tenant, user and app of a seed file; IDs left out are generated.</p>
        <Field label="Seed file (JSON)">
          <input type="file" accept="application/json,.json" onChange={(e) => choose(e.currentTarget)} />
        </Field>
        <button type="submit" disabled={seed === undefined}>
          Import {fileName}
        </button>
        <ErrorNote error={error} />
      </form>
      {path && seed !== undefined && error instanceof ApiError ? (
        <FieldReport seed={seed} path={path} message={error.serverMsg.replace(/^invalid request: /, "")} />
      ) : null}
      {result ? (
        <section class="panel" aria-labelledby="imported-title">
          <h2 id="imported-title">Imported</h2>
          <p role="status">
            {result.imported.tenants} tenant(s), {result.imported.users} user(s), {result.imported.apps}{" "}
            app(s).
          </p>
          {result.app_secrets.map((s) => (
            <p key={s.app_id} class="mono-line">
              App secret of <code>{s.app_id}</code> (shown once): <code>{s.app_secret}</code>{" "}
              <CopyButton text={s.app_secret} label={`Copy the app secret of ${s.app_id}`} />
            </p>
          ))}
        </section>
      ) : null}
    </>
  );
}
