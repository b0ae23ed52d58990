import type { FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { type AdminToken, setUpAdminToken } from "./admin-token.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { ServerConfig } from "./config.ts";
import { PurgeSchedule } from "./domain/purge-schedule.ts";
import { type LoadedSeed, loadSeed, SeedError, type SeedFile } from "./domain/seed.ts";
import { buildApp } from "./http/app.ts";
import { openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/port.ts";

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  /** e.g. http://127.0.0.1:8787 */
  url: string;
  /** The admin token when this process knows it: configured, or generated at this start. */
  adminToken: string | null;
  /** Where the admin token came from (admin-token.ts). */
  adminTokenSource: AdminToken["source"];
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
  /**
   * When the catalogue already holds apps: `skip` (default) leaves it as it is, `upsert` loads
   * the seed over it (as `mina-auth import` does), `fail` refuses to start.
   */
  seedMode?: SeedMode;
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
    let seedOutcome: RunningServer["seedOutcome"] = null;
    if (options.seed) {
      const appsBefore = (await storage.listApps()).length;
      const mode = options.seedMode ?? "skip";
      if (appsBefore > 0 && mode === "fail") {
        throw new SeedError(
          `the database already holds ${appsBefore} app(s); seed mode "fail" refuses to load the seed over them`,
        );
      }
      if (appsBefore === 0 || mode === "upsert") {
        seeded = loadSeed(
          options.seed,
          (await storage.listTenants()).map((t) => t.tenantKey),
        );
        await storage.importCatalog(seeded.snapshot);
      }
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
        rateLimits: config.rateLimits,
        fastLane: config.fastLane,
        corsOrigins: config.corsOrigins,
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
    return {
      app,
      storage,
      url: `http://${host}:${port}`,
      adminToken: adminToken.token,
      adminTokenSource: adminToken.source,
      seeded,
      seedOutcome,
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
