import { isOriginPattern, LOOPBACK_ORIGINS } from "./http/cors.ts";

/**
 * Configuration as one typed object: defaults here, validated at start with messages that name
 * the key. Flags, the environment and the config file are read at the edge (config-sources.ts,
 * called by cli.ts).
 */

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface ServerConfig {
  host: string;
  port: number;
  /** `sqlite:PATH`, `sqlite::memory:` or `postgres://…`. */
  db: string;
  /** Null: generate one at start and print it. */
  adminToken: string | null;
  /** RFC 6749 §4.1.2: a replayed code revokes the tokens of its first redemption. */
  revokeGrantOnCodeReuse: boolean;
  logLevel: LogLevel;
  /** A client must finish sending its request within this (slowloris guard). */
  requestTimeoutMs: number;
  /**
   * Open connections per process beyond which requests are answered 503 with `Connection:
   * close` (http/connection-guard.ts); 0: no cap. Keep it under the process's file limit.
   */
  maxConnections: number;
  /** SIGTERM: how long in-flight requests may take before the process exits anyway. */
  shutdownGraceMs: number;
  /** Abuse limits kept in storage, so N instances share one count (security.md H6). */
  rateLimits: RateLimitConfig;
  /**
   * Milliseconds between purges of expired codes, tokens, rate-limit windows and grants whose
   * family ended over 30 days ago (domain/purge-schedule.ts); 0 turns it off.
   */
  purgeIntervalMs: number;
  /**
   * The web console at /console/: "auto" serves it when the server listens on loopback, "on"
   * wherever it listens, "off" never. Its every call needs the admin token whatever this says.
   */
  console: ConsoleMode;
  /**
   * Origins whose pages may call the API from a browser (http/cors.ts): exact, with `:*` for any
   * port, or `*`; empty for none. Default: pages served from this machine (loopback, any port).
   */
  corsOrigins: readonly string[];
  /** Platform requests the request journal keeps in memory (GET /admin/v1/journal); 0: off. */
  journalSize?: number;
}

export type ConsoleMode = "auto" | "on" | "off";
export const CONSOLE_MODES: readonly ConsoleMode[] = ["auto", "on", "off"];

/** Whether a server with this configuration serves the console. */
export function consoleEnabled(config: Pick<ServerConfig, "console" | "host">): boolean {
  return config.console === "on" || (config.console === "auto" && isLoopback(config.host));
}

/** At most `limit` counted attempts per fixed window of `windowMs`. */
export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

export interface RateLimitConfig {
  enabled: boolean;
  /** App/tenant token requests with the right secret, per app_id. */
  appToken: RateLimitRule;
  /** App/tenant token requests with a wrong secret, per known app_id (counted apart, so an
   * outsider who knows the public app_id cannot lock the owner out). */
  failedAppSecretPerApp: RateLimitRule;
  /** Failed tokenLoginValidate redemptions per app. */
  failedRedeemPerApp: RateLimitRule;
  /** Failed tokenLoginValidate redemptions per client address (`request.ip`). */
  failedRedeemPerAddress: RateLimitRule;
  /** Refresh attempts per refresh family (grant), or per presented token when no family is named. */
  refreshPerFamily: RateLimitRule;
  /** auth/v3/app_ticket/resend calls with the right secret, per store app. */
  ticketResendPerApp: RateLimitRule;
}

const MINUTE = 60_000;

export const defaultConfig: ServerConfig = {
  host: "127.0.0.1",
  port: 8787,
  db: "sqlite:./data/mina-auth.db",
  adminToken: null,
  revokeGrantOnCodeReuse: true,
  logLevel: "info",
  requestTimeoutMs: 10_000,
  maxConnections: 10_000,
  shutdownGraceMs: 10_000,
  purgeIntervalMs: 5 * MINUTE,
  console: "auto",
  corsOrigins: LOOPBACK_ORIGINS,
  // Generous for real use: a client caches its app token for 2 h, a login code fails rarely
  // (expired, replayed by a retry), a refresh family rotates about once per 2 h.
  rateLimits: {
    enabled: true,
    appToken: { limit: 120, windowMs: MINUTE },
    failedAppSecretPerApp: { limit: 120, windowMs: MINUTE },
    failedRedeemPerApp: { limit: 600, windowMs: MINUTE },
    failedRedeemPerAddress: { limit: 600, windowMs: MINUTE },
    refreshPerFamily: { limit: 30, windowMs: MINUTE },
    // A resend is a recovery step (an SDK asks when it holds no ticket): a few a minute suffice,
    // and a burst makes one push anyway (event-pusher.ts).
    ticketResendPerApp: { limit: 10, windowMs: MINUTE },
  },
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
/** What `db` may name: a SQLite file, SQLite in memory, or PostgreSQL. */
export const DB_URL = /^(sqlite:|postgres:\/\/|postgresql:\/\/)/;

export function validateConfig(config: ServerConfig): ServerConfig {
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new ConfigError(`port must be an integer from 0 to 65535 (got ${String(config.port)})`);
  }
  if (!DB_URL.test(config.db)) {
    throw new ConfigError("db must be sqlite:PATH, sqlite::memory: or postgres://…");
  }
  if (config.adminToken !== null && config.adminToken.length < 16) {
    throw new ConfigError("admin token must be at least 16 characters");
  }
  if (!LOG_LEVELS.includes(config.logLevel))
    throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(", ")}`);
  if (!(config.requestTimeoutMs > 0)) throw new ConfigError("requestTimeoutMs must be positive");
  if (!(Number.isInteger(config.maxConnections) && config.maxConnections >= 0))
    throw new ConfigError("maxConnections must be an integer from 0 (no cap) up");
  // setInterval's own ceiling: a longer delay would fire at once, over and over.
  if (
    !(
      Number.isInteger(config.purgeIntervalMs) &&
      config.purgeIntervalMs >= 0 &&
      config.purgeIntervalMs < 2 ** 31
    )
  ) {
    throw new ConfigError("purgeIntervalMs must be an integer from 0 (off) to 2147483647");
  }
  if (!CONSOLE_MODES.includes(config.console))
    throw new ConfigError(
      `console must be one of ${CONSOLE_MODES.join(", ")} (got ${String(config.console)})`,
    );
  const badOrigin = config.corsOrigins.find((origin) => !isOriginPattern(origin));
  if (badOrigin !== undefined) {
    throw new ConfigError(
      `corsOrigins: ${badOrigin} is not an origin (scheme://host, scheme://host:port, scheme://host:* or *)`,
    );
  }
  const journal = config.journalSize ?? 0;
  if (!(Number.isInteger(journal) && journal >= 0 && journal <= 100_000)) {
    throw new ConfigError("journalSize must be an integer from 0 (off) to 100000");
  }
  const limits = config.rateLimits;
  for (const name of [
    "appToken",
    "failedAppSecretPerApp",
    "failedRedeemPerApp",
    "failedRedeemPerAddress",
    "refreshPerFamily",
    "ticketResendPerApp",
  ] as const) {
    const rule = limits[name];
    if (
      !(
        Number.isInteger(rule?.limit) &&
        rule.limit > 0 &&
        Number.isInteger(rule.windowMs) &&
        rule.windowMs > 0
      )
    ) {
      throw new ConfigError(`rateLimits.${name} needs a positive integer limit and windowMs`);
    }
  }
  return config;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
