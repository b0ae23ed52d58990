/**
 * Seeds (contract §4) as the server's callers use them: the admin API's one resource at a time
 * (`parseTenant`, `parseUser`, `parseApp`), and a whole seed imported into storage
 * (`importSeed`). The file's format is seed-file.ts, reading a whole seed against storage
 * seed-reader.ts; both are re-exported here, so that importers name one module.
 */
import { systemClock } from "../clock.ts";
import { type Field, Issues, type JsonDocument } from "../json-input.ts";
import { newAppId, newTenantKey, newUnionId, newUserId } from "../secrets.ts";
import type { Storage, Tenant, User, Visibility } from "../storage/port.ts";
import { EventSecretBox } from "./event-secrets.ts";
import {
  appFields,
  checkAppShape,
  tenantFields,
  userFields,
  VISIBILITY_SHAPE,
  visibilityField,
} from "./seed-fields.ts";
import { SeedError } from "./seed-file.ts";
import { type LoadedSeed, loadSeed, type ParsedApp, toApp, toUser } from "./seed-reader.ts";

export * from "./seed-file.ts";
export { type LoadedSeed, loadSeed, type ParsedApp, type SeedEventSettings } from "./seed-reader.ts";

// --- One resource at a time (admin API) -----------------------------------------------------

export type TenantCheck = (tenantKey: string, path: string) => void;

function readOne<T>(
  field: Field<T>,
  raw: unknown,
  path: string,
  more?: (read: T, issues: Issues) => void,
): T {
  const issues = new Issues();
  const read = field(raw, path, issues);
  if (read !== undefined) more?.(read, issues);
  if (read === undefined || issues.count > 0) throw new SeedError("request body", issues.list);
  return read;
}

export function parseVisibility(value: unknown, path: string): Visibility {
  if (value === undefined)
    throw new SeedError("request body", [{ path, message: `is required: ${VISIBILITY_SHAPE}` }]);
  return readOne(visibilityField, value, path);
}

export function parseTenant(raw: unknown, path: string): Tenant {
  const read = readOne(tenantFields, raw, path);
  return { tenantKey: read.tenant_key ?? newTenantKey(), name: read.name };
}

export function parseUser(raw: unknown, path: string, checkTenant: TenantCheck): User {
  const read = readOne(userFields, raw, path);
  checkTenant(read.tenant_key, path);
  return toUser(read, { userId: read.user_id ?? newUserId(), unionId: read.union_id ?? newUnionId() });
}

export function parseApp(raw: unknown, path: string, checkTenant: TenantCheck): ParsedApp {
  const read = readOne(appFields, raw, path, (app, issues) => checkAppShape(raw, app, path, issues));
  const parsed = toApp(read, read.app_id ?? newAppId(), null);
  for (const installation of parsed.installations) checkTenant(installation.tenantKey, path);
  return parsed;
}

/**
 * Reads a seed against storage's catalogue and imports it in one transaction. The read and the
 * write are two steps: two imports racing on the same natural keys may both add an entry (an
 * operator's action, not a request path; IDs in the file make it exact).
 */
export async function importSeed(storage: Storage, document: JsonDocument): Promise<LoadedSeed> {
  const seed = loadSeed(document, await storage.exportCatalog());
  await storage.importCatalog(seed.snapshot);
  if (seed.eventSettings.length > 0) {
    const box = new EventSecretBox(storage, systemClock);
    for (const events of seed.eventSettings) {
      await storage.setAppEventSettings({
        appId: events.appId,
        eventUrl: events.eventUrl,
        verificationTokenSealed: await box.seal(events.verificationToken),
        encryptKeySealed: events.encryptKey === null ? null : await box.seal(events.encryptKey),
        updatedAt: Date.now(),
      });
    }
  }
  return seed;
}
