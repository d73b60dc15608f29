import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { createPgliteDemoSource } from './pglite-demo.ts';
import type { Row, RowStream, Source } from './types.ts';

// The demo database in a process of its own. PGlite runs synchronously in its
// process, so a runaway demo query cannot be interrupted from inside; here it
// only stalls this child, which Ferry kills at the query's timeout and starts
// again on the next request.

interface Start {
  type: 'start';
  dataDir?: string;
  dumpPath?: string;
  role: string;
  schema: string;
}

type Request =
  | { id: number; op: 'test' }
  | { id: number; op: 'listTables' }
  | { id: number; op: 'open'; sql: string; values: unknown[]; timeoutMs: number; batchSize: number }
  | { id: number; op: 'next'; cursor: number }
  | { id: number; op: 'close'; cursor: number };

let source: Source | undefined;
const cursors = new Map<number, { stream: RowStream; iterator: AsyncIterator<Row[]> }>();
let nextCursor = 1;

const reply = (m: unknown) => process.send!(m);

async function handle(r: Request): Promise<unknown> {
  if (!source) throw new Error('The demo database is not open');
  switch (r.op) {
    case 'test':
      return source.test();
    case 'listTables':
      return source.listTables();
    case 'open': {
      const stream = await source.openRows({ sql: r.sql, values: r.values }, new AbortController().signal, {
        timeoutMs: r.timeoutMs,
        batchSize: r.batchSize,
      });
      const cursor = nextCursor++;
      cursors.set(cursor, { stream, iterator: stream.batches[Symbol.asyncIterator]() });
      return { cursor, columns: stream.columns };
    }
    case 'next': {
      const c = cursors.get(r.cursor);
      if (!c) return { done: true, rows: [] };
      const n = await c.iterator.next();
      if (n.done) cursors.delete(r.cursor);
      return { done: Boolean(n.done), rows: n.done ? [] : n.value };
    }
    case 'close': {
      const c = cursors.get(r.cursor);
      cursors.delete(r.cursor);
      await c?.iterator.return?.();
      // A cursor whose batches were never read: return() above skipped the generator's finally.
      await c?.stream.close?.();
      return {};
    }
  }
}

// Ferry went away (even by SIGKILL): never outlive it holding the demo folder open.
process.on('disconnect', () => process.exit(0));

process.on('message', (m: Start | Request) => {
  if ('type' in m && m.type === 'start') {
    void (async () => {
      try {
        const loadDataDir = m.dumpPath ? new Blob([await readFile(m.dumpPath)]) : undefined;
        const pglite = await PGlite.create({
          ...(m.dataDir ? { dataDir: m.dataDir } : {}),
          ...(loadDataDir ? { loadDataDir } : {}),
        });
        source = createPgliteDemoSource(pglite, m.role, m.schema);
        reply({ type: 'ready' });
      } catch (err) {
        reply({ type: 'failed', message: (err as Error).message });
      }
    })();
    return;
  }
  const r = m as Request;
  handle(r).then(
    (result) => reply({ id: r.id, ok: true, result }),
    (err: { message?: string; code?: string; position?: number; name?: string }) =>
      reply({
        id: r.id,
        ok: false,
        error: {
          message: err?.message ?? String(err),
          code: err?.code,
          position: err?.position,
          name: err?.name,
        },
      }),
  );
});
