// Debug preload for the mina-auth server on SQLite (never loaded by default): tokenLoginValidate
// does less durable work than the real exchange, through the server's own machinery (its own
// WriteQueue, WalSync and Checkpointer classes, second instances on the server's connection), so
// that a run measures what a login's rows cost, down to the floor under every data model. BENCH_FLOOR picks the work (nothing is patched without it):
//   append   one row appended per login (grant id, session key and token digests), the code not
//            even looked up: the least a durable login can write;
//   consume  the code's row consumed by its primary key (one conditional UPDATE,
//            exactly one winner) and one row appended: "one row per login";
//   grant    the code consumed and the real grant row inserted, with its token digests (one row
//            per login, migration 0004, with the grants table's indexes);
//   rows     the code consumed, the grant row and the audit event (the real exchange without its
//            identity and visibility reads and without the storage adapter and login service
//            around the statements);
//   off      (the default) nothing patched: the real exchange, e.g. as the base of an A/B.
// Secrets are drawn and hashed as in the real exchange and the answer has the real shape; the
// identity in it is a constant. Tokens it issues do not work. Not an implementation: a bound.
// Use: BENCH_SERVER_NODE_ARGS="--import ./bench/floor-probe.mjs" node scripts/bench.mjs --only node-http-ceiling,mina-auth-sqlite
//      with BENCH_FLOOR=consume for a floor, or --variant BENCH_FLOOR=consume for that floor beside
//      the real exchange in the same rounds. SQLite only.
// The build must be current (the bench loads packages/server/dist when it is).
// The patch reaches only the built server: from source (tsx) the login service is another module
// (and the build's imports would not even load before tsx). Checked before anything is imported.
if (!process.argv[1]?.endsWith("/packages/server/dist/cli.js")) {
  throw new Error("floor-probe: the server runs from source; run `npm run build` first");
}
const dist = new URL("../packages/server/dist/", import.meta.url);
const { LoginService } = await import(new URL("domain/login.js", dist).href);
const { newGrantId, newRefreshToken, newSessionKey, newUserAccessToken, sha256Hex, storageKey } =
  await import(new URL("secrets.js", dist).href);
const { Checkpointer } = await import(new URL("storage/sqlite/checkpointer.js", dist).href);
const { WalSync } = await import(new URL("storage/sqlite/wal-sync.js", dist).href);
const { WriteQueue } = await import(new URL("storage/sqlite/write-queue.js", dist).href);
const mode = process.env.BENCH_FLOOR ?? "off";
const MODES = ["append", "consume", "grant", "rows", "off"];
if (!MODES.includes(mode)) throw new Error(`floor-probe: BENCH_FLOOR=${mode}? (${MODES.join(", ")})`);

/** The probe's own queue on the server's connection; nothing else writes during a run. */
let floor = null;
function open(storage) {
  const db = storage.database;
  if (db === undefined)
    throw new Error("floor-probe: SQLite only (run the bench with --only …,mina-auth-sqlite)");
  const [main] = db.pragma("database_list");
  db.exec(`CREATE TABLE IF NOT EXISTS bench_floor_logins (
    id INTEGER PRIMARY KEY, grant_id TEXT NOT NULL, session_key_hash TEXT NOT NULL,
    access_token_hash TEXT NOT NULL, refresh_token_hash TEXT NOT NULL, at INTEGER NOT NULL) STRICT`);
  let checkpointer = null;
  const queue = new WriteQueue(db, {
    durability: new WalSync(main.file),
    afterCommit: () => checkpointer?.committed(),
  });
  checkpointer = new Checkpointer(db, queue);
  return {
    queue,
    consume: db.prepare(
      `UPDATE login_codes SET consumed_at = ?, grant_id = ?
       WHERE code_hash = ? AND consumed_at IS NULL AND expires_at > ?`,
    ),
    grant: db.prepare(
      `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
         access_hash, access_expires_at, refresh_hash)
       VALUES (?, 'cli_a1b2c3d4e5f6a7b8', '2c5914ac018f97', '6c486g', ?, ?, ?, ?, ?, ?, ?)`,
    ),
    audit: db.prepare(
      `INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id)
       VALUES (?, 'login_code.consumed', 'cli_a1b2c3d4e5f6a7b8', '2c5914ac018f97', '6c486g', ?)`,
    ),
    append: db.prepare(
      `INSERT INTO bench_floor_logins (grant_id, session_key_hash, access_token_hash, refresh_token_hash, at)
       VALUES (?, ?, ?, ?, ?)`,
    ),
  };
}

if (mode !== "off") LoginService.prototype.exchange = floorExchange;

async function floorExchange(_caller, body) {
  floor ??= open(this.storage);
  const now = Date.now();
  const codeHash = storageKey("login_code", String(body?.code));
  const grantId = newGrantId(now);
  const sessionKey = newSessionKey();
  const accessToken = newUserAccessToken(now);
  const refreshToken = newRefreshToken(now);
  const row = [
    grantId,
    sha256Hex(sessionKey),
    storageKey("access_token", accessToken),
    storageKey("refresh_token", refreshToken),
    now,
  ];
  await floor.queue.push(() => {
    if (mode !== "append" && floor.consume.run(now, grantId, codeHash, now).changes !== 1) {
      throw new Error("floor-probe: the code was not consumed");
    }
    if (mode === "append" || mode === "consume") {
      floor.append.run(...row);
      return;
    }
    floor.grant.run(grantId, row[1], codeHash, now, now + 30 * 86_400_000, row[2], now + 6_900_000, row[3]);
    if (mode === "grant") return;
    floor.audit.run(now, grantId);
  });
  return {
    open_id: "ou_94a1ee5551019f18cd73d9f111898cf2",
    employee_id: "6c486g",
    session_key: sessionKey,
    tenant_key: "2c5914ac018f97",
    access_token: accessToken,
    expires_in: Math.floor(now / 1000) + 7200,
    refresh_token: refreshToken,
  };
}
process.stderr.write(
  mode === "off"
    ? "floor-probe: off, tokenLoginValidate is the real exchange\n"
    : `floor-probe: tokenLoginValidate writes only the ${mode} floor\n`,
);
