import type { IncomingMessage, ServerResponse } from "node:http";
import { type ErrorDefinition, Errors } from "@mina-auth/protocol";
import type { RawAnswer } from "./connection-guard.ts";

/**
 * The answers to requests node:http could not parse (its `clientError` event), each with a
 * message that says what was wrong with the request: a header-level fault is not "body is not
 * valid JSON" (issue 14, item 7). Keyed by llhttp's error codes.
 */
const malformed = (detail: string) => ({
  definition: Errors.MalformedRequest,
  msg: `bad request: ${detail}`,
});
const PARSE_FAULTS: Record<string, { definition: ErrorDefinition; msg: string }> = {
  HPE_HEADER_OVERFLOW: { definition: Errors.HeadersTooLarge, msg: Errors.HeadersTooLarge.msg },
  HPE_INVALID_CHUNK_SIZE: malformed("the chunked body is malformed"),
  HPE_INVALID_CONTENT_LENGTH: malformed("Content-Length is invalid"),
  HPE_UNEXPECTED_CONTENT_LENGTH: malformed("Content-Length and Transfer-Encoding together"),
  HPE_INVALID_TRANSFER_ENCODING: malformed("Transfer-Encoding is invalid, or sent with Content-Length"),
  HPE_INVALID_METHOD: malformed("not an HTTP request method"),
  HPE_INVALID_URL: malformed("the request target is invalid"),
  HPE_INVALID_VERSION: malformed("the HTTP version is invalid"),
  HPE_INVALID_HEADER_TOKEN: malformed("a header name or value holds a character HTTP forbids"),
  HPE_LF_EXPECTED: malformed("malformed line endings"),
  HPE_CR_EXPECTED: malformed("malformed line endings"),
};

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/** The raw answer for a definition: status line, envelope, and any headers. */
export function rawAnswer(
  definition: ErrorDefinition,
  msg = definition.msg,
  headers: Array<[string, string]> = [],
): RawAnswer {
  const status = definition.httpStatus;
  return { status, reason: REASONS[status] ?? "Error", code: definition.code, msg, headers };
}

/** The answer to a `clientError`: a timeout, a parse fault, or (anything else) a malformed request. */
export function clientErrorAnswer(error: NodeJS.ErrnoException): RawAnswer {
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return rawAnswer(Errors.RequestTimeout);
  const fault = (error.code && PARSE_FAULTS[error.code]) || {
    definition: Errors.MalformedRequest,
    msg: Errors.MalformedRequest.msg,
  };
  return rawAnswer(fault.definition, fault.msg);
}

/** Answers a request with the envelope and closes its connection (the request is not read). */
export function answerAndClose(
  request: IncomingMessage,
  response: ServerResponse,
  definition: ErrorDefinition,
  msg: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ code: definition.code, msg });
  request.resume();
  response.writeHead(definition.httpStatus, {
    ...headers,
    "cache-control": "no-store",
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  });
  response.end(body);
}

/**
 * HTTP/1.1 requires a Host header (RFC 9112 §3.2); node:http's own check answers a bare 400
 * with an empty body, so the server turns it off and answers here with the envelope.
 */
export function answerMissingHost(request: IncomingMessage, response: ServerResponse): boolean {
  if (request.headers.host !== undefined || request.httpVersion !== "1.1") return false;
  answerAndClose(request, response, Errors.MalformedRequest, "bad request: the Host header is required");
  return true;
}
