import type { MintCodeRequest } from "../domain/login.ts";

/** The body of POST /admin/v1/login-codes (admin-schemas.ts checked its shape). */
export interface MintCodesBody {
  app_id: string;
  user_id: string;
  tenant_key?: string;
  count?: number;
  /** tt.requestAccess's scopeList; left out: every scope of the app (tt.login). */
  scopes?: string[];
  code_challenge?: string;
  code_challenge_method?: "S256" | "plain";
}

/** The domain's request from the wire body; optional fields stay absent rather than undefined. */
export function mintRequestOf(body: MintCodesBody): MintCodeRequest {
  return {
    appId: body.app_id,
    userId: body.user_id,
    ...(body.tenant_key === undefined ? {} : { tenantKey: body.tenant_key }),
    ...(body.scopes === undefined ? {} : { scopes: body.scopes }),
    ...(body.code_challenge === undefined
      ? {}
      : { codeChallenge: { value: body.code_challenge, method: body.code_challenge_method ?? "S256" } }),
  };
}
