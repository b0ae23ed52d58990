import { StorageUnavailableError } from "../port.ts";

/** SQLite result codes (and their extended forms) that mean "try again", not "wrong data". */
const TRANSIENT = [
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_IOERR",
  "SQLITE_FULL",
  "SQLITE_CANTOPEN",
  "SQLITE_PROTOCOL",
  "SQLITE_NOMEM",
  "SQLITE_INTERRUPT",
];

function sqliteCode(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("code" in error)) return null;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : null;
}

export function isTransient(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== null && TRANSIENT.some((prefix) => code === prefix || code.startsWith(`${prefix}_`));
}

/**
 * Transient failures (busy, locked, I/O) become `StorageUnavailableError`, so that no caller
 * can mistake them for a domain outcome; anything else (a constraint, a bug) is passed on.
 */
export function toStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  if (isTransient(error)) {
    return new StorageUnavailableError(`sqlite: ${sqliteCode(error)}`, { cause: error });
  }
  return error;
}
