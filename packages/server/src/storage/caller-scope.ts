/**
 * Whether a stored code or login is within what its presenter speaks for: the same app and, for
 * a tenant_access_token (`tenantKey` set), the same tenant. A store app is installed in many
 * tenants, and its token for one must not redeem or refresh another's logins.
 */
export function belongsTo(
  owner: { appId: string; tenantKey: string },
  presenter: { appId: string; tenantKey?: string | null },
): boolean {
  if (owner.appId !== presenter.appId) return false;
  return presenter.tenantKey == null || owner.tenantKey === presenter.tenantKey;
}
