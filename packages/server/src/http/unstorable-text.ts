import { isUtf8 } from "node:buffer";

/**
 * Text a database refuses, caught at the edge (issue 14, item 3): PostgreSQL rejects a NUL
 * character in any text value ("invalid byte sequence for encoding UTF8: 0x00"), and a lone
 * UTF-16 surrogate (`"\ud800"` in JSON) has no UTF-8 form, so a driver silently replaces it and
 * the stored value is not the one sent. Both are refused before any storage call, on every
 * dialect alike, with the endpoint's invalid-parameter code: no 500, no stack trace in the log.
 */

/** A NUL, or a surrogate code unit without its pair (with the `u` flag a proper pair is one code point, not Cs). */
const UNSTORABLE = /[\0\p{Cs}]/u;

function unstorable(text: string): boolean {
  return UNSTORABLE.test(text);
}

/**
 * The path (`app_id`, `users[2].name`) of the first string in `value`, key or value, that a
 * database would refuse; null when there is none. Only the path is ever reported: the value
 * may be a secret.
 */
export function findUnstorableText(value: unknown, path = ""): string | null {
  if (typeof value === "string") return unstorable(value) ? path || "value" : null;
  if (typeof value !== "object" || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], `${path}[${i}]`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const itemPath = path === "" ? key : `${path}.${key}`;
    // A key is reported by its parent's path: the key itself is request data.
    if (unstorable(key)) return path || "a key";
    const found = findUnstorableText(item, itemPath);
    if (found !== null) return found;
  }
  return null;
}

/**
 * Whether a JSON body's bytes can hold unstorable text at all: invalid UTF-8, or a `\u` escape
 * (the only way JSON spells a NUL or a lone surrogate; a raw NUL does not parse). Most bodies
 * have neither, and skip the walk.
 */
export function mayHoldUnstorableText(body: Buffer): boolean {
  return body.includes(0x5c) || !isUtf8(body);
}

/** Whether bytes are valid UTF-8 (Node's native check). */
export function isValidUtf8(bytes: Buffer): boolean {
  return isUtf8(bytes);
}

/** A request holds text a database would refuse; `where` names the field, never its value. */
export class UnstorableTextError extends Error {
  override readonly name = "UnstorableTextError";
  constructor(readonly where: string) {
    super(`${where} holds a NUL character, a lone surrogate or invalid UTF-8`);
  }
}

/** The message answered for it: which field, and why, without the value. */
export function unstorableTextMessage(where: string): string {
  return where === "body"
    ? "the body is not valid UTF-8"
    : `${where} holds a NUL character or invalid Unicode (refused: storage cannot hold it)`;
}

/** The first field of a routed request (path parameters, query string, body) storage cannot hold. */
export function findUnstorableInRequest(parts: {
  params: unknown;
  query: unknown;
  body: unknown;
}): string | null {
  for (const [name, value] of Object.entries(parts)) {
    const found = findUnstorableText(value, name);
    if (found !== null) return found;
  }
  return null;
}
