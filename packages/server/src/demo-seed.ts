import type { SeedFile } from "./domain/seed.ts";

/**
 * The demo data `npm start` loads into an empty database and the test emulator starts with.
 * Fixed IDs, so a walk-through can be pasted as is. The secret is public on purpose: it is demo
 * data, and the server warns when it is served beyond loopback.
 */
export const DEMO_APP_SECRET = "demo-app-secret-2f7c9e41b8d3a6f0";
export const DEMO_STORE_APP_SECRET = "demo-store-secret-8a1e5c3f7b9d2e46";

export const demoSeed: SeedFile = {
  tenants: [
    { tenant_key: "2c5914ac018f97", name: "Acme" },
    { tenant_key: "736588c9260f175d", name: "Globex" },
  ],
  users: [
    {
      tenant_key: "2c5914ac018f97",
      user_id: "6c486g",
      name: "张三",
      en_name: "Zhang San",
      union_id: "on_94a1ee5551019f18cd73d9f111898cf2",
      email: "zhangsan@acme.test",
      mobile: "+8613800000001",
      department_ids: ["od-engineering"],
    },
    {
      tenant_key: "2c5914ac018f97",
      user_id: "7d597h",
      name: "李四",
      en_name: "Li Si",
      union_id: "on_2b3c4d5e6f708192a3b4c5d6e7f80912",
      email: "lisi@acme.test",
      department_ids: ["od-engineering"],
    },
    {
      tenant_key: "2c5914ac018f97",
      user_id: "8e6a8i",
      name: "王五",
      en_name: "Wang Wu",
      union_id: "on_c0ffee00c0ffee00c0ffee00c0ffee00",
      email: "wangwu@acme.test",
      department_ids: ["od-sales"],
    },
    {
      tenant_key: "736588c9260f175d",
      user_id: "a1b2c3",
      name: "Hank Scorpio",
      union_id: "on_5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e",
      email: "hank@globex.test",
    },
  ],
  apps: [
    {
      app_id: "cli_a1b2c3d4e5f6a7b8",
      app_secret: DEMO_APP_SECRET,
      name: "Demo",
      type: "self_built",
      tenant_key: "2c5914ac018f97",
      scopes: ["contact:user.employee_id:readonly", "contact:user.email:readonly"],
      // Wang Wu (sales) is outside: minting a code for him shows error 10228.
      visibility: { departments: ["od-engineering"] },
    },
    {
      app_id: "cli_9f8e7d6c5b4a3921",
      app_secret: DEMO_STORE_APP_SECRET,
      name: "Demo Store App",
      type: "store",
      scopes: [],
      installations: [
        { tenant_key: "2c5914ac018f97", visibility: "all" },
        { tenant_key: "736588c9260f175d", visibility: "all" },
      ],
    },
  ],
};

/**
 * `serve --demo --seed FILE`: the demo data and the file's together. Where both name one tenant,
 * user or app, the file's entry wins. A file whose lists are not lists is passed on unmerged, so
 * that loading it reports what is wrong with it.
 */
export function withDemoData(file: unknown): unknown {
  if (typeof file !== "object" || file === null || Array.isArray(file)) return file;
  const given = file as Record<string, unknown>;
  const lists = ["tenants", "users", "apps", "open_ids"] as const;
  if (lists.some((name) => given[name] !== undefined && !Array.isArray(given[name]))) return file;
  const keyOf: Record<(typeof lists)[number], (entry: Record<string, unknown>) => unknown> = {
    tenants: (t) => t.tenant_key,
    users: (u) => `${String(u.tenant_key)}/${String(u.user_id)}`,
    apps: (a) => a.app_id,
    open_ids: (o) => `${String(o.app_id)}/${String(o.tenant_key)}/${String(o.user_id)}`,
  };
  const merged: Record<string, unknown> = { ...given };
  for (const name of lists) {
    const mine = (given[name] ?? []) as Array<Record<string, unknown>>;
    const taken = new Set(mine.map((entry) => keyOf[name](entry ?? {})));
    const demo = ((demoSeed as Record<string, unknown>)[name] ?? []) as Array<Record<string, unknown>>;
    merged[name] = [...mine, ...demo.filter((entry) => !taken.has(keyOf[name](entry)))];
  }
  return merged;
}
