/**
 * Where the server's configuration comes from, in order of precedence: a flag, then the
 * environment, then the config file (`--config FILE`, else `mina-auth.config.json` in the
 * working directory when there is one), then the default (config.ts). Each setting is one row of
 * SETTINGS: its environment variable, and its config-file key (the variable's name without
 * `MINA_AUTH_`, lower-cased). Errors name the flag, the variable, or the file and key.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  CONSOLE_MODES,
  ConfigError,
  type ConsoleMode,
  DB_URL,
  defaultConfig,
  LOG_LEVELS,
  type LogLevel,
  type ServerConfig,
  validateConfig,
} from "./config.ts";
import { CORS_ORIGIN } from "./http/cors.ts";
import {
  arrayOf,
  boolean,
  type Field,
  Issues,
  integer,
  issuesError,
  JsonInputError,
  object,
  oneOf,
  readJsonFile,
  string,
} from "./json-input.ts";

export const CONFIG_FILE_NAME = "mina-auth.config.json";

/** The settings a flag, the environment or the file may give, flattened. */
interface Settings {
  host: string;
  port: number;
  db: string;
  adminToken: string;
  logLevel: LogLevel;
  revokeGrantOnCodeReuse: boolean;
  rateLimits: boolean;
  requestTimeoutMs: number;
  maxConnections: number;
  purgeIntervalMs: number;
  console: ConsoleMode;
  corsOrigins: string[];
}

/** setInterval's ceiling: a longer delay would fire at once, over and over. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How an environment variable's text becomes a value (the file's JSON is typed already). */
type EnvParse = "text" | "boolean" | "integer" | "list";

const SETTINGS: { [K in keyof Settings]: { env: string; parse: EnvParse; field: Field<Settings[K]> } } = {
  host: { env: "MINA_AUTH_HOST", parse: "text", field: string() },
  port: { env: "MINA_AUTH_PORT", parse: "integer", field: integer({ min: 0, max: 65535 }) },
  db: {
    env: "MINA_AUTH_DB",
    parse: "text",
    field: string({
      pattern: DB_URL,
      describe: "sqlite:PATH, sqlite::memory: or postgres://…",
      maxLength: 4096,
    }),
  },
  adminToken: {
    env: "MINA_AUTH_ADMIN_TOKEN",
    parse: "text",
    field: string({ minLength: 16, maxLength: 4096 }),
  },
  logLevel: { env: "MINA_AUTH_LOG_LEVEL", parse: "text", field: oneOf(LOG_LEVELS) },
  revokeGrantOnCodeReuse: { env: "MINA_AUTH_REVOKE_ON_CODE_REUSE", parse: "boolean", field: boolean },
  rateLimits: { env: "MINA_AUTH_RATE_LIMITS", parse: "boolean", field: boolean },
  requestTimeoutMs: {
    env: "MINA_AUTH_REQUEST_TIMEOUT_MS",
    parse: "integer",
    field: integer({ min: 1, max: MAX_TIMER_MS }),
  },
  maxConnections: {
    env: "MINA_AUTH_MAX_CONNECTIONS",
    parse: "integer",
    field: integer({ min: 0, max: 1_000_000 }),
  },
  purgeIntervalMs: {
    env: "MINA_AUTH_PURGE_INTERVAL_MS",
    parse: "integer",
    field: integer({ min: 0, max: MAX_TIMER_MS }),
  },
  console: { env: "MINA_AUTH_CONSOLE", parse: "text", field: oneOf(CONSOLE_MODES) },
  corsOrigins: {
    env: "MINA_AUTH_CORS_ORIGINS",
    parse: "list",
    field: arrayOf(
      string({ pattern: CORS_ORIGIN, describe: "scheme://host, scheme://host:port, scheme://host:* or *" }),
    ),
  },
};
const NAMES = Object.keys(SETTINGS) as Array<keyof Settings>;

/** The config file's key for a setting: its variable without the prefix, lower-cased. */
export function fileKey(name: keyof Settings): string {
  return SETTINGS[name].env.slice("MINA_AUTH_".length).toLowerCase();
}

const fileFields = object(
  Object.fromEntries(NAMES.map((name) => [fileKey(name), SETTINGS[name].field])) as Record<
    string,
    Field<unknown>
  >,
  [],
);

/** Flags as the CLI parsed them (strings: their checks are validateConfig's). */
export interface ConfigFlags {
  host?: string | undefined;
  port?: string | undefined;
  db?: string | undefined;
  adminToken?: string | undefined;
  logLevel?: string | undefined;
  console?: string | undefined;
  maxConnections?: string | undefined;
}

export interface ConfigSources {
  flags: ConfigFlags;
  env: Record<string, string | undefined>;
  /** `--config FILE`; without it, CONFIG_FILE_NAME in `cwd` is read when it exists. */
  configFile?: string | undefined;
  cwd: string;
}

export interface ResolvedConfig {
  config: ServerConfig;
  /** The config file read, or null when there was none. */
  file: string | null;
}

/** The server's configuration from its sources; throws ConfigError naming what is wrong. */
export function resolveConfig(sources: ConfigSources): ResolvedConfig {
  const file = resolve(sources.cwd, sources.configFile ?? CONFIG_FILE_NAME);
  // The default file is optional; one named with --config must be there.
  const used = sources.configFile !== undefined || existsSync(file);
  const fromFile = used ? readConfigFile(file) : {};
  const fromEnv = readEnvironment(sources.env);
  const flags = sources.flags;
  if (flags.port !== undefined && !/^\d+$/.test(flags.port))
    throw new ConfigError(`port must be a number (got ${flags.port})`);
  if (flags.maxConnections !== undefined && !/^\d{1,7}$/.test(flags.maxConnections))
    throw new ConfigError(
      `--max-connections: must be a whole number, 0 for no cap (got ${flags.maxConnections})`,
    );
  const fromFlags: Partial<Settings> = {
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.port !== undefined ? { port: Number(flags.port) } : {}),
    ...(flags.db !== undefined ? { db: flags.db } : {}),
    ...(flags.adminToken !== undefined ? { adminToken: flags.adminToken } : {}),
    ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel as LogLevel } : {}),
    ...(flags.console !== undefined ? { console: flags.console as ConsoleMode } : {}),
    ...(flags.maxConnections !== undefined ? { maxConnections: Number(flags.maxConnections) } : {}),
  };
  const pick = <K extends keyof Settings>(name: K): Settings[K] | undefined =>
    fromFlags[name] ?? fromEnv[name] ?? fromFile[name];
  const rateLimits = pick("rateLimits");
  return {
    file: used ? file : null,
    config: validateConfig({
      ...defaultConfig,
      host: pick("host") ?? defaultConfig.host,
      port: pick("port") ?? defaultConfig.port,
      db: pick("db") ?? defaultConfig.db,
      adminToken: pick("adminToken") ?? defaultConfig.adminToken,
      logLevel: pick("logLevel") ?? defaultConfig.logLevel,
      revokeGrantOnCodeReuse: pick("revokeGrantOnCodeReuse") ?? defaultConfig.revokeGrantOnCodeReuse,
      rateLimits: { ...defaultConfig.rateLimits, enabled: rateLimits ?? defaultConfig.rateLimits.enabled },
      requestTimeoutMs: pick("requestTimeoutMs") ?? defaultConfig.requestTimeoutMs,
      maxConnections: pick("maxConnections") ?? defaultConfig.maxConnections,
      purgeIntervalMs: pick("purgeIntervalMs") ?? defaultConfig.purgeIntervalMs,
      console: pick("console") ?? defaultConfig.console,
      corsOrigins: pick("corsOrigins") ?? defaultConfig.corsOrigins,
    }),
  };
}

/** The config file, read as strictly as a seed file: every mistake, with key, line and column. */
function readConfigFile(path: string): Partial<Settings> {
  try {
    const document = readJsonFile(path);
    const issues = new Issues();
    const read = fileFields(document.value, "", issues);
    if (read === undefined || issues.count > 0) throw issuesError(document, issues);
    const out: Partial<Record<keyof Settings, unknown>> = {};
    for (const name of NAMES) if (read[fileKey(name)] !== undefined) out[name] = read[fileKey(name)];
    return out as Partial<Settings>;
  } catch (error) {
    // The CLI prints a ConfigError as one refusal; the message lists the file and each key.
    if (error instanceof JsonInputError) throw new ConfigError(error.message);
    throw error;
  }
}

/** The MINA_AUTH_* variables that are set; a bad one is named, with every other bad one. */
function readEnvironment(env: Record<string, string | undefined>): Partial<Settings> {
  const issues = new Issues();
  const out: Partial<Record<keyof Settings, unknown>> = {};
  for (const name of NAMES) {
    const { env: variable, parse, field } = SETTINGS[name];
    const raw = env[variable];
    if (raw === undefined) continue;
    let value: unknown = raw;
    if (parse === "boolean") {
      if (raw !== "true" && raw !== "false") {
        issues.add(variable, "must be true or false");
        continue;
      }
      value = raw === "true";
    } else if (parse === "integer") {
      if (!/^\d+$/.test(raw)) {
        // The admin token is the only secret here, and it is text: echoing a number is safe.
        const unit = name.endsWith("Ms") ? " of milliseconds" : "";
        issues.add(variable, `must be a whole number${unit} (got ${raw.slice(0, 40)})`);
        continue;
      }
      value = Number(raw);
    } else if (parse === "list") {
      // Comma-separated; an empty variable is an empty list.
      value = raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    }
    const read = field(value, variable, issues);
    if (read !== undefined) out[name] = read;
  }
  if (issues.count > 0) {
    const lines = issues.list.map((issue) => `${issue.path} ${issue.message}`);
    throw new ConfigError(lines.join("; "));
  }
  return out as Partial<Settings>;
}

/** The rows of the README's configuration table, generated so that it cannot drift. */
export function configurationKeys(): Array<{ env: string; key: string }> {
  return NAMES.map((name) => ({ env: SETTINGS[name].env, key: fileKey(name) }));
}
