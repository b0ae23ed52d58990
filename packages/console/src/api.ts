/**
 * Every call the console makes goes to the server it was loaded from. The admin token lives in
 * sessionStorage (gone when the tab closes), travels only in the Authorization header, and is
 * never put in a URL or written to the console log.
 */
import { inWords } from "./errors-in-words.ts";

const TOKEN_KEY = "mina-auth.admin-token";

export const adminToken = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A failure answered by the server ({code, msg}) or a failure to reach it (code 0). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly serverMsg: string,
    readonly status: number,
  ) {
    super(inWords(code, serverMsg));
    this.name = "ApiError";
  }
}

/** Raised on 9401: the shell goes back to the sign-in page. */
export const onSignedOut: { handler: () => void } = { handler: () => {} };

export interface Answer<T> {
  status: number;
  body: T;
}

/** One HTTP request; the answer's body parsed as JSON (text when it is not JSON). */
export async function send<T = unknown>(
  method: string,
  path: string,
  options: { body?: unknown; bearer?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json; charset=utf-8";
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "omit",
      cache: "no-store",
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch {
    throw new ApiError(0, "network error", 0);
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (e.g. /metrics): the text itself.
  }
  return { status: response.status, body: body as T };
}

/** An admin API call: the parsed success body, or an ApiError carrying the server's code. */
export async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = adminToken.get();
  const answer = await send<T>(method, `/admin/v1${path}`, {
    ...(body !== undefined ? { body } : {}),
    ...(token !== null ? { bearer: token } : {}),
  });
  if (answer.status >= 400) {
    const failure = answer.body as { code?: unknown; msg?: unknown };
    const code = typeof failure?.code === "number" ? failure.code : answer.status;
    const msg = typeof failure?.msg === "string" ? failure.msg : `HTTP ${answer.status}`;
    if (code === 9401) onSignedOut.handler();
    throw new ApiError(code, msg, answer.status);
  }
  return answer.body;
}

export const query = (params: Record<string, string | number | undefined>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
};

export const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : "Something went wrong.";
