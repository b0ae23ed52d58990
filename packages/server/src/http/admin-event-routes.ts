import { Lifetimes } from "@mina-auth/protocol";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../clock.ts";
import type { AppTickets } from "../domain/app-tickets.ts";
import { ApiError } from "../domain/errors.ts";
import type { EventPusher } from "../domain/event-pusher.ts";
import type { EventSecretBox } from "../domain/event-secrets.ts";
import type { AppEventSettings, EventDelivery, Storage } from "../storage/port.ts";
import { adminRouteFor } from "./openapi.ts";

/** What the event routes work with (app.ts wires them). */
export interface AppEventDeps {
  storage: Storage;
  clock: Clock;
  pusher: EventPusher;
  secrets: EventSecretBox;
  tickets: AppTickets;
}

const route = adminRouteFor(["admin"]);
const str = { type: "string" } as const;
const secretText = { type: "string", minLength: 1, maxLength: 256 } as const;
const appParams = {
  type: "object",
  required: ["app_id"],
  properties: { app_id: { type: "string", minLength: 1 } },
} as const;

const settingsBody = {
  type: "object",
  required: ["event_url", "verification_token"],
  additionalProperties: false,
  properties: {
    event_url: { type: "string", pattern: "^https?://[^\\s]+$", maxLength: 2048 },
    verification_token: secretText,
    encrypt_key: { oneOf: [secretText, { type: "null" }] },
    verify: { type: "boolean", description: "send the url_verification challenge first (default true)" },
  },
} as const;

/** An app's event settings as the admin API shows them: never the token or the key. */
const settingsView = {
  type: "object",
  required: ["app_id", "event_url", "encrypted", "updated_at"],
  properties: {
    app_id: str,
    event_url: str,
    encrypted: { type: "boolean", description: "whether events go encrypted with the app's Encrypt Key" },
    updated_at: { type: "integer", description: "Unix seconds" },
  },
} as const;

const deliveriesQuery = {
  type: "object",
  properties: {
    limit: { type: "string", pattern: "^[1-9][0-9]{0,2}$", description: "at most 100 (default 20)" },
  },
} as const;

const deliveryView = {
  type: "object",
  required: ["id", "event_id", "event_type", "attempt", "at", "outcome", "http_status", "detail"],
  properties: {
    id: { type: "integer" },
    event_id: str,
    event_type: { enum: ["app_ticket", "url_verification"] },
    attempt: { type: "integer", description: "1 for the first try" },
    at: { type: "integer", description: "Unix seconds" },
    outcome: { enum: ["delivered", "failed"] },
    http_status: { type: ["integer", "null"] },
    detail: { type: ["string", "null"], description: "why it failed, in words" },
  },
} as const;

const view = (s: AppEventSettings) => ({
  app_id: s.appId,
  event_url: s.eventUrl,
  encrypted: s.encryptKeySealed !== null,
  updated_at: Math.floor(s.updatedAt / 1000),
});

const deliveryOf = (d: EventDelivery) => ({
  id: d.id,
  event_id: d.eventId,
  event_type: d.eventType,
  attempt: d.attempt,
  at: Math.floor(d.at / 1000),
  outcome: d.outcome,
  http_status: d.httpStatus,
  detail: d.detail,
});

interface SettingsBody {
  event_url: string;
  verification_token: string;
  encrypt_key?: string | null;
  verify?: boolean;
}

/**
 * An app's event subscription (`/admin/v1/apps/:app_id/events`): where its events go, with its
 * Verification Token and optional Encrypt Key (sealed at rest, never shown again), and the
 * record of delivery attempts. Registered inside the admin scope (behind the admin token).
 */
export function registerAppEventRoutes(admin: FastifyInstance, deps: AppEventDeps): void {
  const { storage, pusher, secrets, clock, tickets } = deps;
  const mustApp = async (appId: string) => {
    const app = await storage.getApp(appId);
    if (!app) throw new ApiError("AdminNotFound", `app ${appId}`);
    return app;
  };

  admin.put<{ Params: { app_id: string }; Body: SettingsBody }>(
    "/apps/:app_id/events",
    route(
      "Set an app's event URL, Verification Token and optional Encrypt Key; a store app is pushed its app_ticket at once",
      { params: appParams, body: settingsBody },
      { response: settingsView },
    ),
    async (request) => {
      const app = await mustApp(request.params.app_id);
      const body = request.body;
      const plain = { verificationToken: body.verification_token, encryptKey: body.encrypt_key ?? null };
      if (body.verify !== false) {
        // As the platform does when a developer saves the URL: the challenge must come back.
        const checked = await pusher.verify(app.appId, body.event_url, plain);
        if (!checked.ok) {
          throw new ApiError(
            "AdminInvalidRequest",
            `event_url did not pass the url_verification challenge (${checked.detail})`,
          );
        }
      }
      const settings: AppEventSettings = {
        appId: app.appId,
        eventUrl: body.event_url,
        verificationTokenSealed: await secrets.seal(plain.verificationToken),
        encryptKeySealed: plain.encryptKey === null ? null : await secrets.seal(plain.encryptKey),
        updatedAt: clock.now(),
      };
      await storage.setAppEventSettings(settings);
      if (app.type === "store") pusher.pushAfterSettingsChange(app.appId);
      return view(settings);
    },
  );

  admin.get<{ Params: { app_id: string } }>(
    "/apps/:app_id/events",
    route("An app's event settings (without its secrets)", { params: appParams }, { response: settingsView }),
    async (request) => {
      const app = await mustApp(request.params.app_id);
      const settings = await storage.getAppEventSettings(app.appId);
      if (!settings) throw new ApiError("AdminNotFound", `app ${app.appId} has no event URL`);
      return view(settings);
    },
  );

  admin.delete<{ Params: { app_id: string } }>(
    "/apps/:app_id/events",
    route(
      "Remove an app's event settings: nothing more is pushed to it",
      { params: appParams },
      { response: { type: "object", properties: { deleted: { type: "boolean" } } } },
    ),
    async (request) => {
      const app = await mustApp(request.params.app_id);
      if (!(await storage.deleteAppEventSettings(app.appId))) {
        throw new ApiError("AdminNotFound", `app ${app.appId} has no event URL`);
      }
      return { deleted: true };
    },
  );

  admin.post<{ Params: { app_id: string } }>(
    "/apps/:app_id/app-tickets",
    route(
      "Issue a store app an app_ticket and answer it here, as a push would deliver it: for tests and the console, without an event URL",
      { params: appParams },
      {
        status: 201,
        response: {
          type: "object",
          required: ["app_id", "app_ticket", "expires_at"],
          properties: {
            app_id: str,
            app_ticket: { type: "string", description: "for POST /open-apis/auth/v3/app_access_token" },
            expires_at: { type: "integer", description: "Unix seconds (2 hours)" },
          },
        },
      },
    ),
    async (request, reply) => {
      const app = await mustApp(request.params.app_id);
      if (app.type !== "store") {
        throw new ApiError(
          "AdminInvalidRequest",
          `app ${app.appId} is self-built: it gets its tokens from app_access_token/internal, without a ticket`,
        );
      }
      const ticket = await tickets.issue(app.appId);
      const expiresAt = Math.floor(clock.now() / 1000) + Lifetimes.appTicket;
      return reply.code(201).send({ app_id: app.appId, app_ticket: ticket, expires_at: expiresAt });
    },
  );

  admin.get<{ Params: { app_id: string }; Querystring: { limit?: string } }>(
    "/apps/:app_id/event-deliveries",
    route(
      "An app's latest event delivery attempts, newest first (app_ticket pushes and their retries, URL challenges)",
      { params: appParams, querystring: deliveriesQuery },
      {
        response: {
          type: "object",
          required: ["deliveries"],
          properties: { deliveries: { type: "array", items: deliveryView } },
        },
      },
    ),
    async (request) => {
      const app = await mustApp(request.params.app_id);
      const limit = Math.min(Number(request.query.limit ?? 20), 100);
      return { deliveries: (await storage.listEventDeliveries(app.appId, limit)).map(deliveryOf) };
    },
  );
}
