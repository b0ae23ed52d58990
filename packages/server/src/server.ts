import type { FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { type Clock, systemClock } from "./clock.ts";
import { consoleEnabled, type ServerConfig } from "./config.ts";
import { PurgeSchedule } from "./domain/purge-schedule.ts";
import { type LoadedSeed, loadSeed, type SeedFile } from "./domain/seed.ts";
import { buildApp } from "./http/app.ts";
import { CONSOLE_PATH, defaultConsoleDir } from "./http/console-static.ts";
import { newAdminToken } from "./secrets.ts";
import { openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/port.ts";

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  /** e.g. http://127.0.0.1:8787 */
  url: string;
  adminToken: string;
  /** e.g. http://127.0.0.1:8787/console/ ; null when the console is off. */
  consoleUrl: string | null;
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
  /** Where the console's built files are (default: packages/console/dist). */
  consoleDir?: string;
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
        fastLane: config.fastLane,
        console: consoleEnabled(config) ? { dir: options.consoleDir ?? defaultConsoleDir } : null,
      },
      {
        storage,
        clock,
        ...(options.logStream ? { logStream: options.logStream } : {}),
      },
    );
    await app.listen({ host: config.host, port: config.port });
    const purges =
      config.purgeIntervalMs > 0
        ? new PurgeSchedule({
            storage,
            clock,
            intervalMs: config.purgeIntervalMs,
            log: app.log.child({ component: "purge" }),
          })
        : null;
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    let closing: Promise<void> | null = null;
    const url = `http://${host}:${port}`;
    return {
      app,
      storage,
      url,
      adminToken,
      consoleUrl: consoleEnabled(config) ? `${url}${CONSOLE_PATH}` : null,
      seeded,
      close: () => {
        closing ??= (async () => {
          try {
            await app.close();
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
