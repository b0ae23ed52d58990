/** Storage contract cases: fault rules shared by every instance (storage/fault-rule-port.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StoredFaultRule } from "../port.ts";
import { hex, type SuiteContext } from "./fixtures.ts";

const rule = (
  overrides: Partial<Omit<StoredFaultRule, "applied">> = {},
): Omit<StoredFaultRule, "applied"> => ({
  id: `fault_${hex(6)}`,
  matchPath: "/open-apis/mina/v2/tokenLoginValidate",
  matchAppId: null,
  matchTenantKey: null,
  matchUserId: null,
  effect: '{"type":"drop"}',
  timesLeft: null,
  probability: null,
  expiresAt: null,
  ...overrides,
});

export function faultRuleCases({ open }: SuiteContext): void {
  describe("fault rules", () => {
    // The suite may share a database (PostgreSQL): each case looks only at its own rules' ids.
    it("add and list, in the order added, every field as given; the version moves", async () => {
      const s = await open();
      const before = await s.faultRulesVersion();
      const first = rule({ matchAppId: "cli_0123456789abcdef", timesLeft: 3, expiresAt: 1_900_000_000 });
      const second = rule({
        matchTenantKey: "736588c9260f175d",
        matchUserId: "u1",
        probability: 0.25,
        effect: '{"type":"answer","code":1500,"msg":"x","http_status":200}',
      });
      await s.addFaultRule(first);
      await s.addFaultRule(second);
      const set = await s.listFaultRules();
      assert.ok(set.version > before);
      assert.equal(await s.faultRulesVersion(), set.version);
      const mine = set.rules.filter((r) => r.id === first.id || r.id === second.id);
      assert.deepEqual(mine, [
        { ...first, applied: 0 },
        { ...second, applied: 0 },
      ]);
    });

    it("apply counts down exactly, even when raced; the last time moves the version and drops the rule", async () => {
      const s = await open();
      const limited = rule({ timesLeft: 5 });
      await s.addFaultRule(limited);
      const version = await s.faultRulesVersion();
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => s.applyFaultRule(limited.id)));
      const applied = outcomes.filter((o) => o !== null);
      assert.equal(applied.length, 5);
      assert.deepEqual(applied.map((o) => o!.timesLeft).sort(), [0, 1, 2, 3, 4]);
      assert.ok((await s.faultRulesVersion()) > version);
      assert.ok(!(await s.listFaultRules()).rules.some((r) => r.id === limited.id));
      assert.equal(await s.applyFaultRule(limited.id), null);
    });

    it("apply on an unlimited rule counts `applied` and leaves the version", async () => {
      const s = await open();
      const unlimited = rule();
      await s.addFaultRule(unlimited);
      const version = await s.faultRulesVersion();
      assert.deepEqual(await s.applyFaultRule(unlimited.id), { timesLeft: null, applied: 1 });
      assert.deepEqual(await s.applyFaultRule(unlimited.id), { timesLeft: null, applied: 2 });
      assert.equal(await s.faultRulesVersion(), version);
      assert.equal((await s.listFaultRules()).rules.find((r) => r.id === unlimited.id)?.applied, 2);
      assert.equal(await s.applyFaultRule(`fault_${hex(6)}`), null);
    });

    it("remove: true once for a live rule, false for an unknown or spent one; clear empties the set", async () => {
      const s = await open();
      const a = rule();
      const spent = rule({ timesLeft: 1 });
      await s.addFaultRule(a);
      await s.addFaultRule(spent);
      assert.notEqual(await s.applyFaultRule(spent.id), null);
      const version = await s.faultRulesVersion();
      assert.equal(await s.removeFaultRule(a.id), true);
      assert.ok((await s.faultRulesVersion()) > version);
      assert.equal(await s.removeFaultRule(a.id), false);
      assert.equal(await s.removeFaultRule(spent.id), false);
      await s.addFaultRule(rule());
      await s.addFaultRule(rule({ timesLeft: 2 }));
      const beforeClear = await s.faultRulesVersion();
      assert.ok((await s.clearFaultRules()) >= 2);
      assert.deepEqual((await s.listFaultRules()).rules, []);
      assert.ok((await s.faultRulesVersion()) > beforeClear);
    });
  });
}
