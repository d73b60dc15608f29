import { fork } from 'node:child_process';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { gateSource, type SourceDriver } from './read-gate.ts';
import { checkReadOnlySql } from './sql-text.ts';
import {
  type BoundQuery,
  type Column,
  type ColumnType,
  instantOrText,
  ReadLimitError,
  type Row,
  type RowStream,
  type Source,
  SourceConnectError,
  SourceQueryError,
  type TableInfo,
  type Value,
} from './types.ts';

// SQLite through node:sqlite, opened read-only. Types come from each result
// column's declared type (SQLite's affinity rules); expressions without a
// declared type keep the storage class of each value.

export function sqliteDeclaredType(declared: string | null | undefined): ColumnType {
  const t = (declared ?? '').toUpperCase();
  if (!t) return 'unknown';
  if (t.includes('BIGINT') || t === 'INT8') return 'bigint';
  if (t.startsWith('BOOL')) return 'boolean';
  if (t.includes('INT')) return 'integer';
  if (t.includes('DECIMAL') || t.includes('NUMERIC')) return 'decimal';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'float';
  if (t === 'DATE') return 'date';
  if (t.includes('TIMESTAMPTZ') || t.includes('WITH TIME ZONE')) return 'timestamptz';
  if (t.includes('DATETIME') || t.includes('TIMESTAMP')) return 'timestamp';
  if (t === 'TIME') return 'time';
  if (t.includes('JSON')) return 'json';
  if (t.includes('UUID')) return 'uuid';
  if (t.includes('BLOB') || t.includes('BINARY')) return 'bytes';
  return 'string';
}

function convert(type: ColumnType, v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'boolean':
      return v === 1n || v === 1 || v === '1' || v === 'true';
    case 'integer':
      return typeof v === 'bigint' ? Number(v) : Number(v);
    case 'bigint':
      return typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
    case 'float':
      return Number(v);
    case 'decimal':
      return String(v);
    case 'timestamp':
      return String(v).replace(' ', 'T');
    case 'timestamptz':
      return instantOrText(String(v).replace(' ', 'T'), String(v));
    case 'json':
      return typeof v === 'string' ? (JSON.parse(v) as object) : (v as object);
    case 'bytes':
      return Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
    case 'unknown':
      if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
      if (v instanceof Uint8Array) return Buffer.from(v);
      return v as Value;
    default:
      return String(v);
  }
}

function toSourceError(err: unknown): Error {
  const e = err as { message?: string; code?: string; errcode?: number };
  if (e?.code === 'ERR_SQLITE_ERROR')
    return new SourceQueryError(e.message ?? 'query failed', { code: String(e.errcode), cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

const WORKER_PATH = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url));

interface WorkerMessage {
  type: 'columns' | 'batch' | 'error';
  columns?: Array<{ name: string; type: string | null }>;
  rows?: unknown[][];
  done?: boolean;
  message?: string;
  code?: string;
  errcode?: number;
  /** Set when Ferry stopped the worker (timeout, cancel): thrown as is. */
  stopped?: Error;
}

/** A SQLite file, opened read-only; its reads pass the gate of read-gate.ts. */
export function createSqliteSource(path: string): Source {
  return gateSource(sqliteDriver(path));
}

/** Its reads take the query as the caller gave it: node:sqlite binds the values. */
function sqliteDriver(path: string): SourceDriver<BoundQuery> {
  let db: DatabaseSync | undefined;
  const open = () => {
    if (db) return db;
    try {
      db = new DatabaseSync(path, { readOnly: true });
    } catch (err) {
      throw new SourceConnectError(`Cannot open the SQLite file: ${(err as Error).message}`, err);
    }
    return db;
  };
  const prepare = (sql: string): StatementSync => {
    try {
      const stmt = open().prepare(sql);
      stmt.setReadBigInts(true);
      return stmt;
    } catch (err) {
      throw toSourceError(err);
    }
  };

  return {
    dialect: 'sqlite',
    async test() {
      const row = prepare('SELECT sqlite_version() AS v').get() as { v: string };
      // Reading the schema proves the file is a database, not just any file.
      prepare('SELECT count(*) FROM sqlite_schema').get();
      return { version: `SQLite ${row.v}` };
    },

    // Whoever calls, only a single read statement reaches the database.
    async checkRead(query: BoundQuery): Promise<BoundQuery> {
      await checkReadOnlySql(query.sql, 'sqlite');
      return query;
    },

    async readRows(query, signal, { timeoutMs, batchSize, maxBytes }): Promise<RowStream> {
      // The query runs in a child process: a slow statement is stopped by killing it
      // (timeout or cancel) and never blocks this process.
      const worker = fork(WORKER_PATH, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      worker.send({
        type: 'start',
        job: {
          path,
          sql: query.sql,
          values: query.values,
          batchSize,
          maxBytes: Number.isFinite(maxBytes) ? maxBytes : null,
        },
      });
      const inbox: Array<(m: WorkerMessage) => void> = [];
      const pending: WorkerMessage[] = [];
      let ended: Error | null = null;
      const deliver = (m: WorkerMessage) => {
        const wait = inbox.shift();
        if (wait) wait(m);
        else pending.push(m);
      };
      const stop = (reason: Error) => {
        if (ended) return;
        ended = reason;
        worker.kill('SIGKILL');
        deliver({ type: 'error', message: reason.message, stopped: reason });
      };
      worker.on('message', (m: WorkerMessage) => deliver(m));
      worker.on('error', (err) => stop(err));
      worker.on('exit', (code) => {
        if (!ended)
          stop(new SourceQueryError(`The SQLite reader stopped unexpectedly (exit code ${code})`, {}));
      });
      const timer = setTimeout(
        () =>
          stop(
            new SourceQueryError(`The query ran longer than ${timeoutMs / 1000} s and was stopped`, {
              code: 'timeout',
            }),
          ),
        timeoutMs,
      );
      const onAbort = () => stop(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (!ended) {
          ended = new Error('finished');
          worker.kill('SIGKILL');
        }
      };
      const next = () =>
        pending.length > 0
          ? Promise.resolve(pending.shift()!)
          : new Promise<WorkerMessage>((resolve) => inbox.push(resolve));
      const raise = (m: WorkerMessage): never => {
        finish();
        if (m.stopped) throw m.stopped;
        if (m.code === 'limit') throw new ReadLimitError(maxBytes);
        throw toSourceError(Object.assign(new Error(m.message), { code: m.code, errcode: m.errcode }));
      };

      const first = await next();
      if (first.type === 'error') raise(first);
      const meta = first.columns ?? [];
      if (meta.length === 0) {
        finish();
        throw new SourceQueryError('The statement returns no columns', {});
      }
      const types = meta.map((c) => sqliteDeclaredType(c.type));
      const columns: Column[] = meta.map((c, i) => ({ name: c.name, type: types[i]!, dbType: c.type ?? '' }));
      async function* batches(): AsyncGenerator<Row[]> {
        try {
          for (;;) {
            worker.send({ type: 'next' });
            const m = await next();
            if (m.type === 'error') raise(m);
            const rows = (m.rows ?? []).map((r) => r.map((v, j) => convert(types[j]!, v)));
            if (rows.length > 0) yield rows;
            if (m.done) break;
          }
        } finally {
          finish();
        }
      }
      return { columns, batches: batches() };
    },

    async listTables(): Promise<TableInfo[]> {
      const objects = prepare(
        "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
      ).all() as Array<{ name: string; type: string }>;
      return objects.map((o) => {
        const cols = prepare(`SELECT name, type, "notnull" AS nn FROM pragma_table_info(?)`).all(
          o.name,
        ) as Array<{ name: string; type: string; nn: bigint }>;
        return {
          schema: null,
          name: o.name,
          kind: o.type === 'view' ? ('view' as const) : ('table' as const),
          columns: cols.map((c) => ({
            name: c.name,
            type: sqliteDeclaredType(c.type),
            dbType: c.type,
            nullable: c.nn === 0n,
          })),
        };
      });
    },

    async close() {
      db?.close();
      db = undefined;
    },
  };
}
