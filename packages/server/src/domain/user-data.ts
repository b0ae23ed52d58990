import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { Scopes } from "@mina-auth/protocol";
import type { User } from "../storage/port.ts";

/**
 * What `tt.getUserInfo` returns on a device, as Feishu's "processing sensitive data" page
 * describes it (sources and the encoding choices: docs/platform-codes.md, "getUserInfo"):
 * - `rawData`: the JSON text of `userInfo`;
 * - `signature = sha1(rawData + session_key)`, hex;
 * - `encryptedData`: AES-128-CBC, PKCS#7 padding, of the sensitive fields and a watermark, with
 *   the key `hex_decode(session_key)` and `iv` sent as hex, as the page's four code samples
 *   decode them; the ciphertext travels as base64.
 */
export interface UserInfoPayload {
  userInfo: DeviceUserInfo;
  rawData: string;
}

export interface CredentialedUserInfo extends UserInfoPayload {
  signature: string;
  encryptedData: string;
  iv: string;
}

/** The non-sensitive profile the device shows (the tt API family's userInfo fields). */
export interface DeviceUserInfo {
  nickName: string;
  avatarUrl: string;
  gender: number;
  city: string;
  province: string;
  country: string;
  language: string;
}

/** The plaintext of encryptedData. */
export interface SensitiveUserData {
  openId: string;
  unionId: string;
  email?: string;
  employee_id?: string;
  watermark: { appid: string; timestamp: number };
}

export function userInfoOf(user: User): UserInfoPayload {
  const userInfo: DeviceUserInfo = {
    nickName: user.name,
    avatarUrl: user.avatarUrl,
    gender: 0,
    city: "",
    province: "",
    country: "",
    language: "",
  };
  return { userInfo, rawData: JSON.stringify(userInfo) };
}

/** The sensitive fields the app may see: email and employee_id only with their scopes. */
export function sensitiveDataOf(
  user: User,
  session: { appId: string; openId: string; scopes: readonly string[] },
  nowMs: number,
): SensitiveUserData {
  const data: SensitiveUserData = {
    openId: session.openId,
    unionId: user.unionId,
    watermark: { appid: session.appId, timestamp: Math.floor(nowMs / 1000) },
  };
  if (session.scopes.includes(Scopes.email) && user.email) data.email = user.email;
  if (session.scopes.includes(Scopes.employeeId)) data.employee_id = user.userId;
  // The watermark last, as the platform's samples print it.
  const { watermark, ...fields } = data;
  return { ...fields, watermark };
}

/** Signs and encrypts for one session_key (32 hex digits: 16 bytes, the AES-128 key). */
export function sealUserInfo(
  payload: UserInfoPayload,
  sensitive: SensitiveUserData,
  sessionKey: string,
): CredentialedUserInfo {
  const key = Buffer.from(sessionKey, "hex");
  if (key.length !== 16) throw new RangeError("session_key must be 32 hex digits");
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-128-cbc", key, iv); // PKCS#7 padding is Node's default
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(sensitive), "utf8"), cipher.final()]);
  return {
    ...payload,
    signature: createHash("sha1")
      .update(payload.rawData + sessionKey, "utf8")
      .digest("hex"),
    encryptedData: encrypted.toString("base64"),
    iv: iv.toString("hex"),
  };
}
