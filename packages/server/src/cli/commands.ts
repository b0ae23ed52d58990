/**
 * What each `mina-auth` command accepts, in one table: the parser, the help text and the shell
 * completion scripts are all generated from it, so they cannot drift apart.
 */
export interface FlagSpec {
  name: string;
  /** A string flag takes a value (`--db URL`); a boolean one takes none. */
  type: "string" | "boolean";
  /** The value's placeholder in help text, e.g. `URL`. */
  value?: string;
  help: string;
  /** Values offered by shell completion. */
  choices?: readonly string[];
  /** Completion offers file names for the value. */
  file?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** After `mina-auth NAME`, e.g. `FILE [--db URL]`. */
  synopsis: string;
  /** Positional arguments: `[min, max]`. */
  positionals: readonly [number, number];
  /** Completion offers these as the first positional. */
  positionalChoices?: readonly string[];
  flags: readonly FlagSpec[];
  /** Lines of the help's Examples section. */
  examples: readonly string[];
  /** Extra paragraphs after the flags. */
  notes?: string;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const SEED_MODES = ["skip", "upsert", "fail"] as const;

const db: FlagSpec = {
  name: "db",
  type: "string",
  value: "URL",
  help: "sqlite:PATH, sqlite::memory: or postgres://… (env MINA_AUTH_DB; default sqlite:./data/mina-auth.db)",
};

const help: FlagSpec = { name: "help", type: "boolean", help: "this help" };
/** The commands that talk to a running server's admin API (fault, expire). */
const runningServerFlags: readonly FlagSpec[] = [
  {
    name: "url",
    type: "string",
    value: "URL",
    help: "the server (env MINA_AUTH_URL; default http://127.0.0.1:8787)",
  },
  {
    name: "admin-token",
    type: "string",
    value: "TOKEN",
    help: "the server's admin token (env MINA_AUTH_ADMIN_TOKEN)",
  },
];

const config: FlagSpec = {
  name: "config",
  type: "string",
  value: "FILE",
  file: true,
  help: "a config file for every setting below (default ./mina-auth.config.json when present; a flag wins over the environment, which wins over the file)",
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "serve",
    summary: "run the server",
    synopsis:
      "[--host H] [--port P] [--db URL] [--seed FILE] [--seed-mode M] [--demo] [--admin-token T] [--console M] [--max-connections N] [--config FILE]",
    positionals: [0, 0],
    flags: [
      {
        name: "host",
        type: "string",
        value: "HOST",
        help: "address to bind (env MINA_AUTH_HOST; default 127.0.0.1)",
      },
      {
        name: "port",
        type: "string",
        value: "PORT",
        help: "port, 0 for any free one (env MINA_AUTH_PORT; default 8787)",
      },
      db,
      {
        name: "seed",
        type: "string",
        value: "FILE",
        file: true,
        help: "a seed file (tenants, users, apps) to load",
      },
      {
        name: "seed-mode",
        type: "string",
        value: "MODE",
        choices: SEED_MODES,
        help: "when the database already holds apps: skip (default) leaves it, upsert loads the seed over it, fail refuses to start",
      },
      { name: "demo", type: "boolean", help: "load the demo tenants, users and apps (with --seed: both)" },
      {
        name: "admin-token",
        type: "string",
        value: "TOKEN",
        help: "admin API token, ≥ 16 characters (env MINA_AUTH_ADMIN_TOKEN; default: generated once, kept hashed in the database)",
      },
      {
        name: "log-level",
        type: "string",
        value: "LEVEL",
        choices: LOG_LEVELS,
        help: "fatal|error|warn|info|debug|trace|silent (env MINA_AUTH_LOG_LEVEL; default info)",
      },
      {
        name: "console",
        type: "string",
        value: "MODE",
        choices: ["auto", "on", "off"],
        help: "the web console at /console/: auto (on loopback), on, off (env MINA_AUTH_CONSOLE; default auto)",
      },
      {
        name: "max-connections",
        type: "string",
        value: "N",
        help: "open connections per process beyond which requests get 503 + Connection: close, /healthz excepted; 0: no cap (env MINA_AUTH_MAX_CONNECTIONS; default 10000)",
      },
      {
        name: "clock",
        type: "string",
        value: "KIND",
        choices: ["system", "manual"],
        help: "manual: time moves only by POST /admin/v1/clock, for tests (refused beyond loopback unless --force; env MINA_AUTH_CLOCK)",
      },
      { name: "force", type: "boolean", help: "allow --clock manual on an address beyond loopback" },
      {
        name: "journal",
        type: "string",
        value: "N",
        help: "keep the last N platform requests for GET /admin/v1/journal, 0 to 100000 (env MINA_AUTH_JOURNAL_SIZE; default 0: off)",
      },
      config,
      help,
    ],
    examples: [
      "mina-auth serve --demo                        # demo data, http://127.0.0.1:8787",
      "mina-auth serve --db sqlite:./my.db --seed seed.json",
      "mina-auth serve --demo --seed mine.json       # the demo data and yours",
      'mina-auth serve --db postgres://user@db.internal/mina --host 0.0.0.0 --admin-token "$TOKEN"',
    ],
    notes: `Environment only: MINA_AUTH_REVOKE_ON_CODE_REUSE (true|false, default true),
MINA_AUTH_RATE_LIMITS (true|false, default true), MINA_AUTH_REQUEST_TIMEOUT_MS (default 10000),
MINA_AUTH_PURGE_INTERVAL_MS (default 300000; 0: never),
MINA_AUTH_CORS_ORIGINS (origins whose pages may call the API, comma-separated: https://tool.example,
http://localhost:*, or *; empty for none; default: loopback pages, any port).
The banner goes to stderr; the JSON log lines follow it on stdout. SIGTERM / SIGINT stop cleanly.`,
  },
  {
    name: "import",
    summary: "load a seed file into the database (upsert)",
    synopsis: "FILE [--db URL]",
    positionals: [1, 1],
    flags: [db, config, help],
    examples: [
      "mina-auth import seed.json",
      "mina-auth import seed.json --db postgres://postgres@127.0.0.1/mina",
    ],
    notes: "Prints each app secret it generated (the file left it out) once; never one the file gave.",
  },
  {
    name: "export",
    summary: "write the catalogue as a seed file (secrets as digests)",
    synopsis: "[--db URL] [--out FILE]",
    positionals: [0, 0],
    flags: [
      db,
      { name: "out", type: "string", value: "FILE", file: true, help: "write here instead of stdout" },
      config,
      help,
    ],
    examples: ["mina-auth export > catalogue.json", "mina-auth export --out backups/catalogue.json"],
  },
  {
    name: "code",
    summary: "mint a login code, as tt.login (or, with --scopes, tt.requestAccess) returns on a device",
    synopsis: "--app APP_ID --user USER_ID [--tenant TENANT_KEY] [--scopes SCOPE,…] [--db URL]",
    positionals: [0, 0],
    flags: [
      { name: "app", type: "string", value: "APP_ID", help: "the app (required)" },
      { name: "user", type: "string", value: "USER_ID", help: "the user (required)" },
      { name: "tenant", type: "string", value: "TENANT_KEY", help: "the tenant (required for a store app)" },
      {
        name: "scopes",
        type: "string",
        value: "SCOPE,…",
        help: 'what the user grants, as tt.requestAccess\'s scopeList (each one the app holds; "" for none); left out: every scope of the app',
      },
      db,
      config,
      help,
    ],
    examples: [
      "mina-auth code --app cli_a1b2c3d4e5f6a7b8 --user 6c486g",
      "mina-auth code --app cli_9f8e7d6c5b4a3921 --user a1b2c3 --tenant 736588c9260f175d",
      "mina-auth code --app cli_a1b2c3d4e5f6a7b8 --user 6c486g --scopes contact:user.email:readonly",
    ],
    notes: 'Prints {"code", "expires_at"}: the code is valid 180 s and works once.',
  },
  {
    name: "migrate",
    summary: "bring the database schema up to date",
    synopsis: "[--db URL]",
    positionals: [0, 0],
    flags: [db, config, help],
    examples: ["mina-auth migrate", "mina-auth migrate --db postgres://postgres@127.0.0.1/mina"],
    notes: "serve migrates too; run this before starting several instances of a new version.",
  },
  {
    name: "admin-token",
    summary: "replace the stored admin token",
    synopsis: "rotate [--db URL]",
    positionals: [1, 1],
    positionalChoices: ["rotate"],
    flags: [db, config, help],
    examples: [
      "mina-auth admin-token rotate",
      "mina-auth admin-token rotate --db postgres://postgres@127.0.0.1/mina",
    ],
    notes: `Prints the new token once; the database keeps only its SHA-256. The old token stops working at
once on every server using this database. A server started with --admin-token or
MINA_AUTH_ADMIN_TOKEN uses that token instead.`,
  },
  {
    name: "fault",
    summary: "add, list, delete or clear a running server's fault rules (docs/testing-your-backend.md)",
    synopsis: "add RULE_JSON | list | delete ID | clear [--url URL] [--admin-token T]",
    positionals: [1, 2],
    positionalChoices: ["add", "list", "delete", "clear"],
    flags: [...runningServerFlags, help],
    examples: [
      `mina-auth fault add '{"match":{"path":"/open-apis/mina/v2/tokenLoginValidate"},"effect":{"type":"answer","code":1500},"times":1}'`,
      "mina-auth fault list",
      "mina-auth fault clear",
    ],
    notes:
      'RULE_JSON: {"match":{"path","app_id"?},"effect":{"type":"answer"|"latency"|"drop"|"timeout"|"commit_then_drop",…},"times"?|"probability"?,"expires_at"?}',
  },
  {
    name: "expire",
    summary:
      "expire a session's access token, or an app's app/tenant tokens, now (docs/testing-your-backend.md)",
    synopsis: "session SESSION_ID | app-tokens APP_ID [app|tenant] [--url URL] [--admin-token T]",
    positionals: [2, 3],
    positionalChoices: ["session", "app-tokens"],
    flags: [...runningServerFlags, help],
    examples: [
      "mina-auth expire session g_0190f3a2b4c5d6e7",
      "mina-auth expire app-tokens cli_a1b2c3d4e5f6a7b8 tenant",
    ],
    notes:
      "The next use of the token answers the platform's code for an expired one (99991668; 10202 or 20014 for an app token); a session's refresh token still works.",
  },
  {
    name: "completion",
    summary: "print a shell completion script",
    synopsis: "bash|zsh",
    positionals: [1, 1],
    positionalChoices: ["bash", "zsh"],
    flags: [help],
    examples: [
      "source <(mina-auth completion bash)                    # bash, this shell",
      "mina-auth completion zsh > ~/.zfunc/_mina-auth   # zsh: with fpath+=(~/.zfunc) before compinit",
    ],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
