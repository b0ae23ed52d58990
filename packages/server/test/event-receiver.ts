/**
 * A store app's event URL for tests: a real node:http server on loopback that records every
 * event pushed to it (decrypting with the app's Encrypt Key, if given) and answers the platform's
 * url_verification challenge. `hold()` makes it keep the next requests unanswered until released.
 */
import { createDecipheriv, createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ADMIN_TOKEN, type TestServer } from "./harness.ts";

export interface ReceivedEvent {
  headers: IncomingMessage["headers"];
  /** The body as sent. */
  raw: string;
  /** The event itself (decrypted when it came encrypted). */
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected field by field
  event: any;
}

export interface EventReceiver {
  url: string;
  received: ReceivedEvent[];
  /** The tickets of the app_ticket events received, oldest first. */
  tickets(): string[];
  /** Answer every later request with this status (default 200). */
  answerWith(status: number): void;
  /** Keep later requests unanswered until `release()`. */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export function decryptEvent(encrypt: string, encryptKey: string): string {
  const key = createHash("sha256").update(encryptKey).digest();
  const bytes = Buffer.from(encrypt, "base64");
  const decipher = createDecipheriv("aes-256-cbc", key, bytes.subarray(0, 16));
  return Buffer.concat([decipher.update(bytes.subarray(16)), decipher.final()]).toString("utf8");
}

export async function startEventReceiver(encryptKey: string | null = null): Promise<EventReceiver> {
  const received: ReceivedEvent[] = [];
  let status = 200;
  let holding = false;
  const held: Array<() => void> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const outer = JSON.parse(raw) as { encrypt?: string };
      const event = JSON.parse(
        outer.encrypt !== undefined && encryptKey !== null ? decryptEvent(outer.encrypt, encryptKey) : raw,
      );
      received.push({ headers: request.headers, raw, event });
      const answer = () => {
        response.statusCode = status;
        response.setHeader("content-type", "application/json");
        response.end(
          event.type === "url_verification" ? JSON.stringify({ challenge: event.challenge }) : "{}",
        );
      };
      if (holding) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    tickets: () =>
      received
        .filter((r) => r.event.event?.type === "app_ticket")
        .map((r) => r.event.event.app_ticket as string),
    answerWith: (next) => {
      status = next;
    },
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const answer of held.splice(0)) answer();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A delivery attempt as GET /admin/v1/apps/:app_id/event-deliveries lists it. */
export interface Delivery {
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: string;
  http_status: number | null;
  detail: string | null;
}

/** The app's last delivery attempts (up to 100), newest first. */
export async function eventDeliveries(t: TestServer, appId: string): Promise<Delivery[]> {
  const res = await t.request("GET", `/admin/v1/apps/${appId}/event-deliveries?limit=100`, {
    token: ADMIN_TOKEN,
  });
  if (res.status !== 200) throw new Error(`event-deliveries answered ${res.status}: ${res.text}`);
  return res.body.deliveries as Delivery[];
}
