import type { VerifierChallenges } from "./port.ts";

/**
 * Whether a caller's PKCE verifier fits a code: a code with a challenge needs the verifier whose
 * S256 or plain form (by the code's method) is that challenge; a code without one needs no
 * verifier at all (RFC 9700 §2.1.1: a verifier for such a code is refused, no downgrade). The
 * same rule as the adapters' conditional consume, for telling why it matched nothing.
 */
export function fitsChallenge(
  challenge: string | null,
  method: string | null,
  verifier: VerifierChallenges | null | undefined,
): boolean {
  if (challenge === null) return !verifier;
  if (!verifier) return false;
  return challenge === (method === "S256" ? verifier.s256 : verifier.plain);
}
