import { StorageUnavailableError } from "../port.ts";

/**
 * SQLSTATE classes and codes that mean "try again later", never "the data says no":
 * connection exceptions (08), transaction rollbacks such as serialization failures and
 * deadlocks (40), insufficient resources (53), operator intervention such as admin shutdown
 * or a server still starting (57P01-57P05), lock timeouts (55P03), query cancel (57014, as
 * from statement_timeout). Besides these, any error of severity FATAL (see isTransient).
 */
const TRANSIENT_CLASSES = new Set(["08", "40", "53"]);
const TRANSIENT_CODES = new Set(["57P01", "57P02", "57P03", "57P04", "57P05", "55P03", "57014"]);

/** Messages the `pg` driver and pool raise, without a code, when a connection fails. */
const CONNECTION_MESSAGES =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended|Client was closed|Query read timeout|connect ECONN|socket hang up/i;
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

function sqlState(error: unknown): string | null {
  if (typeof error !== "object" || error === null) return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

function isFatal(error: unknown): boolean {
  const severity = (error as { severity?: unknown }).severity;
  return severity === "FATAL" || severity === "PANIC";
}

/**
 * Whether a failure raised by the driver is transient: a PostgreSQL SQLSTATE in the classes
 * above, a socket error (refused, reset…), or the driver's own connection failures (a
 * connection that ended mid-query, the pool's connect timeout). Anything else (a constraint
 * violation, a bug in our SQL or code) is not.
 */
export function isTransient(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  // Socket codes first: "EPIPE" would otherwise pass for a five-character SQLSTATE.
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && SOCKET_CODES.has(code)) return true;
  const state = sqlState(error);
  // A FATAL ends the session: whatever it was doing rolled back, and the database refused or
  // dropped this connection, not the request (55000 "database … is not currently accepting
  // connections" under ALLOW_CONNECTIONS false, a database dropped or renamed, a role locked).
  if (state !== null && isFatal(error)) return true;
  if (state !== null) return TRANSIENT_CLASSES.has(state.slice(0, 2)) || TRANSIENT_CODES.has(state);
  if (error instanceof AggregateError) return error.errors.some(isTransient);
  return error instanceof Error && CONNECTION_MESSAGES.test(error.message);
}

/**
 * Translates a driver failure for the port: transient failures become
 * `StorageUnavailableError` (the caller answers with a retryable error, never a domain outcome);
 * anything else (a constraint or syntax error: a bug) is passed on unchanged.
 */
export function translateError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  if (!isTransient(error)) return error;
  const state = SOCKET_CODES.has(String((error as { code?: unknown }).code)) ? null : sqlState(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new StorageUnavailableError(
    `PostgreSQL unavailable${state === null ? "" : ` (${state})`}: ${detail}`,
    { cause: error },
  );
}

/** Whether the error came from the PostgreSQL server (so the connection itself is still usable). */
export function hasSqlState(error: unknown): boolean {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && !SOCKET_CODES.has(code) && sqlState(error) !== null;
}
