/**
 * Configuration as one typed object: defaults here, validated at start with messages that name
 * the key. The environment is read only at the edge (cli.ts).
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
  /** SIGTERM: how long in-flight requests may take before the process exits anyway. */
  shutdownGraceMs: number;
  /** Abuse limits kept in storage, so N instances share one count (security.md H6). */
  rateLimits: RateLimitConfig;
  /**
   * Milliseconds between purges of expired codes, tokens, rate-limit windows and grants whose
   * family ended over 30 days ago (domain/purge-schedule.ts); 0 turns it off.
   */
  purgeIntervalMs: number;
  /** Platform requests the request journal keeps in memory (GET /admin/v1/journal); 0: off. */
  journalSize?: number;
}

/** At most `limit` counted attempts per fixed window of `windowMs`. */
export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

export interface RateLimitConfig {
  enabled: boolean;
  /** Every app/tenant token request per known app_id, counted before the secret is checked. */
  appToken: RateLimitRule;
  /** Failed tokenLoginValidate redemptions per app. */
  failedRedeemPerApp: RateLimitRule;
  /** Failed tokenLoginValidate redemptions per client address (`request.ip`). */
  failedRedeemPerAddress: RateLimitRule;
  /** Refresh attempts per refresh family (grant), or per presented token when no family is named. */
  refreshPerFamily: RateLimitRule;
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
  shutdownGraceMs: 10_000,
  purgeIntervalMs: 5 * MINUTE,
  // Generous for real use: a client caches its app token for 2 h, a login code fails rarely
  // (expired, replayed by a retry), a refresh family rotates about once per 2 h.
  rateLimits: {
    enabled: true,
    appToken: { limit: 120, windowMs: MINUTE },
    failedRedeemPerApp: { limit: 600, windowMs: MINUTE },
    failedRedeemPerAddress: { limit: 600, windowMs: MINUTE },
    refreshPerFamily: { limit: 30, windowMs: MINUTE },
  },
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function validateConfig(config: ServerConfig): ServerConfig {
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new ConfigError(`port must be an integer from 0 to 65535 (got ${String(config.port)})`);
  }
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(config.db)) {
    throw new ConfigError("db must be sqlite:PATH, sqlite::memory: or postgres://…");
  }
  if (config.adminToken !== null && config.adminToken.length < 16) {
    throw new ConfigError("admin token must be at least 16 characters");
  }
  if (!LOG_LEVELS.includes(config.logLevel))
    throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(", ")}`);
  if (!(config.requestTimeoutMs > 0)) throw new ConfigError("requestTimeoutMs must be positive");
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
  const journal = config.journalSize ?? 0;
  if (!(Number.isInteger(journal) && journal >= 0 && journal <= 100_000)) {
    throw new ConfigError("journalSize must be an integer from 0 (off) to 100000");
  }
  const limits = config.rateLimits;
  for (const name of [
    "appToken",
    "failedRedeemPerApp",
    "failedRedeemPerAddress",
    "refreshPerFamily",
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
