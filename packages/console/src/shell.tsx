import { useEffect, useRef, useState } from "preact/hooks";
import { adminToken, onSignedOut } from "./api.ts";
import { AppsPage } from "./pages/apps.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { ImportExportPage } from "./pages/import-export.tsx";
import { LoginAsPage } from "./pages/login-as.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { SessionsPage } from "./pages/sessions.tsx";
import { SignInPage } from "./pages/sign-in.tsx";
import { TenantsPage } from "./pages/tenants.tsx";
import { ToolsPage, useToolPanels } from "./pages/tools.tsx";
import { href, PAGES, parseRoute, type Route } from "./routes.ts";

export function Shell() {
  const [signedIn, setSignedIn] = useState(adminToken.get() !== null);
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const main = useRef<HTMLElement>(null);
  const tools = useToolPanels(signedIn);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onHash);
    onSignedOut.handler = () => {
      adminToken.clear();
      setSignedIn(false);
    };
    return () => removeEventListener("hashchange", onHash);
  }, []);
  // A new page takes the focus to its heading, so a screen reader announces where it went.
  useEffect(() => {
    main.current?.querySelector("h1")?.focus();
  }, [route.page, signedIn]);

  if (!signedIn) return <SignInPage onSignedIn={() => setSignedIn(true)} />;

  const title = route.page === "tools" ? "Test tools" : PAGES.find((p) => p.path === route.page)?.title;
  const signOut = () => {
    adminToken.clear();
    setSignedIn(false);
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">mina-auth console</span>
        <button type="button" class="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Pages">
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <a href={href(p.path)} aria-current={p.path === route.page ? "page" : undefined}>
                {p.title}
              </a>
            </li>
          ))}
          {tools.length > 0 ? (
            <li>
              <a href={href("tools")} aria-current={route.page === "tools" ? "page" : undefined}>
                Test tools
              </a>
            </li>
          ) : null}
        </ul>
      </nav>
      <main id="main" ref={main} aria-label={title}>
        <h1 tabIndex={-1}>{title}</h1>
        <Page route={route} tools={tools} />
      </main>
    </div>
  );
}

function Page({ route, tools }: { route: Route; tools: ReturnType<typeof useToolPanels> }) {
  switch (route.page) {
    case "overview":
      return <OverviewPage />;
    case "tenants":
      return <TenantsPage />;
    case "apps":
      return <AppsPage />;
    case "login-as":
      return <LoginAsPage params={route.params} />;
    case "sessions":
      return <SessionsPage params={route.params} />;
    case "audit":
      return <AuditPage />;
    case "import-export":
      return <ImportExportPage />;
    case "tools":
      return <ToolsPage panels={tools} />;
  }
}
