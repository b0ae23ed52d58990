import type { IncomingMessage } from "node:http";
import { parse as secureJsonParse } from "secure-json-parse";
import { ApiError } from "../../domain/errors.ts";
import {
  findUnstorableText,
  isValidUtf8,
  mayHoldUnstorableText,
  UnstorableTextError,
} from "../unstorable-text.ts";

/**
 * Reads a platform request's JSON body (security.md H2, H3): JSON only (`application/json` in
 * any case, with any parameters; no content type at all only for an empty body), at most
 * `limit` bytes counted while streaming (chunked too), a leading BOM dropped, `__proto__` and
 * `constructor.prototype` keys removed. Resolves with the parsed value (undefined for a request
 * without a body), rejects with the ApiError to answer, or resolves `GONE` when the client went
 * away before sending all of it. The caller owns the stream afterwards (see `discard`).
 */
export const GONE = Symbol("client gone");

const PARSE_OPTIONS = { protoAction: "remove", constructorAction: "remove" } as const;

export function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const { headers } = request;
  const type = headers["content-type"];
  const length = headers["content-length"];
  const chunked = headers["transfer-encoding"] !== undefined;
  if (type === undefined && !chunked && (length === undefined || length === "0")) {
    return Promise.resolve(undefined);
  }
  if (type === undefined || !isJson(type)) return Promise.reject(new ApiError("UnsupportedContentType"));
  if (length !== undefined && Number(length) > limit) return Promise.reject(new ApiError("BodyTooLarge"));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        // The rest keeps flowing and is dropped: the 413 is answered once it drained a moment.
        request.off("data", onData);
        reject(new ApiError("BodyTooLarge"));
        return;
      }
      chunks.push(chunk);
    };
    request.on("data", onData);
    request.once("end", () => {
      if (received > limit) return;
      try {
        resolve(parseJson(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)));
      } catch (error) {
        reject(error);
      }
    });
    request.once("error", () => resolve(GONE));
    request.once("close", () => {
      if (!request.complete) resolve(GONE);
    });
  });
}

/** Parses a body; text a database would refuse rejects with UnstorableTextError (unstorable-text.ts). */
function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new ApiError("MalformedJson");
  const suspect = mayHoldUnstorableText(body);
  if (suspect && !isValidUtf8(body)) throw new UnstorableTextError("body");
  let value: unknown;
  try {
    value = secureJsonParse(body.toString("utf8"), null, PARSE_OPTIONS);
  } catch {
    throw new ApiError("MalformedJson");
  }
  const where = suspect ? findUnstorableText(value) : null;
  if (where !== null) throw new UnstorableTextError(where);
  return value;
}

/** The content types answered as JSON; a cache, as clients send the same few values. */
const seenTypes = new Map<string, boolean>();

function isJson(type: string): boolean {
  let known = seenTypes.get(type);
  if (known === undefined) {
    const semicolon = type.indexOf(";");
    known = (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() === "application/json";
    if (seenTypes.size < 64) seenTypes.set(type, known);
  }
  return known;
}

/** Stops reading a body that will not be used; the connection stays usable. */
export function discard(request: IncomingMessage): void {
  request.removeAllListeners("data");
  request.resume();
}

/** Resumes a request stream and resolves when it ends, fails, or after `ms`, whichever is first. */
export function drainBriefly(stream: IncomingMessage, ms: number): Promise<void> {
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
