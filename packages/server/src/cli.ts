import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { systemClock } from "./clock.ts";
import { ConfigError, isLoopback, type ServerConfig } from "./config.ts";
import { resolveConfig } from "./config-sources.ts";
import { DEMO_APP_SECRET, demoSeed } from "./demo-seed.ts";
import { ApiError } from "./domain/errors.ts";
import { LoginService } from "./domain/login.ts";
import { importSeed, readSeedFile, SeedError, toSeedFile } from "./domain/seed.ts";
import { startServer } from "./server.ts";
import { describeDb, openStorage } from "./storage/open.ts";

const USAGE = `mina-auth — Feishu / Lark mini-program login server

Usage:
  mina-auth serve [--host 127.0.0.1] [--port 8787] [--db URL] [--seed FILE] [--demo] [--admin-token T]
                  [--console auto|on|off]
  mina-auth import FILE [--db URL]
  mina-auth export [--db URL] [--out FILE]
  mina-auth code --app APP_ID --user USER_ID [--tenant TENANT_KEY] [--db URL]
  mina-auth migrate [--db URL]

--db takes sqlite:PATH (default sqlite:./data/mina-auth.db), sqlite::memory: or postgres://…
--config FILE (default ./mina-auth.config.json when present) sets what the environment can;
a flag wins over the environment, which wins over the file.
Environment: MINA_AUTH_HOST, MINA_AUTH_PORT, MINA_AUTH_DB, MINA_AUTH_ADMIN_TOKEN, MINA_AUTH_LOG_LEVEL,
             MINA_AUTH_REVOKE_ON_CODE_REUSE (true|false), MINA_AUTH_REQUEST_TIMEOUT_MS (default 10000),
             MINA_AUTH_RATE_LIMITS (true|false, default true),
             MINA_AUTH_PURGE_INTERVAL_MS (default 300000; 0: expired rows are never deleted),
             MINA_AUTH_CONSOLE (auto|on|off, default auto: the web console at /console/ on loopback)
`;

const options = {
  host: { type: "string" },
  port: { type: "string" },
  db: { type: "string" },
  seed: { type: "string" },
  demo: { type: "boolean" },
  "admin-token": { type: "string" },
  "log-level": { type: "string" },
  config: { type: "string" },
  console: { type: "string" },
  out: { type: "string" },
  app: { type: "string" },
  user: { type: "string" },
  tenant: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>["values"];

/** Flag > environment > config file > default (config-sources.ts). */
function configFrom(flags: Flags, env: NodeJS.ProcessEnv): ServerConfig {
  return resolveConfig({
    flags: {
      host: flags.host,
      port: flags.port,
      db: flags.db,
      adminToken: flags["admin-token"],
      logLevel: flags["log-level"],
      console: flags.console,
    },
    env,
    configFile: flags.config,
    cwd: process.cwd(),
  }).config;
}

function walkthrough(base: string, adminToken: string, appId: string, appSecret: string): string {
  const pick = (field: string) => `node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).${field}'`;
  return `Demo app: app_id ${appId}  app_secret ${appSecret}
Admin token: ${adminToken}

Try the whole flow (paste into a shell):
  BASE=${base}
  ADMIN=${adminToken}
  APP_TOKEN=$(curl -s -X POST $BASE/open-apis/auth/v3/app_access_token/internal \\
    -H 'Content-Type: application/json' -d '{"app_id":"${appId}","app_secret":"${appSecret}"}' | ${pick("app_access_token")})
  # what tt.login returns on a device:
  CODE=$(curl -s -X POST $BASE/admin/v1/login-codes -H "Authorization: Bearer $ADMIN" \\
    -H 'Content-Type: application/json' -d '{"app_id":"${appId}","user_id":"6c486g"}' | ${pick("code")})
  LOGIN=$(curl -s -X POST $BASE/open-apis/mina/v2/tokenLoginValidate -H "Authorization: Bearer $APP_TOKEN" \\
    -H 'Content-Type: application/json; charset=utf-8' -d "{\\"code\\":\\"$CODE\\"}"); echo "$LOGIN"
  curl -s $BASE/open-apis/authen/v1/user_info -H "Authorization: Bearer $(echo "$LOGIN" | ${pick("data.access_token")})"
  curl -s -X POST $BASE/open-apis/authen/v1/oidc/refresh_access_token -H "Authorization: Bearer $APP_TOKEN" \\
    -H 'Content-Type: application/json' -d "{\\"grant_type\\":\\"refresh_token\\",\\"refresh_token\\":\\"$(echo "$LOGIN" | ${pick("data.refresh_token")})\\"}"
`;
}

async function serve(flags: Flags): Promise<void> {
  const config = configFrom(flags, process.env);
  const seed = flags.seed ? { seedDocument: readSeedFile(flags.seed) } : flags.demo ? { seed: demoSeed } : {};
  const server = await startServer({ config, ...seed });
  const log = server.app.log;
  const demoApp = flags.demo ? await server.storage.getApp("cli_a1b2c3d4e5f6a7b8") : null;
  process.stderr.write(`\nmina-auth listening on ${server.url} (storage: ${describeDb(config.db)})\n`);
  if (server.seeded) {
    process.stderr.write(`Loaded ${server.seeded.snapshot.apps.length} app(s) into the empty database.\n`);
    // As `import` does: a secret the seed left out exists nowhere else, so it is shown once.
    for (const s of server.seeded.appSecrets)
      if (s.generated) process.stderr.write(`app ${s.appId} (${s.name}): app_secret ${s.appSecret}\n`);
  }
  if (demoApp) {
    process.stderr.write(`\n${walkthrough(server.url, server.adminToken, demoApp.appId, DEMO_APP_SECRET)}\n`);
  } else if (config.adminToken === null) {
    process.stderr.write(`Admin token (generated for this run): ${server.adminToken}\n`);
  }
  if (server.consoleUrl) {
    process.stderr.write(
      `Console: ${server.consoleUrl} (sign in with the admin token; --console off turns it off)\n`,
    );
  }
  if (!isLoopback(config.host) && (config.adminToken === null || flags.demo)) {
    log.warn(
      "listening beyond loopback with a generated admin token or public demo credentials: set MINA_AUTH_ADMIN_TOKEN and your own apps",
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping: finishing in-flight requests");
    const deadline = setTimeout(() => {
      log.error("in-flight requests did not finish in time; exiting");
      process.exit(1);
    }, config.shutdownGraceMs);
    deadline.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ error: { message: (error as Error).message } }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function withStorage<T>(
  flags: Flags,
  work: (storage: Awaited<ReturnType<typeof openStorage>>) => Promise<T>,
): Promise<T> {
  const config = configFrom(flags, process.env);
  const storage = await openStorage(config.db);
  try {
    await storage.migrate();
    return await work(storage);
  } finally {
    await storage.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    args: argv,
    options,
    allowPositionals: true,
    strict: true,
  });
  const [command, ...rest] = positionals;
  if (flags.help || command === undefined || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined && !flags.help ? 1 : 0;
  }
  switch (command) {
    case "serve":
      await serve(flags);
      return -1;
    case "migrate":
      await withStorage(flags, async () => {});
      process.stdout.write("migrated\n");
      return 0;
    case "import": {
      const file = rest[0];
      if (!file) throw new ConfigError("import needs a FILE");
      const document = readSeedFile(file);
      await withStorage(flags, async (storage) => {
        const seed = await importSeed(storage, document);
        const { tenants, users, apps } = seed.snapshot;
        process.stdout.write(
          `imported ${tenants.length} tenant(s), ${users.length} user(s), ${apps.length} app(s)\n`,
        );
        // A generated secret exists nowhere else: shown once. A given one is the file's own, and
        // is not echoed into a terminal or a CI log.
        for (const s of seed.appSecrets)
          process.stdout.write(
            `app ${s.appId} (${s.name}): ${s.generated ? `app_secret ${s.appSecret}` : `app_secret as given in ${file}`}\n`,
          );
      });
      return 0;
    }
    case "export": {
      const json = `${JSON.stringify(toSeedFile(await withStorage(flags, (storage) => storage.exportCatalog())), null, 2)}\n`;
      if (flags.out) writeFileSync(flags.out, json);
      else process.stdout.write(json);
      return 0;
    }
    case "code": {
      if (!flags.app || !flags.user) throw new ConfigError("code needs --app APP_ID and --user USER_ID");
      const minted = await withStorage(flags, (storage) =>
        new LoginService(storage, systemClock, { revokeGrantOnCodeReuse: true }).mintCode({
          appId: flags.app!,
          userId: flags.user!,
          ...(flags.tenant ? { tenantKey: flags.tenant } : {}),
        }),
      );
      process.stdout.write(`${JSON.stringify({ code: minted.code, expires_at: minted.expiresAt })}\n`);
      return 0;
    }
    default:
      throw new ConfigError(`unknown command ${command} (mina-auth --help lists the commands)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const known =
      error instanceof ConfigError ||
      error instanceof SeedError ||
      error instanceof ApiError ||
      // parseArgs: an unknown flag or a missing value is a usage error, not a failure.
      String((error as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS");
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`mina-auth: ${known ? message : `failed: ${message}`}\n`);
    process.exitCode = 2;
  },
);
