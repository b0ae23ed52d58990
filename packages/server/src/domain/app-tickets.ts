import { randomBytes } from "node:crypto";
import { Lifetimes } from "@mina-auth/protocol";
import type { Clock } from "../clock.ts";
import { matchesDigest, sha256Hex } from "../secrets.ts";
import type { AppEventStorage } from "../storage/port.ts";

/**
 * The app_tickets store apps get their app_access_token with. A ticket is 192 random bits, kept
 * only as its digest, and accepted by every instance sharing the storage for
 * `Lifetimes.appTicket` (2 h) after it was issued: a new one is pushed every hour, so the
 * previous push still works while the next one is on its way.
 */
export class AppTickets {
  constructor(
    private readonly storage: Pick<
      AppEventStorage,
      "saveAppTicket" | "findAppTicket" | "newestAppTicketIssuedAt"
    >,
    private readonly clock: Clock,
  ) {}

  /** A new ticket for the app, stored before it is handed out. */
  async issue(appId: string): Promise<string> {
    const ticket = randomBytes(24).toString("base64url");
    const now = this.clock.now();
    await this.storage.saveAppTicket({
      ticketHash: sha256Hex(ticket),
      appId,
      issuedAt: now,
      expiresAt: now + Lifetimes.appTicket * 1000,
    });
    return ticket;
  }

  /** Whether `ticket` is one pushed to this app and not older than its lifetime. */
  async accepts(appId: string, ticket: string): Promise<boolean> {
    const found = await this.storage.findAppTicket(appId, sha256Hex(ticket), this.clock.now());
    // The lookup is by digest; the compare repeats it in constant time for the record found.
    return found !== null && matchesDigest(ticket, found.ticketHash);
  }

  /**
   * Whether a ticket about to be pushed again is still the app's newest live one (issued by any
   * instance, or handed out by the admin API). A ticket we issued ourselves, so no constant-time
   * compare is needed. Two issued in the same millisecond: both newest.
   */
  async isNewest(appId: string, ticket: string): Promise<boolean> {
    const now = this.clock.now();
    const found = await this.storage.findAppTicket(appId, sha256Hex(ticket), now);
    if (found === null) return false;
    const newest = await this.storage.newestAppTicketIssuedAt(appId, now);
    return newest !== null && newest <= found.issuedAt;
  }
}
