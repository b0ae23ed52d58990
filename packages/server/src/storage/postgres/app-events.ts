/** Store apps' event settings, app_tickets and delivery attempts on PostgreSQL. */
import type { AppEventSettings, AppEventStorage, AppTicketRecord, EventDelivery } from "../port.ts";
import type { PgAccess } from "./access.ts";

interface SettingsRow {
  app_id: string;
  event_url: string;
  verification_token_sealed: string;
  encrypt_key_sealed: string | null;
  updated_at: string | number;
}

const toSettings = (row: SettingsRow): AppEventSettings => ({
  appId: row.app_id,
  eventUrl: row.event_url,
  verificationTokenSealed: row.verification_token_sealed,
  encryptKeySealed: row.encrypt_key_sealed,
  updatedAt: Number(row.updated_at),
});

interface DeliveryRow {
  id: string | number;
  app_id: string;
  event_id: string;
  event_type: EventDelivery["eventType"];
  attempt: number;
  at: string | number;
  outcome: EventDelivery["outcome"];
  http_status: number | null;
  detail: string | null;
}

const toDelivery = (row: DeliveryRow): EventDelivery => ({
  id: Number(row.id),
  appId: row.app_id,
  eventId: row.event_id,
  eventType: row.event_type,
  attempt: row.attempt,
  at: Number(row.at),
  outcome: row.outcome,
  httpStatus: row.http_status,
  detail: row.detail,
});

const SETTINGS_COLUMNS = "app_id, event_url, verification_token_sealed, encrypt_key_sealed, updated_at";

export function pgAppEvents({ query, transaction }: PgAccess): AppEventStorage {
  return {
    async setAppEventSettings(settings) {
      await query(
        `INSERT INTO app_event_settings (${SETTINGS_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (app_id) DO UPDATE SET event_url = excluded.event_url,
           verification_token_sealed = excluded.verification_token_sealed,
           encrypt_key_sealed = excluded.encrypt_key_sealed, updated_at = excluded.updated_at`,
        [
          settings.appId,
          settings.eventUrl,
          settings.verificationTokenSealed,
          settings.encryptKeySealed,
          settings.updatedAt,
        ],
      );
    },

    async deleteAppEventSettings(appId) {
      const rows = await query<{ app_id: string }>(
        "DELETE FROM app_event_settings WHERE app_id = $1 RETURNING app_id",
        [appId],
      );
      return rows.length > 0;
    },

    async getAppEventSettings(appId) {
      const rows = await query<SettingsRow>(
        `SELECT ${SETTINGS_COLUMNS} FROM app_event_settings WHERE app_id = $1`,
        [appId],
      );
      return rows[0] ? toSettings(rows[0]) : null;
    },

    async listAppEventSettings() {
      const rows = await query<SettingsRow>(
        `SELECT ${SETTINGS_COLUMNS} FROM app_event_settings ORDER BY app_id`,
      );
      return rows.map(toSettings);
    },

    async saveAppTicket(ticket: AppTicketRecord) {
      await query(
        "INSERT INTO app_tickets (ticket_hash, app_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        [ticket.ticketHash, ticket.appId, ticket.issuedAt, ticket.expiresAt],
      );
    },

    async findAppTicket(appId, ticketHash, now) {
      const rows = await query<{
        ticket_hash: string;
        app_id: string;
        issued_at: string;
        expires_at: string;
      }>(
        `SELECT ticket_hash, app_id, issued_at, expires_at FROM app_tickets
         WHERE ticket_hash = $1 AND app_id = $2 AND expires_at > $3`,
        [ticketHash, appId, now],
      );
      const row = rows[0];
      return row
        ? {
            ticketHash: row.ticket_hash,
            appId: row.app_id,
            issuedAt: Number(row.issued_at),
            expiresAt: Number(row.expires_at),
          }
        : null;
    },

    async newestAppTicketIssuedAt(appId, now) {
      const rows = await query<{ issued_at: string | null }>(
        "SELECT max(issued_at) AS issued_at FROM app_tickets WHERE app_id = $1 AND expires_at > $2",
        [appId, now],
      );
      const issuedAt = rows[0]?.issued_at;
      return issuedAt === null || issuedAt === undefined ? null : Number(issuedAt);
    },

    async recordEventDelivery(delivery, keepPerApp) {
      await transaction(async (client) => {
        await client.query(
          `INSERT INTO event_deliveries (app_id, event_id, event_type, attempt, at, outcome, http_status, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            delivery.appId,
            delivery.eventId,
            delivery.eventType,
            delivery.attempt,
            delivery.at,
            delivery.outcome,
            delivery.httpStatus,
            delivery.detail,
          ],
        );
        await client.query(
          `DELETE FROM event_deliveries WHERE app_id = $1 AND id < coalesce(
             (SELECT id FROM event_deliveries WHERE app_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2 - 1), 0)`,
          [delivery.appId, Math.max(1, keepPerApp)],
        );
      });
    },

    async listEventDeliveries(appId, limit) {
      const rows = await query<DeliveryRow>(
        `SELECT id, app_id, event_id, event_type, attempt, at, outcome, http_status, detail
         FROM event_deliveries WHERE app_id = $1 ORDER BY id DESC LIMIT $2`,
        [appId, limit],
      );
      return rows.map(toDelivery);
    },
  };
}
