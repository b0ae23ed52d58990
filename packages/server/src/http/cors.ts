import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * CORS for browser-based tools (a console, an API explorer on another port). Origins are exact
 * (`https://tools.example.com`), end in `:*` for any port (`http://localhost:*`), or are `*` for
 * any origin; an empty list answers no cross-origin request. Every endpoint authenticates with
 * a bearer token, never a cookie, so allowing an origin lets its pages call the API only with
 * tokens they already hold: credentials are never allowed.
 *
 * Applied on node:http ahead of every other handler (the platform handler and fastify alike), so
 * that every answer carries the same headers and a preflight never reaches a route.
 */
export const LOOPBACK_ORIGINS: readonly string[] = [
  "http://localhost:*",
  "http://127.0.0.1:*",
  "http://[::1]:*",
];

/** `*`, or scheme://host with an optional port or `:*`; a host may be a bracketed IPv6 address. */
export const CORS_ORIGIN = /^(\*|https?:\/\/(\[[0-9a-fA-F:.]+\]|[^/\s:[\]]+)(:(\d+|\*))?)$/;

/** Whether `entry` is a valid origin pattern (used by configuration validation). */
export function isOriginPattern(entry: string): boolean {
  return CORS_ORIGIN.test(entry);
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

type Listener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * The CORS step of the server's one request listener (app.ts): an allowed origin's answers get
 * its headers, and its preflights are answered here, before any route. Null for no origins.
 */
export function corsStep(
  origins: readonly string[],
): ((request: IncomingMessage, response: ServerResponse) => boolean) | null {
  if (origins.length === 0) return null;
  return (request, response) => {
    const origin = request.headers.origin;
    if (origin === undefined || !allows(origins, origin)) return false;
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
      return true;
    }
    response.setHeader(
      "access-control-expose-headers",
      "retry-after, x-ogw-ratelimit-limit, x-ogw-ratelimit-reset",
    );
    return false;
  };
}

/** `listener` behind the CORS step for `origins`. */
export function withCors(origins: readonly string[], listener: Listener): Listener {
  const step = corsStep(origins);
  return step === null
    ? listener
    : (request, response) => step(request, response) || listener(request, response);
}
