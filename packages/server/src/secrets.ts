import * as crypto from "node:crypto";
import { createHash, createHmac, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";

/**
 * Every secret mina-auth issues comes from here: at least 128 bits from the CSPRNG, and the
 * only form that reaches storage is its SHA-256 digest.
 */

/** crypto.hash (Node ≥ 20.12) digests in one call, a third of createHash's cost per token. */
const oneShotHash: ((algorithm: string, data: string, encoding: "hex") => string) | undefined = (
  crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }
).hash;

export const sha256Hex: (value: string) => string = oneShotHash
  ? (value) => oneShotHash("sha256", value, "hex")
  : (value) => createHash("sha256").update(value).digest("hex");

/**
 * CSPRNG bytes for the secrets issued on every login, drawn from a 4 KiB buffer refilled by
 * randomFillSync: one call into OpenSSL per ~50 logins instead of four per login (the same
 * bytes, a twentieth of the cost). Bytes are zeroed as they are handed out, so the pool never
 * holds a secret that was issued.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** Copies `length` fresh random bytes into `target` at `offset`. */
function fillRandom(target: Buffer, offset: number, length: number): void {
  if (poolOffset + length > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(target, offset, poolOffset, poolOffset + length);
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
}

function randomString(length: number, encoding: "hex" | "base64url"): string {
  const bytes = Buffer.allocUnsafe(length);
  fillRandom(bytes, 0, length);
  return bytes.toString(encoding);
}

/** Compares a presented secret with a stored digest in constant time (digests have one length). */
export function matchesDigest(presented: string, storedDigestHex: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = Buffer.from(storedDigestHex, "hex");
  return b.length === a.length && timingSafeEqual(a, b);
}

/** Constant-time equality of two strings of any length (hash first: timingSafeEqual needs equal lengths). */
export function constantTimeEquals(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/**
 * Login codes and user tokens lead with the time they were issued (milliseconds, 48 bits, in
 * clear) before their random part, and at rest they are keyed by that time followed by the
 * SHA-256 of the whole secret (`storageKey`). Keys issued close together then sort next to each
 * other: each commit appends to the right edge of the token indexes instead of writing one
 * random page per token (docs/performance.md, "time-led secrets"). The time is not secret; the
 * random part alone carries the 128 or 256 bits.
 */
const ISSUED_BYTES = 6;

/** The issue time, then `randomLength` random bytes. */
function timeLed(now: number, randomLength: number, encoding: "hex" | "base64url"): string {
  const bytes = Buffer.allocUnsafe(ISSUED_BYTES + randomLength);
  bytes.writeUIntBE(Math.floor(now), 0, ISSUED_BYTES);
  fillRandom(bytes, ISSUED_BYTES, randomLength);
  return bytes.toString(encoding);
}

/** 44 hex digits: 12 of issue time, then 128 random bits. */
export const newLoginCode = (now: number): string => timeLed(now, 16, "hex");
export const newSessionKey = (): string => randomString(32, "hex");
/** `u-` and 51 base64url characters: 6 bytes of issue time, then 256 random bits. */
export const newUserAccessToken = (now: number): string => `u-${timeLed(now, 32, "base64url")}`;
/** `ur-` and 51 base64url characters, laid out like the access token. */
export const newRefreshToken = (now: number): string => `ur-${timeLed(now, 32, "base64url")}`;

export type TimeLedSecret = "login_code" | "access_token" | "refresh_token";

/** Characters before the payload, and the payload length of a time-led secret. */
const LAYOUT: Record<TimeLedSecret, { prefix: number; payload: number; encoding: "hex" | "base64url" }> = {
  login_code: { prefix: 0, payload: 44, encoding: "hex" },
  access_token: { prefix: 2, payload: 51, encoding: "base64url" },
  refresh_token: { prefix: 3, payload: 51, encoding: "base64url" },
};

/**
 * The only form of a code or token that reaches storage: its issue time in hex, then its SHA-256
 * digest. Tokens from before time-led secrets (`u-`/`ur-` and 43 characters) have no time and
 * are keyed by the digest alone, so sessions issued before an upgrade keep working.
 */
export function storageKey(kind: TimeLedSecret, secret: string): string {
  const layout = LAYOUT[kind];
  if (secret.length !== layout.prefix + layout.payload) return sha256Hex(secret);
  const time =
    layout.encoding === "hex"
      ? secret.slice(0, ISSUED_BYTES * 2)
      : Buffer.from(secret.slice(layout.prefix, layout.prefix + 8), "base64url").toString("hex");
  return time + sha256Hex(secret);
}
export const newAppSecret = (): string => randomBytes(24).toString("base64url");
export const newAdminToken = (): string => `adm-${randomBytes(32).toString("base64url")}`;
/**
 * Not secret: identifies a grant (session) in admin views and audit events. `g_` and 24 hex
 * digits: the time in milliseconds, then 48 random bits, so each new grant lands at the right
 * edge of the indexes keyed by grant_id (docs/performance.md, "time-ordered grant ids").
 */
export const newGrantId = (now: number): string =>
  `g_${Math.floor(now).toString(16).padStart(12, "0")}${randomString(6, "hex")}`;
export const newSalt = (): string => randomBytes(16).toString("hex");

// Identifiers, not secrets: random so they carry no information, formatted like the platform's.
export const newAppId = (): string => `cli_${randomBytes(8).toString("hex")}`;
export const newTenantKey = (): string => randomBytes(8).toString("hex");
export const newOpenId = (): string => `ou_${randomBytes(16).toString("hex")}`;
export const newUnionId = (): string => `on_${randomBytes(16).toString("hex")}`;
export const newUserId = (): string => randomBytes(4).toString("hex");

/**
 * App and tenant tokens are derived, not stored: HMAC(app_secret, salt). The platform hands the
 * same token back while 30 minutes or more remain; deriving it from the secret the caller
 * presents lets us do that while keeping only the token's digest and the salt at rest.
 */
export function deriveAppToken(appSecret: string, salt: string, scope: string): string {
  return `t-${createHmac("sha256", appSecret).update(`${salt}|${scope}`).digest("hex")}`;
}
