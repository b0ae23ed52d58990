// oidc-provider's authorization_code exchange, as the standard Node authorization server does it:
// a confidential client (client_secret_basic), scope offline_access (access + refresh token, no
// id_token), an in-memory adapter. Codes are created in bulk beforehand through the provider's
// own models, on a second loopback port: POST /mint?n=N answers N codes, one per line, each with
// its own grant. Prints {"port","mintPort","clientId","clientSecret","redirectUri"} when ready.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import Provider from "oidc-provider";

const clientId = "bench-client";
const clientSecret = randomBytes(24).toString("base64url");
const redirectUri = "https://client.example/cb";

// A Map, not the provider's built-in LRU (1,000 entries): pre-created codes must all survive.
const store = new Map();
const grantMembers = new Map();
const epoch = () => Math.floor(Date.now() / 1000);

class MapAdapter {
  constructor(name) {
    this.name = name;
  }
  key(id) {
    return `${this.name}:${id}`;
  }
  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, expiresAt: expiresIn ? epoch() + expiresIn : undefined });
    if (payload.grantId && this.name !== "Grant") {
      const members = grantMembers.get(payload.grantId);
      if (members) members.push(key);
      else grantMembers.set(payload.grantId, [key]);
    }
  }
  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt < epoch()) return undefined;
    return entry.payload;
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = epoch();
  }
  async destroy(id) {
    store.delete(this.key(id));
  }
  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
    store.delete(`Grant:${grantId}`);
  }
}

const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
const provider = new Provider("http://127.0.0.1", {
  adapter: MapAdapter,
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      redirect_uris: [redirectUri],
      id_token_signed_response_alg: "ES256",
    },
  ],
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  jwks: { keys: [{ ...key, kid: "bench", alg: "ES256", use: "sig" }] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  features: { devInteractions: { enabled: false } },
});

const client = await provider.Client.find(clientId);

async function mint(n) {
  const codes = [];
  for (let i = 0; i < n; i++) {
    const accountId = `user-${i % 1000}`;
    const grant = new provider.Grant({ accountId, clientId });
    grant.addOIDCScope("offline_access");
    const grantId = await grant.save();
    const code = new provider.AuthorizationCode({
      accountId,
      client,
      grantId,
      scope: "offline_access",
      redirectUri,
      authTime: epoch(),
    });
    codes.push(await code.save());
  }
  return codes;
}

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
const minter = createServer(async (req, res) => {
  const n = Number(new URL(req.url, "http://x").searchParams.get("n") ?? "0");
  const codes = await mint(n);
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(codes.join("\n"));
});

await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
await new Promise((resolve) => minter.listen(0, "127.0.0.1", resolve));
process.stdout.write(
  `${JSON.stringify({ port: server.address().port, mintPort: minter.address().port, clientId, clientSecret, redirectUri })}\n`,
);
process.on("SIGTERM", () => process.exit(0));
