/**
 * ID and secret formats. Prefixes follow the platform's examples; every secret carries at
 * least 128 bits from the CSPRNG (see the server's secrets module).
 */
export const Formats = {
  appId: /^cli_[0-9a-f]{16}$/,
  tenantKey: /^[0-9a-f]{14,16}$/,
  /** employee_id / user_id: short, alphanumeric, unique in its tenant. */
  userId: /^[0-9A-Za-z]{1,64}$/,
  openId: /^ou_[0-9a-f]{32}$/,
  unionId: /^on_[0-9a-f]{32}$/,
  /**
   * Login codes mina-auth issues: 44 hex digits, 12 of issue time then 128 random bits. 32 hex
   * digits (128 random bits alone) is mina-auth 0.1's layout, accepted while such codes live.
   */
  loginCode: /^(?:[0-9a-f]{44}|[0-9a-f]{32})$/,
  appToken: /^t-[0-9a-f]{64}$/,
  /**
   * 51 base64url characters: 6 bytes of issue time, then 256 random bits. 43 characters (256
   * random bits alone) is the layout of mina-auth 0.1, still accepted while such tokens live.
   */
  userAccessToken: /^u-(?:[0-9A-Za-z_-]{51}|[0-9A-Za-z_-]{43})$/,
  refreshToken: /^ur-(?:[0-9A-Za-z_-]{51}|[0-9A-Za-z_-]{43})$/,
} as const;

/** Upper bounds checked before anything touches storage. */
export const Limits = {
  bodyBytes: 64 * 1024,
  tokenChars: 256,
} as const;
