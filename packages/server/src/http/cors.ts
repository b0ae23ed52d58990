import type { IncomingMessage, Server, ServerResponse } from "node:http";

/**
 * CORS for browser-based tools (a console, an API explorer on another port). Origins are exact
 * (`https://tools.example.com`), end in `:*` for any port (`http://localhost:*`), or are `*` for
 * any origin; an empty list answers no cross-origin request. Every endpoint authenticates with
 * a bearer token, never a cookie, so allowing an origin lets its pages call the API only with
 * tokens they already hold: credentials are never allowed.
 *
 * Applied on node:http ahead of every other handler (the fast lane and fastify alike), so that
 * every answer carries the same headers and a preflight never reaches a route.
 */
export const LOOPBACK_ORIGINS: readonly string[] = [
  "http://localhost:*",
  "http://127.0.0.1:*",
  "http://[::1]:*",
];

/** `*`, or scheme://host with an optional port or `:*`; a host may be a bracketed IPv6 address. */
const ORIGIN_PATTERN = /^(\*|https?:\/\/(\[[0-9a-fA-F:.]+\]|[^/\s:[\]]+)(:(\d+|\*))?)$/;

/** Whether `entry` is a valid origin pattern (used by configuration validation). */
export function isOriginPattern(entry: string): boolean {
  return ORIGIN_PATTERN.test(entry);
}

function allows(patterns: readonly string[], origin: string): boolean {
  for (const pattern of patterns) {
    if (pattern === "*" || pattern === origin) return true;
    if (pattern.endsWith(":*")) {
      const base = pattern.slice(0, -2);
      if (origin.startsWith(`${base}:`) && /^\d+$/.test(origin.slice(base.length + 1))) return true;
      if (origin === base) return true;
    }
  }
  return false;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** Wraps the server's one request handler with CORS answers for `origins`. */
export function applyCors(server: Server, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const handlers = server.listeners("request") as Handler[];
  if (handlers.length !== 1) throw new Error(`cors: expected one request handler, found ${handlers.length}`);
  const [handler] = handlers as [Handler];
  server.removeListener("request", handler);
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const origin = request.headers.origin;
    if (origin === undefined || !allows(origins, origin)) {
      handler(request, response);
      return;
    }
    response.setHeader("access-control-allow-origin", origins.includes("*") ? "*" : origin);
    response.setHeader("vary", "Origin");
    if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
      response.writeHead(204, {
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
      });
      response.end();
      request.resume();
      return;
    }
    response.setHeader(
      "access-control-expose-headers",
      "retry-after, x-ogw-ratelimit-limit, x-ogw-ratelimit-reset",
    );
    handler(request, response);
  });
}
