import { Formats } from "@mina-auth/protocol";
import type { Clock } from "../clock.ts";
import { newOpenId, storageKey } from "../secrets.ts";
import type { GrantSummary, Storage, User } from "../storage/port.ts";
import { ApiError } from "./errors.ts";
import type { LoginService, MintCodeRequest, MintedCode } from "./login.ts";
import { codeLink, deriveSessionKey, parseGrantId } from "./session-keys.ts";
import {
  type CredentialedUserInfo,
  sealUserInfo,
  sensitiveDataOf,
  type UserInfoPayload,
  userInfoOf,
} from "./user-data.ts";

/** The device a shim plays: an app, a user, and (once it logged in) the code it was handed. */
export interface DeviceRef {
  appId: string;
  userId: string;
  tenantKey?: string;
}

/**
 * How many of a user's live sessions in the app are searched for the one a code opened, newest
 * first. A code lives 180 s, so its session is among the newest unless the user logged in more
 * often than that since: far beyond what a test or a preview does.
 */
const SESSIONS_SEARCHED = 500;

/**
 * The device's half of the flow, for the tt shim (dev-only endpoints): mint a code as
 * tt.login / tt.requestAccess would, tell whether the session a code opened is alive, and
 * produce tt.getUserInfo's data for it, signed and encrypted with that session's session_key.
 */
export class DeviceSessions {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly login: LoginService,
  ) {}

  /**
   * tt.requestAccess: `scopeList` must name scopes the app holds, and the code carries them
   * (its login gets those); left out (tt.login), the code grants every scope of the app.
   */
  async requestAccess(request: MintCodeRequest, scopeList?: readonly string[]): Promise<MintedCode> {
    const app = await this.storage.getApp(request.appId);
    if (!app) throw new ApiError("AdminNotFound", `app ${request.appId}`);
    const missing = scopeList?.find((scope) => !app.scopes.includes(scope));
    if (missing !== undefined)
      throw new ApiError("AdminInvalidRequest", `scope_list: ${missing} is not granted to the app`);
    return this.login.mintCode(scopeList === undefined ? request : { ...request, scopes: scopeList });
  }

  /** Whether the session the code opened is alive (exchanged, not revoked, not ended). */
  async isAlive(device: DeviceRef, code: string): Promise<boolean> {
    return (await this.findSession(device, code)) !== null;
  }

  /** userInfo and rawData: what getUserInfo answers without credentials (no session needed). */
  async userInfo(device: DeviceRef): Promise<UserInfoPayload> {
    return userInfoOf(await this.mustUser(device));
  }

  /** getUserInfo({withCredentials: true}) for the session the code opened; 1001001 when it is not live. */
  async credentialedUserInfo(device: DeviceRef, code: string): Promise<CredentialedUserInfo> {
    const found = await this.findSession(device, code);
    if (!found) throw new ApiError("AdminSessionInvalid");
    const { grant, sessionKey, user } = found;
    const app = await this.storage.getApp(grant.appId);
    if (!app) throw new ApiError("AdminSessionInvalid");
    const openId = await this.storage.ensureOpenId(grant.appId, grant.tenantKey, grant.userId, newOpenId());
    const sensitive = sensitiveDataOf(
      user,
      { appId: app.appId, openId, scopes: app.scopes },
      this.clock.now(),
    );
    return sealUserInfo(userInfoOf(user), sensitive, sessionKey);
  }

  private async mustUser(device: DeviceRef): Promise<User> {
    const app = await this.storage.getApp(device.appId);
    if (!app) throw new ApiError("AdminNotFound", `app ${device.appId}`);
    const tenantKey = device.tenantKey ?? (await this.storage.listInstallations(app.appId))[0]?.tenantKey;
    const user = tenantKey === undefined ? null : await this.storage.getUser(tenantKey, device.userId);
    if (!user) throw new ApiError("AdminNotFound", `user ${device.userId}`);
    return user;
  }

  /**
   * The live session the code was exchanged into, with its session_key, or null: never
   * exchanged, revoked, ended, or the user deactivated. The grant id names the code it came
   * from and the server key version its session_key was derived with (session-keys.ts).
   */
  private async findSession(
    device: DeviceRef,
    code: string,
  ): Promise<{ grant: GrantSummary; sessionKey: string; user: User } | null> {
    if (!Formats.loginCode.test(code)) throw new ApiError("AdminInvalidRequest", "code is not a login code");
    await this.mustUser(device);
    const link = codeLink(storageKey("login_code", code));
    const grants = await this.storage.listGrants({
      appId: device.appId,
      userId: device.userId,
      ...(device.tenantKey ? { tenantKey: device.tenantKey } : {}),
      activeAt: this.clock.now(),
      limit: SESSIONS_SEARCHED,
    });
    for (const grant of grants) {
      const parsed = parseGrantId(grant.grantId);
      if (parsed?.link !== link) continue;
      const key = await this.login.sessionKeys.version(parsed.version);
      const user = await this.storage.getUser(grant.tenantKey, grant.userId);
      if (!key || user?.status !== "active") return null;
      return { grant, sessionKey: deriveSessionKey(key.value, grant.grantId), user };
    }
    return null;
  }
}
