/** The pages, addressed by the URL's #fragment (#/sessions?session=…), so the server serves one file. */
export const PAGES = [
  { path: "overview", title: "Overview" },
  { path: "tenants", title: "Tenants and users" },
  { path: "apps", title: "Apps" },
  { path: "login-as", title: "Log in as" },
  { path: "sessions", title: "Sessions" },
  { path: "audit", title: "Audit events" },
  { path: "import-export", title: "Import and export" },
] as const;

export type PagePath = (typeof PAGES)[number]["path"] | "tools";

export interface Route {
  page: PagePath;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#\/?/, "").split("?");
  const known = PAGES.some((p) => p.path === path) || path === "tools";
  return { page: known ? (path as PagePath) : "overview", params: new URLSearchParams(search) };
}

export const href = (page: PagePath, params: Record<string, string> = {}): string => {
  const search = new URLSearchParams(params).toString();
  return `#/${page}${search ? `?${search}` : ""}`;
};
