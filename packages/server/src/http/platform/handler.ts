import type { IncomingMessage, ServerResponse } from "node:http";
import { type ErrorDefinition, type ErrorName, Errors } from "@mina-auth/protocol";
import { Ajv, type ValidateFunction } from "ajv";
import type { FastifyBaseLogger } from "fastify";
import type { AppTokenService } from "../../domain/app-tokens.ts";
import { parseBearer } from "../../domain/bearer.ts";
import { ApiError } from "../../domain/errors.ts";
import type { AppTokenRecord } from "../../storage/port.ts";
import type { FaultRule } from "../../test-tools/fault-rules.ts";
import type { TestTools } from "../../test-tools/tools.ts";
import type { EarlyAnswers } from "../early-answers.ts";
import { answerFailure } from "../failures.ts";
import { UnstorableTextError, unstorableTextMessage } from "../unstorable-text.ts";
import type { Endpoint } from "./endpoints.ts";
import { faultStep } from "./fault-effects.ts";
import { discard, drainBriefly, GONE, readJsonBody } from "./request-body.ts";

/** One answered request, as the log line and the metrics see it (and later, a journal). */
export interface AnsweredRequest {
  reqId: string;
  method: string;
  /** The endpoint's path, or `unmatched`: never the raw URL. */
  route: string;
  status: number;
  code: number;
  ms: number;
}

export interface PlatformDeps {
  endpoints: Endpoint[];
  appTokens: AppTokenService;
  /** The app's root logger; failures log with the request id, as fastify's request logger does. */
  log: FastifyBaseLogger;
  nextRequestId: () => string;
  isClosing: () => boolean;
  earlyAnswers: EarlyAnswers;
  bodyLimit: number;
  requestTimeoutMs: number;
  /** Called once per answered request: the log line and metrics (app.ts). */
  observe: (answered: AnsweredRequest) => void;
  /**
   * Fault rules and the request journal (test-tools/). With no rule and no journal a request
   * pays two cheap checks for them; left out (unit tests), none.
   */
  tools?: TestTools;
}

/** A node:http request listener that answers when it takes the request, else returns false. */
export type PlatformHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

/** Every path the platform serves lives under this prefix; the rest belongs to fastify. */
export const PLATFORM_PREFIX = "/open-apis/";

interface Compiled {
  endpoint: Endpoint;
  rules: Array<{ check: ValidateFunction; error: ApiError }>;
  /** The endpoint's invalid-parameter code (its first body rule's): text storage cannot hold. */
  invalidParam: ErrorName;
}

/**
 * Every platform endpoint (/open-apis/…) on bare node:http: one dispatch, one body reader, one
 * check of the caller, one envelope, one log line and one set of metrics for all of them. An
 * unknown path or method under the prefix answers the platform's 404 99991201. Fastify never sees
 * these requests (it costs about a tenth of a login's CPU: docs/performance.md); the admin API,
 * operations and /openapi.json stay on it.
 *
 * Per-request work has one place each: `serve` (the steps of an answer, in the platform's check
 * order) and `finish` (what happens once an answer left), where later hooks belong.
 */
export function createPlatformHandler(deps: PlatformDeps): PlatformHandler {
  const ajv = new Ajv({ allErrors: false, strict: true });
  const routes = new Map<string, Compiled>();
  for (const endpoint of deps.endpoints) {
    const compiled: Compiled = {
      endpoint,
      rules: (endpoint.body ?? []).map((rule) => ({
        check: ajv.compile(rule.schema),
        error: new ApiError(rule.error),
      })),
      invalidParam: endpoint.body?.[0]?.error ?? "InvalidParam",
    };
    routes.set(`${endpoint.method} ${endpoint.path}`, compiled);
    // As fastify did for every GET route: HEAD answers the same, without a body.
    if (endpoint.method === "GET") routes.set(`HEAD ${endpoint.path}`, compiled);
  }

  return (request, response) => {
    const url = request.url ?? "";
    if (!url.startsWith(PLATFORM_PREFIX)) return false;
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const route = routes.get(`${request.method} ${path}`);
    serve(deps, route, request, response).catch((error: unknown) => {
      // Nothing in serve() is meant to throw past its own handling; if something does, this
      // request ends here rather than the process (an unhandled rejection would end it).
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      deps.log.error({ error: { type: name, message } }, "platform request failed");
      response.destroy();
    });
    return true;
  };
}

async function serve(
  deps: PlatformDeps,
  route: Compiled | undefined,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const reqId = deps.nextRequestId();
  // What the journal keeps besides what observe() sees (test-tools/journal.ts).
  let fault: FaultRule | null = null;
  let appId: string | undefined;
  let parsedBody: unknown;
  /** `code` null: no answer was sent (a fault dropped the connection or left it hanging). */
  const finish = (code: number | null, responseBody?: unknown) => {
    const answered = {
      reqId,
      method: request.method ?? "",
      route: route?.endpoint.path ?? "unmatched",
      status: response.statusCode,
      code: code ?? 0,
      ms: performance.now() - started,
    };
    if (code !== null) deps.observe(answered);
    const journal = deps.tools?.journal;
    if (journal === undefined) return;
    const { reqId: _, ...fields } = answered;
    try {
      journal.record({
        ...fields,
        status: code === null ? null : answered.status,
        code,
        app_id: appId ?? null,
        fault: fault?.id ?? null,
        headers: request.headers,
        requestBody: parsedBody,
        responseBody,
      });
    } catch (error) {
      // The journal's bounds make this unexpected; the answer already left and must not be cut.
      // The type only: a message about a body could quote it.
      const type = error instanceof Error ? error.name : typeof error;
      deps.log.error({ reqId, error: { type } }, "journal entry failed");
    }
  };
  if (route === undefined) {
    discard(request);
    finish(sendError(deps, request, response, Errors.RouteNotFound));
    return;
  }
  const { endpoint } = route;
  // The body arrives while the caller is checked; its failures wait for that check's answer.
  const body =
    endpoint.method === "POST" ? readJsonBody(request, deps.bodyLimit) : Promise.resolve(undefined);
  body.catch(() => {});
  let code: number | null;
  let responseBody: unknown;
  try {
    const bearer = parseBearer(request.headers.authorization);
    let caller: AppTokenRecord | null = null;
    if (endpoint.auth.kind === "app") {
      caller = await deps.appTokens.authenticate(bearer);
      // Answered at once, whatever the body (a slow one included), which is left unread.
      if (caller === null) throw new ApiError(endpoint.auth.failure);
    }
    const parsed = await body;
    if (parsed === GONE) return; // the client is gone: nothing to answer, nothing was done
    parsedBody = parsed;
    appId = caller?.appId ?? appIdIn(parsed);
    for (const rule of route.rules) if (!rule.check(parsed)) throw rule.error;
    const { tools } = deps;
    if (tools !== undefined && tools.faults.size > 0) {
      fault = await tools.faults.take(endpoint.path, {
        appId,
        tenantKey: caller?.tenantKey ?? undefined,
        subject: endpoint.subject && (() => endpoint.subject!({ body: parsed, bearer })),
      });
    }
    const step = fault === null ? "continue" : await faultStep(fault, request, response, tools!.hung);
    if (step === "ended") {
      code = null;
    } else if (step === "answer" && fault?.effect.type === "answer") {
      // Sent as the endpoint sends a real failure (its shape), with the code, msg and status the
      // rule completed for this endpoint when it was added (fault-rules.ts).
      const { code: faultCode, msg, http_status } = fault.effect;
      const shaped = endpoint.shape?.failure({ code: faultCode, msg, httpStatus: http_status }, msg);
      responseBody = shaped?.body ?? { code: faultCode, msg };
      send(deps, request, response, shaped?.status ?? http_status, JSON.stringify(responseBody), []);
      code = faultCode;
    } else {
      const answer = await endpoint.answer({
        caller: caller as AppTokenRecord,
        body: parsed,
        bearer,
        clientAddress: request.socket.remoteAddress ?? "",
      });
      responseBody = endpoint.shape?.success(answer) ?? { code: 0, msg: endpoint.successMsg, ...answer };
      if (step === "commit_then_drop") {
        // The work is done and stored; the reply is lost on the way (a retry meets its effects).
        request.socket.destroy();
        code = null;
      } else {
        send(deps, request, response, 200, JSON.stringify(responseBody), []);
        code = 0;
      }
    }
  } catch (thrown) {
    const error =
      thrown instanceof UnstorableTextError
        ? new ApiError(route.invalidParam, unstorableTextMessage(thrown.where))
        : thrown;
    const failure = answerFailure(error, endpoint.path, deps.log.child({ reqId }));
    const { definition } = failure;
    if (definition === Errors.MalformedJson) {
      // The rest of the stream is not trusted after a body that does not parse.
      failure.headers.push(["connection", "close"]);
    } else if (definition === Errors.BodyTooLarge) {
      // Closing while the client still uploads makes the kernel answer its data with a reset,
      // which discards our 413 before the client reads it. Read and drop the rest for a moment
      // (bounded), so the 413 arrives; a client still sending after that is cut off.
      await drainBriefly(request, Math.min(1000, deps.requestTimeoutMs));
    } else {
      discard(request);
    }
    const shaped = endpoint.shape?.failure(definition, failure.msg);
    if (shaped === undefined) {
      code = sendError(deps, request, response, definition, failure.msg, failure.headers);
      responseBody = { code, msg: failure.msg };
    } else {
      responseBody = shaped.body;
      send(deps, request, response, shaped.status, JSON.stringify(responseBody), failure.headers);
      code = shaped.body.code;
    }
  }
  finish(code, responseBody);
}

/**
 * The app a body names (the credentials endpoints' app_id, v2 oauth/token's client_id), for
 * matching faults before any check.
 */
function appIdIn(body: unknown): string | undefined {
  const named = body as { app_id?: unknown; client_id?: unknown } | null | undefined;
  const appId = named?.app_id ?? named?.client_id;
  return typeof appId === "string" ? appId : undefined;
}

function sendError(
  deps: PlatformDeps,
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
  deps: PlatformDeps,
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  body: string,
  extra: Array<[string, string]>,
): void {
  if (response.headersSent || response.destroyed) return;
  const headers: Record<string, string> = { "cache-control": "no-store" };
  for (const [name, value] of extra) headers[name] = value;
  // Once the server is stopping, every answer closes its connection (as fastify's answers do).
  if (deps.isClosing()) headers.connection = "close";
  headers["content-type"] = "application/json; charset=utf-8";
  headers["content-length"] = String(Buffer.byteLength(body));
  deps.earlyAnswers.note(request);
  response.writeHead(status, headers);
  response.end(body);
}
