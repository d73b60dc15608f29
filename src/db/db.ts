import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db as IDatabase } from 'pg-boss';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs several statements without parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
}

/** A connection inside a transaction. Pass it to repositories and to `queue.send`. */
export interface Tx extends Queryable {
  readonly isTransaction: true;
  /** The same transaction, shaped for pg-boss's `{ db }` option. */
  readonly boss: IDatabase;
}

export interface Db extends Queryable {
  /**
   * Runs fn in one transaction: committed when it resolves, rolled back when it
   * throws. A statement that failed inside makes the whole transaction fail even
   * if fn caught the error, because PostgreSQL would silently turn COMMIT into
   * ROLLBACK and the caller would believe its writes landed.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type Executor = Db | Tx;

export class TransactionAbortedError extends Error {
  constructor(cause: unknown) {
    super('The transaction was rolled back because a statement inside it failed', { cause });
    this.name = 'TransactionAbortedError';
  }
}

// Marks the async context of an open transaction. Using the outer Db from inside a
// transaction is a bug: the statement would silently run outside the transaction
// (and, with the pool exhausted, wait for a connection the transaction holds).
const transactionScope = new AsyncLocalStorage<true>();

export function assertOutsideTransaction(): void {
  if (transactionScope.getStore()) {
    throw new Error('The Db was used inside a transaction: pass the transaction (tx) down instead');
  }
}

export function runInTransactionScope<T>(fn: () => Promise<T>): Promise<T> {
  return transactionScope.run(true, fn);
}

/** Wraps a raw transactional query function, remembering whether any statement failed. */
export function trackFailures(raw: Queryable): { tx: Queryable; failure: () => unknown } {
  let failed: unknown;
  let hasFailed = false;
  const wrap =
    <A extends unknown[], T>(fn: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (!hasFailed) failed = err;
        hasFailed = true;
        throw err;
      }
    };
  return {
    tx: { query: wrap(raw.query.bind(raw)) as Queryable['query'], exec: wrap(raw.exec.bind(raw)) },
    failure: () => (hasFailed ? (failed ?? new Error('statement failed')) : undefined),
  };
}

export function bossAdapter(q: Queryable): IDatabase {
  return {
    executeSql: async (text: string, values?: unknown[]) => q.query(text, values ?? []),
  };
}
