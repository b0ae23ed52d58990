/**
 * `@mina-auth/tt`: the device's half of a Feishu / Lark mini-program login, for unit tests and
 * previews. `createTt` returns a `tt` object whose `login`, `requestAccess`, `checkSession` and
 * `getUserInfo` answer with the platform's result shapes and errnos, backed by a running
 * mina-auth (with its admin token) or its emulator (`mina-auth/testing`, no token needed).
 * Zero dependencies: it needs only a global `fetch`.
 *
 * @example
 * ```ts
 * import { createTt } from "@mina-auth/tt";
 * globalThis.tt = createTt({ baseUrl: emu.baseUrl, appId: emu.app.appId, userId: "6c486g" });
 * const { code } = await tt.login();
 * ```
 * @packageDocumentation
 */

/** The errnos this shim answers with (the platform's numbers). */
export const Errno = {
  /** Common errno: an unexpected failure (the server could not be reached, say). */
  unknown: 100,
  /** login / requestAccess: no session could be obtained (unknown app or user, server refused). */
  cannotGetSession: 2700001,
  /** requestAccess: the user refused the authorization. */
  userRefused: 2700002,
  /** checkSession / getUserInfo({withCredentials}): no live session (never logged in, exchanged, or revoked). */
  invalidSession: 1001001,
} as const;

/** A failed call, as the platform's fail callback receives it: `{errMsg, errno, errString}`. */
export interface TtFail {
  /** `"<api>:fail <reason>"`. */
  errMsg: string;
  errno: number;
  /** The reason alone. */
  errString: string;
}

export interface Callbacks<T> {
  success?: (result: T) => void;
  fail?: (error: TtFail) => void;
  complete?: (result: T | TtFail) => void;
}

export interface LoginResult {
  errMsg: "login:ok";
  code: string;
}

export interface RequestAccessResult {
  errMsg: "requestAccess:ok";
  code: string;
  /** Echoed when the call passed one. */
  state?: string;
}

export interface CheckSessionResult {
  errMsg: "checkSession:ok";
}

export interface UserInfo {
  nickName: string;
  avatarUrl: string;
  gender: number;
  city: string;
  province: string;
  country: string;
  language: string;
}

export interface GetUserInfoResult {
  errMsg: "getUserInfo:ok";
  userInfo: UserInfo;
  /** The JSON text of userInfo, as signed. */
  rawData: string;
  /** With `withCredentials: true`: sha1(rawData + session_key), hex. */
  signature?: string;
  /** With `withCredentials: true`: AES-128-CBC/PKCS#7 of the sensitive data, base64. */
  encryptedData?: string;
  /** With `withCredentials: true`: the AES IV, hex. */
  iv?: string;
}

export type RequestAccessOptions = Callbacks<RequestAccessResult> & {
  scopeList: string[];
  state?: string;
  /** Accepted and ignored: the shim's app is the one it was created for. */
  appID?: string;
};
export type GetUserInfoOptions = Callbacks<GetUserInfoResult> & { withCredentials?: boolean };

export interface Tt {
  login(options?: Callbacks<LoginResult>): Promise<LoginResult>;
  requestAccess(options: RequestAccessOptions): Promise<RequestAccessResult>;
  checkSession(options?: Callbacks<CheckSessionResult>): Promise<CheckSessionResult>;
  getUserInfo(options?: GetUserInfoOptions): Promise<GetUserInfoResult>;
  /** Plays another user from now on (and forgets the current session). */
  switchUser(userId: string, tenantKey?: string): void;
  /** The user refuses (true) or grants (false, the default) the next requestAccess prompts. */
  refuseAccess(refuse?: boolean): void;
}

export interface CreateTtOptions {
  /** A running mina-auth or the emulator, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  appId: string;
  userId: string;
  /** For a store app installed in several tenants; a self-built app's own tenant otherwise. */
  tenantKey?: string;
  /** Needed against a served mina-auth; the emulator opens the shim's endpoints without it. */
  adminToken?: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** A failed call: the promise rejects with it (unless a `fail` callback was given). */
export class TtError extends Error implements TtFail {
  override readonly name = "TtError";
  readonly errString: string;
  constructor(
    readonly errMsg: string,
    readonly errno: number,
  ) {
    super(errMsg);
    this.errString = errMsg.replace(/^[A-Za-z]+:fail /, "");
  }
}

interface ServerAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Creates the shim. Every method takes the platform's callbacks (`success`, `fail`, `complete`)
 * and also returns a promise; when `fail` is given, a failure goes to it and the promise
 * resolves to undefined rather than rejecting (no unhandled rejection in callback-style code).
 *
 * @example
 * ```ts
 * const tt = createTt({ baseUrl, appId, userId: "6c486g" });
 * tt.requestAccess({ scopeList: [], success: ({ code }) => post("/login", { code }) });
 * const info = await tt.getUserInfo({ withCredentials: true });
 * ```
 */
export function createTt(options: CreateTtOptions): Tt {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch;
  let user = { userId: options.userId, tenantKey: options.tenantKey };
  let code: string | null = null;
  let refusing = false;

  const device = () => ({
    app_id: options.appId,
    user_id: user.userId,
    ...(user.tenantKey ? { tenant_key: user.tenantKey } : {}),
  });

  async function post(path: string, body: object): Promise<ServerAnswer> {
    const response = await doFetch(`${base}/dev/v1/tt/${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(options.adminToken ? { authorization: `Bearer ${options.adminToken}` } : {}),
      },
      body: JSON.stringify(body),
    });
    const parsed: unknown = await response.json().catch(() => null);
    const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
    return { status: response.status, body: record };
  }

  /** A server refusal as the platform's fail: its msg (never a secret) after the api name. */
  const refusal = (api: string, answer: ServerAnswer, errno: number) =>
    new TtError(`${api}:fail ${String(answer.body.msg ?? `HTTP ${answer.status}`)}`, errno);

  /** A code for the device's user; tt.login's (no scopeList) grants every scope of the app. */
  async function mint(api: "login" | "requestAccess", scopeList?: string[]): Promise<string> {
    let answer: ServerAnswer;
    try {
      answer = await post("login", {
        ...device(),
        ...(scopeList === undefined ? {} : { scope_list: scopeList }),
      });
    } catch {
      throw new TtError(`${api}:fail network error`, Errno.cannotGetSession);
    }
    if (answer.status !== 201 || typeof answer.body.code !== "string")
      throw refusal(api, answer, Errno.cannotGetSession);
    code = answer.body.code;
    return code;
  }

  async function sessionAlive(): Promise<boolean> {
    if (code === null) return false;
    const answer = await post("check-session", { ...device(), code });
    if (answer.status !== 200) throw refusal("checkSession", answer, Errno.unknown);
    return answer.body.alive === true;
  }

  return {
    login: (callbacks = {}) =>
      settle("login", callbacks, async () => ({
        errMsg: "login:ok" as const,
        code: await mint("login"),
      })),

    requestAccess: (request) =>
      settle("requestAccess", request, async () => {
        const scopeList = Array.isArray(request?.scopeList) ? request.scopeList : [];
        if (refusing)
          throw new TtError("requestAccess:fail user refused the authorization", Errno.userRefused);
        const minted = await mint("requestAccess", scopeList);
        return {
          errMsg: "requestAccess:ok" as const,
          code: minted,
          ...(request?.state !== undefined ? { state: request.state } : {}),
        };
      }),

    checkSession: (callbacks = {}) =>
      settle("checkSession", callbacks, async () => {
        if (!(await sessionAlive()))
          throw new TtError("checkSession:fail session expired", Errno.invalidSession);
        return { errMsg: "checkSession:ok" as const };
      }),

    getUserInfo: (request = {}) =>
      settle("getUserInfo", request, async () => {
        const withCredentials = request.withCredentials === true;
        if (withCredentials && code === null)
          throw new TtError("getUserInfo:fail invalid session", Errno.invalidSession);
        const answer = await post("user-info", {
          ...device(),
          with_credentials: withCredentials,
          ...(withCredentials ? { code } : {}),
        });
        if (answer.status !== 200) {
          const errno = answer.body.code === Errno.invalidSession ? Errno.invalidSession : Errno.unknown;
          throw refusal("getUserInfo", answer, errno);
        }
        return { errMsg: "getUserInfo:ok" as const, ...(answer.body as Omit<GetUserInfoResult, "errMsg">) };
      }),

    switchUser(userId, tenantKey) {
      user = { userId, tenantKey };
      code = null;
    },

    refuseAccess(refuse = true) {
      refusing = refuse;
    },
  };
}

/**
 * Runs one API call in both styles. Any failure that is not already a TtError (a network
 * error, say) becomes `<api>:fail …` with the common errno 100.
 */
async function settle<T>(
  api: string,
  callbacks: Callbacks<T> | undefined,
  run: () => Promise<T>,
): Promise<T> {
  let outcome: { ok: true; value: T } | { ok: false; error: TtError };
  try {
    outcome = { ok: true, value: await run() };
  } catch (error) {
    outcome = {
      ok: false,
      error:
        error instanceof TtError
          ? error
          : new TtError(`${api}:fail ${(error as Error).message}`, Errno.unknown),
    };
  }
  if (outcome.ok) {
    callbacks?.success?.(outcome.value);
    callbacks?.complete?.(outcome.value);
    return outcome.value;
  }
  const { errMsg, errno, errString } = outcome.error;
  const fail: TtFail = { errMsg, errno, errString };
  callbacks?.fail?.(fail);
  callbacks?.complete?.(fail);
  if (callbacks?.fail) return undefined as T;
  throw outcome.error;
}
