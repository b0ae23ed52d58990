import { ConfigError, defaultConfig, type LogLevel, type ServerConfig, validateConfig } from "../config.ts";
import { isOriginPattern } from "../http/cors.ts";
import { LOG_LEVELS } from "./commands.ts";
import type { Parsed } from "./parse.ts";

/** A setting's value and where it came from, so that a refusal names the flag or variable. */
interface Setting {
  value: string;
  from: string;
}

/**
 * Flags win over the environment, which wins over the defaults. Every refusal names the flag
 * or environment variable the bad value came from, and never echoes a secret or a database URL
 * (which may carry a password).
 */
export function configFrom(flags: Parsed["flags"], env: NodeJS.ProcessEnv): ServerConfig {
  const setting = (flag: string, variable: string): Setting | undefined => {
    const fromFlag = flags[flag];
    if (typeof fromFlag === "string") return { value: fromFlag, from: `--${flag}` };
    const fromEnv = env[variable];
    return fromEnv === undefined ? undefined : { value: fromEnv, from: variable };
  };
  const envOnly = (variable: string): Setting | undefined =>
    env[variable] === undefined ? undefined : { value: env[variable]!, from: variable };

  const port = setting("port", "MINA_AUTH_PORT");
  if (port && !/^\d+$/.test(port.value))
    throw new ConfigError(`${port.from}: port must be a number (got ${port.value})`);
  if (port && Number(port.value) > 65535) {
    throw new ConfigError(`${port.from}: port must be an integer from 0 to 65535 (got ${port.value})`);
  }
  const db = setting("db", "MINA_AUTH_DB");
  if (db && !/^(sqlite:.|postgres:\/\/|postgresql:\/\/)/.test(db.value)) {
    throw new ConfigError(`${db.from}: db must be sqlite:PATH, sqlite::memory: or postgres://…`);
  }
  const adminToken = setting("admin-token", "MINA_AUTH_ADMIN_TOKEN");
  if (adminToken && adminToken.value.length < 16) {
    throw new ConfigError(`${adminToken.from}: admin token must be at least 16 characters`);
  }
  const logLevel = setting("log-level", "MINA_AUTH_LOG_LEVEL");
  if (logLevel && !(LOG_LEVELS as readonly string[]).includes(logLevel.value)) {
    throw new ConfigError(
      `${logLevel.from}: log level must be one of ${LOG_LEVELS.join(", ")} (got ${logLevel.value})`,
    );
  }
  const host = setting("host", "MINA_AUTH_HOST");
  if (host && host.value.trim() === "") throw new ConfigError(`${host.from}: host must not be empty`);

  const bool = (variable: string): boolean | undefined => {
    const s = envOnly(variable);
    if (s === undefined) return undefined;
    if (s.value !== "true" && s.value !== "false") {
      throw new ConfigError(`${variable} must be true or false (got ${s.value})`);
    }
    return s.value === "true";
  };
  const reuse = bool("MINA_AUTH_REVOKE_ON_CODE_REUSE");
  const rateLimits = bool("MINA_AUTH_RATE_LIMITS");
  const fastLane = bool("MINA_AUTH_FAST_LANE");
  const requestTimeout = envOnly("MINA_AUTH_REQUEST_TIMEOUT_MS");
  if (requestTimeout && !/^[1-9]\d*$/.test(requestTimeout.value)) {
    throw new ConfigError(
      `MINA_AUTH_REQUEST_TIMEOUT_MS must be a positive integer (got ${requestTimeout.value})`,
    );
  }
  const purge = envOnly("MINA_AUTH_PURGE_INTERVAL_MS");
  if (purge && !(/^\d+$/.test(purge.value) && Number(purge.value) < 2 ** 31)) {
    throw new ConfigError(
      `MINA_AUTH_PURGE_INTERVAL_MS must be a whole number of milliseconds from 0 (never) to 2147483647 (got ${purge.value})`,
    );
  }
  const cors = envOnly("MINA_AUTH_CORS_ORIGINS");
  const corsOrigins = cors?.value
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  const badOrigin = corsOrigins?.find((o) => !isOriginPattern(o));
  if (badOrigin !== undefined) {
    throw new ConfigError(
      `MINA_AUTH_CORS_ORIGINS: ${badOrigin} is not an origin (scheme://host, scheme://host:port, scheme://host:* or *)`,
    );
  }
  return validateConfig({
    ...defaultConfig,
    host: host?.value ?? defaultConfig.host,
    port: port ? Number(port.value) : defaultConfig.port,
    db: db?.value ?? defaultConfig.db,
    adminToken: adminToken?.value ?? null,
    logLevel: (logLevel?.value ?? defaultConfig.logLevel) as LogLevel,
    revokeGrantOnCodeReuse: reuse ?? defaultConfig.revokeGrantOnCodeReuse,
    rateLimits: { ...defaultConfig.rateLimits, enabled: rateLimits ?? defaultConfig.rateLimits.enabled },
    requestTimeoutMs: requestTimeout ? Number(requestTimeout.value) : defaultConfig.requestTimeoutMs,
    fastLane: fastLane ?? defaultConfig.fastLane,
    purgeIntervalMs: purge ? Number(purge.value) : defaultConfig.purgeIntervalMs,
    corsOrigins: corsOrigins ?? defaultConfig.corsOrigins,
  });
}
