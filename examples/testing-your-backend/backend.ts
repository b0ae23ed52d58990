import { ErrorCodes, MinaApiError, MinaClient, MinaTransportError } from "@mina-auth/client";

/**
 * The backend under test: a mini program's login and "who am I", as many backends write them.
 * The device's `tt.login()` code comes in; the user's tokens stay here; the device gets a
 * session id. What the tests check is how it behaves on the platform's bad days.
 */
export type LoginResult =
  | { sid: string; openId: string }
  | { error: "code_expired" | "login_failed"; code: number };
export type MeResult = { name: string } | { error: "login_again" };

interface Session {
  accessToken: string;
  refreshToken: string;
}

export class Backend {
  readonly #mina: MinaClient;
  readonly #sessions = new Map<string, Session>();

  constructor(options: { appId: string; appSecret: string; baseUrl: string }) {
    this.#mina = new MinaClient(options);
  }

  async login(code: string): Promise<LoginResult> {
    try {
      const session = await this.#mina.tokenLoginValidate(code);
      const sid = crypto.randomUUID();
      this.#sessions.set(sid, { accessToken: session.accessToken, refreshToken: session.refreshToken });
      return { sid, openId: session.openId };
    } catch (error) {
      if (!(error instanceof MinaApiError)) throw error;
      // An expired or unknown code: the mini program calls tt.login() again.
      return {
        error: error.code === ErrorCodes.InvalidCode ? "code_expired" : "login_failed",
        code: error.code,
      };
    }
  }

  async me(sid: string): Promise<MeResult> {
    const session = this.#sessions.get(sid);
    if (!session) return { error: "login_again" };
    try {
      return { name: (await this.#mina.getUserInfo(session.accessToken)).name };
    } catch (error) {
      if (!(error instanceof MinaApiError && error.code === ErrorCodes.UserAccessTokenInvalid)) throw error;
    }
    // The user token expired (2 hours): refresh it, once.
    const refreshed = await this.#refresh(session.refreshToken);
    if (refreshed === null) {
      this.#sessions.delete(sid);
      return { error: "login_again" };
    }
    Object.assign(session, refreshed);
    return { name: (await this.#mina.getUserInfo(session.accessToken)).name };
  }

  /** New tokens, or null when the refresh token is spent: the user must log in again. */
  async #refresh(refreshToken: string): Promise<Session | null> {
    for (let attempt = 1; ; attempt++) {
      try {
        const tokens = await this.#mina.refreshUserAccessToken(refreshToken);
        return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
      } catch (error) {
        // A lost reply: retry once. If the platform did rotate the token, the retry says so.
        if (error instanceof MinaTransportError && attempt === 1) continue;
        if (error instanceof MinaApiError) return null;
        throw error;
      }
    }
  }
}
