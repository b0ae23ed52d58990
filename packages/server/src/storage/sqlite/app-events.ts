/** Store apps' event settings, app_tickets and delivery attempts on SQLite. */
import type BetterSqlite3 from "better-sqlite3";
import type { AppEventSettings, AppTicketRecord, EventDelivery } from "../port.ts";

const SETTINGS_COLUMNS = `app_id AS appId, event_url AS eventUrl,
  verification_token_sealed AS verificationTokenSealed, encrypt_key_sealed AS encryptKeySealed,
  updated_at AS updatedAt`;
const DELIVERY_COLUMNS = `id, app_id AS appId, event_id AS eventId, event_type AS eventType, attempt, at,
  outcome, http_status AS httpStatus, detail`;

function prepareAppEvents(db: BetterSqlite3.Database) {
  return {
    setSettings: db.prepare<[AppEventSettings]>(
      `INSERT INTO app_event_settings (app_id, event_url, verification_token_sealed, encrypt_key_sealed, updated_at)
       VALUES (@appId, @eventUrl, @verificationTokenSealed, @encryptKeySealed, @updatedAt)
       ON CONFLICT (app_id) DO UPDATE SET event_url = excluded.event_url,
         verification_token_sealed = excluded.verification_token_sealed,
         encrypt_key_sealed = excluded.encrypt_key_sealed, updated_at = excluded.updated_at`,
    ),
    deleteSettings: db.prepare<[string]>("DELETE FROM app_event_settings WHERE app_id = ?"),
    getSettings: db.prepare<[string], AppEventSettings>(
      `SELECT ${SETTINGS_COLUMNS} FROM app_event_settings WHERE app_id = ?`,
    ),
    listSettings: db.prepare<[], AppEventSettings>(
      `SELECT ${SETTINGS_COLUMNS} FROM app_event_settings ORDER BY app_id`,
    ),
    insertTicket: db.prepare<[AppTicketRecord]>(
      `INSERT INTO app_tickets (ticket_hash, app_id, issued_at, expires_at)
       VALUES (@ticketHash, @appId, @issuedAt, @expiresAt)`,
    ),
    findTicket: db.prepare<[string, string, number], AppTicketRecord>(
      `SELECT ticket_hash AS ticketHash, app_id AS appId, issued_at AS issuedAt, expires_at AS expiresAt
       FROM app_tickets WHERE ticket_hash = ? AND app_id = ? AND expires_at > ?`,
    ),
    newestTicket: db.prepare<[string, number], { issuedAt: number | null }>(
      "SELECT max(issued_at) AS issuedAt FROM app_tickets WHERE app_id = ? AND expires_at > ?",
    ),
    insertDelivery: db.prepare<[Omit<EventDelivery, "id">]>(
      `INSERT INTO event_deliveries (app_id, event_id, event_type, attempt, at, outcome, http_status, detail)
       VALUES (@appId, @eventId, @eventType, @attempt, @at, @outcome, @httpStatus, @detail)`,
    ),
    trimDeliveries: db.prepare<[string, string, number]>(
      `DELETE FROM event_deliveries WHERE app_id = ? AND id < coalesce(
         (SELECT id FROM event_deliveries WHERE app_id = ? ORDER BY id DESC LIMIT 1 OFFSET ? - 1), 0)`,
    ),
    listDeliveries: db.prepare<[string, number], EventDelivery>(
      `SELECT ${DELIVERY_COLUMNS} FROM event_deliveries WHERE app_id = ? ORDER BY id DESC LIMIT ?`,
    ),
  };
}

type AppEventStatements = ReturnType<typeof prepareAppEvents>;

export class SqliteAppEvents {
  readonly #s: AppEventStatements;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepareAppEvents(db);
  }

  setSettings(settings: AppEventSettings): void {
    // Only the record's own fields reach the statement (named parameters refuse extra keys).
    this.#s.setSettings.run({
      appId: settings.appId,
      eventUrl: settings.eventUrl,
      verificationTokenSealed: settings.verificationTokenSealed,
      encryptKeySealed: settings.encryptKeySealed,
      updatedAt: settings.updatedAt,
    });
  }
  deleteSettings(appId: string): boolean {
    return this.#s.deleteSettings.run(appId).changes > 0;
  }
  getSettings(appId: string): AppEventSettings | null {
    return this.#s.getSettings.get(appId) ?? null;
  }
  listSettings(): AppEventSettings[] {
    return this.#s.listSettings.all();
  }
  saveTicket(ticket: AppTicketRecord): void {
    this.#s.insertTicket.run({
      ticketHash: ticket.ticketHash,
      appId: ticket.appId,
      issuedAt: ticket.issuedAt,
      expiresAt: ticket.expiresAt,
    });
  }
  findTicket(appId: string, ticketHash: string, now: number): AppTicketRecord | null {
    return this.#s.findTicket.get(ticketHash, appId, now) ?? null;
  }
  newestTicketIssuedAt(appId: string, now: number): number | null {
    return this.#s.newestTicket.get(appId, now)?.issuedAt ?? null;
  }
  recordDelivery(delivery: Omit<EventDelivery, "id">, keepPerApp: number): void {
    this.#s.insertDelivery.run({
      appId: delivery.appId,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      attempt: delivery.attempt,
      at: delivery.at,
      outcome: delivery.outcome,
      httpStatus: delivery.httpStatus,
      detail: delivery.detail,
    });
    this.#s.trimDeliveries.run(delivery.appId, delivery.appId, Math.max(1, keepPerApp));
  }
  listDeliveries(appId: string, limit: number): EventDelivery[] {
    return this.#s.listDeliveries.all(appId, limit);
  }
}
