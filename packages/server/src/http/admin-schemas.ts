/**
 * JSON Schemas of the admin API. Request schemas (body, params, querystring) are what fastify
 * validates with (no type coercion: `"3"` is not a count), answering 9400 with a msg naming the
 * field; response schemas document the replies. /openapi.json is generated from both.
 * Bodies that are seed-file entries (tenants, users, apps, import) are checked by domain/seed.ts,
 * which the seed files share; their schemas here say so.
 */

/** Codes one POST /admin/v1/login-codes may mint (a bounded body and a bounded transaction). */
export const MAX_CODES_PER_REQUEST = 1000;

const str = { type: "string" } as const;
const nonEmpty = { type: "string", minLength: 1 } as const;
const int = { type: "integer" } as const;
const strings = { type: "array", items: str } as const;
/** A positive integer in a query string, where every value is text. */
const positive = { type: "string", pattern: "^[1-9][0-9]{0,15}$" } as const;

const object = (properties: Record<string, object>, required: string[] = []) => ({
  type: "object",
  ...(required.length > 0 ? { required } : {}),
  properties,
});
const params = (...names: string[]) =>
  object(Object.fromEntries(names.map((name) => [name, nonEmpty])), names);
const seedEntry = (what: string) => ({
  type: "object",
  description: `${what}, as in a seed file (README, "Seed file"); checked by the seed-file rules, whose errors name the field`,
});

const nonEmptyStrings = { type: "array", items: nonEmpty } as const;
const visibility = {
  oneOf: [{ const: "all" }, object({ users: nonEmptyStrings, departments: nonEmptyStrings })],
};

export const View = {
  tenant: object({ tenant_key: str, name: str }, ["tenant_key", "name"]),
  user: object(
    {
      tenant_key: str,
      user_id: str,
      union_id: str,
      name: str,
      en_name: str,
      email: { type: ["string", "null"] },
      mobile: { type: ["string", "null"] },
      avatar_url: str,
      status: { enum: ["active", "deactivated"] },
      department_ids: strings,
    },
    ["tenant_key", "user_id", "name", "status"],
  ),
  app: object(
    {
      app_id: str,
      name: str,
      type: { enum: ["self_built", "store"] },
      scopes: strings,
      installations: { type: "array", items: object({ tenant_key: str, visibility }) },
    },
    ["app_id", "name", "type", "scopes", "installations"],
  ),
  session: object(
    {
      session_id: str,
      app_id: str,
      tenant_key: str,
      user_id: str,
      created_at: int,
      expires_at: int,
      revoked_at: { type: ["integer", "null"] },
      revoke_reason: { type: ["string", "null"] },
    },
    ["session_id", "app_id", "tenant_key", "user_id", "created_at", "expires_at"],
  ),
  event: object({
    id: int,
    at: int,
    type: str,
    app_id: { type: ["string", "null"] },
    tenant_key: { type: ["string", "null"] },
    user_id: { type: ["string", "null"] },
    session_id: { type: ["string", "null"] },
  }),
};

const list = (name: string, item: object) => object({ [name]: { type: "array", items: item } }, [name]);

export const AdminSchemas = {
  tenantParams: params("tenant_key"),
  userParams: params("tenant_key", "user_id"),
  appParams: params("app_id"),
  installationParams: params("app_id", "tenant_key"),
  sessionParams: params("session_id"),
  usersQuery: object({ tenant_key: str }),
  sessionsQuery: object({
    app_id: str,
    tenant_key: str,
    user_id: str,
    active: { enum: ["true", "false"] },
    limit: { ...positive, description: "at most 1000 (default 100)" },
  }),
  auditQuery: object({
    limit: { ...positive, description: "at most 1000 (default 100)" },
    before: { ...positive, description: "events older than this id" },
  }),
  tenantBody: seedEntry("A tenant: {tenant_key?, name}"),
  userBody: seedEntry("A user: {tenant_key, user_id?, name, …}"),
  userPatch: seedEntry("Fields of the user to change, e.g. {status: deactivated}"),
  appBody: seedEntry(
    "An app: {app_id?, app_secret?, name, type, tenant_key | installations, scopes, visibility}",
  ),
  importBody: seedEntry("A whole seed file: {tenants, users, apps}"),
  appPatch: object({ name: nonEmpty, scopes: nonEmptyStrings }),
  installationBody: object({ visibility }, ["visibility"]),
  loginCodes: object(
    {
      app_id: nonEmpty,
      user_id: nonEmpty,
      tenant_key: str,
      count: { type: "integer", minimum: 1, maximum: MAX_CODES_PER_REQUEST },
      scopes: {
        ...strings,
        maxItems: 100,
        description:
          "the scopes the user grants, as tt.requestAccess's scopeList (each one the app holds; [] grants the identity alone); left out: every scope of the app, as tt.login",
      },
      code_challenge: {
        type: "string",
        pattern: "^[A-Za-z0-9._~-]{43,128}$",
        description: "RFC 7636: the code is then redeemable only at v2 oauth/token, with its code_verifier",
      },
      code_challenge_method: { enum: ["S256", "plain"], description: "default S256" },
    },
    ["app_id", "user_id"],
  ),
  minted: {
    oneOf: [
      {
        ...object({ code: str, expires_at: int }, ["code", "expires_at"]),
        additionalProperties: false,
        description: "without count",
      },
      {
        ...object({ codes: strings, expires_at: int }, ["codes", "expires_at"]),
        additionalProperties: false,
        description: "with count",
      },
    ],
  },
  tenants: list("tenants", View.tenant),
  users: list("users", View.user),
  apps: list("apps", View.app),
  sessions: list("sessions", View.session),
  events: list("events", View.event),
  secret: object({ app_id: str, app_secret: str }, ["app_id", "app_secret"]),
  appWithSecret: { allOf: [View.app, object({ app_secret: str }, ["app_secret"])] },
  installation: object({ tenant_key: str, visibility }, ["tenant_key", "visibility"]),
  revoked: object({ session_id: str, revoked: { const: true } }, ["session_id", "revoked"]),
  imported: object({
    imported: object({ tenants: int, users: int, apps: int }),
    app_secrets: { type: "array", items: object({ app_id: str, app_secret: str }) },
  }),
  seedFile: seedEntry("The catalogue as a seed file"),
};
