import { createHmac, randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";
import { newGrantId } from "../secrets.ts";
import type { ServerKey, ServerKeyStorage } from "../storage/port.ts";

/**
 * session_key is derived, never stored: HMAC-SHA256(server key, grant id), its first 16 bytes
 * as 32 hex digits (the platform's hex format, and the AES-128 key getUserInfo's encryptedData
 * needs). So the server can sign and encrypt a session's user data at any time after the login
 * while storage holds only the key it is derived from and the SHA-256 of each session_key.
 *
 * Which version of the server key a grant used is written into the grant id, which the domain
 * makes: the former id (`g_` + 12 hex of time + 12 random hex, unique per proposal as before),
 * then 9 hex linking it to its login code and 3 hex of key version. Exact under rotations and
 * across instances whose caches lag, with no change to the grants table. The link (a digest of
 * the code's storage key) lets the dev endpoints find the session a code opened, as a device
 * knows its own session.
 */
export const SESSION_KEY_NAME = "session_key";

/** How long an instance uses the newest key it read before reading again (rotations spread within it). */
export const SESSION_KEY_REFRESH_MS = 60_000;

/** Three hex digits in the grant id. */
export const MAX_SESSION_KEY_VERSION = 0xfff;

const GRANT_ID = /^g_[0-9a-f]{24}([0-9a-f]{9})([0-9a-f]{3})$/;

/**
 * 9 hex digits (36 bits) of the SHA-256 the code's storage key ends with: enough to tell a
 * user's grants apart, free to compute, and nothing the database does not already hold.
 */
export const codeLink = (codeStorageKey: string): string => codeStorageKey.slice(-64, -55);

/** A grant id carrying its creation time, its code's link and the session key version. */
export function newLinkedGrantId(now: number, codeStorageKey: string, version: number): string {
  if (!Number.isInteger(version) || version < 1 || version > MAX_SESSION_KEY_VERSION)
    throw new RangeError(`session key version out of range: ${version}`);
  return `${newGrantId(now)}${codeLink(codeStorageKey)}${version.toString(16).padStart(3, "0")}`;
}

/** The link and key version a grant id carries; null for ids of another layout (older grants). */
export function parseGrantId(grantId: string): { link: string; version: number } | null {
  const match = GRANT_ID.exec(grantId);
  if (!match) return null;
  const version = Number.parseInt(match[2]!, 16);
  return version === 0 ? null : { link: match[1]!, version };
}

/**
 * 32 hex digits: the session_key of that grant under that server key, the first 16 bytes of
 * HMAC-SHA256(server key, "session_key|" + grant id). About 3 µs of CPU per login (measured
 * against 2 µs for the random key and grant id it replaces).
 */
export function deriveSessionKey(serverKey: string, grantId: string): string {
  return createHmac("sha256", serverKey).update(`session_key|${grantId}`).digest("hex").slice(0, 32);
}

export const newServerKeyValue = (): string => randomBytes(32).toString("hex");

/** The server's session_key keys: the newest for new logins, every version for older sessions. */
export class SessionKeys {
  private newest: { key: ServerKey; readAt: number } | null = null;
  private loading: Promise<ServerKey> | null = null;
  private readonly versions = new Map<number, ServerKey>();

  constructor(
    private readonly storage: ServerKeyStorage,
    private readonly clock: Clock,
  ) {}

  /**
   * The key new logins derive from. Read once, then again every {@link SESSION_KEY_REFRESH_MS}
   * in the background: a login never waits for storage beyond the first, and an older version
   * is still a valid one to use (the grant id says which).
   */
  current(): Promise<ServerKey> | ServerKey {
    const now = this.clock.now();
    if (this.newest && now - this.newest.readAt < SESSION_KEY_REFRESH_MS) return this.newest.key;
    const refresh = this.load(now);
    if (this.newest) {
      refresh.catch(() => {}); // the next call tries again; the cached key stays usable
      return this.newest.key;
    }
    return refresh;
  }

  /** The key of that version, or null when this database never had it. */
  async version(version: number): Promise<ServerKey | null> {
    const known = this.versions.get(version);
    if (known) return known;
    for (const key of await this.storage.listServerKeys(SESSION_KEY_NAME)) this.remember(key);
    return this.versions.get(version) ?? null;
  }

  /** Adds a new version: logins use it from now on (other instances within a refresh interval). */
  async rotate(): Promise<ServerKey> {
    const latest = (await this.storage.listServerKeys(SESSION_KEY_NAME))[0];
    if ((latest?.version ?? 0) >= MAX_SESSION_KEY_VERSION)
      throw new RangeError(`session_key has ${MAX_SESSION_KEY_VERSION} versions, all a grant id can name`);
    const now = this.clock.now();
    const key = await this.storage.rotateServerKey(SESSION_KEY_NAME, newServerKeyValue(), now);
    this.remember(key);
    this.newest = { key, readAt: now };
    return key;
  }

  private load(now: number): Promise<ServerKey> {
    this.loading ??= this.storage
      .ensureServerKey(SESSION_KEY_NAME, newServerKeyValue(), now)
      .then((key) => {
        this.remember(key);
        this.newest = { key, readAt: now };
        return key;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  private remember(key: ServerKey): void {
    this.versions.set(key.version, key);
  }
}
