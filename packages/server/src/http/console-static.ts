import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Errors } from "@mina-auth/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import { markSuccess, sendError } from "./reply.ts";

/**
 * Serves the web console's built files (packages/console/dist) at /console/. The files hold no
 * secret: every call the console makes goes to the admin API with the admin token the person
 * signs in with. The page may load nothing from anywhere but this server (the CSP below).
 */
export interface ConsoleOptions {
  /** Folder of the built console (index.html and assets/). */
  dir: string;
}

/**
 * Where the workspace build puts the console. The same relative path holds from this file in
 * src/http/ (run from source) and from dist/http/ (run from the build).
 */
export const defaultConsoleDir = fileURLToPath(new URL("../../../console/dist/", import.meta.url));

export const CONSOLE_PATH = "/console/";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

export function registerConsole(app: FastifyInstance, options: ConsoleOptions): void {
  const root = normalize(options.dir + sep);

  const send = async (reply: FastifyReply, relative: string) => {
    const file = normalize(join(root, relative));
    // A path that climbs out of the folder is simply not one of its files.
    if (!file.startsWith(root)) return sendError(reply, Errors.RouteNotFound);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (relative === "index.html") {
        return sendError(
          reply,
          Errors.AdminNotFound,
          "the console was not built: run `npm run build` (packages/console/dist is missing)",
        );
      }
      return sendError(reply, Errors.RouteNotFound);
    }
    markSuccess(reply.request);
    // Vite names assets by their content hash: they never change under one name.
    const cache = relative.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
    return reply
      .headers({ ...SECURITY_HEADERS, "cache-control": cache })
      .type(TYPES[extname(file)] ?? "application/octet-stream")
      .send(body);
  };

  // Static files, not operations of the API: /openapi.json leaves these routes out (they carry no
  // config.doc), and http-surface.test.ts says so where it matches the document to the routes.
  app.get("/console", (_request, reply) => reply.redirect(CONSOLE_PATH));
  app.get(CONSOLE_PATH, (_request, reply) => send(reply, "index.html"));
  app.get<{ Params: { "*": string } }>("/console/*", (request, reply) => {
    const rest = request.params["*"];
    // The app routes by the URL's #fragment; any path without a file extension is the app itself.
    const relative = rest === "" || extname(rest) === "" ? "index.html" : rest;
    return send(reply, relative);
  });
}
