/**
 * What a server code means, in words a person acts on. The server's own msg follows in
 * brackets, so nothing it said is hidden.
 */
const WORDS: Record<number, string> = {
  0: "The server could not be reached. Is it still running?",
  9400: "The server refused the request",
  9401: "The admin token was refused. Sign in again with the token the server printed.",
  9404: "Not found",
  9409: "That already exists",
  9412: "This server was started without that tool",
  9413: "The request is too large (64 KiB at most).",
  9500: "The server failed unexpectedly; its log has the details.",
  9502: "Storage failed while the change may have been saved: check before trying again.",
  10003: "The app ID is unknown or the request is missing a field.",
  10014: "The app secret is wrong.",
  10202: "The app access token is invalid or expired.",
  10213: "The code belongs to another app, or was already used.",
  10226: "The code is missing, malformed, unknown or expired (a code lives 3 minutes).",
  10228: "This user may not log in to this app: the user is deactivated or outside the app's visibility.",
  20022: "The user has been deactivated.",
  20026: "The refresh token is unknown.",
  20037: "The refresh token's family has expired (30 days after login).",
  20038: "The refresh token was already used or its session was revoked.",
  20050: "Storage did not answer; nothing changed. Try again.",
  1500: "Storage did not answer; nothing changed. Try again.",
  99991400: "Too many requests: a rate limit was reached. Wait a minute.",
  99991661: "No user access token was sent.",
  99991668: "The user access token is no longer valid: it expired or its session was revoked.",
};

/**
 * Codes whose explanation is completed by the server's msg, which names the field or the thing
 * after the registry's own words ("not found: app cli_…"): those words are not repeated.
 */
const DETAILED: Record<number, string> = {
  9400: "invalid request: ",
  9404: "not found: ",
  9409: "already exists: ",
  9412: "not enabled on this server: ",
};

export function inWords(code: number, msg: string): string {
  const words = WORDS[code];
  if (words === undefined) return `Error ${code}: ${msg}`;
  const prefix = DETAILED[code];
  if (prefix !== undefined)
    return `${words}: ${msg.startsWith(prefix) ? msg.slice(prefix.length) : msg} (code ${code})`;
  return `${words} (code ${code}: ${msg})`;
}
