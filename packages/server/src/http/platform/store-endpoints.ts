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
    {
      method: "POST",
      path: Paths.storeAppAccessToken,
      operationId: "storeAppAccessToken",
      summary: "Get a store app's app_access_token with its app_ticket (10012: not a live ticket of the app)",
      auth: { kind: "none" },
      body: storeAppTokenRules,
      response: Responses.storeAppAccessToken,
      successMsg: "success",
      answer: async ({ body }) => {
        const issued = await store.appAccessToken(body as StoreAppAccessTokenRequest);
        return { app_access_token: issued.token, expire: issued.expire };
      },
    },
    {
      method: "POST",
      path: Paths.storeTenantAccessToken,
      operationId: "storeTenantAccessToken",
      summary:
        "Get a store app's tenant_access_token for a tenant it is installed in (10013: app token or installation wrong)",
      auth: { kind: "none" },
      body: storeTenantTokenRules,
      response: Responses.storeTenantAccessToken,
      successMsg: "success",
      answer: async ({ body }) => {
        const issued = await store.tenantAccessToken(body as StoreTenantAccessTokenRequest);
        return { tenant_access_token: issued.token, expire: issued.expire };
      },
    },
    {
      method: "POST",
      path: Paths.appTicketResend,
      operationId: "appTicketResend",
      summary: "Push a store app a new app_ticket now (the answer does not wait for the push)",
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
