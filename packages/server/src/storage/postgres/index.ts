export { createPostgresStorage, type PostgresStorageOptions } from "./postgres-storage.ts";
