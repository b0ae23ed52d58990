/** What the PostgreSQL role modules run their statements through (see postgres-storage.ts). */
import type pg from "pg";

export type Queryable = Pick<pg.ClientBase, "query">;

export interface PgAccess {
  /** One statement on any pooled connection; rows, or a translated error. */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** A few statements on any pooled connection, outside a transaction. */
  direct<T>(run: (q: Queryable) => Promise<T>): Promise<T>;
  /** One transaction on one connection; resolves only after COMMIT. */
  transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}
