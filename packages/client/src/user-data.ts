/**
 * Checking and opening what `tt.getUserInfo({withCredentials: true})` returns on a device, with
 * the `session_key` from tokenLoginValidate, as Feishu's "processing sensitive data" page
 * describes: `signature = sha1(rawData + session_key)`; `encryptedData` is AES-128-CBC with
 * PKCS#7 padding, base64, under the key `hex_decode(session_key)` and `hex_decode(iv)` (the
 * page's code samples hex-decode both; mina-auth's docs/platform-codes.md has the sources).
 *
 * Web Crypto only (global in Node ≥ 19 and browsers): no dependency, no `node:` import.
 */
import { subtle } from "./web-crypto.ts";

/** Which check failed. The message never carries the session_key. */
export type UserDataErrorCode =
  | "malformed_input"
  | "invalid_session_key"
  | "signature_mismatch"
  | "decrypt_failed"
  | "appid_mismatch"
  | "watermark_expired";

/** A refused getUserInfo payload; `code` names the check that failed. */
export class UserDataError extends Error {
  override readonly name = "UserDataError";
  constructor(
    readonly code: UserDataErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The plaintext of encryptedData. */
export interface UserSensitiveData {
  openId: string;
  unionId: string;
  /** Present when the app holds `contact:user.email:readonly`. */
  email?: string;
  /** Present when the app holds `contact:user.employee_id:readonly`. */
  employee_id?: string;
  watermark: { appid: string; timestamp: number };
  [field: string]: unknown;
}

export interface DecryptUserDataOptions {
  /** Your app_id: the watermark must name it. */
  appId: string;
  /** How old the watermark may be (and how far ahead of your clock), in milliseconds. */
  maxAgeMs: number;
  /** Unix milliseconds to judge freshness by (default `Date.now()`). */
  now?: number;
}

const HEX_16_BYTES = /^[0-9a-fA-F]{32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function sessionKeyBytes(sessionKey: string): Uint8Array {
  if (typeof sessionKey !== "string" || !HEX_16_BYTES.test(sessionKey))
    throw new UserDataError(
      "invalid_session_key",
      "session_key must be 32 hex digits (16 bytes, the AES-128 key)",
    );
  return hexBytes(sessionKey);
}

/** Equal-length comparison whose time does not depend on where the inputs differ. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Checks that `rawData` is what the platform signed for this session.
 *
 * @throws {UserDataError} `signature_mismatch` when rawData was altered or the key is another
 *   session's; `malformed_input` when an argument is not a string.
 * @example
 * ```ts
 * await verifyUserInfoSignature(res.rawData, res.signature, session.sessionKey);
 * ```
 */
export async function verifyUserInfoSignature(
  rawData: string,
  signature: string,
  sessionKey: string,
): Promise<void> {
  if (typeof rawData !== "string" || typeof signature !== "string" || typeof sessionKey !== "string")
    throw new UserDataError("malformed_input", "rawData, signature and session_key must be strings");
  const expected = new Uint8Array(
    await subtle().digest("SHA-1", new TextEncoder().encode(rawData + sessionKey)),
  );
  const presented = /^[0-9a-fA-F]{40}$/.test(signature) ? hexBytes(signature) : new Uint8Array(0);
  if (!constantTimeEqual(expected, presented))
    throw new UserDataError("signature_mismatch", "signature does not match sha1(rawData + session_key)");
}

/**
 * Decrypts `encryptedData` and checks its watermark: your app, and fresh.
 *
 * @throws {UserDataError} `invalid_session_key`, `malformed_input` (iv or encryptedData not in
 *   their format), `decrypt_failed` (wrong key or altered data), `appid_mismatch`,
 *   `watermark_expired`.
 * @example
 * ```ts
 * const data = await decryptUserData(res.encryptedData, res.iv, session.sessionKey, {
 *   appId: "cli_a1b2c3d4e5f6a7b8",
 *   maxAgeMs: 5 * 60_000,
 * });
 * data.openId; data.unionId;
 * ```
 */
export async function decryptUserData(
  encryptedData: string,
  iv: string,
  sessionKey: string,
  options: DecryptUserDataOptions,
): Promise<UserSensitiveData> {
  const keyBytes = sessionKeyBytes(sessionKey);
  if (typeof iv !== "string" || !HEX_16_BYTES.test(iv))
    throw new UserDataError("malformed_input", "iv must be 32 hex digits (16 bytes)");
  if (typeof encryptedData !== "string" || !BASE64.test(encryptedData) || encryptedData.length % 4 !== 0)
    throw new UserDataError("malformed_input", "encryptedData must be base64");
  const cipherText = Uint8Array.from(atob(encryptedData), (c) => c.charCodeAt(0));
  if (cipherText.length === 0 || cipherText.length % 16 !== 0)
    throw new UserDataError("malformed_input", "encryptedData is not whole AES blocks");

  let data: unknown;
  try {
    const key = await subtle().importKey("raw", keyBytes, { name: "AES-CBC" }, false, ["decrypt"]);
    const plain = await subtle().decrypt({ name: "AES-CBC", iv: hexBytes(iv) }, key, cipherText);
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    throw new UserDataError("decrypt_failed", "encryptedData does not decrypt under this session_key and iv");
  }
  const watermark = (data as { watermark?: { appid?: unknown; timestamp?: unknown } } | null)?.watermark;
  if (typeof watermark?.appid !== "string" || typeof watermark.timestamp !== "number")
    throw new UserDataError("decrypt_failed", "the decrypted data carries no watermark");
  if (watermark.appid !== options.appId)
    throw new UserDataError(
      "appid_mismatch",
      `the watermark names app ${watermark.appid}, not ${options.appId}`,
    );
  const ageMs = (options.now ?? Date.now()) - watermark.timestamp * 1000;
  if (Math.abs(ageMs) > options.maxAgeMs)
    throw new UserDataError(
      "watermark_expired",
      `the watermark is ${Math.round(ageMs / 1000)} s old; at most ${Math.round(options.maxAgeMs / 1000)} s accepted`,
    );
  return data as UserSensitiveData;
}
