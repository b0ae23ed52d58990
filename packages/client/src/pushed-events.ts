/**
 * Reading what the platform pushes to a store app's event URL: the url_verification challenge and
 * the `app_ticket` event, in the clear or encrypted with the app's Encrypt Key. Web Crypto only
 * (no dependency): Node.js ≥ 19 or a browser.
 */
import { subtle } from "./web-crypto.ts";

/** What {@link readPushedEvent} found in a pushed body. */
export type PushedEvent =
  /** Answer the request with `{"challenge": challenge}` (the platform checks the URL so). */
  | { kind: "challenge"; challenge: string }
  /** A new app_ticket: hand it to the client's `appTicket` source. */
  | { kind: "app_ticket"; appId: string; appTicket: string }
  /** Any other event; `type` is its event type when it has one. */
  | { kind: "other"; type: string | undefined };

/** A request's headers: Node's `req.headers`, or a Fetch `Headers`. */
export type PushedEventHeaders =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null };

/** Options of {@link readPushedEvent}. */
export interface ReadPushedEventOptions {
  /** The app's Verification Token: an event carrying another token is refused. */
  verificationToken?: string;
  /**
   * The app's Encrypt Key, when events are encrypted. With it, an event must carry a valid
   * `X-Lark-Signature` (pass `headers`), as the official SDKs require.
   */
  encryptKey?: string;
  /** The request's headers: their `X-Lark-Request-Timestamp`, `-Nonce` and `X-Lark-Signature`. */
  headers?: PushedEventHeaders;
}

/** A pushed body that cannot be an event of this app. */
export class PushedEventError extends Error {
  override readonly name = "PushedEventError";
}

async function decrypt(encrypt: string, encryptKey: string): Promise<string> {
  const crypto = subtle();
  const bytes = Uint8Array.from(atob(encrypt), (c) => c.charCodeAt(0));
  if (bytes.length < 32 || bytes.length % 16 !== 0)
    throw new PushedEventError("encrypt: not AES-256-CBC data");
  const keyBytes = await crypto.digest("SHA-256", new TextEncoder().encode(encryptKey));
  const key = await crypto.importKey("raw", keyBytes, { name: "AES-CBC" }, false, ["decrypt"]);
  try {
    const plain = await crypto.decrypt(
      { name: "AES-CBC", iv: bytes.subarray(0, 16) },
      key,
      bytes.subarray(16),
    );
    return new TextDecoder().decode(plain);
  } catch {
    throw new PushedEventError("encrypt: does not decrypt with this Encrypt Key");
  }
}

function header(headers: PushedEventHeaders | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (typeof headers.get === "function")
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  // Node lowercases header names; other hosts (a Lambda event, a hand-made object) may not.
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return typeof value === "string" ? value : undefined;
}

/**
 * X-Lark-Signature = hex SHA-256(timestamp ‖ nonce ‖ Encrypt Key ‖ body): without it anyone who
 * can reach the event URL could push a ticket of their choosing (a ciphertext alone does not
 * authenticate: AES-CBC without a MAC).
 */
async function checkSignature(raw: string, encryptKey: string, headers: PushedEventHeaders | undefined) {
  const signature = header(headers, "x-lark-signature");
  const timestamp = header(headers, "x-lark-request-timestamp");
  const nonce = header(headers, "x-lark-request-nonce");
  if (signature === undefined || timestamp === undefined || nonce === undefined) {
    throw new PushedEventError(
      "the event has no X-Lark-Signature, X-Lark-Request-Timestamp and X-Lark-Request-Nonce: pass the request's headers",
    );
  }
  const digest = await subtle().digest(
    "SHA-256",
    new TextEncoder().encode(timestamp + nonce + encryptKey + raw),
  );
  const expected = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
  let difference = expected.length ^ signature.length;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ signature.charCodeAt(i);
  if (difference !== 0) throw new PushedEventError("X-Lark-Signature does not match the body");
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Reads a body the platform (or mina-auth) pushed to the app's event URL: decrypts it with the
 * Encrypt Key when it is `{"encrypt": …}`, checks `X-Lark-Signature` when an Encrypt Key is
 * given and the Verification Token when one is, and says whether it is the URL challenge, an
 * `app_ticket` event (schema 1.0 or 2.0) or another event.
 *
 * @throws {PushedEventError} when the body is not a JSON object, is encrypted without a key
 *   given, does not decrypt, is unsigned or signed wrongly while an Encrypt Key is given, or
 *   carries another Verification Token.
 * @example
 * ```ts
 * let ticket: string | undefined;
 * const client = new MinaClient({ appId, appSecret, appTicket: () => ticket });
 * app.post("/events", async (req, reply) => {
 *   const pushed = await readPushedEvent(req.body, { verificationToken, encryptKey, headers: req.headers });
 *   if (pushed.kind === "challenge") return { challenge: pushed.challenge };
 *   if (pushed.kind === "app_ticket") ticket = pushed.appTicket;
 *   return {};
 * });
 * ```
 */
export async function readPushedEvent(
  body: unknown,
  options: ReadPushedEventOptions = {},
): Promise<PushedEvent> {
  const outer: unknown = typeof body === "string" ? parse(body) : body;
  let event = outer;
  if (isObject(event) && typeof event.encrypt === "string") {
    if (options.encryptKey === undefined)
      throw new PushedEventError("the event is encrypted: pass encryptKey");
    event = parse(await decrypt(event.encrypt, options.encryptKey));
  }
  if (!isObject(event)) throw new PushedEventError("the event is not a JSON object");
  // As the official SDKs: the URL challenge is answered unsigned (it only echoes a value back);
  // every event must be signed once an Encrypt Key is set. A parsed body is signed as the SDKs
  // re-serialize it.
  const challenge = event.type === "url_verification" && typeof event.challenge === "string";
  if (options.encryptKey !== undefined && !challenge) {
    await checkSignature(
      typeof body === "string" ? body : JSON.stringify(outer),
      options.encryptKey,
      options.headers,
    );
  }
  const header = isObject(event.header) ? event.header : undefined;
  // Schema 2.0 carries the token in its header, 1.0 and the challenge at the top.
  const token = header?.token ?? event.token;
  if (options.verificationToken !== undefined && token !== options.verificationToken) {
    throw new PushedEventError("the event carries another Verification Token");
  }
  if (challenge) return { kind: "challenge", challenge: event.challenge as string };
  const inner = isObject(event.event) ? event.event : {};
  const type = typeof header?.event_type === "string" ? header.event_type : inner.type;
  if (type === "app_ticket" && typeof inner.app_ticket === "string" && typeof inner.app_id === "string") {
    return { kind: "app_ticket", appId: inner.app_id, appTicket: inner.app_ticket };
  }
  return { kind: "other", type: typeof type === "string" ? type : undefined };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PushedEventError("the body is not JSON");
  }
}
