// Debug preload for the mina-auth server on SQLite (never loaded by default): tokenLoginValidate
// does the least durable work any SQLite design of a login could do, with the server's own group
// commit, fsync and checkpointing, so that a run measures the floor under every data model:
//   BENCH_FLOOR=append   one row appended per login (grant, session key and token digests), the
//                        code not even looked up: what a login that writes a single row costs;
//   BENCH_FLOOR=consume  (default) the code's row consumed by its primary key (one conditional
//                        UPDATE, exactly one winner) and one row appended: "one row per login".
// Secrets are drawn and hashed as in the real exchange and the answer has the real shape; the
// user's identity and visibility are not read (constants), and no grant, token or audit row of
// the real schema is written, so tokens it issues do not work. Not an implementation: a bound.
// Use: BENCH_SERVER_NODE_ARGS="--import ./bench/floor-probe.mjs" node scripts/bench.mjs --only node-http-ceiling,mina-auth-sqlite
// The build must be current (the bench loads packages/server/dist when it is).
import { LoginService } from "../packages/server/dist/domain/login.js";
import {
  newGrantId,
  newRefreshToken,
  newSessionKey,
  newUserAccessToken,
  sha256Hex,
  storageKey,
} from "../packages/server/dist/secrets.js";
import { Checkpointer } from "../packages/server/dist/storage/sqlite/checkpointer.js";
import { WalSync } from "../packages/server/dist/storage/sqlite/wal-sync.js";
import { WriteQueue } from "../packages/server/dist/storage/sqlite/write-queue.js";

// The patch reaches only the built server: from source (tsx) the login service is another module.
if (!process.argv[1]?.endsWith("/packages/server/dist/cli.js")) {
  throw new Error("floor-probe: the server runs from source; run `npm run build` first");
}
const mode = process.env.BENCH_FLOOR ?? "consume";
if (!["append", "consume"].includes(mode)) throw new Error(`floor-probe: BENCH_FLOOR=${mode}?`);

/** The probe's own queue on the server's connection; nothing else writes during a run. */
let floor = null;
function open(storage) {
  const db = storage.database;
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
    append: db.prepare(
      `INSERT INTO bench_floor_logins (grant_id, session_key_hash, access_token_hash, refresh_token_hash, at)
       VALUES (?, ?, ?, ?, ?)`,
    ),
  };
}

LoginService.prototype.exchange = async function (_caller, body) {
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
    if (mode === "consume" && floor.consume.run(now, grantId, codeHash, now).changes !== 1) {
      throw new Error("floor-probe: the code was not consumed");
    }
    floor.append.run(...row);
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
};
process.stderr.write(`floor-probe: tokenLoginValidate writes the ${mode} floor only\n`);
