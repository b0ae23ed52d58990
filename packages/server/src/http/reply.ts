import type { ErrorDefinition } from "@mina-auth/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The `code` the reply carries, for the request log line and metrics. */
    resultCode: number;
  }
}

/** Sends the platform's `{code, msg}` envelope with the status the registry gives. */
export function sendError(
  reply: FastifyReply,
  definition: ErrorDefinition,
  msg = definition.msg,
): FastifyReply {
  reply.request.resultCode = definition.code;
  return reply
    .code(definition.httpStatus)
    .header("cache-control", "no-store")
    .send({ code: definition.code, msg });
}

export function markSuccess(request: FastifyRequest): void {
  request.resultCode = 0;
}
