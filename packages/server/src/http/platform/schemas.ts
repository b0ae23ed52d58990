import { type ErrorName, Formats } from "@mina-auth/protocol";

/**
 * The JSON Schemas of the platform endpoints: each request body is checked by an ordered list
 * of rules, the first rule it breaks answering that rule's platform code (the platform answers
 * 20001 for a missing refresh_token before 20036 for a wrong grant_type, say). The same rules,
 * as an `allOf`, are the request body in /openapi.json; the success schemas are its responses.
 */
export interface BodyRule {
  /** What the rule requires, said in the document. */
  description: string;
  schema: object;
  /** Answered when the body breaks this rule. */
  error: ErrorName;
}

/** A JSON Schema pattern from a protocol format (the same RegExp the domain holds). */
const pattern = (format: RegExp) => format.source;
/** The bound the domain has always put on an app_id or app_secret. */
const CREDENTIAL_CHARS = 256;

export const credentialsRules: BodyRule[] = [
  {
    description: "app_id and app_secret: non-empty strings of at most 256 characters (else 10003)",
    error: "InvalidParam",
    schema: {
      type: "object",
      required: ["app_id", "app_secret"],
      properties: {
        app_id: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS },
        app_secret: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS },
      },
    },
  },
];

/** A store app's app_access_token: the credentials, then the ticket (10003 for each). */
export const storeAppTokenRules: BodyRule[] = [
  ...credentialsRules,
  {
    description: "app_ticket: the latest app_ticket pushed to the app, a non-empty string (else 10003)",
    error: "InvalidParam",
    schema: {
      type: "object",
      required: ["app_ticket"],
      properties: { app_ticket: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS } },
    },
  },
];

/** A store app's tenant_access_token. */
export const storeTenantTokenRules: BodyRule[] = [
  {
    description: "app_access_token and tenant_key: non-empty strings (else 10003)",
    error: "InvalidParam",
    schema: {
      type: "object",
      required: ["app_access_token", "tenant_key"],
      properties: {
        app_access_token: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS },
        tenant_key: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS },
      },
    },
  },
];

export const tokenLoginValidateRules: BodyRule[] = [
  {
    description: "code: the login code tt.login returned (else 10226)",
    error: "InvalidCode",
    schema: {
      type: "object",
      required: ["code"],
      properties: { code: { type: "string", pattern: pattern(Formats.loginCode) } },
    },
  },
];

export const refreshRules: BodyRule[] = [
  {
    description: "refresh_token: a non-empty string (else 20001)",
    error: "RefreshBadRequest",
    schema: {
      type: "object",
      required: ["refresh_token"],
      properties: { refresh_token: { type: "string", minLength: 1 } },
    },
  },
  {
    description: 'grant_type: "refresh_token" (else 20036)',
    error: "RefreshGrantTypeInvalid",
    schema: {
      type: "object",
      required: ["grant_type"],
      properties: { grant_type: { const: "refresh_token" } },
    },
  },
  {
    description: "refresh_token: of the form ur-… (else 20026)",
    error: "RefreshTokenInvalid",
    schema: {
      type: "object",
      properties: { refresh_token: { type: "string", pattern: pattern(Formats.refreshToken) } },
    },
  },
];

const str = { type: "string" } as const;
const int = { type: "integer" } as const;

/** `{code: 0, msg, …fields}`: the platform's success envelope. */
function envelope(msg: string, fields: Record<string, object>, required: string[]): object {
  return {
    type: "object",
    required: ["code", "msg", ...required],
    properties: { code: { const: 0 }, msg: { const: msg }, ...fields },
  };
}

const data = (properties: Record<string, object>, required: string[]) => ({
  data: { type: "object", required, properties },
});

const refreshData = {
  access_token: str,
  refresh_token: str,
  token_type: { const: "Bearer" },
  expires_in: int,
  refresh_expires_in: int,
};
const refreshRequired = Object.keys(refreshData);
const profile = {
  name: str,
  en_name: str,
  avatar_url: str,
  open_id: str,
  union_id: str,
  tenant_key: str,
  user_id: { ...str, description: "with contact:user.employee_id:readonly" },
  email: { ...str, description: "with contact:user.email:readonly" },
  mobile: { ...str, description: "with contact:user.phone:readonly" },
};
const profileRequired = ["name", "en_name", "avatar_url", "open_id", "union_id", "tenant_key"];

export const Responses = {
  appAccessToken: envelope(
    "ok",
    {
      app_access_token: str,
      expire: int,
      tenant_access_token: { ...str, description: "a self-built app's tenant_access_token too" },
    },
    ["app_access_token", "expire"],
  ),
  storeAppAccessToken: envelope("success", { app_access_token: str, expire: int }, [
    "app_access_token",
    "expire",
  ]),
  storeTenantAccessToken: envelope("success", { tenant_access_token: str, expire: int }, [
    "tenant_access_token",
    "expire",
  ]),
  appTicketResend: envelope("success", {}, []),
  tenantAccessToken: envelope("ok", { tenant_access_token: str, expire: int }, [
    "tenant_access_token",
    "expire",
  ]),
  tokenLoginValidate: envelope(
    "success",
    data(
      {
        open_id: str,
        employee_id: { ...str, description: "with contact:user.employee_id:readonly" },
        session_key: str,
        tenant_key: str,
        access_token: str,
        expires_in: { ...int, description: "the access token's expiry, Unix seconds" },
        refresh_token: str,
      },
      ["open_id", "session_key", "tenant_key", "access_token", "expires_in", "refresh_token"],
    ),
    ["data"],
  ),
  legacyRefresh: envelope(
    "success",
    data({ ...refreshData, ...profile, avatar_thumb: str, avatar_middle: str, avatar_big: str }, [
      ...refreshRequired,
      ...profileRequired,
    ]),
    ["data"],
  ),
  oidcRefresh: envelope("success", data({ ...refreshData, scope: str }, [...refreshRequired, "scope"]), [
    "data",
  ]),
  userInfo: envelope("success", data(profile, profileRequired), ["data"]),
} as const;
