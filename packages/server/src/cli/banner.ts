import type { DestinationStream } from "pino";
import type { RunningServer } from "../server.ts";

/**
 * The log stream of `serve`: holds the log lines written while the server starts (fastify's
 * "Server listening" among them) until the banner is out, so that the banner reads as one
 * block and the logs follow it.
 */
export class HeldLogStream implements DestinationStream {
  private held: string[] | null = [];

  write(line: string): void {
    if (this.held) this.held.push(line);
    else process.stdout.write(line);
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    if (held.length > 0) process.stdout.write(held.join(""));
  }
}

export interface BannerInput {
  version: string;
  server: RunningServer;
  storage: string;
  /** The seed's name in messages (a file name, "the demo data", or both). */
  seedName: string | null;
  /** Set when the demo app is present: its and the store app's public credentials. */
  demo: { appId: string; appSecret: string; storeAppId: string; storeAppSecret: string } | null;
  notes: string[];
  warnings: string[];
}

/** The banner `serve` prints on stderr once it listens, as one write. */
export function banner(input: BannerInput): string {
  const { server } = input;
  const lines = [
    `mina-auth ${input.version} listening on ${server.url} (storage: ${input.storage})`,
    ...input.notes,
  ];
  const outcome = server.seedOutcome;
  if (outcome?.action === "loaded") {
    lines.push(
      `Loaded ${input.seedName} into the empty database: ${server.seeded!.snapshot.apps.length} app(s).`,
    );
  } else if (outcome?.action === "upserted") {
    lines.push(
      `Loaded ${input.seedName} over the ${outcome.appsBefore} app(s) already in the database (--seed-mode upsert).`,
    );
  } else if (outcome?.action === "skipped") {
    lines.push(
      `Did not load ${input.seedName}: the database already holds ${outcome.appsBefore} app(s). ` +
        "--seed-mode upsert loads it over them; mina-auth import FILE does the same without serving.",
    );
  }
  // As `import` does: a secret the seed left out exists nowhere else, so it is shown once.
  for (const s of server.seeded?.appSecrets ?? [])
    if (s.generated) lines.push(`app ${s.appId} (${s.name}): app_secret ${s.appSecret}`);
  lines.push(adminTokenLine(server));
  if (server.consoleUrl)
    lines.push(`Console: ${server.consoleUrl} (sign in with the admin token; --console off turns it off)`);
  if (input.demo) {
    lines.push(
      `Demo app: app_id ${input.demo.appId}  app_secret ${input.demo.appSecret}`,
      `Demo store app: app_id ${input.demo.storeAppId}  app_secret ${input.demo.storeAppSecret}`,
    );
  }
  for (const warning of input.warnings) lines.push(`WARNING: ${warning}`);
  if (input.demo)
    lines.push(
      "",
      walkthrough(
        server.url,
        server.adminTokenSource === "generated" ? server.adminToken : null,
        input.demo.appId,
        input.demo.appSecret,
      ),
    );
  lines.push("Log lines (JSON) follow on stdout.");
  return `\n${lines.join("\n")}\n\n`;
}

function adminTokenLine(server: RunningServer): string {
  switch (server.adminTokenSource) {
    case "configured":
      return "Admin token: the one given (--admin-token or MINA_AUTH_ADMIN_TOKEN).";
    case "generated":
      return `Admin token: ${server.adminToken}
  generated now and kept (as its SHA-256) in the database: it stays the same across restarts.
  Note it down; \`mina-auth admin-token rotate\` (with this --db) replaces it and prints the new one.`;
    case "stored":
      return "Admin token: the one printed when it was generated (kept hashed in the database);\n  `mina-auth admin-token rotate` (with this --db) prints a new one if it is lost.";
  }
}

function walkthrough(base: string, adminToken: string | null, appId: string, appSecret: string): string {
  const pick = (field: string) => `node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).${field}'`;
  return `Try the whole flow (paste into a shell):
  BASE=${base}
  ADMIN=${adminToken ?? "<your admin token>"}
  APP_TOKEN=$(curl -s -X POST $BASE/open-apis/auth/v3/app_access_token/internal \\
    -H 'Content-Type: application/json' -d '{"app_id":"${appId}","app_secret":"${appSecret}"}' | ${pick("app_access_token")})
  # what tt.login returns on a device:
  CODE=$(curl -s -X POST $BASE/admin/v1/login-codes -H "Authorization: Bearer $ADMIN" \\
    -H 'Content-Type: application/json' -d '{"app_id":"${appId}","user_id":"6c486g"}' | ${pick("code")})
  LOGIN=$(curl -s -X POST $BASE/open-apis/mina/v2/tokenLoginValidate -H "Authorization: Bearer $APP_TOKEN" \\
    -H 'Content-Type: application/json; charset=utf-8' -d "{\\"code\\":\\"$CODE\\"}"); echo "$LOGIN"
  curl -s $BASE/open-apis/authen/v1/user_info -H "Authorization: Bearer $(echo "$LOGIN" | ${pick("data.access_token")})"
  curl -s -X POST $BASE/open-apis/authen/v1/oidc/refresh_access_token -H "Authorization: Bearer $APP_TOKEN" \\
    -H 'Content-Type: application/json' -d "{\\"grant_type\\":\\"refresh_token\\",\\"refresh_token\\":\\"$(echo "$LOGIN" | ${pick("data.refresh_token")})\\"}"
`;
}
