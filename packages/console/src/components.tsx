import { type ComponentChildren, cloneElement, type VNode } from "preact";
import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./api.ts";
import { href } from "./routes.ts";

/** Copies `text`; says so in words for screen readers too. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<"" | "copied" | "failed">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone("copied");
    } catch {
      setDone("failed");
    }
  };
  return (
    <span class="copy">
      <button type="button" class="secondary" onClick={copy} aria-label={label}>
        Copy
      </button>
      <span role="status" class="copy-status">
        {done === "copied" ? "Copied" : done === "failed" ? "Copy failed: select the text" : ""}
      </span>
    </span>
  );
}

/** A server's failure, in words. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Note({ children }: { children: ComponentChildren }) {
  return (
    <p class="note" role="status">
      {children}
    </p>
  );
}

/**
 * A labelled field: the label names its one control (for/id) and the hint describes it
 * (aria-describedby), so a screen reader reads both and the name stays the label alone.
 */
export function Field({ label, hint, children }: { label: string; hint?: string; children: VNode }) {
  const id = useId();
  const control = cloneElement(children, { id, ...(hint ? { "aria-describedby": `${id}-hint` } : {}) });
  return (
    <div class="field">
      <label class="label" for={id}>
        {label}
      </label>
      {control}
      {hint ? (
        <span class="hint" id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
    </div>
  );
}

/** Loads with `load` whenever `deps` change; `reload` loads again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => {
        if (!current) return;
        setData(value);
        setError(null);
      },
      (failure: unknown) => {
        if (current) setError(failure);
      },
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

/** Runs an action, keeping its failure for an ErrorNote and a busy flag for its button. */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (failure) {
      setError(failure);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run, setError };
}

export const time = (unixSeconds: number | null): string =>
  unixSeconds === null ? "—" : new Date(unixSeconds * 1000).toLocaleString();

/**
 * A table. On a narrow screen each row becomes a card of "header: value" lines (styles.css); the
 * headers are copied onto the cells as data-label after each render, so the pages stay plain.
 */
export function Table({ caption, children }: { caption: string; children: ComponentChildren }) {
  const table = useRef<HTMLTableElement>(null);
  useLayoutEffect(() => {
    const headers = [...(table.current?.querySelectorAll("thead th") ?? [])].map(
      (th) => th.textContent ?? "",
    );
    for (const row of table.current?.querySelectorAll("tbody tr") ?? [])
      row.querySelectorAll("td").forEach((td, i) => {
        td.dataset.label = headers[i] ?? "";
      });
  });
  return (
    <div class="table-wrap">
      <table ref={table}>
        <caption>{caption}</caption>
        {children}
      </table>
    </div>
  );
}

/** Where a session's page is: its owner rides along, so the server finds it however old it is. */
export interface SessionRef {
  session_id: string | null;
  app_id: string | null;
  tenant_key: string | null;
  user_id: string | null;
}
export const sessionHref = (s: SessionRef): string =>
  href("sessions", {
    session: s.session_id ?? "",
    ...(s.app_id ? { app: s.app_id } : {}),
    ...(s.tenant_key ? { tenant: s.tenant_key } : {}),
    ...(s.user_id ? { user: s.user_id } : {}),
  });

/** A short link to a session's page (ids are long; the link's name says the whole id). */
export function SessionLink({ of }: { of: SessionRef }) {
  if (of.session_id === null) return <>—</>;
  return (
    <a href={sessionHref(of)} aria-label={`Session ${of.session_id}`}>
      {of.session_id.slice(0, 12)}…
    </a>
  );
}
