/** Keys the server keeps for itself, and the shared rate-limit counters, on SQLite. */
import type BetterSqlite3 from "better-sqlite3";
import type { RateLimitInput, RateLimitResult, ServerKey } from "../port.ts";

function prepareServerKeys(db: BetterSqlite3.Database) {
  return {
    // Version 1 always exists once the name does, so a conflict on it means "already there".
    ensureServerKey: db.prepare<[string, string, number]>(
      `INSERT INTO server_keys (name, version, value, created_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (name, version) DO NOTHING`,
    ),
    rotateServerKey: db.prepare<[{ name: string; value: string; now: number }]>(
      `INSERT INTO server_keys (name, version, value, created_at)
       SELECT @name, coalesce(max(version), 0) + 1, @value, @now FROM server_keys WHERE name = @name`,
    ),
    listServerKeys: db.prepare<[string], ServerKey>(
      `SELECT name, version, value, created_at AS createdAt FROM server_keys
       WHERE name = ? ORDER BY version DESC`,
    ),
    hitRateLimit: db
      .prepare<[string, number, number], number>(
        `INSERT INTO rate_limits (key, window_start, window_end, count) VALUES (?, ?, ?, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
         RETURNING count`,
      )
      .pluck(),
  };
}

type ServerKeyStatements = ReturnType<typeof prepareServerKeys>;

function hitRateLimit(s: ServerKeyStatements, input: RateLimitInput): RateLimitResult {
  const windowStart = Math.floor(input.now / input.windowMs) * input.windowMs;
  const windowEnd = windowStart + input.windowMs;
  const count = s.hitRateLimit.get(input.key, windowStart, windowEnd)!;
  return count <= input.limit
    ? { allowed: true, retryAfterMs: 0 }
    : { allowed: false, retryAfterMs: windowEnd - input.now };
}

export class SqliteServerKeys {
  readonly #s: ServerKeyStatements;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepareServerKeys(db);
  }

  ensure(name: string, candidate: string, now: number): ServerKey {
    this.#s.ensureServerKey.run(name, candidate, now);
    return this.#s.listServerKeys.get(name)!;
  }
  rotate(name: string, value: string, now: number): ServerKey {
    this.#s.rotateServerKey.run({ name, value, now });
    return this.#s.listServerKeys.get(name)!;
  }
  list(name: string): ServerKey[] {
    return this.#s.listServerKeys.all(name);
  }
  hitRateLimit(input: RateLimitInput): RateLimitResult {
    return hitRateLimit(this.#s, input);
  }
}
