/**
 * One HTTP exchange with the platform (or a compatible server): the request with its timeout and
 * the caller's abort signal, the platform's `{code, msg}` envelope read back, and every failure
 * turned into the client's own errors with no secret in their messages. One debug line a request.
 */
import { MinaApiError, MinaTimeoutError, MinaTransportError, type RequestTarget } from "./errors.ts";
import { isObject, type JsonObject, redact } from "./internal/fields.ts";
import type { FetchLike, FetchResponseLike, RequestLogDetails, RequestOptions } from "./types.ts";

/** An answer with code 0. */
export interface Reply {
  body: JsonObject;
  status: number;
  logId: string | undefined;
  /** Date.now() when the request was sent: relative expiries count from here. */
  sentAt: number;
}

/** Where and how requests go. */
export interface Transport {
  baseUrl: string;
  fetch: FetchLike;
  timeoutMs: number;
  debug(message: string, details: RequestLogDetails): void;
}

/** What is sent: `secrets` (and the bearer) never appear in an error message. */
export interface PlatformRequestInit {
  bearer?: string;
  body?: JsonObject;
  secrets: string[];
}

/** Platform envelope in, MinaApiError / MinaTransportError / MinaTimeoutError out. */
export async function platformRequest(
  transport: Transport,
  target: RequestTarget,
  init: PlatformRequestInit,
  options: RequestOptions,
): Promise<Reply> {
  const { method, path } = target;
  const { timeoutMs } = transport;
  const signal = options.signal;
  const secrets = [...init.secrets, ...(init.bearer ? [init.bearer] : [])];
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body) headers["content-type"] = "application/json; charset=utf-8";
  if (init.bearer) headers.authorization = `Bearer ${init.bearer}`;

  const controller = new AbortController();
  let timedOut = false;
  const stop = (): Error =>
    timedOut ? new MinaTimeoutError("timeout", target, timeoutMs) : new MinaTimeoutError("aborted", target);
  if (signal?.aborted) throw stop();
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort, { once: true });

  const sentAt = Date.now();
  const started = performance.now();
  let status: number | undefined;
  let code: number | undefined;
  let logId: string | undefined;
  let failure: string | undefined;
  try {
    let text: string;
    try {
      // Raced against the signal too, so a fetch that ignores `signal` still times out.
      const res: FetchResponseLike = await untilAborted(
        transport.fetch(transport.baseUrl + path, {
          method,
          headers,
          ...(init.body ? { body: JSON.stringify(init.body) } : {}),
          signal: controller.signal,
        }),
        controller.signal,
        stop,
      );
      status = res.status;
      logId = res.headers.get("x-tt-logid") || undefined;
      text = await untilAborted(res.text(), controller.signal, stop);
    } catch (err) {
      if (err instanceof MinaTimeoutError) throw err;
      if (controller.signal.aborted) throw stop();
      throw new MinaTransportError(
        `${method} ${path} failed: ${redact(describeNetworkError(err), secrets)}`,
        target,
        { httpStatus: status, logId, cause: err },
      );
    }
    const httpStatus = status;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new MinaTransportError(
        `${method} ${path} answered HTTP ${httpStatus} with a body that is not JSON`,
        target,
        { httpStatus, logId },
      );
    }
    if (!isObject(parsed) || typeof parsed.code !== "number") {
      throw new MinaTransportError(
        `${method} ${path} answered HTTP ${httpStatus} without the platform's {code, msg} envelope`,
        target,
        { httpStatus, logId },
      );
    }
    const detail = parsed.error;
    if (isObject(detail) && typeof detail.log_id === "string" && detail.log_id) logId = detail.log_id;
    code = parsed.code;
    if (code !== 0) {
      // The v2 token endpoint says it in RFC 6749's error_description, not in msg.
      const said = typeof parsed.msg === "string" ? parsed.msg : parsed.error_description;
      const msg = typeof said === "string" ? redact(said, secrets) : "";
      throw new MinaApiError({ code, msg, httpStatus, logId }, target);
    }
    if (httpStatus < 200 || httpStatus > 299) {
      throw new MinaTransportError(`${method} ${path} answered HTTP ${httpStatus} with code 0`, target, {
        httpStatus,
        logId,
      });
    }
    return { body: parsed, status: httpStatus, logId, sentAt };
  } catch (err) {
    failure = errorName(err);
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    transport.debug(`${method} ${path}`, {
      method,
      path,
      ...(status === undefined ? {} : { status }),
      durationMs: Math.round(performance.now() - started),
      headers: init.bearer ? { ...headers, authorization: "Bearer ***" } : { ...headers },
      ...(code === undefined ? {} : { code }),
      ...(logId === undefined ? {} : { logId }),
      ...(failure === undefined ? {} : { error: failure }),
    });
  }
}

/** Settles like `promise`, or rejects with `onAbort()` as soon as `signal` aborts. */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => Error,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(onAbort());
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(onAbort());
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return "network error";
  const cause = err.cause;
  const code = isObject(cause) && typeof cause.code === "string" ? ` (${cause.code})` : "";
  return `${err.message}${code}`;
}

/** An error's name, or the thrown value's type: all a log line may say of it. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
