import type {
  AppCredentialsRequest,
  StoreAppAccessTokenRequest,
  StoreTenantAccessTokenRequest,
} from "@mina-auth/protocol";
import { matchesDigest } from "../secrets.ts";
import type { App, CatalogueStorage } from "../storage/port.ts";
import type { AppTickets } from "./app-tickets.ts";
import type { AppTokenService, IssuedAppToken } from "./app-tokens.ts";
import { ApiError } from "./errors.ts";
import type { RateLimiter } from "./rate-limits.ts";

/** Asks for an app_ticket push off the request path (event-pusher.ts). */
export interface TicketPushRequester {
  requestTicketPush(appId: string): void;
}

/**
 * Store (marketplace) apps' tokens, as the platform issues them: the app_access_token against
 * the app's secret AND the latest app_ticket pushed to its event URL; a tenant_access_token per
 * tenant the app is installed in, against that app_access_token; and the resend that makes the
 * platform push a ticket now. Bodies' shapes were checked at the edge (schemas.ts: 10003).
 */
export class StoreAppTokenService {
  constructor(
    private readonly storage: Pick<CatalogueStorage, "getApp" | "listInstallations">,
    private readonly appTokens: AppTokenService,
    private readonly tickets: AppTickets,
    private readonly pusher: TicketPushRequester,
    private readonly limiter?: RateLimiter,
  ) {}

  /** POST auth/v3/app_access_token: 10003 not a store app, 10014 wrong secret, 10012 bad ticket. */
  async appAccessToken(request: StoreAppAccessTokenRequest): Promise<IssuedAppToken> {
    const app = await this.#storeApp(request);
    if (!(await this.tickets.accepts(app.appId, request.app_ticket))) throw new ApiError("AppTicketInvalid");
    await this.limiter?.appTokenIssued(app.appId);
    return this.appTokens.issueFor("app", app.appId, null, request.app_secret);
  }

  /** POST auth/v3/tenant_access_token: 10013 when the app token or the installation is wrong. */
  async tenantAccessToken(request: StoreTenantAccessTokenRequest): Promise<IssuedAppToken> {
    const caller = await this.appTokens.authenticate(request.app_access_token);
    if (caller === null || caller.kind !== "app") throw new ApiError("TenantAccessTokenFailed");
    const app = await this.storage.getApp(caller.appId);
    if (app === null || app.type !== "store") throw new ApiError("TenantAccessTokenFailed");
    const installations = await this.storage.listInstallations(app.appId);
    if (!installations.some((i) => i.tenantKey === request.tenant_key)) {
      throw new ApiError("TenantAccessTokenFailed");
    }
    await this.limiter?.appTokenIssued(app.appId);
    // Derived from the app token presented: the same tenant token comes back while the caller
    // holds the same app token and ≥ 30 min remain, as the platform's page describes.
    return this.appTokens.issueFor("tenant", app.appId, request.tenant_key, request.app_access_token);
  }

  /**
   * POST auth/v3/app_ticket/resend: answers at once; the push happens off the request path (a
   * burst makes one push: event-pusher.ts). Counted per app across instances; over the limit
   * 99991400 and nothing pushed.
   */
  async resendTicket(request: AppCredentialsRequest): Promise<void> {
    const app = await this.#storeApp(request);
    await this.limiter?.ticketResend(app.appId);
    this.pusher.requestTicketPush(app.appId);
  }

  async #storeApp(credentials: AppCredentialsRequest): Promise<App> {
    const app = await this.storage.getApp(credentials.app_id);
    // The app_ticket flow is the store apps'; a self-built app gets its tokens from /internal.
    if (app === null || app.type !== "store") throw new ApiError("InvalidParam");
    if (!matchesDigest(credentials.app_secret, app.secretHash)) {
      await this.limiter?.failedAppSecret(app.appId);
      throw new ApiError("AppSecretInvalid");
    }
    return app;
  }
}
