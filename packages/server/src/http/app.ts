import { randomBytes } from "node:crypto";
import { createServer, type RequestListener, type Server, type ServerOptions } from "node:http";
import type { Socket } from "node:net";
import { Errors, Limits } from "@mina-auth/protocol";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { DestinationStream } from "pino";
import type { Clock } from "../clock.ts";
import { defaultConfig, type LogLevel, type RateLimitConfig } from "../config.ts";
import { AppTickets } from "../domain/app-tickets.ts";
import { AppTokenService } from "../domain/app-tokens.ts";
import { CodeDoors } from "../domain/code-doors.ts";
import { EventPusher, type EventPusherOptions } from "../domain/event-pusher.ts";
import { EventSecretBox } from "../domain/event-secrets.ts";
import { LoginService } from "../domain/login.ts";
import { RateLimiter } from "../domain/rate-limits.ts";
import { StoreAppTokenService } from "../domain/store-app-tokens.ts";
import type { Storage } from "../storage/port.ts";
import { createTestTools, type TestTools } from "../test-tools/tools.ts";
import { type AdminDeps, registerAdminRoutes } from "./admin-routes.ts";
import { withAdmission } from "./admission.ts";
import { answerAndClose, answerMissingHost, clientErrorAnswer, rawAnswer } from "./client-errors.ts";
import { ConnectionGuard, writeRawAnswer } from "./connection-guard.ts";
import { type ConsoleOptions, registerConsole } from "./console-static.ts";
import { withCors } from "./cors.ts";
import { registerDevRoutes } from "./dev-routes.ts";
import { EarlyAnswers } from "./early-answers.ts";
import { answerFailure } from "./failures.ts";
import { answerPathError, refuseUnstorableText } from "./fastify-edge.ts";
import { Metrics } from "./metrics.ts";
import { OpenApiCollector } from "./openapi.ts";
import { platformEndpoints } from "./platform/endpoints.ts";
import {
  type AnsweredRequest,
  createPlatformHandler,
  PLATFORM_PREFIX,
  type PlatformHandler,
} from "./platform/handler.ts";
import { drainBriefly } from "./platform/request-body.ts";
import { sendError } from "./reply.ts";

export const VERSION = "0.1.0";
/** Fastify's default, which its own servers had: idle keep-alive connections live 72 s. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

declare module "fastify" {
  interface FastifyInstance {
    /** The server's request listener: the platform handler, then fastify. */
    handle: RequestListener;
    /** Another server like `app.server`, answering with `handle` (listen.ts binds it). */
    newServer: () => Server;
    /** Fault rules, clock and request journal (test-tools/), for the emulator and the CLI. */
    testTools: TestTools;
  }
}

export interface AppOptions {
  adminToken: AdminDeps["adminToken"];
  revokeGrantOnCodeReuse: boolean;
  logLevel: LogLevel;
  requestTimeoutMs: number;
  /** Shared-store abuse limits (security.md H6); `defaultConfig.rateLimits` when left out. */
  rateLimits?: RateLimitConfig;
  /** `/dev/v1` (the tt shim's endpoints) without the admin token: the emulator only. */
  openDevEndpoints?: boolean;
  /** The web console's files, served at /console/; null or left out: no console. */
  console?: ConsoleOptions | null;
  /** Origins answered with CORS headers (cors.ts); `defaultConfig.corsOrigins` when left out. */
  corsOrigins?: readonly string[];
  /** Platform requests the journal keeps (GET /admin/v1/journal); 0 or left out: off. */
  journalSize?: number;
  /** The app_ticket pusher's retry schedule and polling (event-pusher.ts); defaults when left out. */
  events?: Pick<EventPusherOptions, "retryDelaysMs" | "tickMs" | "attemptTimeoutMs">;
  /** Open connections beyond which requests get 503 (connection-guard.ts); 0: no cap. Default 10,000. */
  maxConnections?: number;
}

export interface AppDeps {
  storage: Storage;
  clock: Clock;
  /** Where log lines go (default stdout); tests capture them to grep for secrets. */
  logStream?: DestinationStream;
}

/** An answer's log line and metrics: one function for the platform handler and fastify's routes. */
function observer(metrics: Metrics, log: FastifyBaseLogger) {
  return (answered: AnsweredRequest): void => {
    metrics.record(answered.route, answered.code, answered.ms / 1000);
    // The line's fields are built only when they will be written (the benchmark logs at warn).
    if (LOGS_INFO.has(log.level)) {
      const { reqId, method, route, status, code } = answered;
      log.info({ reqId, method, route, status, code, ms: Math.round(answered.ms * 10) / 10 }, "request");
    }
  };
}
const LOGS_INFO = new Set(["trace", "debug", "info"]);

/**
 * Builds the whole HTTP application without listening: tests drive it in-process or on loopback.
 * One node:http server: the platform endpoints (/open-apis/…) are answered by the platform
 * handler (platform/handler.ts), everything else by fastify. `app.handle` is that server's
 * request listener, for in-process requests (light-my-request's inject) and sibling servers.
 */
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
  // Given to http.createServer:
  // - Node checks the timeouts only every connectionsCheckingInterval (30 s by default), which
  //   let a slow client hold its socket for up to requestTimeout + 30 s;
  // - with headersTimeout left at its 60 s default, Node 20 did not apply requestTimeout to a
  //   body that never finishes: such a client held its socket for 60 s whatever the setting.
  const httpOptions: ServerOptions = {
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: Math.min(60_000, options.requestTimeoutMs),
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(options.requestTimeoutMs / 4))),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Answered by answerMissingHost (client-errors.ts) with the envelope, not Node's bare 400.
    requireHostHeader: false,
  };
  /** Set as the app starts to stop (preClose, below). */
  let closing = false;
  let fastifyHandler: RequestListener | undefined;
  let platform: PlatformHandler | undefined;
  // A connection's deadline (connection-guard.ts) answers as node:http's own timeout does.
  const timedOut = (socket: Socket) => {
    if (socket.writable && !earlyAnswers.has(socket) && !answerStarted(socket)) {
      writeRawAnswer(socket, rawAnswer(Errors.RequestTimeout));
    } else {
      socket.destroy();
    }
  };
  const guard = new ConnectionGuard(
    {
      requestTimeoutMs: options.requestTimeoutMs,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: options.maxConnections ?? defaultConfig.maxConnections,
    },
    timedOut,
  );
  const handle: RequestListener = withCors(
    options.corsOrigins ?? defaultConfig.corsOrigins,
    (request, response) => {
      if (answerMissingHost(request, response)) return;
      // Stopping: fastify's routes answer 503 with the envelope (fastify's own 503 body is not
      // one); platform requests are still answered, each closing its connection (see `send`).
      if (closing && !request.url?.startsWith(PLATFORM_PREFIX)) {
        answerAndClose(request, response, Errors.ServerBusy, "server stopping: retry on another instance", {
          "retry-after": "1",
        });
        return;
      }
      if (!platform!(request, response)) fastifyHandler!(request, response);
    },
  );
  const guarded = guard.wrap(
    withAdmission(handle, () => guard.open),
    (request, response) => {
      // Liveness is answered even over the cap: the process is alive, only full.
      if (request.url === "/healthz" || request.url?.startsWith("/healthz?")) return false;
      answerAndClose(request, response, Errors.ServerBusy, Errors.ServerBusy.msg, { "retry-after": "1" });
      return true;
    },
  );
  const newHttpServer = () => {
    const server = createServer(httpOptions, guarded);
    guard.watch(server);
    return server;
  };
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
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // The server is ours, so that one listener answers both the platform and fastify's routes.
    serverFactory: (handler) => {
      fastifyHandler = handler;
      return newHttpServer();
    },
    // Admin input is validated by its schemas as sent: "3" is not a count, 7 not an app_id.
    ajv: { customOptions: { coerceTypes: false } },
    onProtoPoisoning: "remove",
    onConstructorPoisoning: "remove",
    // Answered in `handle` with the envelope instead (fastify's 503 body is not one).
    return503OnClosing: false,
    // A path fastify cannot route (`%FF`): the envelope, not fastify's own body.
    frameworkErrors: answerPathError,
    forceCloseConnections: "idle",
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => {
      if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return timedOut(socket);
      if (!socket.writable) return void socket.destroy();
      // Bytes that do not parse after a request (pipelined junk) wait for the answers owed to
      // the requests before them: a committed login keeps its own answer (issue 14, item 4).
      // A fault inside the body still arriving is that request's, answered now.
      const answer = clientErrorAnswer(error);
      if (guard.receiving(socket)) {
        if (earlyAnswers.has(socket) || answerStarted(socket)) return void socket.destroy();
        return writeRawAnswer(socket, answer);
      }
      guard.afterOwedAnswers(socket, () => {
        if (socket.writable) writeRawAnswer(socket, answer);
        else socket.destroy();
      });
    },
  });
  app.decorate("handle", handle);
  app.decorate("newServer", () => {
    const server = newHttpServer();
    for (const listener of app.server.listeners("clientError")) {
      server.on("clientError", listener as (error: Error, socket: Socket) => void);
    }
    return server;
  });
  // JSON only (security.md H3): text/plain would otherwise reach handlers as a string.
  app.removeContentTypeParser("text/plain");

  // Graceful stop (security.md S5): `close()` drops only the connections idle at that moment. A
  // keep-alive connection whose request was in flight would stay open after its answer and hold
  // the server open until the keep-alive timeout; so once closing, every answer closes its socket.
  app.addHook("preClose", async () => {
    closing = true;
  });
  // Hooks on every request take callbacks, not async functions: no promise per request.
  app.addHook("onSend", (request, reply, payload, done) => {
    if (closing) reply.header("connection", "close");
    earlyAnswers.note(request.raw);
    done(null, payload);
  });

  // NUL and lone surrogates in admin and dev input are refused before any route's work.
  app.addHook("preValidation", refuseUnstorableText);

  const metrics = new Metrics();
  app.addHook("onClose", (_instance, done) => {
    metrics.stop();
    done();
  });
  const observe = observer(metrics, app.log);
  const limiter = new RateLimiter(storage, clock, options.rateLimits ?? defaultConfig.rateLimits);
  const appTokens = new AppTokenService(storage, clock, limiter);
  const login = new LoginService(
    storage,
    clock,
    { revokeGrantOnCodeReuse: options.revokeGrantOnCodeReuse },
    limiter,
  );
  // Store apps: app_tickets pushed to their event URL off the request path (event-pusher.ts),
  // from when the server is ready until it closes.
  const tickets = new AppTickets(storage, clock);
  const eventSecrets = new EventSecretBox(storage, clock);
  const pusher = new EventPusher({
    storage,
    clock,
    tickets,
    secrets: eventSecrets,
    log: app.log.child({ component: "events" }),
    ...(options.events ?? {}),
  });
  app.addHook("onReady", (done) => {
    pusher.start();
    done();
  });
  app.addHook("onClose", async () => {
    await pusher.stop();
  });
  const store = new StoreAppTokenService(storage, appTokens, tickets, pusher, limiter);
  const doors = new CodeDoors(login, storage, clock, limiter);
  const endpoints = platformEndpoints(appTokens, login, doors, store);
  const tools = createTestTools(storage, clock, options.journalSize ?? 0, appTokens, endpoints);
  app.decorate("testTools", tools);
  // The stored rules are loaded before the first request, then kept fresh off the request path.
  app.addHook("onReady", () => tools.faults.start());
  // Requests a timeout fault holds would hold the stop until their callers give up.
  app.addHook("preClose", (done) => {
    tools.hung.destroyAll();
    done();
  });
  app.addHook("onClose", () => tools.faults.stop());
  platform = createPlatformHandler({
    endpoints,
    appTokens,
    log: app.log,
    nextRequestId,
    isClosing: () => closing,
    earlyAnswers,
    bodyLimit: Limits.bodyBytes,
    requestTimeoutMs: options.requestTimeoutMs,
    observe,
    tools,
  });
  const openApi = new OpenApiCollector(endpoints);
  app.addHook("onRoute", (route) => openApi.add(route));
  app.decorateRequest("resultCode", Errors.InternalError.code);

  // One line per request: route pattern (never the raw URL), status, result code, duration.
  app.addHook("onResponse", (request, reply, done) => {
    observe({
      reqId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? "unmatched",
      status: reply.statusCode,
      code: request.resultCode,
      ms: reply.elapsedTime,
    });
    done();
  });

  app.setErrorHandler((thrown: unknown, request, reply) => {
    const { definition, msg, headers } = answerFailure(thrown, request.url, request.log);
    for (const [name, value] of headers) reply.header(name, value);
    if (definition === Errors.BodyTooLarge && !request.raw.complete) {
      // As the platform handler does (platform/handler.ts): let the 413 arrive before closing.
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

  registerAdminRoutes(app, {
    storage,
    login,
    clock,
    adminToken: options.adminToken,
    tools,
    events: { pusher, secrets: eventSecrets, tickets },
  });
  registerDevRoutes(app, {
    storage,
    login,
    clock,
    adminToken: options.adminToken,
    openDevEndpoints: options.openDevEndpoints === true,
  });
  if (options.console) registerConsole(app, options.console);

  app.get(
    "/healthz",
    {
      config: {
        doc: {
          summary: "200 while the process lives",
          tags: ["operations"],
          response: { type: "object", properties: { status: { const: "ok" } } },
        },
      },
    },
    async (request) => {
      request.resultCode = 0;
      return { status: "ok" };
    },
  );
  app.get(
    "/readyz",
    {
      config: {
        doc: {
          summary: "200 while storage answers, 503 otherwise",
          tags: ["operations"],
          errors: [503],
          response: {
            type: "object",
            properties: { status: { const: "ready" }, storage: { type: "string" } },
          },
        },
      },
    },
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
        doc: {
          summary: "Prometheus text: requests by route and code, request durations, process and event loop",
          tags: ["operations"],
          contentType: "text/plain",
          response: { type: "string" },
        },
      },
    },
    async (request, reply) => {
      request.resultCode = 0;
      return reply.type("text/plain; version=0.0.4").send(metrics.render());
    },
  );
  app.get(
    "/openapi.json",
    { config: { doc: { summary: "This document", tags: ["operations"], response: { type: "object" } } } },
    async (request) => {
      request.resultCode = 0;
      return openApi.document(VERSION, "/");
    },
  );

  return app;
}

/** Whether the connection's current request already has its response under way. */
function answerStarted(socket: Socket): boolean {
  // Node keeps the response in flight on its socket until it finishes (not in its typings).
  return (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
