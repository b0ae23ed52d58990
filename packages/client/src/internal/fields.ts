// Reading the platform's JSON defensively, and keeping secrets out of text we produce.
import { MinaTransportError, type RequestTarget } from "../errors.ts";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function malformed(target: RequestTarget, status: number, field: string, logId?: string): MinaTransportError {
  // The field's name only: its value may be a secret.
  return new MinaTransportError(
    `${target.method} ${target.path} answered HTTP ${status} without a valid \`${field}\``,
    target,
    { httpStatus: status, logId },
  );
}

/** Typed access to a success body's fields; a missing required field is a transport error. */
export class FieldReader {
  constructor(
    private readonly obj: JsonObject,
    private readonly target: RequestTarget,
    private readonly status: number,
    private readonly prefix: string,
    private readonly logId?: string,
  ) {}

  string(key: string): string {
    const v = this.obj[key];
    if (typeof v !== "string" || v === "")
      throw malformed(this.target, this.status, this.prefix + key, this.logId);
    return v;
  }

  optionalString(key: string): string | undefined {
    const v = this.obj[key];
    return typeof v === "string" && v !== "" ? v : undefined;
  }

  /** A string the platform may send empty or leave out (e.g. en_name). */
  looseString(key: string): string {
    const v = this.obj[key];
    return typeof v === "string" ? v : "";
  }

  number(key: string): number {
    const v = this.obj[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw malformed(this.target, this.status, this.prefix + key, this.logId);
    }
    return v;
  }

  /** A number the answer may leave out (v2's refresh_token_expires_in, without offline_access). */
  optionalNumber(key: string): number | undefined {
    return this.obj[key] === undefined ? undefined : this.number(key);
  }

  /** The object itself, as the platform sent it. */
  raw(): JsonObject {
    return this.obj;
  }
}

/** Replaces every occurrence of each secret (of a meaningful length) in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join("***");
  }
  return out;
}

/** Below this, tokenLoginValidate's `expires_in` is read as seconds from now, not a timestamp. */
const TIMESTAMP_THRESHOLD = 1e9;

/** tokenLoginValidate: a Unix timestamp in seconds, or (if small) seconds from now. */
export function expiryFromTimestampOrSeconds(value: number, now: number): Date {
  return value < TIMESTAMP_THRESHOLD ? new Date(now + value * 1000) : new Date(value * 1000);
}

/** refresh: seconds from now. */
export function expiryFromSeconds(seconds: number, now: number): Date {
  return new Date(now + seconds * 1000);
}
