import type { Clock } from "../clock.ts";
import type { AppTokenService } from "../domain/app-tokens.ts";
import type { Endpoint } from "../http/platform/endpoints.ts";
import { HungResponses } from "../http/platform/fault-effects.ts";
import type { FaultRuleStorage } from "../storage/port.ts";
import { ExpireNow, type ExpireNowStorage } from "./expire-now.ts";
import { faultDefaults } from "./fault-rules.ts";
import { Journal } from "./journal.ts";
import { SharedFaultRules } from "./shared-fault-rules.ts";

/**
 * The test tools of one server (docs/testing-your-backend.md): the fault rules (stored, shared
 * by every instance on the database), its clock, its request journal (undefined when its size
 * is 0, the server's default: then it costs nothing), and "expire this token now".
 */
export interface TestTools {
  clock: Clock;
  faults: SharedFaultRules;
  journal: Journal | undefined;
  hung: HungResponses;
  expireNow: ExpireNow;
}

/** The journal's ceiling: at most this many entries (each body at most 4 KiB), whatever is asked. */
export const MAX_JOURNAL_SIZE = 100_000;

export function createTestTools(
  storage: FaultRuleStorage & ExpireNowStorage,
  clock: Clock,
  journalSize: number,
  appTokens: AppTokenService,
  /** The platform endpoints, which fault rules match by path and answer as. */
  endpoints: readonly Endpoint[],
): TestTools {
  return {
    clock,
    faults: new SharedFaultRules(storage, clock, faultDefaults(endpoints)),
    journal: journalSize > 0 ? new Journal(Math.min(journalSize, MAX_JOURNAL_SIZE), clock) : undefined,
    hung: new HungResponses(),
    expireNow: new ExpireNow(storage, clock, appTokens),
  };
}
