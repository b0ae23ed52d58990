import { ConfigError, type ServerConfig } from "../config.ts";
import { resolveConfig } from "../config-sources.ts";
import { LOG_LEVELS } from "./commands.ts";
import type { Parsed } from "./parse.ts";

const flag = (flags: Parsed["flags"], name: string): string | undefined =>
  typeof flags[name] === "string" ? (flags[name] as string) : undefined;

/**
 * The server's configuration for a command: flag > environment > config file > default
 * (config-sources.ts, which names the variable or the file's key in its refusals). The flags are
 * checked here first, so that a refusal names the flag; none echoes a secret or a database URL
 * (which may carry a password).
 */
export function configFrom(
  flags: Parsed["flags"],
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): ServerConfig {
  const port = flag(flags, "port");
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw new ConfigError(`--port: port must be a number (got ${port.slice(0, 20)})`);
  }
  if (port !== undefined && Number(port) > 65535) {
    throw new ConfigError(`--port: port must be an integer from 0 to 65535 (got ${port})`);
  }
  const db = flag(flags, "db");
  if (db !== undefined && !/^(sqlite:.|postgres:\/\/|postgresql:\/\/)/.test(db)) {
    throw new ConfigError("--db: db must be sqlite:PATH, sqlite::memory: or postgres://…");
  }
  const adminToken = flag(flags, "admin-token");
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError("--admin-token: admin token must be at least 16 characters");
  }
  const logLevel = flag(flags, "log-level");
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level: log level must be one of ${LOG_LEVELS.join(", ")} (got ${logLevel})`);
  }
  const host = flag(flags, "host");
  if (host !== undefined && host.trim() === "") throw new ConfigError("--host: host must not be empty");
  return resolveConfig({
    flags: {
      host,
      port,
      db,
      adminToken,
      logLevel,
      console: flag(flags, "console"),
      maxConnections: flag(flags, "max-connections"),
    },
    env,
    configFile: flag(flags, "config"),
    cwd,
  }).config;
}
