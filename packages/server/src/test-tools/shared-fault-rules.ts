import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";
import { ApiError } from "../domain/errors.ts";
import type { FaultRuleStorage, StoredFaultRule } from "../storage/port.ts";
import {
  checkNumbers,
  completeEffect,
  type FaultDefaults,
  type FaultEffect,
  type FaultMatch,
  type FaultRule,
  type FaultRuleInput,
} from "./fault-rules.ts";
import { unmatchableReason } from "./unmatchable-facts.ts";

/** Who a request acts for, as far as the server knows it before the endpoint's work. */
export interface RequestFacts {
  /** The caller's app (its app token, or `app_id` in the body). */
  appId?: string | undefined;
  /** The caller's tenant, when its token says (a tenant or self-built app token). */
  tenantKey?: string | undefined;
  /**
   * The user the request is about (and their tenant), found by a read: asked only when a rule
   * in force names `user_id` (or `tenant_key` the token did not tell). Undefined: the endpoint
   * cannot know one before its work (the credential endpoints, tokenLoginValidate).
   */
  subject?: (() => Promise<{ tenantKey: string; userId: string } | null>) | undefined;
}

/**
 * How often an instance asks storage whether the rule set changed. A rule added through another
 * instance applies here within this long; a change made through this instance applies at once.
 */
export const FAULT_POLL_MS = 250;

/**
 * The fault rules of every instance on one database: stored (storage/fault-rule-port.ts), and
 * cached here so that the hot path, with no rule set, costs one check of `size`.
 *
 * Why a polled version and not PostgreSQL's LISTEN/NOTIFY: one mechanism for both dialects (a
 * second process on the same SQLite file is told too), no connection held out of the pool and
 * no reconnect logic for it, and the cost is one single-row read per instance every 250 ms,
 * off the request path. Exactness does not depend on the cache's freshness: each application
 * is a conditional count-down in storage, so a stale cache can only try a spent rule (storage
 * says no, the next rule is tried), never apply it once too often.
 */
export class SharedFaultRules {
  #rules: FaultRule[] = [];
  #version = -1;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  constructor(
    private readonly storage: FaultRuleStorage,
    private readonly clock: Clock,
    /** Per platform endpoint's path, what an `answer` there defaults to (fault-rules.ts). */
    private readonly defaults: ReadonlyMap<string, FaultDefaults>,
    private readonly pollMs = FAULT_POLL_MS,
  ) {}

  /** Rules in force as this instance last saw them: the hot path's only cost while none is set. */
  get size(): number {
    return this.#rules.length;
  }

  /** Loads the set, then keeps it fresh; storage failures leave the last set in force. */
  async start(): Promise<void> {
    await this.reload();
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.#polling ??= this.#poll().finally(() => {
        this.#polling = null;
      });
    }, this.pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#polling;
  }

  async #poll(): Promise<void> {
    try {
      if ((await this.storage.faultRulesVersion()) !== this.#version) await this.reload();
    } catch {
      // Storage is away: the rules last seen stay in force; the next poll tries again.
    }
  }

  /**
   * The stored set, now. A read that started before a newer one and answers after it (a poll
   * racing an add) is dropped: versions only grow, and the newer set is already in force.
   */
  async reload(): Promise<void> {
    const set = await this.storage.listFaultRules();
    if (set.version < this.#version) return;
    this.#rules = set.rules.map(fromStored);
    this.#version = set.version;
  }

  async add(input: FaultRuleInput): Promise<FaultRule> {
    const defaults = this.defaults.get(input.match.path);
    if (defaults === undefined) {
      throw new ApiError(
        "AdminInvalidRequest",
        `match.path: not a platform endpoint (one of ${[...this.defaults.keys()].join(", ")})`,
      );
    }
    const unmatchable = unmatchableReason(input.match.path, input.match);
    if (unmatchable !== null) throw new ApiError("AdminInvalidRequest", unmatchable);
    if (input.times !== undefined && input.probability !== undefined) {
      throw new ApiError("AdminInvalidRequest", "times and probability: give one or neither");
    }
    const effect = completeEffect(input.effect, defaults);
    checkNumbers(input, effect);
    const { match } = input;
    const rule: FaultRule = {
      id: `fault_${randomBytes(6).toString("hex")}`,
      match: {
        path: match.path,
        ...(match.app_id ? { app_id: match.app_id } : {}),
        ...(match.tenant_key ? { tenant_key: match.tenant_key } : {}),
        ...(match.user_id ? { user_id: match.user_id } : {}),
      },
      effect,
      times_left: input.times ?? null,
      probability: input.probability ?? null,
      expires_at: input.expires_at ?? null,
      applied: 0,
    };
    const { applied: _, ...stored } = toStored(rule);
    await this.storage.addFaultRule(stored);
    await this.reload();
    return rule;
  }

  /** The rules in force across every instance (read from storage), expired ones left out. */
  async list(): Promise<FaultRule[]> {
    await this.reload();
    return this.#rules.filter((rule) => !this.#expired(rule)).map((rule) => structuredClone(rule));
  }

  /** Whether a rule with that id was in force. */
  async remove(id: string): Promise<boolean> {
    const removed = await this.storage.removeFaultRule(id);
    await this.reload();
    return removed;
  }

  /** How many rules were in force. */
  async clear(): Promise<number> {
    const cleared = await this.storage.clearFaultRules();
    await this.reload();
    return cleared;
  }

  /**
   * The rule that applies to this request, counted in storage (so `times` holds across
   * instances); null when none does. The first added that matches and is not spent applies.
   */
  async take(path: string, facts: RequestFacts): Promise<FaultRule | null> {
    let subject: Promise<{ tenantKey: string; userId: string } | null> | undefined;
    const subjectOf = () => {
      subject ??= facts.subject?.() ?? Promise.resolve(null);
      return subject;
    };
    for (const rule of [...this.#rules]) {
      const { match } = rule;
      if (match.path !== path || this.#expired(rule)) continue;
      if (match.app_id !== undefined && match.app_id !== facts.appId) continue;
      if (match.tenant_key !== undefined) {
        const tenantKey = facts.tenantKey ?? (await subjectOf())?.tenantKey;
        if (tenantKey !== match.tenant_key) continue;
      }
      if (match.user_id !== undefined && (await subjectOf())?.userId !== match.user_id) continue;
      if (rule.probability !== null && Math.random() >= rule.probability) continue;
      const counted = await this.storage.applyFaultRule(rule.id);
      if (counted === null || counted.timesLeft === 0) this.#drop(rule.id);
      if (counted === null) continue; // spent or deleted through another instance meanwhile
      rule.applied = counted.applied;
      rule.times_left = counted.timesLeft;
      return structuredClone(rule);
    }
    return null;
  }

  #drop(id: string): void {
    this.#rules = this.#rules.filter((rule) => rule.id !== id);
  }

  #expired(rule: FaultRule): boolean {
    return rule.expires_at !== null && this.clock.now() / 1000 >= rule.expires_at;
  }
}

function toStored(rule: FaultRule): StoredFaultRule {
  return {
    id: rule.id,
    matchPath: rule.match.path,
    matchAppId: rule.match.app_id ?? null,
    matchTenantKey: rule.match.tenant_key ?? null,
    matchUserId: rule.match.user_id ?? null,
    effect: JSON.stringify(rule.effect),
    timesLeft: rule.times_left,
    probability: rule.probability,
    expiresAt: rule.expires_at,
    applied: rule.applied,
  };
}

function fromStored(stored: StoredFaultRule): FaultRule {
  const match: FaultMatch = { path: stored.matchPath };
  if (stored.matchAppId !== null) match.app_id = stored.matchAppId;
  if (stored.matchTenantKey !== null) match.tenant_key = stored.matchTenantKey;
  if (stored.matchUserId !== null) match.user_id = stored.matchUserId;
  return {
    id: stored.id,
    match,
    effect: JSON.parse(stored.effect) as FaultEffect,
    times_left: stored.timesLeft,
    probability: stored.probability,
    expires_at: stored.expiresAt,
    applied: stored.applied,
  };
}
