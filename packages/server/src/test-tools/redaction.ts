import { createHash } from "node:crypto";

/**
 * What the journal keeps of a request or response body: a copy in which nothing secret can
 * pass, of bounded depth and size (test-tools/journal.ts). A secret becomes `[redacted:xxxxxxxx]`,
 * the first 8 hex digits of its SHA-256: a test can still see that two requests carried the same
 * token, and nobody can use or recover it.
 *
 * Two nets, because a body is the caller's and may be any JSON:
 * - by name: a string under a key that names a credential (any case, any depth, inside arrays);
 * - by shape: any string that contains something shaped like a secret mina-auth issues (login
 *   code, session key, app or user token, refresh token, app secret), whatever its key, so an
 *   array of codes or an unexpected field cannot carry one through.
 * Over-redacting an identifier that happens to look like a secret is the accepted cost.
 */

/** Key names whose string values are secrets (compared lower-cased, as substrings). */
const SECRET_KEY = /token|secret|code|session_?key|password|credential|authorization|ticket/;

/**
 * Secret shapes (packages/protocol ids.ts, secrets.ts): 32 or 44 hex (codes, session keys),
 * `t-` + 64 hex (app tokens), `u-`/`ur-` + 43 or 51 base64url (user and refresh tokens), 32
 * base64url (app secrets). Delimited by anything that is not a base64url character, so that an
 * `ou_` + 32 hex open_id (35 characters) stays readable.
 */
const SECRET_SHAPE =
  /(?<![0-9A-Za-z_-])(?:[0-9a-f]{44}|t-[0-9a-f]{64}|ur?-(?:[0-9A-Za-z_-]{51}|[0-9A-Za-z_-]{43})|[0-9A-Za-z_-]{32})(?![0-9A-Za-z_-])/;

/** Deeper than this, a value is kept as a note: nobody reads a journal entry 32 levels down. */
export const MAX_DEPTH = 32;
/** At most this many values (strings, numbers, keys…) per body; the rest is cut. */
export const MAX_NODES = 2_000;

export const fingerprint = (secret: string): string =>
  `[redacted:${createHash("sha256").update(secret).digest("hex").slice(0, 8)}]`;

const secretKey = (key: string) => SECRET_KEY.test(key.toLowerCase());

/** The result of `redact`: the copy, and whether the bounds cut part of the value. */
export interface Redacted {
  value: unknown;
  cut: boolean;
}

/**
 * A copy of a JSON value with every secret replaced, at most MAX_DEPTH deep and MAX_NODES
 * values large (the cut parts become `"[cut]"`). The recursion stops at MAX_DEPTH, so no body
 * can exhaust the stack; `underSecret`: everything below a credential's key is secret too.
 */
export function redactBounded(value: unknown): Redacted {
  let nodes = 0;
  let cut = false;
  const walk = (item: unknown, underSecret: boolean, depth: number): unknown => {
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) {
      cut = true;
      return "[cut]";
    }
    if (typeof item === "string") {
      return underSecret || SECRET_SHAPE.test(item) ? fingerprint(item) : item;
    }
    if (Array.isArray(item)) {
      const out: unknown[] = [];
      for (const inner of item) {
        out.push(walk(inner, underSecret, depth + 1));
        if (nodes > MAX_NODES) break;
      }
      return out;
    }
    if (item !== null && typeof item === "object") {
      const out: Record<string, unknown> = {};
      for (const [name, inner] of Object.entries(item)) {
        // A key can itself be a secret (`{"<code>": 1}`).
        const safeName = SECRET_SHAPE.test(name) ? fingerprint(name) : name;
        out[safeName] = walk(inner, underSecret || secretKey(name), depth + 1);
        if (nodes > MAX_NODES) break;
      }
      return out;
    }
    return item;
  };
  const out = walk(value, false, 0);
  return { value: out, cut };
}

/** `redactBounded`'s copy alone. */
export const redact = (value: unknown): unknown => redactBounded(value).value;
