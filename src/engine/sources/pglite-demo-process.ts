import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parsePgReadQuery } from './pg-query-check.ts';
import {
  type BoundQuery,
  type Column,
  defaultReadLimits,
  type ReadLimits,
  type Row,
  type RowStream,
  type Source,
  SourceConnectError,
  type SourceInfo,
  SourceQueryError,
  type TableInfo,
} from './types.ts';

// The client side of pglite-demo-host.ts: the demo source, served by a child
// process that Ferry kills when a query outlives its timeout (PGlite cannot be
// interrupted inside its own process) and starts again on the next request.

const HOST = fileURLToPath(new URL('./pglite-demo-host.ts', import.meta.url));

export interface DemoHostStart {
  dataDir?: string | undefined;
  dumpPath?: string | undefined;
  role: string;
  schema: string;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

function revive(e: { message: string; code?: string; position?: number; name?: string }): Error {
  if (e.name === 'SourceQueryError' || e.code)
    return new SourceQueryError(e.message, { code: e.code, position: e.position });
  if (e.name === 'SourceConnectError') return new SourceConnectError(e.message);
  return new Error(e.message);
}

interface Host {
  child: ChildProcess;
  ready: Promise<void>;
  pending: Map<number, Pending>;
}

export function createPgliteDemoProcessSource(start: DemoHostStart): Source {
  let current: Host | null = null;
  let seq = 1;

  const failAll = (host: Host, err: Error) => {
    for (const [id, p] of host.pending) {
      clearTimeout(p.timer);
      host.pending.delete(id);
      p.reject(err);
    }
  };

  const spawn = (): Host => {
    const child = fork(HOST, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const pending = new Map<number, Pending>();
    let host!: Host;
    const ready = new Promise<void>((resolve, reject) => {
      child.on(
        'message',
        (m: {
          type?: string;
          id?: number;
          ok?: boolean;
          result?: unknown;
          error?: never;
          message?: string;
        }) => {
          if (m.type === 'ready') return resolve();
          if (m.type === 'failed')
            return reject(new SourceConnectError(`The demo database could not start: ${m.message}`));
          const p = m.id === undefined ? undefined : pending.get(m.id);
          if (!p) return;
          clearTimeout(p.timer);
          pending.delete(m.id!);
          if (m.ok) p.resolve(m.result);
          else p.reject(revive(m.error!));
        },
      );
      child.on('exit', (code) => {
        if (current === host) current = null;
        reject(new SourceConnectError(`The demo database process stopped (exit code ${code})`));
        failAll(host, new SourceConnectError('The demo database process stopped; try again'));
      });
    });
    ready.catch(() => {});
    host = { child, ready, pending };
    child.send({ type: 'start', ...start });
    return host;
  };

  /** The only way to stop a PGlite statement: end its process. The next request starts a new one. */
  const kill = (host: Host) => {
    if (current === host) current = null;
    host.child.kill('SIGKILL');
  };

  /** The promise's outcome, or the signal's reason as soon as it aborts. */
  const untilAborted = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });

  /** The running host process, started on first use and again after one ends. */
  const host = () => {
    current ??= spawn();
    return current;
  };
  const request = <T>(payload: Record<string, unknown>, timeoutMs: number): Promise<T> =>
    send<T>(host(), payload, timeoutMs);

  /**
   * A request to one particular host. Cursors belong to the process that opened
   * them: once it is gone (a timeout ends it), their numbers mean nothing in the
   * next one, so their requests fail instead of reaching another export's cursor.
   */
  const send = async <T>(target: Host, payload: Record<string, unknown>, timeoutMs: number): Promise<T> => {
    await target.ready;
    if (target !== current || !target.child.connected)
      throw new SourceConnectError('The demo database process restarted during the query; try again');
    return new Promise<T>((resolve, reject) => {
      const id = seq++;
      const timer = setTimeout(() => {
        target.pending.delete(id);
        reject(
          new SourceQueryError(`The query ran longer than ${timeoutMs / 1000} s and was stopped`, {
            code: 'timeout',
          }),
        );
        kill(target);
      }, timeoutMs);
      target.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      target.child.send({ id, ...payload });
    });
  };

  return {
    dialect: 'postgres',
    test: () => request<SourceInfo>({ op: 'test' }, 30_000),
    listTables: () => request<TableInfo[]>({ op: 'listTables' }, 30_000),

    async openRows(
      query: BoundQuery,
      signal: AbortSignal,
      limits: Partial<ReadLimits> = {},
    ): Promise<RowStream> {
      const { timeoutMs, batchSize } = { ...defaultReadLimits, ...limits };
      signal.throwIfAborted();
      await parsePgReadQuery(query.sql);
      // Opening runs the whole query (a WITH HOLD cursor). A cancel does not wait for
      // it; the cursor it opens anyway is closed as soon as it exists.
      const opener = host();
      const opening = send<{ cursor: number; columns: Column[] }>(
        opener,
        { op: 'open', sql: query.sql, values: query.values, timeoutMs, batchSize },
        timeoutMs,
      );
      const opened = await untilAborted(opening, signal).catch((err: unknown) => {
        if (signal.aborted)
          opening.then(
            (o) => send(opener, { op: 'close', cursor: o.cursor }, 10_000).catch(() => {}),
            () => {},
          );
        throw err;
      });
      const bytesColumns = opened.columns.map((c) => c.type === 'bytes');
      async function* batches(): AsyncGenerator<Row[]> {
        let done = false;
        try {
          while (!done) {
            signal.throwIfAborted();
            // A cancel does not wait for the fetch in flight; its answer is dropped.
            const r = await untilAborted(
              send<{ done: boolean; rows: Row[] }>(opener, { op: 'next', cursor: opened.cursor }, timeoutMs),
              signal,
            );
            done = r.done;
            if (r.rows.length > 0) {
              // Bytes cross the process boundary as Uint8Array.
              yield r.rows.map((row) =>
                row.map((v, i) =>
                  bytesColumns[i] && v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v,
                ),
              );
            }
          }
        } catch (err) {
          throw signal.aborted ? signal.reason : err;
        } finally {
          if (!done) await send(opener, { op: 'close', cursor: opened.cursor }, 10_000).catch(() => {});
        }
      }
      return { columns: opened.columns, batches: batches() };
    },

    async close() {
      if (!current) return;
      const host = current;
      failAll(host, new SourceConnectError('The demo database is closing'));
      kill(host);
    },
  };
}
