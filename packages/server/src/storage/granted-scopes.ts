/**
 * The scopes a login code (and the login it opens) was granted, as storage keeps them: the
 * scope string of OAuth (RFC 6749 §3.3, space-separated; a scope never contains a space), or
 * NULL for "every scope of the app" (a code from tt.login, and everything stored before
 * migration 0005). Both adapters store and read them through these two functions.
 */

/** The stored form of a code's scopes: null (every scope of the app) stays null. */
export function encodeGrantedScopes(scopes: readonly string[] | null | undefined): string | null {
  return scopes == null ? null : scopes.join(" ");
}

/**
 * The scopes in force: what was granted, kept only while the app still holds it (an app that
 * loses a scope loses it for every login at once), in the app's order.
 */
export function scopesInForce(appScopes: readonly string[], granted: string | null): string[] {
  if (granted === null) return [...appScopes];
  const kept = new Set(granted.split(" "));
  return appScopes.filter((scope) => kept.has(scope));
}
