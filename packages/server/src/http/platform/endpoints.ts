import {
  type AppCredentialsRequest,
  type ErrorDefinition,
  type ErrorName,
  Paths,
  type RefreshRequest,
  type TokenLoginValidateData,
  type TokenLoginValidateRequest,
} from "@mina-auth/protocol";
import type { AppTokenService } from "../../domain/app-tokens.ts";
import type { CodeDoors } from "../../domain/code-doors.ts";
import { type LoginService, presenterOf, type RefreshVariant } from "../../domain/login.ts";
import type { StoreAppTokenService } from "../../domain/store-app-tokens.ts";
import type { AppTokenRecord } from "../../storage/port.ts";
import { codeDoorEndpoints } from "./oauth-endpoints.ts";
import {
  type BodyRule,
  credentialsRules,
  Responses,
  refreshRules,
  tokenLoginValidateRules,
} from "./schemas.ts";
import { storeAppEndpoints } from "./store-endpoints.ts";

/** What an endpoint's answer is computed from, once its caller and body passed their checks. */
export interface EndpointInput {
  /** The app behind the bearer app/tenant token (endpoints with `auth: app` only). */
  caller: AppTokenRecord;
  /** The body, valid against the endpoint's rules (so of the request type they describe). */
  body: unknown;
  /** The bearer value, parsed strictly; null when absent or malformed. */
  bearer: string | null;
  clientAddress: string;
}

/**
 * Who may call: anyone, the holder of an app or tenant token (checked before the body is even
 * parsed, so a bad token answers its own code whatever the body), or of a user token (checked by
 * the domain, which answers its own codes).
 */
export type Auth = { kind: "none" } | { kind: "app"; failure: ErrorName } | { kind: "user" };

/**
 * How an endpoint shapes its answers when they are not the platform's `{code, msg, …}` (the v2
 * OAuth token endpoint: a flat success, failures `{code, error, error_description}` with HTTP
 * 400/500/503). One shape per endpoint, applied by handler.ts to every answer it sends.
 */
export interface AnswerShape {
  /** The whole success body, from the endpoint's answer. */
  success(answer: object): object;
  /**
   * The status and body of a failure, from its registry entry and public msg; or from what a
   * fault rule's `answer` says (its code, msg and status), which is answered the same way.
   */
  failure(definition: FailureFacts, msg: string): { status: number; body: { code: number } };
  /** For the document: the failure body's schema and the statuses it is sent with. */
  errorSchema: object;
  errorStatuses: number[];
}

/** What a failure is answered from: a registry entry, or a fault rule's `answer`. */
export type FailureFacts = Pick<ErrorDefinition, "code" | "msg" | "httpStatus">;

export interface Endpoint {
  method: "GET" | "POST";
  path: string;
  operationId: string;
  summary: string;
  auth: Auth;
  /** Ordered body rules (schemas.ts); none for an endpoint without a body. */
  body?: BodyRule[];
  /** The success answer's schema, for the document. */
  response: object;
  /** The success envelope's msg: the platform says "ok" on auth/v3 and "success" elsewhere. */
  successMsg: "ok" | "success";
  /** The success answer's fields after `code` and `msg`. */
  answer(input: EndpointInput): Promise<object>;
  /**
   * The user the request is about, for fault rules that match on `user_id`/`tenant_key`
   * (test-tools/shared-fault-rules.ts): a read, asked only while such a rule is in force.
   * Absent where the server cannot know the user before the work.
   */
  subject?(
    input: Pick<EndpointInput, "body" | "bearer">,
  ): Promise<{ tenantKey: string; userId: string } | null>;
  /** Left out: the platform's `{code, msg, …}` envelope. */
  shape?: AnswerShape;
  /**
   * Failures whose code means something else on the rest of the platform (the v2 endpoint's
   * 20001…20073): what a fault rule naming such a code here answers by default
   * (fault-answers.ts). Left out: the registry's meaning of every code.
   */
  ownErrors?: readonly ErrorDefinition[];
}

/** The platform endpoints: one definition each, served by handler.ts and documented by openapi.ts. */
export function platformEndpoints(
  appTokens: AppTokenService,
  login: LoginService,
  doors: CodeDoors,
  store?: StoreAppTokenService,
): Endpoint[] {
  return [
    credentialsEndpoint(appTokens, "app"),
    credentialsEndpoint(appTokens, "tenant"),
    {
      method: "POST",
      path: Paths.tokenLoginValidate,
      operationId: "tokenLoginValidate",
      summary: "Exchange a mini program's one-time login code for the user's identity and tokens",
      auth: appAuth("AccessTokenInvalid"),
      body: tokenLoginValidateRules,
      response: Responses.tokenLoginValidate,
      successMsg: "success",
      answer: async ({ caller, body, clientAddress }) => ({
        data: inSchemaOrder(await login.exchange(caller, body as TokenLoginValidateRequest, clientAddress)),
      }),
    },
    refreshEndpoint(login, "legacy"),
    refreshEndpoint(login, "oidc"),
    {
      method: "GET",
      path: Paths.userInfo,
      operationId: "userInfo",
      summary: "The user behind a user_access_token; identity fields gated by the app's scopes",
      auth: { kind: "user" },
      response: Responses.userInfo,
      successMsg: "success",
      answer: async ({ bearer }) => ({ data: await login.userInfo(bearer) }),
      subject: ({ bearer }) => login.subjectOfAccessToken(bearer),
    },
    ...codeDoorEndpoints(doors),
    ...(store ? storeAppEndpoints(store) : []),
  ];
}

/** app_access_token/internal or tenant_access_token/internal: the app's own credentials. */
function credentialsEndpoint(appTokens: AppTokenService, kind: "app" | "tenant"): Endpoint {
  const field = `${kind}_access_token`;
  return {
    method: "POST",
    path: kind === "app" ? Paths.appAccessToken : Paths.tenantAccessToken,
    operationId: `${kind}AccessToken`,
    summary:
      kind === "app"
        ? "Get a self-built app's app_access_token (2 h; the same token while ≥ 30 min remain)"
        : "Get a self-built app's tenant_access_token",
    auth: { kind: "none" },
    body: credentialsRules,
    response: kind === "app" ? Responses.appAccessToken : Responses.tenantAccessToken,
    successMsg: "ok",
    answer: async ({ body }) => {
      if (kind === "app") {
        const issued = await appTokens.issueWithTenant(body as AppCredentialsRequest);
        return {
          app_access_token: issued.app.token,
          expire: issued.app.expire,
          ...(issued.tenant ? { tenant_access_token: issued.tenant.token } : {}),
        };
      }
      const issued = await appTokens.issue(kind, body as AppCredentialsRequest);
      return { [field]: issued.token, expire: issued.expire };
    },
  };
}

/** The fields in the order of the response schema (as the platform's own answers list them). */
function inSchemaOrder(data: TokenLoginValidateData): TokenLoginValidateData {
  return {
    open_id: data.open_id,
    ...(data.employee_id === undefined ? {} : { employee_id: data.employee_id }),
    session_key: data.session_key,
    tenant_key: data.tenant_key,
    access_token: data.access_token,
    expires_in: Math.trunc(data.expires_in),
    refresh_token: data.refresh_token,
  };
}

/** An app token's check, answering `failure` when it does not pass. */
const appAuth = (failure: ErrorName): Auth => ({ kind: "app", failure });

/** The two refresh endpoints: one rotation, each answering in its own shape (legacy: with the profile). */
function refreshEndpoint(login: LoginService, variant: RefreshVariant): Endpoint {
  const legacy = variant === "legacy";
  return {
    method: "POST",
    path: legacy ? Paths.refreshAccessToken : Paths.oidcRefreshAccessToken,
    operationId: legacy ? "refreshAccessToken" : "oidcRefreshAccessToken",
    summary: legacy
      ? "Refresh a user_access_token (v1, with the user's profile): rotates the refresh_token"
      : "Refresh a user_access_token (OIDC): rotates the refresh_token",
    auth: appAuth("RefreshAppTokenInvalid"),
    body: refreshRules,
    response: legacy ? Responses.legacyRefresh : Responses.oidcRefresh,
    successMsg: "success",
    answer: async ({ caller, body }) => ({
      data: legacy
        ? await login.refresh(presenterOf(caller), body as RefreshRequest, "legacy")
        : await login.refresh(presenterOf(caller), body as RefreshRequest, "oidc"),
    }),
    subject: ({ body }) => login.subjectOfRefreshToken((body as RefreshRequest).refresh_token),
  };
}
