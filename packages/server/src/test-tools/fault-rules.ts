import { type ErrorDefinition, Errors } from "@mina-auth/protocol";
import { ApiError } from "../domain/errors.ts";
import type { Endpoint, FailureFacts } from "../http/platform/endpoints.ts";

/**
 * What a fault does to a matching platform request (docs/testing-your-backend.md):
 * - `answer`: that failure instead of the real answer, sent as the endpoint sends its own (the
 *   `{code, msg}` envelope; at authen/v2/oauth/token `{code, error, error_description}`);
 * - `latency`: the real answer, `ms` later (or a uniform pick from `min_ms`..`max_ms`);
 * - `drop`: the connection is closed before anything is done or answered;
 * - `timeout`: nothing is done and nothing is ever answered (until the caller gives up);
 * - `commit_then_drop`: the request is carried out and stored, then the connection is closed,
 *   so a retry meets a used code or a spent refresh token, as on the platform.
 */
export type FaultEffect =
  | { type: "answer"; code: number; msg: string; http_status: number }
  | { type: "latency"; ms: number }
  | { type: "latency"; min_ms: number; max_ms: number }
  | { type: "drop" }
  | { type: "timeout" }
  | { type: "commit_then_drop" };

/**
 * What a request must carry for a rule to apply: the endpoint's path, and each fact named. Which
 * endpoint lets the server know which fact: docs/testing-your-backend.md ("Matching").
 */
export interface FaultMatch {
  path: string;
  app_id?: string;
  tenant_key?: string;
  user_id?: string;
}

/** A rule as POST /admin/v1/faults takes it (its schema: test-tools/schemas.ts). */
export interface FaultRuleInput {
  match: FaultMatch;
  /** `msg` and `http_status` of an `answer` default to the endpoint's for that code. */
  effect: FaultEffectInput;
  /** Applies this many times, then is gone. */
  times?: number;
  /** Applies to each matching request with this chance (0 < p ≤ 1). */
  probability?: number;
  /** Unix seconds on the server's clock after which the rule is gone. */
  expires_at?: number;
}

export type FaultEffectInput =
  | { type: "answer"; code: number; msg?: string; http_status?: number }
  | Exclude<FaultEffect, { type: "answer" }>;

/** A stored rule, as listed. */
export interface FaultRule {
  id: string;
  match: FaultMatch;
  effect: FaultEffect;
  /** Applications left; null: no limit. */
  times_left: number | null;
  probability: number | null;
  expires_at: number | null;
  /** How often it applied so far. */
  applied: number;
}

/**
 * Gateway codes the platform answers that mina-auth itself never does (its tokens are never
 * rejected this way), with the platform's msg and status (docs/platform-codes.md §2). A test
 * injects them to see a backend's recovery; 99991663 is seen with HTTP 400 and with 200.
 */
const GATEWAY_CODES: ReadonlyArray<FailureFacts> = [
  {
    code: 99991663,
    msg: "Invalid access token for authorization. Please make a request with token attached.",
    httpStatus: 400,
  },
  { code: 99991664, msg: "invalid app token", httpStatus: 400 },
  { code: 99991671, msg: "Invalid token: must start with t-/u-", httpStatus: 400 },
];

/**
 * What an `answer` naming a code sends at one endpoint when the rule gives no msg or status:
 * what that endpoint sends for that failure, under the code it sends it with (the same but where
 * the endpoint renames the failure). `msg` null: a code mina-auth does not know, so the rule
 * must give its msg.
 */
export type FaultDefaults = (code: number) => { code: number; msg: string | null; httpStatus: number };

/**
 * Each endpoint's defaults, by path. A code means what the endpoint's own failures say (the v2
 * endpoint's 20050 is a 500 server_error, authen/v1's a 200 "System error"), else what the
 * gateway's or the registry's entry says, rendered as the endpoint renders that failure when it
 * is real (its shape): at v2, 9500 and 1500 are sent as 20050 and 20072, as v2 sends a bug or a
 * storage fault.
 */
export function faultDefaults(endpoints: readonly Endpoint[]): Map<string, FaultDefaults> {
  const owned = new Set(endpoints.flatMap((endpoint) => endpoint.ownErrors ?? []));
  // The rest of the registry has one entry per code but 9499 (a body that does not parse, and
  // a request that does not), whose first, the body's, is what an endpoint answers.
  const platformWide = new Map<number, FailureFacts>();
  for (const definition of [...GATEWAY_CODES, ...Object.values(Errors)]) {
    if (!owned.has(definition as ErrorDefinition) && !platformWide.has(definition.code))
      platformWide.set(definition.code, definition);
  }
  return new Map(
    endpoints.map((endpoint): [string, FaultDefaults] => {
      const own = new Map((endpoint.ownErrors ?? []).map((definition) => [definition.code, definition]));
      const { shape } = endpoint;
      return [
        endpoint.path,
        (code) => {
          const known = own.get(code) ?? platformWide.get(code);
          // A made-up code: HTTP 200 in the platform's envelope; a failure status in an RFC 6749 one.
          if (known === undefined) return { code, msg: null, httpStatus: shape ? 400 : 200 };
          if (shape === undefined) return { code, msg: known.msg, httpStatus: known.httpStatus };
          const { status, body } = shape.failure(known, known.msg);
          const renamed = body.code === code ? known : (own.get(body.code) ?? known);
          // A code borrowed from an endpoint that fails with HTTP 200: an RFC 6749 endpoint never
          // does, and its clients would read a 200 as a success.
          return { code: body.code, msg: renamed.msg, httpStatus: Math.max(status, 400) };
        },
      ];
    }),
  );
}

/** The msg and status the rule gives, else the endpoint's for that code (`faultDefaults`). */
export function completeEffect(effect: FaultEffectInput, defaults: FaultDefaults): FaultEffect {
  if (effect.type !== "answer") return effect;
  const known = defaults(effect.code);
  const msg = effect.msg ?? known.msg;
  if (msg === null) {
    throw new ApiError(
      "AdminInvalidRequest",
      `effect.msg: required for code ${effect.code}, which mina-auth does not know`,
    );
  }
  return { type: "answer", code: known.code, msg, http_status: effect.http_status ?? known.httpStatus };
}

/**
 * The ranges the admin route's schema also checks (test-tools/schemas.ts), for rules that come
 * through the emulator's typed API, which no schema sees: a `times` of 0 would never run out.
 */
export function checkNumbers(input: FaultRuleInput, effect: FaultEffect): void {
  const within = (value: number | undefined, min: number, max: number, name: string) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      throw new ApiError("AdminInvalidRequest", `${name}: an integer from ${min} to ${max}`);
    }
  };
  within(input.times, 1, 1_000_000, "times");
  within(input.expires_at, 0, Number.MAX_SAFE_INTEGER, "expires_at");
  if (input.probability !== undefined && !(input.probability > 0 && input.probability <= 1)) {
    throw new ApiError("AdminInvalidRequest", "probability: more than 0, at most 1");
  }
  if (effect.type === "answer") {
    within(effect.code, -(2 ** 31), 2 ** 31 - 1, "effect.code");
    within(effect.http_status, 200, 599, "effect.http_status");
  } else if (effect.type === "latency") {
    if ("ms" in effect) within(effect.ms, 0, MAX_LATENCY_MS, "effect.ms");
    else {
      within(effect.min_ms, 0, MAX_LATENCY_MS, "effect.min_ms");
      within(effect.max_ms, effect.min_ms, MAX_LATENCY_MS, "effect.max_ms");
    }
  }
}

/** A test waits for added latency in real time: at most 10 minutes. */
export const MAX_LATENCY_MS = 600_000;

/** A uniform pick in a latency effect's range, or its fixed delay. */
export function latencyOf(effect: Extract<FaultEffect, { type: "latency" }>): number {
  if ("ms" in effect) return effect.ms;
  return effect.min_ms + Math.floor(Math.random() * (effect.max_ms - effect.min_ms + 1));
}
