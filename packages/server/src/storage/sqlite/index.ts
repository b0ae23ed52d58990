export type { SqliteStorageOptions } from "./sqlite-storage.ts";
export { createSqliteStorage, REVOKE_REASON, SqliteStorage } from "./sqlite-storage.ts";
