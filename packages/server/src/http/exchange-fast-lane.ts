import type { IncomingMessage, ServerResponse } from "node:http";
import { type ErrorDefinition, Errors, Paths, type TokenLoginValidateData } from "@mina-auth/protocol";
import type { FastifyBaseLogger } from "fastify";
import type { AppTokenService } from "../domain/app-tokens.ts";
import { parseBearer } from "../domain/bearer.ts";
import type { LoginService } from "../domain/login.ts";
import type { EarlyAnswers } from "./early-answers.ts";
import { answerFailure } from "./failures.ts";
import type { Metrics } from "./metrics.ts";

/**
 * tokenLoginValidate straight on node:http, in front of fastify: the one endpoint every login
 * goes through, without the framework's per-request hooks, promises and child logger (with our
 * hooks, fastify answered about 0.7 of what bare node:http did for the same work; the lane cut
 * a login's CPU by about a tenth: docs/performance.md). It answers exactly what the fastify route answers: the same check order,
 * codes, bodies, headers, metrics and log line (test/fast-lane.test.ts compares the two).
 *
 * It takes only requests whose shape leaves nothing to interpret: `POST` to the exact path, a
 * plain JSON content type, a Content-Length within the body limit, no transfer coding, and the
 * server not closing. Everything else (chunked bodies, odd content types, oversized bodies, query
 * strings) goes to fastify, which keeps every edge case it already handles.
 */
export type FastLane = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface FastLaneDeps {
  appTokens: AppTokenService;
  login: LoginService;
  metrics: Metrics;
  /** The app's root logger; lines carry the request id like fastify's request logger does. */
  log: FastifyBaseLogger;
  nextRequestId: () => string;
  isClosing: () => boolean;
  earlyAnswers: EarlyAnswers;
  bodyLimit: number;
}

const ROUTE = Paths.tokenLoginValidate;
/** The content types fastify's JSON parser accepts without a second look. */
const PLAIN_JSON = new Set([
  "application/json",
  "application/json; charset=utf-8",
  "application/json;charset=utf-8",
]);
const DIGITS = /^\d{1,9}$/;
const LOGS_INFO = new Set(["trace", "debug", "info"]);

export function createExchangeFastLane(deps: FastLaneDeps): FastLane {
  return (request, response) => {
    if (deps.isClosing() || !fitsFastLane(request, deps.bodyLimit)) return false;
    serve(deps, request, response).catch((error: unknown) => {
      // Nothing in serve() is meant to throw past its own handler; if something does, this
      // request ends here rather than the process (an unhandled rejection would end it).
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      deps.log.error({ error: { type: name, message } }, "fast lane failed");
      response.destroy();
    });
    return true;
  };
}

/** Whether a request has the one shape the fast lane serves (see above). */
export function fitsFastLane(
  request: Pick<IncomingMessage, "method" | "url" | "headers">,
  bodyLimit: number,
): boolean {
  if (request.method !== "POST" || request.url !== ROUTE) return false;
  const type = request.headers["content-type"];
  if (type === undefined || !PLAIN_JSON.has(type)) return false;
  const length = request.headers["content-length"];
  if (length === undefined || !DIGITS.test(length) || Number(length) > bodyLimit) return false;
  return request.headers["transfer-encoding"] === undefined;
}

/** The body, or null when the client went away before sending all of it. */
function readBody(request: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    request.once("error", () => resolve(null));
    request.once("close", () => {
      if (!request.complete) resolve(null);
    });
  });
}

/** Stops reading a body that will not be used; the connection stays usable. */
function discardBody(request: IncomingMessage): void {
  request.removeAllListeners("data");
  request.resume();
}

class MalformedBody extends Error {}

/** What fastify's JSON parser gives the handler: a leading BOM dropped, empty is malformed. */
function parseJson(body: Buffer): unknown {
  let text = body.toString("utf8");
  if (text.length === 0) throw new MalformedBody();
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedBody();
  }
}

/**
 * The body's own `code` field, or undefined. Only this value goes on, in an object of its own:
 * fastify strips `__proto__` and `constructor.prototype` keys, and a body that never reaches
 * the domain cannot pollute anything either (security.md H5).
 */
function codeOf(body: unknown): unknown {
  return typeof body === "object" && body !== null && Object.hasOwn(body, "code")
    ? (body as { code: unknown }).code
    : undefined;
}

async function serve(deps: FastLaneDeps, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const started = performance.now();
  const reqId = deps.nextRequestId();
  // The body arrives while the app token is checked.
  const body = readBody(request);
  let code: number;
  try {
    const caller = await deps.appTokens.authenticate(parseBearer(request.headers.authorization));
    if (caller === null) {
      // As the fastify route's onRequest check: answered at once, whatever the body (a slow one
      // included), which is left unread.
      discardBody(request);
      code = sendError(deps, request, response, Errors.AccessTokenInvalid);
    } else {
      const raw = await body;
      if (raw === null) return; // the client is gone: nothing to answer, nothing was consumed
      const input = { code: codeOf(parseJson(raw)) };
      const data = await deps.login.exchange(caller, input, request.socket.remoteAddress ?? "");
      send(deps, request, response, 200, successBody(data), []);
      code = 0;
    }
  } catch (error) {
    if (error instanceof MalformedBody) {
      // As fastify does for a body it cannot parse: the rest of the stream is not trusted.
      code = sendError(deps, request, response, Errors.MalformedJson, undefined, [["connection", "close"]]);
    } else {
      discardBody(request);
      const failure = answerFailure(error, ROUTE, deps.log.child({ reqId }));
      code = sendError(deps, request, response, failure.definition, failure.msg, failure.headers);
    }
  }
  const status = response.statusCode;
  const ms = performance.now() - started;
  deps.metrics.record(ROUTE, code, ms / 1000);
  if (LOGS_INFO.has(deps.log.level)) {
    deps.log.info(
      { reqId, method: "POST", route: ROUTE, status, code, ms: Math.round(ms * 10) / 10 },
      "request",
    );
  }
}

function sendError(
  deps: FastLaneDeps,
  request: IncomingMessage,
  response: ServerResponse,
  definition: ErrorDefinition,
  msg = definition.msg,
  extra: Array<[string, string]> = [],
): number {
  send(deps, request, response, definition.httpStatus, JSON.stringify({ code: definition.code, msg }), extra);
  return definition.code;
}

function send(
  deps: FastLaneDeps,
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  body: string,
  extra: Array<[string, string]>,
): void {
  if (response.headersSent || response.destroyed) return;
  const headers: Record<string, string> = { "cache-control": "no-store" };
  for (const [name, value] of extra) headers[name] = value;
  // Once the server is stopping, every answer closes its connection (as the onSend hook does).
  if (deps.isClosing()) headers.connection = "close";
  headers["content-type"] = "application/json; charset=utf-8";
  headers["content-length"] = String(Buffer.byteLength(body));
  deps.earlyAnswers.note(request);
  response.writeHead(status, headers);
  response.end(body);
}

/** The route's response schema order (what fastify's serializer writes), employee_id when granted. */
function successBody(data: TokenLoginValidateData): string {
  const employee = data.employee_id === undefined ? "" : `,"employee_id":${JSON.stringify(data.employee_id)}`;
  return (
    `{"code":0,"msg":"success","data":{"open_id":${JSON.stringify(data.open_id)}${employee}` +
    `,"session_key":${JSON.stringify(data.session_key)},"tenant_key":${JSON.stringify(data.tenant_key)}` +
    `,"access_token":${JSON.stringify(data.access_token)},"expires_in":${Math.trunc(data.expires_in)}` +
    `,"refresh_token":${JSON.stringify(data.refresh_token)}}}`
  );
}
