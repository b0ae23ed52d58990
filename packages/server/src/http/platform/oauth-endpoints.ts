/**
 * The doors a login code can be redeemed at besides tokenLoginValidate (domain/code-doors.ts):
 * authen/v1/oidc/access_token, in the platform's `{code, msg, data}` envelope, and
 * authen/v2/oauth/token, RFC 6749 shaped (flat success; failures `{code, error,
 * error_description}` with HTTP 400, 500 or 503), through an `AnswerShape`.
 */
import {
  type ErrorDefinition,
  Errors,
  type OAuthTokenRequest,
  type OidcAccessTokenRequest,
  Paths,
} from "@mina-auth/protocol";
import type { CodeDoors } from "../../domain/code-doors.ts";
import type { AnswerShape, Endpoint } from "./endpoints.ts";
import { type BodyRule, Responses } from "./schemas.ts";

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
/** The bound the domain has always put on an app_id or app_secret. */
const CREDENTIAL_CHARS = 256;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = "^[A-Za-z0-9._~-]{43,128}$";

/** oidc/access_token: 20001 for a missing field, before 20036 for a wrong grant_type (as refresh). */
export const oidcAccessTokenRules: BodyRule[] = [
  {
    description: "code and grant_type: strings (else 20001)",
    error: "RefreshBadRequest",
    schema: {
      type: "object",
      required: ["code", "grant_type"],
      properties: { code: { type: "string", minLength: 1 }, grant_type: str },
    },
  },
  {
    description: 'grant_type: "authorization_code" (else 20036)',
    error: "RefreshGrantTypeInvalid",
    schema: { type: "object", properties: { grant_type: { const: "authorization_code" } } },
  },
];

/** v2 oauth/token: the grant type first (20001, 20036), then that grant's fields (20001). */
export const oauthTokenRules: BodyRule[] = [
  {
    description: "grant_type, client_id, client_secret: strings (else 20001)",
    error: "OAuthInvalidRequest",
    schema: {
      type: "object",
      required: ["grant_type", "client_id", "client_secret"],
      properties: {
        grant_type: str,
        client_id: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS },
        client_secret: { type: "string", minLength: 1, maxLength: CREDENTIAL_CHARS },
        redirect_uri: str,
        scope: str,
      },
    },
  },
  {
    description: 'grant_type: "authorization_code" or "refresh_token" (else 20036)',
    error: "OAuthUnsupportedGrantType",
    schema: { type: "object", properties: { grant_type: { enum: ["authorization_code", "refresh_token"] } } },
  },
  {
    description:
      "authorization_code: a code, and code_verifier (if any) of 43–128 unreserved characters; refresh_token: a refresh_token (else 20001)",
    error: "OAuthInvalidRequest",
    schema: {
      type: "object",
      if: { properties: { grant_type: { const: "authorization_code" } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keywords
      then: {
        required: ["code"],
        properties: {
          code: { type: "string", minLength: 1 },
          code_verifier: { type: "string", pattern: CODE_VERIFIER },
        },
      },
      else: { required: ["refresh_token"], properties: { refresh_token: { type: "string", minLength: 1 } } },
    },
  },
];

/**
 * The failures the v2 endpoint answers with RFC 6749 §5.2's `error` for each. Their codes mean
 * other things elsewhere (20001 and 20050 with HTTP 200 on authen/v1), so these are also what a
 * fault rule naming one of those codes at this endpoint answers (`ownErrors`).
 */
const OAUTH_ERRORS: ReadonlyArray<[ErrorDefinition, string]> = [
  [Errors.OAuthInvalidRequest, "invalid_request"],
  [Errors.OAuthInvalidClient, "invalid_client"],
  [Errors.OAuthUnsupportedGrantType, "unsupported_grant_type"],
  [Errors.OAuthCodeNotFound, "invalid_grant"],
  [Errors.OAuthCodeExpired, "invalid_grant"],
  [Errors.OAuthUserNoPermission, "invalid_grant"],
  [Errors.OAuthAppMismatch, "invalid_grant"],
  [Errors.OAuthRefreshTokenInvalid, "invalid_grant"],
  [Errors.OAuthRefreshTokenExpired, "invalid_grant"],
  [Errors.OAuthPkceFailed, "invalid_grant"],
  [Errors.OAuthCodeUsed, "invalid_grant"],
  [Errors.OAuthRefreshTokenUsed, "invalid_grant"],
  [Errors.OAuthServerError, "server_error"],
  [Errors.OAuthTemporarilyUnavailable, "temporarily_unavailable"],
];
const OAUTH_ERROR = new Map<number, string>([
  ...OAUTH_ERRORS.map(([definition, error]): [number, string] => [definition.code, error]),
  // "Outcome unknown" keeps its code, but not its HTTP 200: an RFC 6749 client reads a 200 as
  // success. 400 invalid_grant makes it drop the code or token (a retry could revoke the login)
  // and start a new login; a 5xx would invite the very retry the code warns against.
  [Errors.OutcomeUnknown.code, "invalid_grant"],
]);

/** Any other code (9499, 9413, 99991400, or one a fault rule made up): by its HTTP status. */
function errorForStatus(status: number): string {
  if (status === 503) return "temporarily_unavailable";
  return status >= 500 ? "server_error" : "invalid_request";
}

/**
 * The v2 shape. A failure the whole server shares is renamed to the endpoint's own: a bug to
 * 20050/500, a storage fault to 20072/503 (retryable: nothing happened); 9502 (outcome unknown)
 * keeps its code with 400 invalid_grant; the rest (9499, 9413, 99991400, …) keep their code and
 * status in this endpoint's body.
 */
export const oauthShape: AnswerShape = {
  success: (answer) => ({ code: 0, ...answer }),
  failure(definition, msg) {
    let own = definition;
    let description = msg;
    if (definition === Errors.InternalError) own = Errors.OAuthServerError;
    else if (definition === Errors.StorageUnavailable || definition === Errors.AuthenSystemError)
      own = Errors.OAuthTemporarilyUnavailable;
    if (own !== definition) description = own.msg;
    const status = definition === Errors.OutcomeUnknown ? 400 : own.httpStatus;
    return {
      status,
      body: {
        code: own.code,
        error: OAUTH_ERROR.get(own.code) ?? errorForStatus(status),
        error_description: description,
      },
    };
  },
  errorSchema: {
    type: "object",
    required: ["code", "error", "error_description"],
    properties: { code: int, error: str, error_description: str },
  },
  errorStatuses: [400, 408, 413, 415, 429, 500, 503],
};

const oauthTokenResponse = {
  type: "object",
  required: ["code", "access_token", "expires_in", "token_type", "scope"],
  properties: {
    code: { const: 0 },
    access_token: str,
    expires_in: { ...int, description: "seconds the access token lives" },
    refresh_token: { ...str, description: "only when the login was granted offline_access" },
    refresh_token_expires_in: {
      ...int,
      description: "seconds left in the refresh family; with refresh_token",
    },
    token_type: { const: "Bearer" },
    scope: { ...str, description: "the scopes in force, space-separated" },
  },
};

export function codeDoorEndpoints(doors: CodeDoors): Endpoint[] {
  return [
    {
      method: "POST",
      path: Paths.oidcAccessToken,
      operationId: "oidcAccessToken",
      summary: "Exchange a login code (tt.requestAccess or tt.login) for a user_access_token (OIDC)",
      auth: { kind: "app", failure: "RefreshAppTokenInvalid" },
      body: oidcAccessTokenRules,
      // The same data as the OIDC refresh answers.
      response: Responses.oidcRefresh,
      successMsg: "success",
      answer: async ({ caller, body, clientAddress }) => ({
        data: await doors.oidcAccessToken(caller, body as OidcAccessTokenRequest, clientAddress),
      }),
    },
    {
      method: "POST",
      path: Paths.oauthToken,
      operationId: "oauthToken",
      summary:
        "OAuth 2.0 token endpoint: redeem a login code (with PKCE when it carries a challenge) or a refresh_token",
      auth: { kind: "none" },
      body: oauthTokenRules,
      response: oauthTokenResponse,
      successMsg: "success",
      answer: ({ body, clientAddress }) => doors.oauthToken(body as OAuthTokenRequest, clientAddress),
      subject: ({ body }) => doors.oauthSubject(body as OAuthTokenRequest),
      shape: oauthShape,
      ownErrors: OAUTH_ERRORS.map(([definition]) => definition),
    },
  ];
}
