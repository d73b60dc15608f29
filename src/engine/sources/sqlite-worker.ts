import { DatabaseSync, type StatementSync } from 'node:sqlite';

// Runs one SQLite query in a process of its own: node:sqlite steps synchronously
// in native code, which neither Ferry's event loop nor a worker thread's
// terminate() can interrupt, but a process can be killed. Rows go back in
// batches, on request (IPC with advanced serialization keeps BigInt and bytes).

interface Job {
  path: string;
  sql: string;
  values: unknown[];
  batchSize: number;
  /** The most bytes of values to send back (ReadLimits.maxBytes); null: no limit. */
  maxBytes: number | null;
}

const port = {
  postMessage: (m: unknown) => process.send!(m),
  on: (event: 'message', fn: (m: { type: 'next' }) => void) => process.on(event, fn as never),
};
let job: Job;

function fail(err: unknown): void {
  const e = err as { message?: string; code?: string; errcode?: number };
  port.postMessage({ type: 'error', message: e?.message ?? String(err), code: e?.code, errcode: e?.errcode });
}

let iterator: Iterator<unknown> | undefined;
let sent = 0;

/** Roughly what a row costs to hold and send: text as UTF-8, blobs by length. */
function rowBytes(row: unknown[]): number {
  let n = 0;
  for (const v of row)
    n += typeof v === 'string' ? Buffer.byteLength(v) : v instanceof Uint8Array ? v.byteLength : 8;
  return n;
}
function start(): void {
  try {
    const db = new DatabaseSync(job.path, { readOnly: true });
    const stmt: StatementSync = db.prepare(job.sql);
    stmt.setReadBigInts(true);
    stmt.setReturnArrays(true);
    const columns = stmt.columns().map((c) => ({ name: c.name, type: c.type ?? null }));
    iterator = stmt.iterate(...(job.values as never[]));
    port.postMessage({ type: 'columns', columns });
  } catch (err) {
    fail(err);
  }
}

port.on('message', (message: { type: 'next' } | { type: 'start'; job: Job }) => {
  if (message.type === 'start') {
    job = message.job;
    start();
    return;
  }
  if (message.type !== 'next' || !iterator) return;
  try {
    const rows: unknown[][] = [];
    for (let i = 0; i < job.batchSize; i++) {
      const next = iterator.next();
      if (next.done) break;
      rows.push(next.value as unknown[]);
      sent += job.maxBytes === null ? 0 : rowBytes(next.value as unknown[]);
      if (job.maxBytes !== null && sent > job.maxBytes) {
        port.postMessage({ type: 'error', message: 'too large', code: 'limit' });
        return;
      }
    }
    port.postMessage({ type: 'batch', rows, done: rows.length < job.batchSize });
  } catch (err) {
    fail(err);
  }
});
