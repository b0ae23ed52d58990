import { type ErrorDefinition, Errors } from "@mina-auth/protocol";
import type { FastifyBaseLogger, FastifyError } from "fastify";
import { ApiError } from "../domain/errors.ts";
import { RateLimitedError } from "../domain/rate-limits.ts";
import { SEED_IMPORT_LIMIT, SeedError } from "../domain/seed.ts";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../storage/port.ts";

/** What a failure answers: the registry entry, its public msg and any headers it adds. */
export interface FailureAnswer {
  definition: ErrorDefinition;
  msg: string;
  headers: Array<[name: string, value: string]>;
}

/**
 * What the platform answers for a storage fault on each family of endpoints. Storage faults are
 * never 5xx (security.md S3): the code tells the client to retry.
 */
function storageFailureFor(url: string): ErrorDefinition {
  return url.startsWith("/open-apis/authen/") ? Errors.AuthenSystemError : Errors.StorageUnavailable;
}

/** Maps anything thrown while answering to the registry. Internals never reach the caller. */
export function classify(
  error: FastifyError | Error,
  url: string,
): { definition: ErrorDefinition; msg?: string } {
  if (error instanceof ApiError) return { definition: error.definition, msg: error.publicMsg };
  if (error instanceof StorageUnavailableError) return { definition: storageFailureFor(url) };
  // Not retryable: the write may have committed (a retry could revoke the login it made).
  if (error instanceof StorageOutcomeUnknownError) return { definition: Errors.OutcomeUnknown };
  if (error instanceof SeedError)
    return {
      definition: Errors.AdminInvalidRequest,
      msg: `${Errors.AdminInvalidRequest.msg}: ${error.oneLine}`,
    };
  switch ((error as FastifyError).code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      // The import API has a limit of its own (domain/seed.ts).
      return url.startsWith("/admin/v1/import")
        ? { definition: Errors.BodyTooLarge, msg: `request body exceeds ${SEED_IMPORT_LIMIT.text}` }
        : { definition: Errors.BodyTooLarge };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { definition: Errors.UnsupportedContentType };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { definition: Errors.MalformedJson };
  }
  if ((error as FastifyError).validation) {
    return {
      definition: Errors.AdminInvalidRequest,
      msg: `${Errors.AdminInvalidRequest.msg}: ${error.message}`,
    };
  }
  // Any other client error fastify raises while reading the request is a body it could not parse.
  if ((error as FastifyError).statusCode === 400) return { definition: Errors.MalformedJson };
  return { definition: Errors.InternalError };
}

/**
 * Classifies a failure, logs what deserves a line (never the request's data: only the error's
 * type and message, which carry no secret) and names the headers the answer adds. Shared by the
 * fastify error handler and the platform handler (platform/handler.ts), so both answer alike.
 */
export function answerFailure(thrown: unknown, url: string, log: FastifyBaseLogger): FailureAnswer {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  const { definition, msg } = classify(error, url);
  const headers: FailureAnswer["headers"] = [];
  if (definition === Errors.InternalError) {
    log.error({ error: { type: error.name, message: error.message, stack: error.stack } }, "unhandled error");
  } else if (error instanceof StorageUnavailableError) {
    log.warn({ error: { type: error.name, message: error.message } }, "storage unavailable");
    headers.push(["retry-after", "1"]);
  } else if (error instanceof StorageOutcomeUnknownError) {
    log.error({ error: { type: error.name, message: error.message } }, "storage outcome unknown");
  } else if (error instanceof RateLimitedError) {
    headers.push(["x-ogw-ratelimit-limit", String(error.limit)]);
    headers.push(["x-ogw-ratelimit-reset", String(error.resetSeconds)]);
  }
  return { definition, msg: msg ?? definition.msg, headers };
}
