import { constantTimeEquals, matchesDigest, newAdminToken, sha256Hex } from "./secrets.ts";
import type { Millis, Storage } from "./storage/port.ts";

/**
 * The admin token when none is configured: generated once, kept as its SHA-256 in the database
 * (server_keys), so that it survives restarts and every instance on one database accepts it.
 * The token itself exists only in the output of the process that generated or rotated it.
 */
export const ADMIN_TOKEN_KEY = "admin_token_sha256";

/** Checks a presented admin token (constant time). */
export type AdminTokenCheck = (presented: string) => Promise<boolean>;

/** A fixed token (tests, the emulator) or a check against storage, as one check. */
export function adminTokenCheck(token: string | AdminTokenCheck): AdminTokenCheck {
  return typeof token === "string" ? async (presented) => constantTimeEquals(presented, token) : token;
}

export interface AdminToken {
  check: AdminTokenCheck;
  /** `configured`: --admin-token or the environment; `generated`: just now; `stored`: from an earlier start. */
  source: "configured" | "generated" | "stored";
  /** The token, when this process knows it (configured or generated); null when only its digest is. */
  token: string | null;
}

export async function setUpAdminToken(
  storage: Storage,
  configured: string | null,
  now: Millis,
): Promise<AdminToken> {
  if (configured !== null) {
    return {
      check: async (presented) => constantTimeEquals(presented, configured),
      source: "configured",
      token: configured,
    };
  }
  const candidate = newAdminToken();
  const digest = sha256Hex(candidate);
  // Instances starting together all get the one digest that won, whoever proposed it.
  const kept = await storage.ensureServerKey(ADMIN_TOKEN_KEY, digest, now);
  const generated = kept.value === digest;
  return {
    // Read per request, so that a rotation (another process) takes effect at once everywhere.
    check: async (presented) => {
      const [newest] = await storage.listServerKeys(ADMIN_TOKEN_KEY);
      return newest !== undefined && matchesDigest(presented, newest.value);
    },
    source: generated ? "generated" : "stored",
    token: generated ? candidate : null,
  };
}

/** Replaces the stored admin token; returns the new one, which is shown once and kept nowhere. */
export async function rotateAdminToken(
  storage: Storage,
  now: Millis,
): Promise<{ token: string; version: number }> {
  const token = newAdminToken();
  const key = await storage.rotateServerKey(ADMIN_TOKEN_KEY, sha256Hex(token), now);
  return { token, version: key.version };
}
