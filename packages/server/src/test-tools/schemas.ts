import { Paths } from "@mina-auth/protocol";
import { MAX_LATENCY_MS } from "./fault-rules.ts";

/** JSON Schemas of the test tools' admin routes (routes.ts): validation and /openapi.json. */

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const nullableInt = { type: ["integer", "null"] } as const;
/** A non-negative integer in a query string, where every value is text. */
const count = { type: "string", pattern: "^[0-9]{1,15}$" } as const;
/** At most 10 minutes of added latency: a test waits for it in real time. */
const latencyMs = { type: "integer", minimum: 0, maximum: MAX_LATENCY_MS } as const;

const object = (properties: Record<string, object>, required: string[] = []) => ({
  type: "object",
  ...(required.length > 0 ? { required } : {}),
  properties,
});
const exactly = (properties: Record<string, object>, required: string[]) => ({
  ...object(properties, required),
  additionalProperties: false,
});

const match = exactly(
  {
    path: { enum: Object.values(Paths), description: "a platform endpoint's path" },
    app_id: { type: "string", minLength: 1 },
    tenant_key: {
      type: "string",
      minLength: 1,
      description: "the caller's tenant (its app token), or the user's on refresh and user_info",
    },
    user_id: {
      type: "string",
      minLength: 1,
      description:
        "the user (refresh, oidc refresh, user_info only: the server knows no user before the others' work)",
    },
  },
  ["path"],
);

/**
 * One object with every effect's fields, and the fields each type needs: fastify's validator
 * removes unknown fields, which inside `oneOf` branches would strip the fields of the others.
 */
const effect = {
  ...exactly(
    {
      type: { enum: ["answer", "latency", "drop", "timeout", "commit_then_drop"] },
      code: { ...int, description: "answer: the code" },
      msg: { ...str, description: "answer: default the endpoint's msg for that code" },
      http_status: {
        type: "integer",
        minimum: 200,
        maximum: 599,
        description: "answer: default the endpoint's status for that code (99991663: 400; 200 is also seen)",
      },
      ms: { ...latencyMs, description: "latency: fixed" },
      min_ms: { ...latencyMs, description: "latency: a uniform pick from min_ms to max_ms" },
      max_ms: latencyMs,
    },
    ["type"],
  ),
  anyOf: [
    { properties: { type: { const: "answer" } }, required: ["code"] },
    { properties: { type: { const: "latency" } }, required: ["ms"] },
    { properties: { type: { const: "latency" } }, required: ["min_ms", "max_ms"] },
    { properties: { type: { enum: ["drop", "timeout", "commit_then_drop"] } } },
  ],
};

const rule = object(
  {
    id: str,
    match,
    effect: { type: "object" },
    times_left: nullableInt,
    probability: { type: ["number", "null"] },
    expires_at: nullableInt,
    applied: int,
  },
  ["id", "match", "effect", "times_left", "probability", "expires_at", "applied"],
);

const clock = object(
  {
    now_ms: { ...int, description: "the server's time, Unix milliseconds" },
    now: { ...str, description: "the same, ISO 8601" },
    manual: { type: "boolean", description: "true when started with --clock manual: POST moves it" },
  },
  ["now_ms", "now", "manual"],
);

const journalEntry = object(
  {
    seq: int,
    at: int,
    method: str,
    route: str,
    app_id: { type: ["string", "null"] },
    status: nullableInt,
    code: nullableInt,
    ms: { type: "number" },
    fault: { type: ["string", "null"] },
    request: object({ headers: { type: "object" }, body: {} }),
    response: {},
  },
  ["seq", "at", "method", "route", "status", "code", "ms", "fault"],
);

const sessionId = { type: "string", minLength: 1, maxLength: 128 } as const;
const appId = { type: "string", minLength: 1, maxLength: 64 } as const;

export const ToolSchemas = {
  expireSessionParams: object({ session_id: sessionId }, ["session_id"]),
  expiredSession: object(
    {
      session_id: str,
      expired_at: { ...int, description: "the server's time the access token ended at, Unix ms" },
    },
    ["session_id", "expired_at"],
  ),
  expireAppParams: object({ app_id: appId }, ["app_id"]),
  expireAppBody: exactly(
    { kind: { enum: ["app", "tenant"], description: "only app tokens or only tenant tokens; default both" } },
    [],
  ),
  expiredAppTokens: object(
    { app_id: str, expired: { ...int, description: "how many live tokens were ended" } },
    ["app_id", "expired"],
  ),
  faultBody: exactly(
    {
      match,
      effect,
      times: { type: "integer", minimum: 1, maximum: 1_000_000 },
      probability: { type: "number", exclusiveMinimum: 0, maximum: 1 },
      expires_at: { ...int, minimum: 0, description: "Unix seconds on the server's clock" },
    },
    ["match", "effect"],
  ),
  faultParams: object({ fault_id: { type: "string", minLength: 1 } }, ["fault_id"]),
  rule,
  rules: object({ faults: { type: "array", items: rule } }, ["faults"]),
  cleared: object({ cleared: int }, ["cleared"]),
  deleted: object({ deleted: { const: true } }, ["deleted"]),
  clockBody: {
    ...exactly(
      {
        advance_ms: { type: "integer", minimum: 0, maximum: 10 * 365 * 86_400_000 },
        set: { type: "integer", minimum: 0, description: "Unix milliseconds; earlier than now is allowed" },
      },
      [],
    ),
    oneOf: [{ required: ["advance_ms"] }, { required: ["set"] }],
  },
  clock,
  journalQuery: object({
    route: str,
    app_id: str,
    status: count,
    code: count,
    fault: { ...str, description: "a rule's id, or `any`" },
    since: { ...count, description: "entries after this seq" },
    // 0 would read as "no limit" to a slice: at least 1.
    limit: { type: "string", pattern: "^[1-9][0-9]{0,14}$", description: "the newest this many (1 or more)" },
  }),
  journal: object(
    {
      entries: { type: "array", items: journalEntry },
      last_seq: int,
      capacity: int,
    },
    ["entries", "last_seq", "capacity"],
  ),
};
