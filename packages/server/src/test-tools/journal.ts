import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Clock } from "../clock.ts";

/** One platform request as the journal keeps it: every secret replaced (see `redact`). */
export interface JournalEntry {
  /** Increases by one per entry: `since` in a filter takes the entries after one. */
  seq: number;
  /** Unix milliseconds on the server's clock (a manual clock's time when it runs one). */
  at: number;
  method: string;
  /** The endpoint's path, or `unmatched`. */
  route: string;
  /** The caller's app, when the request named one (its app token, or app_id in the body). */
  app_id: string | null;
  /** null: no answer was sent (a dropped connection or a timeout). */
  status: number | null;
  code: number | null;
  ms: number;
  /** The id of the fault rule that applied, if one did. */
  fault: string | null;
  request: { headers: Record<string, string>; body: unknown };
  response: unknown;
}

export interface JournalFilter {
  route?: string;
  app_id?: string;
  status?: number;
  code?: number;
  /** A rule's id, or `any` for every request a fault applied to. */
  fault?: string;
  /** Entries whose seq is greater. */
  since?: number;
  /** The newest this many (default all kept). */
  limit?: number;
}

/** What the platform handler hands over once a request ended. */
export type JournalRecord = Omit<JournalEntry, "seq" | "at" | "request" | "response"> & {
  headers: IncomingHttpHeaders;
  requestBody: unknown;
  responseBody: unknown;
};

/**
 * Fields whose values are secrets: credentials, codes, tokens, session keys. A secret becomes
 * `[redacted:xxxxxxxx]`, the first 8 hex digits of its SHA-256: a test can still see that two
 * requests carried the same token, and nobody can use or recover it.
 */
const SECRET_FIELDS = new Set([
  "app_secret",
  // A store app's app_ticket gets its app_access_token: a credential like the secret.
  "app_ticket",
  "code",
  "app_access_token",
  "tenant_access_token",
  "access_token",
  "refresh_token",
  "session_key",
  "id_token",
]);
/** Headers kept in an entry; the rest (cookies, proxies' additions) are left out. */
const KEPT_HEADERS = ["authorization", "content-type", "content-length", "user-agent", "x-request-id"];
/** A body larger than this (as JSON) is kept as a note of its size only: the journal is bounded. */
const MAX_BODY_CHARS = 4096;

const fingerprint = (secret: string) =>
  `[redacted:${createHash("sha256").update(secret).digest("hex").slice(0, 8)}]`;

/** A copy of a JSON value with every secret field's value replaced. */
export function redact(value: unknown, key = ""): unknown {
  if (typeof value === "string") return SECRET_FIELDS.has(key) ? fingerprint(value) : value;
  if (Array.isArray(value)) return value.map((item) => redact(item, key));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [name, inner] of Object.entries(value)) out[name] = redact(inner, name);
    return out;
  }
  return value;
}

function redactHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = headers[name];
    if (typeof value !== "string") continue;
    if (name === "authorization") {
      const space = value.indexOf(" ");
      out[name] =
        space === -1 ? fingerprint(value) : `${value.slice(0, space)} ${fingerprint(value.slice(space + 1))}`;
    } else {
      out[name] = value;
    }
  }
  return out;
}

function bounded(body: unknown): unknown {
  if (body === undefined) return null;
  const redacted = redact(body);
  const chars = JSON.stringify(redacted)?.length ?? 0;
  return chars > MAX_BODY_CHARS ? { truncated: true, chars } : redacted;
}

/** The last `capacity` platform requests, in memory (a ring: the oldest go first). */
export class Journal {
  readonly #entries: JournalEntry[] = [];
  #seq = 0;

  constructor(
    readonly capacity: number,
    private readonly clock: Clock,
  ) {}

  record(record: JournalRecord): void {
    const { headers, requestBody, responseBody, ...fields } = record;
    this.#entries.push({
      seq: ++this.#seq,
      at: this.clock.now(),
      ...fields,
      ms: Math.round(fields.ms * 10) / 10,
      request: { headers: redactHeaders(headers), body: bounded(requestBody) },
      response: bounded(responseBody),
    });
    if (this.#entries.length > this.capacity) this.#entries.shift();
  }

  /** The kept entries that pass the filter, oldest first. */
  query(filter: JournalFilter = {}): JournalEntry[] {
    const matches = this.#entries.filter(
      (e) =>
        (filter.since === undefined || e.seq > filter.since) &&
        (filter.route === undefined || e.route === filter.route) &&
        (filter.app_id === undefined || e.app_id === filter.app_id) &&
        (filter.status === undefined || e.status === filter.status) &&
        (filter.code === undefined || e.code === filter.code) &&
        (filter.fault === undefined ||
          (filter.fault === "any" ? e.fault !== null : e.fault === filter.fault)),
    );
    return filter.limit === undefined ? matches : matches.slice(-filter.limit);
  }

  /** The seq of the newest entry (0 when none yet): a mark for `since`. */
  get lastSeq(): number {
    return this.#seq;
  }

  clear(): void {
    this.#entries.length = 0;
  }
}
