/**
 * A token cache of the official Lark Node SDK's own shape (its `Cache` interface), in memory: one
 * per client keeps tokens from leaking between tests; one shared by an app's EventDispatcher and
 * Client holds the pushed app_ticket where the client finds it, as in production.
 */
export function sdkCache() {
  const entries = new Map<string, { value: unknown; expire?: number | undefined }>();
  // biome-ignore lint/complexity/noBannedTypes: the SDK's Cache interface types keys as `Symbol`
  type Key = string | Symbol;
  const keyOf = (key: Key, namespace?: string) => `${namespace ?? ""}:${String(key)}`;
  return {
    async set(key: Key, value: unknown, expire?: number, options?: { namespace?: string }) {
      entries.set(keyOf(key, options?.namespace), { value, expire });
      return true;
    },
    async get(key: Key, options?: { namespace?: string }) {
      const entry = entries.get(keyOf(key, options?.namespace));
      if (!entry || (entry.expire !== undefined && entry.expire < Date.now())) return undefined;
      return entry.value;
    },
  };
}
