import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { type Clock, systemClock } from "./clock.ts";
import type { ServerConfig } from "./config.ts";
import { PurgeSchedule } from "./domain/purge-schedule.ts";
import { type LoadedSeed, loadSeed, type SeedFile } from "./domain/seed.ts";
import { buildApp } from "./http/app.ts";
import { listenApp } from "./http/listen.ts";
import { newAdminToken } from "./secrets.ts";
import { openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/port.ts";

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  /** e.g. http://127.0.0.1:8787 */
  url: string;
  /** Every address it listens on (several for `localhost` where it resolves to several). */
  addresses: AddressInfo[];
  adminToken: string;
  /** The seed loaded at start, if the database was empty and a seed was given. */
  seeded: LoadedSeed | null;
  /** Stops accepting, lets in-flight requests finish, then closes storage. */
  close(): Promise<void>;
}

export interface StartOptions {
  config: ServerConfig;
  /** Loaded only into an empty catalogue (no apps yet). */
  seed?: SeedFile;
  clock?: Clock;
  storage?: Storage;
  logStream?: DestinationStream;
}

/** Opens storage, migrates, seeds an empty catalogue, builds the app and listens. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const storage = options.storage ?? (await openStorage(config.db));
  try {
    await storage.migrate();
    let seeded: LoadedSeed | null = null;
    if (options.seed && (await storage.listApps()).length === 0) {
      seeded = loadSeed(options.seed);
      await storage.importCatalog(seeded.snapshot);
    }
    const adminToken = config.adminToken ?? newAdminToken();
    const clock = options.clock ?? systemClock;
    const app = buildApp(
      {
        adminToken,
        revokeGrantOnCodeReuse: config.revokeGrantOnCodeReuse,
        logLevel: config.logLevel,
        requestTimeoutMs: config.requestTimeoutMs,
        rateLimits: config.rateLimits,
        ...(config.journalSize ? { journalSize: config.journalSize } : {}),
      },
      {
        storage,
        clock,
        ...(options.logStream ? { logStream: options.logStream } : {}),
      },
    );
    const listening = await listenApp(app, config.host, config.port);
    const purges =
      config.purgeIntervalMs > 0
        ? new PurgeSchedule({
            storage,
            clock,
            intervalMs: config.purgeIntervalMs,
            log: app.log.child({ component: "purge" }),
          })
        : null;
    const port = listening.addresses[0]?.port ?? config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    let closing: Promise<void> | null = null;
    return {
      app,
      storage,
      url: `http://${host}:${port}`,
      addresses: listening.addresses,
      adminToken,
      seeded,
      close: () => {
        closing ??= (async () => {
          try {
            // The siblings stop with the main server: app.close() sets every answer to close.
            await Promise.all([app.close(), listening.closeSiblings()]);
          } finally {
            await purges?.stop();
            await storage.close();
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
}
