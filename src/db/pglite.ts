import { PGlite, types } from '@electric-sql/pglite';
import {
  assertOutsideTransaction,
  bossAdapter,
  type Db,
  type QueryResult,
  runInTransactionScope,
  TransactionAbortedError,
  type Tx,
  trackFailures,
} from './db.ts';

// PGlite is one connection in this process. Its query/exec/transaction calls take
// one lock, so a transaction runs alone and other callers wait for it. A failed
// statement outside a transaction leaves nothing behind; a multi-statement block
// that fails part-way is rolled back here so the next caller starts clean.

// Same value shapes as node-postgres: int8 and numeric as exact strings.
const parsers = {
  [types.INT8]: (value: string) => value,
  [types.NUMERIC]: (value: string) => value,
};

export interface PgliteHandle {
  db: Db;
  pglite: PGlite;
}

export async function openPglite(
  dataDir: string | undefined,
  loadDataDir?: Blob | File,
): Promise<PgliteHandle> {
  const pglite = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(loadDataDir ? { loadDataDir } : {}),
    parsers,
    serializers: {},
  });
  return { db: wrapPglite(pglite), pglite };
}

export function wrapPglite(pglite: PGlite): Db {
  let closed = false;
  const toResult = <R>(result: { rows: unknown[]; affectedRows?: number }): QueryResult<R> => ({
    rows: result.rows as R[],
    rowCount: result.affectedRows ?? result.rows.length,
  });
  return {
    kind: 'pglite',
    async query<R>(text: string, params?: readonly unknown[]) {
      assertOutsideTransaction();
      return toResult<R>(await pglite.query(text, params as unknown[] | undefined));
    },
    async exec(sql: string) {
      assertOutsideTransaction();
      try {
        await pglite.exec(sql);
      } catch (err) {
        // A block with its own BEGIN that failed part-way would leave the only
        // connection inside an aborted transaction.
        await pglite.query('ROLLBACK').catch(() => {});
        throw err;
      }
    },
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      assertOutsideTransaction();
      return pglite.transaction(async (raw) => {
        const { tx, failure } = trackFailures({
          query: async (text, params) => toResult(await raw.query(text, params as unknown[] | undefined)),
          exec: async (sql) => void (await raw.exec(sql)),
        });
        const handle: Tx = { ...tx, isTransaction: true, boss: bossAdapter(tx) };
        const result = await runInTransactionScope(() => fn(handle));
        const failed = failure();
        if (failed !== undefined) throw new TransactionAbortedError(failed);
        return result;
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await pglite.close();
    },
  };
}
