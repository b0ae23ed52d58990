import { createCipheriv, createHash, randomBytes, randomUUID } from "node:crypto";
import type { AppTicketEvent } from "@mina-auth/protocol";

/** What one event push sends: the body and its headers. */
export interface EventRequest {
  body: string;
  headers: Record<string, string>;
}

/** The secrets an app configured for its events, unsealed for one push. */
export interface EventSecrets {
  verificationToken: string;
  /** Null: the body goes in the clear. */
  encryptKey: string | null;
}

/** The `app_ticket` event, schema 1.0, exactly as the platform's page shows it. */
export function appTicketEvent(
  appId: string,
  ticket: string,
  token: string,
  now: number,
  uuid: string,
): AppTicketEvent {
  return {
    uuid,
    token,
    ts: (now / 1000).toFixed(7),
    type: "event_callback",
    event: { app_id: appId, app_ticket: ticket, type: "app_ticket" },
  };
}

/** A new event's uuid: 32 hex digits, as the platform's samples show. */
export const newEventId = (): string => randomUUID().replaceAll("-", "");

/** The challenge the platform sends to check an event URL before it accepts it. */
export function urlVerification(token: string): {
  challenge: string;
  token: string;
  type: "url_verification";
} {
  return { challenge: randomUUID(), token, type: "url_verification" };
}

/**
 * The request for an event: with an Encrypt Key the body is `{"encrypt": base64(iv ‖
 * AES-256-CBC(json))}` under SHA-256(Encrypt Key), and signed in `X-Lark-Signature` as
 * SHA-256(timestamp ‖ nonce ‖ Encrypt Key ‖ body), which the official SDKs check; without one, the
 * JSON as is (the Verification Token inside it is what the receiver checks).
 */
export function eventRequest(event: object, secrets: EventSecrets, now: number): EventRequest {
  const json = JSON.stringify(event);
  if (secrets.encryptKey === null) return { body: json, headers: { "content-type": "application/json" } };
  const body = JSON.stringify({ encrypt: encryptEvent(json, secrets.encryptKey) });
  const timestamp = String(Math.floor(now / 1000));
  const nonce = randomBytes(8).toString("hex");
  const signature = createHash("sha256")
    .update(timestamp + nonce + secrets.encryptKey + body)
    .digest("hex");
  return {
    body,
    headers: {
      "content-type": "application/json",
      "x-lark-request-timestamp": timestamp,
      "x-lark-request-nonce": nonce,
      "x-lark-signature": signature,
    },
  };
}

/** base64(iv ‖ AES-256-CBC(plain)), the key being SHA-256 of the Encrypt Key. */
export function encryptEvent(plain: string, encryptKey: string): string {
  const key = createHash("sha256").update(encryptKey).digest();
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-cbc", key, iv);
  return Buffer.concat([iv, cipher.update(plain, "utf8"), cipher.final()]).toString("base64");
}
