import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { type AdminToken, setUpAdminToken } from "./admin-token.ts";
import { type Clock, systemClock } from "./clock.ts";
import { consoleEnabled, type ServerConfig } from "./config.ts";
import { PurgeSchedule } from "./domain/purge-schedule.ts";
import { importSeed, type LoadedSeed, SeedError, type SeedFile } from "./domain/seed.ts";
import { buildApp } from "./http/app.ts";
import { CONSOLE_PATH, defaultConsoleDir } from "./http/console-static.ts";
import { listenApp } from "./http/listen.ts";
import type { JsonDocument } from "./json-input.ts";
import { openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/port.ts";

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  /** e.g. http://127.0.0.1:8787 */
  url: string;
  /** Every address it listens on (several for `localhost` where it resolves to several). */
  addresses: AddressInfo[];
  /** The admin token when this process knows it: configured, or generated at this start. */
  adminToken: string | null;
  /** Where the admin token came from (admin-token.ts). */
  adminTokenSource: AdminToken["source"];
  /** e.g. http://127.0.0.1:8787/console/ ; null when the console is off. */
  consoleUrl: string | null;
  /** The seed loaded at start, if one was given and loaded. */
  seeded: LoadedSeed | null;
  /** What happened to a given seed, and how many apps the database held before. */
  seedOutcome: { action: "loaded" | "upserted" | "skipped"; appsBefore: number } | null;
  /** Stops accepting, lets in-flight requests finish, then closes storage. */
  close(): Promise<void>;
}

export type SeedMode = "skip" | "upsert" | "fail";

export interface StartOptions {
  config: ServerConfig;
  /** Loaded into an empty catalogue (no apps yet); otherwise as `seedMode` says. */
  seed?: SeedFile;
  /** The same from a file (`serve --seed`), so that errors carry the file's lines and columns. */
  seedDocument?: JsonDocument;
  /**
   * When the catalogue already holds apps: `skip` (default) leaves it as it is, `upsert` loads
   * the seed over it (as `mina-auth import` does), `fail` refuses to start.
   */
  seedMode?: SeedMode;
  clock?: Clock;
  storage?: Storage;
  logStream?: DestinationStream;
  /** `/dev/v1` without the admin token (the emulator, for the tt shim). */
  openDevEndpoints?: boolean;
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
    let seedOutcome: RunningServer["seedOutcome"] = null;
    const seed: JsonDocument | undefined =
      options.seedDocument ?? (options.seed ? { value: options.seed, source: "seed" } : undefined);
    if (seed) {
      const appsBefore = (await storage.listApps()).length;
      const mode = options.seedMode ?? "skip";
      if (appsBefore > 0 && mode === "fail") {
        throw new SeedError(seed.source, [
          {
            path: "",
            message: `the database already holds ${appsBefore} app(s); seed mode "fail" refuses to load the seed over them`,
          },
        ]);
      }
      if (appsBefore === 0 || mode === "upsert") seeded = await importSeed(storage, seed);
      seedOutcome = {
        action: seeded === null ? "skipped" : appsBefore === 0 ? "loaded" : "upserted",
        appsBefore,
      };
    }
    const clock = options.clock ?? systemClock;
    const adminToken = await setUpAdminToken(storage, config.adminToken, clock.now());
    const app = buildApp(
      {
        adminToken: adminToken.check,
        revokeGrantOnCodeReuse: config.revokeGrantOnCodeReuse,
        logLevel: config.logLevel,
        requestTimeoutMs: config.requestTimeoutMs,
        maxConnections: config.maxConnections,
        rateLimits: config.rateLimits,
        openDevEndpoints: options.openDevEndpoints === true,
        console: consoleEnabled(config) ? { dir: options.consoleDir ?? defaultConsoleDir } : null,
        corsOrigins: config.corsOrigins,
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
    const url = `http://${host}:${port}`;
    return {
      app,
      storage,
      url,
      addresses: listening.addresses,
      adminToken: adminToken.token,
      adminTokenSource: adminToken.source,
      consoleUrl: consoleEnabled(config) ? `${url}${CONSOLE_PATH}` : null,
      seeded,
      seedOutcome,
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
