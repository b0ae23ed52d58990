import { ApiError } from "./errors.ts";

/**
 * The scopes a login code may be granted: what tt.requestAccess's scopeList names, each one a
 * scope the app holds (on the platform an app can only ask its users for scopes enabled in its
 * developer console; docs/platform-codes.md §12), each once, in the order given. An empty list
 * grants the user's identity alone, as `scopeList: []` does.
 */
export function grantableScopes(requested: readonly string[], appScopes: readonly string[]): string[] {
  const held = new Set(appScopes);
  const granted: string[] = [];
  for (const scope of requested) {
    if (!held.has(scope)) {
      throw new ApiError(
        "AdminInvalidRequest",
        `scope ${JSON.stringify(scope)} is not one of the app's scopes`,
      );
    }
    if (!granted.includes(scope)) granted.push(scope);
  }
  return granted;
}
