import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { send } from "../api.ts";
import { FaultRulesPanel } from "./fault-rules-panel.tsx";
import { JournalPanel } from "./journal-panel.tsx";

/**
 * The test-tool panels (fault rules, the request journal). A panel shows only when the server's
 * /openapi.json lists the path it drives, so a console keeps working against servers with and
 * without those tools.
 */
export interface ToolPanel {
  title: string;
  /** The admin path the panel needs, as /openapi.json names it. */
  path: string;
  Panel: ComponentType;
}

const PANELS: ToolPanel[] = [
  { title: "Fault rules", path: "/admin/v1/faults", Panel: FaultRulesPanel },
  { title: "Request journal", path: "/admin/v1/journal", Panel: JournalPanel },
];

/** The panels whose endpoints this server offers. */
export function useToolPanels(signedIn: boolean): ToolPanel[] {
  const [offered, setOffered] = useState<ToolPanel[]>([]);
  useEffect(() => {
    if (!signedIn || PANELS.length === 0) return;
    send<{ paths?: Record<string, unknown> }>("GET", "/openapi.json").then(
      (answer) => setOffered(PANELS.filter((p) => answer.body.paths?.[p.path] !== undefined)),
      () => setOffered([]),
    );
  }, [signedIn]);
  return offered;
}

export function ToolsPage({ panels }: { panels: ToolPanel[] }) {
  if (panels.length === 0) return <p>This server offers no test tools.</p>;
  return (
    <>
      {panels.map(({ title, Panel }) => (
        <section key={title} aria-label={title}>
          <h2>{title}</h2>
          <Panel />
        </section>
      ))}
    </>
  );
}
