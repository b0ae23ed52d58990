import {
  type AppCredentialsRequest,
  Paths,
  type StoreAppAccessTokenRequest,
  type StoreTenantAccessTokenRequest,
} from "@mina-auth/protocol";
import type { StoreAppTokenService } from "../../domain/store-app-tokens.ts";
import type { TicketResends } from "../../domain/ticket-resends.ts";
import type { Endpoint } from "./endpoints.ts";
import { credentialsRules, Responses, storeAppTokenRules, storeTenantTokenRules } from "./schemas.ts";

/** What the store endpoints answer with: the service, and the resends it was given as requester. */
export interface StoreApps {
  tokens: StoreAppTokenService;
  resends: TicketResends;
}

/** The store (marketplace) apps' auth/v3 endpoints: tokens against the pushed app_ticket. */
export function storeAppEndpoints({ tokens: store, resends }: StoreApps): Endpoint[] {
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
      summary:
        "Push a store app a new app_ticket now (the answer does not wait for the push; a burst makes one push; 99991400 over the per-app limit)",
      auth: { kind: "none" },
      body: credentialsRules,
      response: Responses.appTicketResend,
      successMsg: "success",
      answer: async ({ body }) => {
        const request = body as AppCredentialsRequest;
        await store.resendTicket(request); // 10003, 10014; else the credentials passed
        await resends.admit(request.app_id);
        return {};
      },
    },
  ];
}
