import { type Clock, ManualClock, systemClock } from "./clock.ts";
import { ConfigError, isLoopback } from "./config.ts";

/**
 * The test tools' part of the command line (docs/testing-your-backend.md): `serve --clock
 * manual`, `serve --journal N`, `mina-auth fault add|list|delete|clear` and `mina-auth expire`. Their flags are in
 * cli/commands.ts with every other; cli.ts calls the functions below.
 */
interface ToolFlags {
  clock?: string | undefined;
  force?: boolean | undefined;
  journal?: string | undefined;
  url?: string | undefined;
  "admin-token"?: string | undefined;
}

/**
 * The clock `serve` runs on. A manual clock lets anyone with the admin token move every expiry
 * of every token: a test tool, so it is refused on an address beyond loopback unless forced.
 */
export function clockFor(flags: ToolFlags, env: NodeJS.ProcessEnv, host: string): Clock {
  const kind = flags.clock ?? env.MINA_AUTH_CLOCK ?? "system";
  if (kind === "system") return systemClock;
  if (kind !== "manual") throw new ConfigError(`--clock must be system or manual (got ${kind})`);
  if (!isLoopback(host) && !flags.force) {
    throw new ConfigError(
      `--clock manual with --host ${host}: anyone with the admin token could move every expiry; bind to loopback, or add --force`,
    );
  }
  return new ManualClock(Date.now());
}

/** The journal's size for `serve`: a whole number from 0 (off) to 100000. */
export function journalSizeFrom(flags: ToolFlags, env: NodeJS.ProcessEnv): number {
  const raw = flags.journal ?? env.MINA_AUTH_JOURNAL_SIZE;
  if (raw === undefined) return 0;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) > 100_000) {
    throw new ConfigError(`--journal must be a whole number from 0 (off) to 100000 (got ${raw})`);
  }
  return Number(raw);
}

/** A command against a running server's admin API: writes its answer to `out`, returns the exit code. */
export type ToolCommand = (
  args: string[],
  flags: ToolFlags,
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
) => Promise<number>;

/**
 * `mina-auth fault …` against a running server's admin API. Writes the answer as JSON to
 * `out`; returns the exit code (0, or 1 when the server refused).
 */
export const faultCommand: ToolCommand = async (args, flags, env, out) => {
  const server = adminServer("fault", flags, env);
  const [action, argument] = args;
  let request: { method: string; path: string; body?: unknown };
  switch (action) {
    case "add": {
      if (argument === undefined) throw new ConfigError("fault add needs a RULE_JSON");
      let rule: unknown;
      try {
        rule = JSON.parse(argument);
      } catch {
        throw new ConfigError("fault add: RULE_JSON is not valid JSON");
      }
      request = { method: "POST", path: "/faults", body: rule };
      break;
    }
    case "list":
      request = { method: "GET", path: "/faults" };
      break;
    case "clear":
      request = { method: "DELETE", path: "/faults" };
      break;
    case "delete":
      if (argument === undefined) throw new ConfigError("fault delete needs a rule ID");
      request = { method: "DELETE", path: `/faults/${encodeURIComponent(argument)}` };
      break;
    default:
      throw new ConfigError("fault takes add RULE_JSON, list, delete ID or clear");
  }
  return adminCall(server, request, out);
};

/**
 * `mina-auth expire session ID` / `expire app-tokens APP_ID [app|tenant]`: "expire this token
 * now" on a running server (docs/testing-your-backend.md). Same output and exit code as `fault`.
 */
export const expireCommand: ToolCommand = async (args, flags, env, out) => {
  const server = adminServer("expire", flags, env);
  const [what, id, kind] = args;
  if (id === undefined) throw new ConfigError(`expire ${what} needs an ID`);
  if (what === "session") {
    if (kind !== undefined) throw new ConfigError("expire session takes one ID");
    const path = `/sessions/${encodeURIComponent(id)}/expire-access-token`;
    return adminCall(server, { method: "POST", path }, out);
  }
  if (kind !== undefined && kind !== "app" && kind !== "tenant") {
    throw new ConfigError(`expire app-tokens: the kind is app or tenant (got ${kind})`);
  }
  const path = `/apps/${encodeURIComponent(id)}/expire-tokens`;
  return adminCall(server, { method: "POST", path, body: kind === undefined ? {} : { kind } }, out);
};

interface AdminServer {
  base: string;
  token: string;
}

function adminServer(command: string, flags: ToolFlags, env: NodeJS.ProcessEnv): AdminServer {
  const base = (flags.url ?? env.MINA_AUTH_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  const token = flags["admin-token"] ?? env.MINA_AUTH_ADMIN_TOKEN;
  if (!token) {
    throw new ConfigError(
      `${command} needs the server's admin token: --admin-token or MINA_AUTH_ADMIN_TOKEN`,
    );
  }
  return { base, token };
}

/** One admin API request; its answer written as is; 0 when it succeeded, else 1. */
async function adminCall(
  { base, token }: AdminServer,
  request: { method: string; path: string; body?: unknown },
  out: (text: string) => void,
): Promise<number> {
  let response: Response;
  try {
    response = await fetch(`${base}/admin/v1${request.path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(request.body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    });
  } catch {
    throw new ConfigError(`no server answers at ${base}`);
  }
  const text = await response.text();
  out(`${text}\n`);
  return response.ok ? 0 : 1;
}
