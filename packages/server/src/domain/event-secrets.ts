import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { ServerKeyStorage } from "../storage/port.ts";

/** The server key event secrets are sealed under (server_keys; never exported). */
export const EVENT_SECRETS_KEY = "event-secrets";

/**
 * Seals the secrets the server must use in the clear to push events (an app's Verification
 * Token and Encrypt Key): unlike app secrets they cannot be kept as digests. AES-256-GCM under a
 * random 256-bit server key that every instance shares through storage; what reaches storage is
 * `v<key version>.<base64url(iv ‖ tag ‖ ciphertext)>`, so a database dump alone reveals nothing.
 */
export class EventSecretBox {
  #keys: Map<number, Buffer> | null = null;
  #current = 0;

  constructor(
    private readonly storage: Pick<ServerKeyStorage, "ensureServerKey" | "listServerKeys">,
    private readonly clock: Clock,
  ) {}

  async seal(plain: string): Promise<string> {
    const keys = await this.#load();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", keys.get(this.#current)!, iv);
    const sealed = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return `v${this.#current}.${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString("base64url")}`;
  }

  async unseal(sealed: string): Promise<string> {
    const match = /^v([0-9]+)\.([A-Za-z0-9_-]+)$/.exec(sealed);
    if (!match) throw new Error("event secret: not a sealed value");
    const version = Number(match[1]);
    let key = (await this.#load()).get(version);
    if (key === undefined) {
      this.#keys = null; // another instance may have rotated it meanwhile
      key = (await this.#load()).get(version);
    }
    if (key === undefined) throw new Error(`event secret: key version ${version} is unknown`);
    const bytes = Buffer.from(match[2]!, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
  }

  async #load(): Promise<Map<number, Buffer>> {
    if (this.#keys) return this.#keys;
    const newest = await this.storage.ensureServerKey(
      EVENT_SECRETS_KEY,
      randomBytes(32).toString("hex"),
      this.clock.now(),
    );
    const keys = new Map<number, Buffer>();
    for (const key of await this.storage.listServerKeys(EVENT_SECRETS_KEY)) {
      keys.set(key.version, Buffer.from(key.value, "hex"));
    }
    this.#current = newest.version;
    this.#keys = keys;
    return keys;
  }
}
