/**
 * What the console remembers for this tab only, in memory: app secrets it was shown (so "Log in
 * as" can get an app token without retyping one; a reload forgets them) and the last login, so
 * that its tokens survive moving between pages. Never written to storage of any kind.
 */
export const appSecrets = new Map<string, string>();

export interface LastLogin {
  appId: string;
  tenantKey: string;
  userId: string;
  accessToken: string | null;
  sessionId: string | null;
}
export const lastLogin: { value: LastLogin | null } = { value: null };
