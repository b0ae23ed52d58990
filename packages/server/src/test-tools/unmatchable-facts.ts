/**
 * Facts a fault rule may name that an endpoint never learns before its work: a rule naming one
 * could never apply, so it is refused when added (9400 with the reason) rather than accepted
 * with 201 and silently ignored. Listed for the store endpoints, whose bodies carry no
 * app token caller (handler.ts learns `app_id` from the body only).
 */
import { Paths } from "@mina-auth/protocol";

type Fact = "app_id" | "tenant_key" | "user_id";

const UNKNOWABLE: ReadonlyMap<string, ReadonlyArray<[Fact, string]>> = new Map([
  [
    Paths.storeAppAccessToken,
    [
      ["tenant_key", "an app token belongs to no tenant"],
      ["user_id", "no user is involved"],
    ],
  ],
  [
    Paths.storeTenantAccessToken,
    [
      ["app_id", "the body carries an app_access_token, not an app_id"],
      ["tenant_key", "the tenant is known only once the app token is checked"],
      ["user_id", "no user is involved"],
    ],
  ],
  [
    Paths.appTicketResend,
    [
      ["tenant_key", "an app ticket belongs to no tenant"],
      ["user_id", "no user is involved"],
    ],
  ],
]);

/** Why a rule on `path` naming these facts could never match, or null when it can. */
export function unmatchableReason(path: string, match: Partial<Record<Fact, string>>): string | null {
  for (const [fact, why] of UNKNOWABLE.get(path) ?? []) {
    if (match[fact])
      return `match.${fact}: ${path} never knows it before its work (${why}), so the rule could never apply`;
  }
  return null;
}
