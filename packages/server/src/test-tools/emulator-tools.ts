import { ManualClock } from "../clock.ts";
import type { FaultRule, FaultRuleInput } from "./fault-rules.ts";
import type { JournalEntry, JournalFilter } from "./journal.ts";
import type { TestTools } from "./tools.ts";

/**
 * `emu.faults`: the emulator's fault rules, as POST/GET/DELETE /admin/v1/faults manage them.
 * Stored, like a server's: each promise settles once the change is in storage and in force.
 */
export interface EmulatorFaults {
  /** Adds a rule; the first added that matches a request applies. */
  add(rule: FaultRuleInput): Promise<FaultRule>;
  list(): Promise<FaultRule[]>;
  /** Whether a rule with that id was there. */
  remove(id: string): Promise<boolean>;
  /** Removes every rule; how many there were. */
  clear(): Promise<number>;
}

/** `emu.clock`: the server's clock. advance/set need `startEmulator({ clock: "manual" })`. */
export interface EmulatorClock {
  /** Unix milliseconds on the server's clock. */
  now(): number;
  advance(ms: number): void;
  set(ms: number): void;
}

/** `emu.expireNow`: end a token before its time (POST …/expire-access-token, …/expire-tokens). */
export interface EmulatorExpireNow {
  /** A session's access token, by the session's id; rejects when it has no live one. */
  session(sessionId: string): Promise<{ session_id: string; expired_at: number }>;
  /** The session behind a live user access token (what a test holds). */
  accessToken(token: string): Promise<{ session_id: string; expired_at: number }>;
  /** An app's live app and tenant tokens (or one `kind`); how many were live. */
  appTokens(appId: string, kind?: "app" | "tenant"): Promise<{ app_id: string; expired: number }>;
}

/** `emu.journal(filter)`: the emulator's last platform requests, secrets redacted, oldest first. */
export type EmulatorJournal = (filter?: JournalFilter) => JournalEntry[];

export function emulatorTools(tools: TestTools): {
  faults: EmulatorFaults;
  clock: EmulatorClock;
  journal: EmulatorJournal;
  expireNow: EmulatorExpireNow;
} {
  const manual = (): ManualClock => {
    if (tools.clock instanceof ManualClock) return tools.clock;
    throw new Error('emu.clock: this emulator runs on the system clock; start it with { clock: "manual" }');
  };
  return {
    faults: {
      add: (rule) => tools.faults.add(rule),
      list: () => tools.faults.list(),
      remove: (id) => tools.faults.remove(id),
      clear: () => tools.faults.clear(),
    },
    clock: {
      now: () => tools.clock.now(),
      advance: (ms) => manual().advance(ms),
      set: (ms) => manual().set(ms),
    },
    expireNow: {
      session: (sessionId) => tools.expireNow.session(sessionId),
      accessToken: (token) => tools.expireNow.accessToken(token),
      appTokens: (appId, kind) => tools.expireNow.appTokensOf(appId, kind),
    },
    journal: (filter) => {
      if (tools.journal === undefined) throw new Error("emu.journal: the journal is off (journalSize: 0)");
      return tools.journal.query(filter);
    },
  };
}
