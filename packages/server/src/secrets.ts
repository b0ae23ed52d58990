import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Every secret mina-auth issues comes from here: at least 128 bits from the CSPRNG, and the
 * only form that reaches storage is its SHA-256 digest.
 */

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
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

export const newLoginCode = (): string => randomBytes(16).toString("hex");
export const newSessionKey = (): string => randomBytes(32).toString("hex");
export const newUserAccessToken = (): string => `u-${randomBytes(32).toString("base64url")}`;
export const newRefreshToken = (): string => `ur-${randomBytes(32).toString("base64url")}`;
export const newAppSecret = (): string => randomBytes(24).toString("base64url");
export const newAdminToken = (): string => `adm-${randomBytes(32).toString("base64url")}`;
/** Not secret: identifies a grant (session) in admin views and audit events. */
export const newGrantId = (): string => `g_${randomBytes(12).toString("hex")}`;
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
