import {
  type AppCredentialsRequest,
  Paths,
  type StoreAppAccessTokenRequest,
  type StoreTenantAccessTokenRequest,
} from "@mina-auth/protocol";
import type { StoreAppTokenService } from "../../domain/store-app-tokens.ts";
import type { Endpoint } from "./endpoints.ts";
import { credentialsRules, Responses, storeAppTokenRules, storeTenantTokenRules } from "./schemas.ts";

/** The store (marketplace) apps' auth/v3 endpoints: tokens against the pushed app_ticket. */
export function storeAppEndpoints(store: StoreAppTokenService): Endpoint[] {
  return [
    storeTokenEndpoint(store, "app"),
    storeTokenEndpoint(store, "tenant"),
    {
      method: "POST",
      path: Paths.appTicketResend,
      operationId: "appTicketResend",
      summary:
        "Push a store app a new app_ticket now (the answer does not wait for the push; a burst makes one push; 99991400 over the per-app limit)",
      auth: { kind: "none" },
      body: credentialsRules,
      response: Responses.appTicketResend,
      successMsg: "success",
      answer: async ({ body }) => {
        await store.resendTicket(body as AppCredentialsRequest);
        return {};
      },
    },
  ];
}

/** auth/v3/app_access_token (with the app_ticket) and auth/v3/tenant_access_token (with that token). */
function storeTokenEndpoint(store: StoreAppTokenService, kind: "app" | "tenant"): Endpoint {
  const app = kind === "app";
  return {
    method: "POST",
    path: app ? Paths.storeAppAccessToken : Paths.storeTenantAccessToken,
    operationId: app ? "storeAppAccessToken" : "storeTenantAccessToken",
    summary: app
      ? "Get a store app's app_access_token with its app_ticket (10012: not a live ticket of the app)"
      : "Get a store app's tenant_access_token for a tenant it is installed in (10013: app token or installation wrong)",
    auth: { kind: "none" },
    body: app ? storeAppTokenRules : storeTenantTokenRules,
    response: app ? Responses.storeAppAccessToken : Responses.storeTenantAccessToken,
    successMsg: "success",
    answer: async ({ body }) => {
      const issued = app
        ? await store.appAccessToken(body as StoreAppAccessTokenRequest)
        : await store.tenantAccessToken(body as StoreTenantAccessTokenRequest);
      return { [`${kind}_access_token`]: issued.token, expire: issued.expire };
    },
  };
}
