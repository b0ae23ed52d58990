import { Limits } from "@mina-auth/protocol";

/**
 * Reads `Authorization: Bearer <token>` strictly (security.md H1): one space, one token of
 * visible ASCII, bounded length. Anything else is "no credential", never a partial match.
 */
const BEARER = new RegExp(`^Bearer ([\\x21-\\x7e]{1,${Limits.tokenChars}})$`);

export function parseBearer(header: string | string[] | undefined): string | null {
  if (typeof header !== "string") return null;
  const match = BEARER.exec(header);
  return match ? match[1]! : null;
}
