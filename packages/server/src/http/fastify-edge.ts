import { Errors } from "@mina-auth/protocol";
import type { FastifyError, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { sendError } from "./reply.ts";
import { findUnstorableInRequest, unstorableTextMessage } from "./unstorable-text.ts";

/** The families whose input reaches storage through fastify: the admin API and the dev endpoints. */
function isAdminFamily(url: string): boolean {
  return url.startsWith("/admin/") || url.startsWith("/dev/");
}

/**
 * fastify's `frameworkErrors`: a path it cannot route (`%FF`, which is not UTF-8 once decoded; a
 * segment over its 100-character limit) gets the envelope saying which, not fastify's own body.
 */
export function answerPathError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const detail =
    error.code === "FST_ERR_BAD_URL"
      ? "the path is not valid UTF-8 once decoded"
      : error.code === "FST_ERR_MAX_PARAM_LENGTH"
        ? "a path segment is too long"
        : "the path cannot be routed";
  if (isAdminFamily(request.url)) {
    return sendError(reply, Errors.AdminInvalidRequest, `${Errors.AdminInvalidRequest.msg}: ${detail}`);
  }
  return sendError(reply, Errors.MalformedRequest, `bad request: ${detail}`);
}

/**
 * A preValidation hook: text storage cannot hold (a NUL, a lone surrogate) in an admin or dev
 * request's path parameters, query or body is refused with 9400 naming the field, before any
 * route's work: PostgreSQL would fail the query (issue 14, item 3).
 */
export function refuseUnstorableText(
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const where = isAdminFamily(request.url)
    ? findUnstorableInRequest({ params: request.params, query: request.query, body: request.body })
    : null;
  if (where === null) {
    done();
    return;
  }
  sendError(
    reply,
    Errors.AdminInvalidRequest,
    `${Errors.AdminInvalidRequest.msg}: ${unstorableTextMessage(where)}`,
  );
}
