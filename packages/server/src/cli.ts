import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { rotateAdminToken } from "./admin-token.ts";
import { banner, HeldLogStream } from "./cli/banner.ts";
import { findCommand } from "./cli/commands.ts";
import { completionScript } from "./cli/completion.ts";
import { configFrom } from "./cli/env-config.ts";
import { commandHelp, globalHelp } from "./cli/help.ts";
import { type Parsed, parseCommand } from "./cli/parse.ts";
import { clockFor, expireCommand, faultCommand, journalSizeFrom } from "./cli-test-tools.ts";
import { systemClock } from "./clock.ts";
import { ConfigError, defaultConfig, isLoopback, type ServerConfig } from "./config.ts";
import { DEMO_APP_SECRET, DEMO_STORE_APP_SECRET, demoSeed, withDemoData } from "./demo-seed.ts";
import { ApiError } from "./domain/errors.ts";
import { LoginService } from "./domain/login.ts";
import { importSeed, readSeedFile, toSeedFile } from "./domain/seed.ts";
import { type JsonDocument, JsonInputError } from "./json-input.ts";
import { type SeedMode, startServer } from "./server.ts";
import { describeDb, openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/port.ts";

const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
const DEMO_APP_ID = demoSeed.apps![0]!.app_id!;
const DEMO_STORE_APP_ID = demoSeed.apps![1]!.app_id!;

type Flags = Parsed["flags"];
const str = (flags: Flags, name: string): string | undefined =>
  typeof flags[name] === "string" ? (flags[name] as string) : undefined;

/**
 * A SQLite file goes only where a directory already is: a typo in a path must not leave a new
 * directory tree behind. The documented default's ./data is the exception, created and said so,
 * so that `npm start` works on a fresh clone.
 */
function prepareDatabaseDirectory(config: ServerConfig, flags: Flags): string | null {
  if (!config.db.startsWith("sqlite:") || config.db === "sqlite::memory:") return null;
  const dir = dirname(config.db.slice("sqlite:".length));
  if (existsSync(dir)) return null;
  if (config.db === defaultConfig.db) {
    mkdirSync(dir, { recursive: true });
    return `Created ${resolve(dir)} for the default database.`;
  }
  const from = str(flags, "db") !== undefined ? "--db" : "MINA_AUTH_DB";
  throw new ConfigError(`${from}: directory ${dir} does not exist (create it first, or name another path)`);
}

/** Opens and migrates the database, runs `work` (with the versions the migration applied), closes. */
async function withStorage<T>(
  flags: Flags,
  work: (storage: Storage, applied: number[]) => Promise<T>,
): Promise<T> {
  const config = configFrom(flags, process.env);
  prepareDatabaseDirectory(config, flags);
  const storage = await openStorage(config.db);
  try {
    return await work(storage, await storage.migrate());
  } finally {
    await storage.close();
  }
}

async function serve(flags: Flags): Promise<void> {
  const journalSize = journalSizeFrom({ journal: str(flags, "journal") }, process.env);
  const config = { ...configFrom(flags, process.env), ...(journalSize > 0 ? { journalSize } : {}) };
  const clock = clockFor(
    { clock: str(flags, "clock"), force: flags.force === true },
    process.env,
    config.host,
  );
  const file = str(flags, "seed");
  let seed: JsonDocument | undefined;
  if (file !== undefined) {
    const read = readSeedFile(file);
    // The file's entries come first in the merge, so its errors name the file's own indexes.
    seed = flags.demo ? { ...read, value: withDemoData(read.value) } : read;
  } else if (flags.demo) seed = { value: demoSeed, source: "the demo data" };
  const seedName =
    file !== undefined
      ? flags.demo
        ? `the demo data and ${file}`
        : file
      : flags.demo
        ? "the demo data"
        : null;
  const notes = [prepareDatabaseDirectory(config, flags)].filter((n): n is string => n !== null);

  const seedMode = str(flags, "seed-mode") as SeedMode | undefined;
  if (seedMode !== undefined && seed === undefined) {
    throw new ConfigError("--seed-mode says what to do with a seed: give --seed FILE or --demo too");
  }
  const logStream = new HeldLogStream();
  const server = await startServer({
    config,
    clock,
    logStream,
    ...(seed ? { seedDocument: seed } : {}),
    ...(seedMode ? { seedMode } : {}),
  }).catch((error: unknown) => {
    logStream.release(); // what was logged on the way to the failure
    throw error;
  });
  const log = server.app.log;
  // Before anything is printed: whoever reads "listening on" may signal at once, and until a
  // handler is installed the kernel's default for SIGTERM ends the process without a clean stop.
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
  const demoPresent = flags.demo === true && (await server.storage.getApp(DEMO_APP_ID)) !== null;
  const warnings: string[] = [];
  if (!isLoopback(config.host)) {
    if (flags.demo)
      warnings.push(
        `listening on ${config.host}, beyond loopback, with the demo apps, whose secrets are public: anyone who reaches this port can log in as the demo users.`,
      );
    if (config.adminToken === null)
      warnings.push(
        `listening on ${config.host}, beyond loopback, with a generated admin token: set MINA_AUTH_ADMIN_TOKEN (or --admin-token) to one you keep in a secret store.`,
      );
  }
  process.stderr.write(
    banner({
      version: VERSION,
      server,
      storage: describeDb(config.db),
      seedName,
      demo: demoPresent
        ? {
            appId: DEMO_APP_ID,
            appSecret: DEMO_APP_SECRET,
            storeAppId: DEMO_STORE_APP_ID,
            storeAppSecret: DEMO_STORE_APP_SECRET,
          }
        : null,
      notes,
      warnings,
    }),
  );
  logStream.release();
  for (const warning of warnings) log.warn(warning);
}

async function importFile(flags: Flags, file: string): Promise<void> {
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
}

async function exportCatalog(flags: Flags): Promise<void> {
  const out = str(flags, "out");
  // Checked before the database is opened: a typo in --out must not create a directory tree.
  if (out !== undefined && !existsSync(dirname(out))) {
    throw new ConfigError(`--out: directory ${dirname(out)} does not exist (create it first)`);
  }
  const snapshot = await withStorage(flags, (storage) => storage.exportCatalog());
  const json = `${JSON.stringify(toSeedFile(snapshot), null, 2)}\n`;
  if (out === undefined) {
    process.stdout.write(json);
    return;
  }
  writeFileSync(out, json);
  process.stdout.write(
    `exported ${snapshot.tenants.length} tenant(s), ${snapshot.users.length} user(s), ${snapshot.apps.length} app(s) to ${resolve(out)}\n`,
  );
}

async function mintCode(flags: Flags): Promise<void> {
  const appId = str(flags, "app");
  const userId = str(flags, "user");
  const tenantKey = str(flags, "tenant");
  const scopes = str(flags, "scopes")
    ?.split(",")
    .map((scope) => scope.trim())
    .filter((scope) => scope !== "");
  if (!appId || !userId)
    throw new ConfigError("code needs --app APP_ID and --user USER_ID (mina-auth code --help)");
  const minted = await withStorage(flags, async (storage) => {
    const app = await storage.getApp(appId);
    if (app?.type === "store" && tenantKey === undefined) {
      const tenants = (await storage.listInstallations(appId)).map((i) => i.tenantKey);
      throw new ConfigError(
        `app ${appId} is a store app: name the tenant with --tenant TENANT_KEY (installed in: ${tenants.join(", ") || "none yet"})`,
      );
    }
    return new LoginService(storage, systemClock, { revokeGrantOnCodeReuse: true }).mintCode({
      appId,
      userId,
      ...(tenantKey ? { tenantKey } : {}),
      ...(scopes === undefined ? {} : { scopes }),
    });
  });
  process.stdout.write(`${JSON.stringify({ code: minted.code, expires_at: minted.expiresAt })}\n`);
}

async function migrate(flags: Flags): Promise<void> {
  const config = configFrom(flags, process.env);
  const applied = await withStorage(flags, async (_storage, versions) => versions);
  const where = describeDb(config.db);
  if (applied.length === 0) {
    process.stdout.write(`${where}: schema up to date, nothing to apply\n`);
    return;
  }
  // Names from the shipped files (`NNNN_name.DIALECT.sql`), the same ones the adapter applied.
  const files = readdirSync(new URL("../migrations/", import.meta.url));
  const named = applied.map((version) => {
    const id = String(version).padStart(4, "0");
    return files.find((f) => f.startsWith(`${id}_`))?.replace(/\.(sqlite|postgres)\.sql$/, "") ?? id;
  });
  process.stdout.write(`${where}: applied ${named.length} migration(s): ${named.join(", ")}\n`);
}

/** Runs a command; resolves to the exit code, or -1 for `serve`, which keeps running. */
async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(globalHelp(VERSION));
    return 2;
  }
  if (first === "--version" || first === "-v" || first === "version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    const spec = rest[0] === undefined ? undefined : findCommand(rest[0]);
    if (rest[0] !== undefined && !spec)
      throw new ConfigError(`unknown command ${rest[0]} (mina-auth --help lists them)`);
    process.stdout.write(spec ? commandHelp(spec) : globalHelp(VERSION));
    return 0;
  }
  if (first.startsWith("-")) {
    throw new ConfigError(
      `name a command before ${first}, e.g. mina-auth serve ${first} (mina-auth --help lists them)`,
    );
  }
  const spec = findCommand(first);
  if (!spec) throw new ConfigError(`unknown command ${first} (mina-auth --help lists them)`);
  const { flags, positionals } = parseCommand(spec, rest);
  if (flags.help) {
    process.stdout.write(commandHelp(spec));
    return 0;
  }
  switch (spec.name) {
    case "serve":
      await serve(flags);
      return -1;
    case "migrate":
      await migrate(flags);
      return 0;
    case "import":
      await importFile(flags, positionals[0]!);
      return 0;
    case "export":
      await exportCatalog(flags);
      return 0;
    case "code":
      await mintCode(flags);
      return 0;
    case "admin-token": {
      const rotated = await withStorage(flags, (storage) => rotateAdminToken(storage, systemClock.now()));
      process.stdout.write(
        `${rotated.token}\n` +
          `(admin token version ${rotated.version}; shown this once, kept only as its SHA-256. The previous one no longer works.)\n`,
      );
      if (process.env.MINA_AUTH_ADMIN_TOKEN !== undefined) {
        process.stderr.write(
          "note: MINA_AUTH_ADMIN_TOKEN is set here; a server started with it uses that token, not the stored one.\n",
        );
      }
      return 0;
    }
    case "fault":
    case "expire":
      return await (spec.name === "fault" ? faultCommand : expireCommand)(
        positionals,
        { url: str(flags, "url"), "admin-token": str(flags, "admin-token") },
        process.env,
        (text) => process.stdout.write(text),
      );
    case "completion":
      process.stdout.write(completionScript(positionals[0] as "bash" | "zsh"));
      return 0;
  }
  throw new Error(`command ${spec.name} has no handler`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const known =
      error instanceof ConfigError || error instanceof JsonInputError || error instanceof ApiError;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`mina-auth: ${known ? message : `failed: ${message}`}\n`);
    process.exitCode = 2;
  },
);
