import type { DestinationStream } from "pino";
import { type Clock, ManualClock } from "./clock.ts";
import { defaultConfig } from "./config.ts";
import { demoSeed } from "./demo-seed.ts";
import type { SeedFile } from "./domain/seed.ts";
import { newAdminToken } from "./secrets.ts";
import { startServer } from "./server.ts";
import {
  type EmulatorClock,
  type EmulatorExpireNow,
  type EmulatorFaults,
  type EmulatorJournal,
  emulatorTools,
} from "./test-tools/emulator-tools.ts";

export type { FaultEffect, FaultEffectInput, FaultRule, FaultRuleInput } from "./test-tools/fault-rules.ts";
export type { JournalEntry, JournalFilter } from "./test-tools/journal.ts";
export type { EmulatorClock, EmulatorExpireNow, EmulatorFaults, EmulatorJournal };

/**
 * The real mina-auth server in-process, for a test suite: in-memory SQLite, the demo data (or a
 * seed of yours), a free loopback port.
 *
 * @example
 * ```ts
 * import { startEmulator } from "mina-auth/testing";
 * const emu = await startEmulator();
 * const code = await emu.mintCode({ userId: emu.users[0].userId });
 * // …call your backend, pointed at emu.baseUrl, with `code`…
 * await emu.close();
 * ```
 *
 * The device's half, for a mini program's own tests: the tt shim's endpoints (`/dev/v1/tt/*`)
 * answer here without the admin token, so `@mina-auth/tt` installs in one line:
 * `globalThis.tt = createTt({ baseUrl: emu.baseUrl, appId: emu.app.appId, userId })`.
 */
export interface Emulator {
  /** e.g. `http://127.0.0.1:41234`: use it as the SDK's `baseUrl` or the platform domain. */
  baseUrl: string;
  /** The first app of the seed whose secret is known. */
  app: EmulatorApp;
  apps: EmulatorApp[];
  users: EmulatorUser[];
  /** Bearer token for the admin API at `${baseUrl}/admin/v1`. */
  adminToken: string;
  /**
   * What `tt.login` returns on a device: a fresh one-time code for that user. With `scopes`,
   * what `tt.requestAccess({scopeList: scopes})` returns: the code grants exactly those (each
   * one the app holds). With `codeChallenge` (RFC 7636, `S256` unless `codeChallengeMethod`
   * says `plain`), the code is redeemable only at authen/v2/oauth/token with its verifier.
   */
  mintCode(options: {
    userId: string;
    appId?: string;
    tenantKey?: string;
    scopes?: string[];
    codeChallenge?: string;
    codeChallengeMethod?: "S256" | "plain";
  }): Promise<string>;
  /**
   * A store app's app_ticket, as the platform's push would deliver it, without an event URL:
   * hand it to `auth/v3/app_access_token` (or the client's `appTicket` source). Lives 2 hours.
   */
  appTicket(appId: string): Promise<string>;
  /** Fault rules for the platform endpoints (docs/testing-your-backend.md). */
  faults: EmulatorFaults;
  /** The server's clock: `advance`/`set` with `clock: "manual"`. */
  clock: EmulatorClock;
  /** The last platform requests, secrets redacted (`journalSize`, default 1000). */
  journal: EmulatorJournal;
  /** End a session's access token or an app's tokens now (docs/testing-your-backend.md). */
  expireNow: EmulatorExpireNow;
  close(): Promise<void>;
}

export interface EmulatorApp {
  appId: string;
  appSecret: string;
  name: string;
}

export interface EmulatorUser {
  userId: string;
  tenantKey: string;
  name: string;
  enName: string;
  unionId: string;
  email: string | null;
  status: "active" | "deactivated";
}

export interface EmulatorOptions {
  /**
   * A seed-file object to load instead of the demo data, read as strictly as a seed file: a
   * mistake rejects `startEmulator` with a SeedError whose `issues` list every one, by JSON path.
   */
  seed?: SeedFile;
  /**
   * A clock to drive expiry in tests (codes live 180 s, user tokens 6,900 s): `"manual"` starts
   * one at the current time that moves only by `emu.clock.advance(ms)`.
   */
  clock?: Clock | "manual";
  /** Platform requests `emu.journal()` keeps (default 1000; 0 turns it off). */
  journalSize?: number;
  /** Log level (default `silent`). */
  logLevel?: "silent" | "error" | "warn" | "info" | "debug";
  logStream?: DestinationStream;
  /** Revoke the first redemption's tokens when a code is replayed (default true). */
  revokeGrantOnCodeReuse?: boolean;
  /**
   * Apply the server's rate limits (default false: a test suite that provokes many failures
   * should see the platform's codes, not 99991400; turn them on to test your back-off).
   */
  rateLimits?: boolean;
}

/** Starts the emulator. See {@link Emulator}. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  // Given rather than generated: nothing of the emulator's outlives it, so there is no need to keep it.
  const adminToken = newAdminToken();
  const server = await startServer({
    config: {
      ...defaultConfig,
      host: "127.0.0.1",
      port: 0,
      db: "sqlite::memory:",
      adminToken,
      logLevel: options.logLevel ?? "silent",
      revokeGrantOnCodeReuse: options.revokeGrantOnCodeReuse ?? true,
      rateLimits: { ...defaultConfig.rateLimits, enabled: options.rateLimits ?? false },
      // A test suite's clock may jump days ahead; what it stored stays for it to look at.
      purgeIntervalMs: 0,
      journalSize: options.journalSize ?? 1000,
    },
    seed: options.seed ?? demoSeed,
    // The tt shim's endpoints answer without the admin token here: createTt({ baseUrl, appId, userId }).
    openDevEndpoints: true,
    ...(options.clock
      ? { clock: options.clock === "manual" ? new ManualClock(Date.now()) : options.clock }
      : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
  });
  const seeded = server.seeded!;
  const apps = seeded.appSecrets.map((s) => ({ appId: s.appId, appSecret: s.appSecret, name: s.name }));
  const users = seeded.snapshot.users.map((u) => ({
    userId: u.userId,
    tenantKey: u.tenantKey,
    name: u.name,
    enName: u.enName,
    unionId: u.unionId,
    email: u.email,
    status: u.status,
  }));
  const adminPost = (path: string, body: object) =>
    fetch(`${server.url}/admin/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const first = apps[0];
  if (!first) {
    await server.close();
    throw new Error("startEmulator: the seed has no app with a known app_secret");
  }
  return {
    baseUrl: server.url,
    app: first,
    apps,
    users,
    adminToken,
    async mintCode({ userId, appId = first.appId, tenantKey, scopes, codeChallenge, codeChallengeMethod }) {
      const response = await adminPost("/login-codes", {
        app_id: appId,
        user_id: userId,
        ...(tenantKey ? { tenant_key: tenantKey } : {}),
        ...(scopes ? { scopes } : {}),
        ...(codeChallenge ? { code_challenge: codeChallenge } : {}),
        ...(codeChallengeMethod ? { code_challenge_method: codeChallengeMethod } : {}),
      });
      const body = (await response.json()) as { code: string | number; msg?: string };
      if (response.status !== 201 || typeof body.code !== "string") {
        throw new Error(`mintCode failed: ${response.status} ${body.msg ?? ""}`.trim());
      }
      return body.code;
    },
    async appTicket(appId) {
      const response = await adminPost(`/apps/${encodeURIComponent(appId)}/app-tickets`, {});
      const body = (await response.json()) as { app_ticket?: string; msg?: string };
      if (response.status !== 201 || typeof body.app_ticket !== "string") {
        throw new Error(`appTicket failed: ${response.status} ${body.msg ?? ""}`.trim());
      }
      return body.app_ticket;
    },
    ...emulatorTools(server.app.testTools),
    close: () => server.close(),
  };
}
