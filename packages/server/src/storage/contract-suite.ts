/**
 * THE storage contract suite: every adapter of `port.ts` runs it, unchanged.
 *
 * Adapter-neutral by construction: each test opens a fresh storage through `makeStorage`,
 * migrates it, and seeds its own world under random ids, so the suite also holds on a shared
 * database that is never emptied (PostgreSQL). Time is always an explicit `now`; secrets are
 * random and reach storage only as SHA-256 digests.
 *
 * @example
 * runStorageContract("sqlite :memory:", (hooks) =>
 *   Promise.resolve(createSqliteStorage({ path: ":memory:", hooks })),
 * );
 */
import { afterEach, describe } from "node:test";
import { appEventCases } from "./contract/app-event-cases.ts";
import { catalogueCases } from "./contract/catalogue-cases.ts";
import { codeGrantCases } from "./contract/code-grant-cases.ts";
import { exchangeCases } from "./contract/exchange-cases.ts";
import { faultRuleCases } from "./contract/fault-rule-cases.ts";
import type { MakeStorage, SuiteContext, TeardownStorage, World } from "./contract/fixtures.ts";
import { seedWorld } from "./contract/fixtures.ts";
import { maintenanceCases } from "./contract/maintenance-cases.ts";
import { refreshCases } from "./contract/refresh-cases.ts";
import { sessionCases } from "./contract/session-cases.ts";
import { tokenExpiryCases } from "./contract/token-expiry-cases.ts";
import type { Storage } from "./port.ts";
import type { StorageTestHooks } from "./test-hooks.ts";

export * from "./contract/fixtures.ts";

// --- The suite -------------------------------------------------------------------------------

export function runStorageContract(name: string, makeStorage: MakeStorage, teardown?: TeardownStorage): void {
  describe(`storage contract: ${name}`, () => {
    const opened: Storage[] = [];

    async function open(hooks?: StorageTestHooks): Promise<Storage> {
      const storage = await makeStorage(hooks);
      opened.push(storage);
      await storage.migrate();
      return storage;
    }

    async function openWorld(hooks?: StorageTestHooks): Promise<{ s: Storage; w: World }> {
      const s = await open(hooks);
      return { s, w: await seedWorld(s) };
    }

    afterEach(async () => {
      for (const storage of opened.splice(0)) {
        await storage.close();
        await teardown?.(storage);
      }
    });

    const context: SuiteContext = { open, openWorld, makeStorage, ...(teardown ? { teardown } : {}) };
    catalogueCases(context);
    exchangeCases(context);
    codeGrantCases(context);
    refreshCases(context);
    sessionCases(context);
    maintenanceCases(context);
    faultRuleCases(context);
    tokenExpiryCases(context);
    appEventCases(context);
  });
}
