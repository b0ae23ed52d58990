/**
 * The part of Web Crypto the client uses (typed here: the package builds without the DOM lib),
 * global in Node.js ≥ 19 and browsers, so the client needs no dependency and no `node:` import.
 */
export interface Subtle {
  digest(algorithm: "SHA-1" | "SHA-256", data: Uint8Array): Promise<ArrayBuffer>;
  importKey(
    format: "raw",
    key: Uint8Array | ArrayBuffer,
    algorithm: { name: "AES-CBC" },
    extractable: false,
    usages: ["decrypt"],
  ): Promise<unknown>;
  decrypt(
    algorithm: { name: "AES-CBC"; iv: Uint8Array },
    key: unknown,
    data: Uint8Array,
  ): Promise<ArrayBuffer>;
}

export function subtle(): Subtle {
  const webCrypto = (globalThis as { crypto?: { subtle?: Subtle } }).crypto;
  if (!webCrypto?.subtle)
    throw new Error("Web Crypto (globalThis.crypto.subtle) is required: Node.js ≥ 19 or a browser");
  return webCrypto.subtle;
}
