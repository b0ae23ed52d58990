import { randomBytes } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Errors, Limits } from "@mina-auth/protocol";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { DestinationStream } from "pino";
import type { Clock } from "../clock.ts";
import { defaultConfig, type LogLevel, type RateLimitConfig } from "../config.ts";
import { AppTokenService } from "../domain/app-tokens.ts";
import { LoginService } from "../domain/login.ts";
import { RateLimiter } from "../domain/rate-limits.ts";
import type { Storage } from "../storage/port.ts";
import { type AdminDeps, registerAdminRoutes } from "./admin-routes.ts";
import { applyCors } from "./cors.ts";
import { EarlyAnswers } from "./early-answers.ts";
import { createExchangeFastLane, type FastLane } from "./exchange-fast-lane.ts";
import { answerFailure } from "./failures.ts";
import { Metrics } from "./metrics.ts";
import { OpenApiCollector } from "./openapi.ts";
import { registerPlatformRoutes } from "./platform-routes.ts";
import { sendError } from "./reply.ts";

export const VERSION = "0.1.0";

export interface AppOptions {
  adminToken: AdminDeps["adminToken"];
  revokeGrantOnCodeReuse: boolean;
  logLevel: LogLevel;
  requestTimeoutMs: number;
  /** Shared-store abuse limits (security.md H6); `defaultConfig.rateLimits` when left out. */
  rateLimits?: RateLimitConfig;
  /** tokenLoginValidate on node:http in front of fastify (exchange-fast-lane.ts); default true. */
  fastLane?: boolean;
  /** Origins answered with CORS headers (cors.ts); `defaultConfig.corsOrigins` when left out. */
  corsOrigins?: readonly string[];
}

export interface AppDeps {
  storage: Storage;
  clock: Clock;
  /** Where log lines go (default stdout); tests capture them to grep for secrets. */
  logStream?: DestinationStream;
}

/** Builds the whole HTTP application without listening: tests drive it in-process or on loopback. */
export function buildApp(options: AppOptions, deps: AppDeps): FastifyInstance {
  const { storage, clock } = deps;
  // Request ids correlate log lines; they are not secrets. A random prefix per app and a counter
  // (16 hex digits, as before) spare a CSPRNG call per request.
  const reqIdPrefix = randomBytes(4).toString("hex");
  let reqIdSeq = 0;
  const nextRequestId = () => {
    reqIdSeq = (reqIdSeq + 1) >>> 0;
    return `${reqIdPrefix}${reqIdSeq.toString(16).padStart(8, "0")}`;
  };
  const earlyAnswers = new EarlyAnswers();
  const app = Fastify({
    logger: {
      level: options.logLevel,
      ...(deps.logStream ? { stream: deps.logStream } : {}),
      // Nothing below logs headers or bodies; these paths are a second line of defence.
      redact: {
        paths: ["req.headers.authorization", "headers.authorization", "body", "req.body"],
        censor: "[redacted]",
      },
    },
    // Fastify's own two lines per request are replaced by one line of ours (onResponse below).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: nextRequestId,
    bodyLimit: Limits.bodyBytes,
    requestTimeout: options.requestTimeoutMs,
    // Given to http.createServer, because Fastify assigns requestTimeout only after construction:
    // - Node checks the timeouts only every connectionsCheckingInterval (30 s by default), which
    //   let a slow client hold its socket for up to requestTimeout + 30 s;
    // - with headersTimeout left at its 60 s default, Node 20 did not apply requestTimeout to a
    //   body that never finishes: such a client held its socket for 60 s whatever the setting.
    http: {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: Math.min(60_000, options.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(options.requestTimeoutMs / 4))),
    },
    onProtoPoisoning: "remove",
    onConstructorPoisoning: "remove",
    return503OnClosing: true,
    forceCloseConnections: "idle",
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => {
      const definition =
        error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? Errors.RequestTimeout : Errors.MalformedJson;
      const body = JSON.stringify({ code: definition.code, msg: definition.msg });
      // A request already answered (or being answered) before its body finished, then timing
      // out, must not get a second, unsolicited response: its connection is only closed.
      if (socket.writable && !earlyAnswers.has(socket) && !answerStarted(socket)) {
        socket.end(
          `HTTP/1.1 ${definition.httpStatus} ${definition.httpStatus === 408 ? "Request Timeout" : "Bad Request"}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      } else {
        socket.destroy();
      }
    },
  });
  // JSON only (security.md H3): text/plain would otherwise reach handlers as a string.
  app.removeContentTypeParser("text/plain");

  // Graceful stop (security.md S5): `close()` drops only the connections idle at that moment. A
  // keep-alive connection whose request was in flight would stay open after its answer and hold
  // the server open until the keep-alive timeout; so once closing, every answer closes its socket.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  // Hooks on every request take callbacks, not async functions: no promise per request.
  app.addHook("onSend", (request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    earlyAnswers.note(request.raw);
    done(null, payload);
  });

  const LOGS_INFO = new Set(["trace", "debug", "info"]);
  const metrics = new Metrics();
  const openApi = new OpenApiCollector();
  app.addHook("onRoute", (route) => openApi.add(route));
  app.decorateRequest("resultCode", Errors.InternalError.code);

  // One line per request: route pattern (never the raw URL), status, result code, duration.
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    const elapsed = reply.elapsedTime;
    metrics.record(route, request.resultCode, elapsed / 1000);
    // The line's fields are built only when they will be written (the benchmark logs at warn).
    if (LOGS_INFO.has(request.log.level)) {
      request.log.info(
        {
          method: request.method,
          route,
          status: reply.statusCode,
          code: request.resultCode,
          ms: Math.round(elapsed * 10) / 10,
        },
        "request",
      );
    }
    done();
  });

  app.setErrorHandler((thrown: unknown, request, reply) => {
    const { definition, msg, headers } = answerFailure(thrown, request.url, request.log);
    for (const [name, value] of headers) reply.header(name, value);
    if (definition === Errors.BodyTooLarge && !request.raw.complete) {
      // Closing while the client still uploads makes the kernel answer its data with a reset,
      // which discards our 413 before the client reads it. Read and drop the rest for a moment
      // (bounded), so the 413 arrives; a client still sending after that is cut off.
      return drainBriefly(request.raw, Math.min(1000, options.requestTimeoutMs)).then(() =>
        sendError(reply, definition, msg),
      );
    }
    return sendError(reply, definition, msg);
  });
  app.setNotFoundHandler((request, reply) => {
    request.resultCode = Errors.RouteNotFound.code;
    return sendError(reply, Errors.RouteNotFound);
  });

  const limiter = new RateLimiter(storage, clock, options.rateLimits ?? defaultConfig.rateLimits);
  const appTokens = new AppTokenService(storage, clock, limiter);
  const login = new LoginService(
    storage,
    clock,
    { revokeGrantOnCodeReuse: options.revokeGrantOnCodeReuse },
    limiter,
  );
  registerPlatformRoutes(app, appTokens, login);
  if (options.fastLane !== false) {
    offerFirst(
      app.server,
      createExchangeFastLane({
        appTokens,
        login,
        metrics,
        log: app.log,
        nextRequestId,
        isClosing: () => closing,
        earlyAnswers,
        bodyLimit: Limits.bodyBytes,
      }),
    );
  }
  applyCors(app.server, options.corsOrigins ?? defaultConfig.corsOrigins);
  registerAdminRoutes(app, { storage, login, clock, adminToken: options.adminToken });

  app.get(
    "/healthz",
    { config: { doc: { summary: "200 while the process lives", tags: ["operations"] } } },
    async (request) => {
      request.resultCode = 0;
      return { status: "ok" };
    },
  );
  app.get(
    "/readyz",
    { config: { doc: { summary: "200 while storage answers, 503 otherwise", tags: ["operations"] } } },
    async (request, reply) => {
      try {
        await withTimeout(storage.ping(), 2000);
        request.resultCode = 0;
        return { status: "ready", storage: storage.dialect };
      } catch {
        request.resultCode = Errors.StorageUnavailable.code;
        return reply.code(503).send({ code: Errors.StorageUnavailable.code, msg: "storage unavailable" });
      }
    },
  );
  app.get(
    "/metrics",
    {
      config: {
        doc: { summary: "Prometheus text: requests by route and result code", tags: ["operations"] },
      },
    },
    async (request, reply) => {
      request.resultCode = 0;
      return reply.type("text/plain; version=0.0.4").send(metrics.render());
    },
  );
  app.get(
    "/openapi.json",
    { config: { doc: { summary: "This document", tags: ["operations"] } } },
    async (request) => {
      request.resultCode = 0;
      return openApi.document(VERSION);
    },
  );

  return app;
}

/** Whether the connection's current request already has its response under way. */
function answerStarted(socket: Socket): boolean {
  // Node keeps the response in flight on its socket until it finishes (not in its typings).
  return (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
}

/**
 * Puts the fast lane in front of fastify's request handler on the server fastify made, leaving
 * its options, timeouts and listen logic untouched (a serverFactory would cost fastify's binding
 * of every address `localhost` resolves to; the extra servers it makes for those serve through
 * fastify alone, with the same answers, and with Node's bare timeout answers).
 */
function offerFirst(server: Server, lane: FastLane): void {
  const handlers = server.listeners("request") as Array<
    (request: IncomingMessage, response: ServerResponse) => void
  >;
  if (handlers.length !== 1) {
    throw new Error(`fast lane: expected fastify's one request handler, found ${handlers.length}`);
  }
  const [handler] = handlers as [(request: IncomingMessage, response: ServerResponse) => void];
  server.removeListener("request", handler);
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    if (!lane(request, response)) handler(request, response);
  });
}

/** Resumes a request stream and resolves when it ends, fails, or after `ms`, whichever is first. */
function drainBriefly(stream: IncomingMessage, ms: number): Promise<void> {
  if (stream.complete || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stream.off("end", done).off("close", done).off("error", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stream.on("end", done).on("close", done).on("error", done);
    stream.resume();
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
