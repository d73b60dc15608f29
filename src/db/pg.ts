import pg from 'pg';
import type { Logger } from '../lib/log.ts';
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

export interface PgOptions {
  url: string;
  max: number;
  applicationName: string;
  log: Logger;
}

export function createPgDb(options: PgOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max,
    application_name: options.applicationName,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', (err) => options.log.warn({ err }, 'idle database connection failed'));
  // Nor may a checked-out one: pg-pool listens on idle clients only, and a
  // connection that fails inside a transaction (the server restarts, the session
  // is terminated, the network drops) emits 'error' with nobody listening, which
  // ends the process. The statement in progress, or the next one, fails with the
  // same error, and the transaction drops the connection.
  pool.on('connect', (client) => client.on('error', () => {}));

  const run = async <R>(client: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[]) => {
    const result = await client.query(text, params as unknown[] | undefined);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 } satisfies QueryResult<R>;
  };

  return {
    async query<R>(text: string, params?: readonly unknown[]) {
      assertOutsideTransaction();
      return run<R>(pool, text, params);
    },
    async exec(sql: string) {
      assertOutsideTransaction();
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      assertOutsideTransaction();
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const { tx, failure } = trackFailures({
          query: (text, params) => run(client, text, params),
          exec: async (sql) => void (await client.query(sql)),
        });
        const handle: Tx = { ...tx, isTransaction: true, boss: bossAdapter(tx) };
        const result = await runInTransactionScope(() => fn(handle));
        const failed = failure();
        if (failed !== undefined) throw new TransactionAbortedError(failed);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is unusable; drop it from the pool instead of reusing it.
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
