import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createEmptyPostgresDatabase, dropPostgresDatabase, postgresUrl } from '../../../test/helpers/db.ts';
import { createMysqlDatabase, createSqliteFile, type MysqlTestDb } from '../../../test/helpers/engines.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcp-proxy.ts';
import { scaled, waitFor } from '../../../test/helpers/time.ts';
import { createMysqlSource } from './mysql.ts';
import { createPostgresSource } from './postgres.ts';
import { createSqliteSource } from './sqlite.ts';
import { ReadLimitError, type RowStream, type Source, SourceConnectError } from './types.ts';

// A source whose server or network fails under a read fails that read, never
// the process, and never hangs; a stopped read is stopped on the server (the
// server's own cancel, then the connection closed, then the session ended if it
// is still there after a grace period). Each source sits behind a TCP proxy that
// can drop its connections (a restart) or freeze them (a partition).

const first = async (stream: RowStream) => {
  const it = stream.batches[Symbol.asyncIterator]();
  const batch = await it.next();
  assert.ok(!batch.done && batch.value.length > 0);
  return it;
};

const drain = async (it: AsyncIterator<unknown>) => {
  for (;;) if ((await it.next()).done) return;
};

/** What each engine's suite sets up once: its source through the proxy, and its lock. */
interface Rig {
  source(stopGraceMs?: number): Source;
  /** Holds a lock on `locked` that a read of it waits for, until the returned function is called. */
  lockTable(): Promise<() => Promise<void>>;
  /** Resets every connection through the proxy (proxy.drop). */
  dropConnections(): Promise<void>;
  /** A round trip on the suite's own connection: what the proxy did has reached the source's sockets by then. */
  roundTrip(): Promise<unknown>;
}

interface UnderTest {
  source: Source;
  /** Starts a read of `locked`; its failure is for the test to await, never unhandled. */
  readLocked(signal?: AbortSignal): Promise<RowStream>;
  /** Closes the source; the cleanup then does not close it again. */
  close(): Promise<void>;
}

/**
 * One test's setup and cleanup: a new source (and with `lock`, the table
 * `locked` held first). However the body ends, the lock is freed, the source
 * closed and the proxy's connections dropped (a frozen one would otherwise keep
 * its session on the server).
 */
async function withSource(
  rig: Rig,
  options: { lock?: boolean; stopGraceMs?: number },
  body: (t: UnderTest) => Promise<void>,
): Promise<void> {
  const unlock = options.lock ? await rig.lockTable() : async () => {};
  const source = rig.source(options.stopGraceMs);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= source.close();
    return closing;
  };
  try {
    await body({
      source,
      readLocked(signal = new AbortController().signal) {
        const reading = source.openRows({ sql: 'SELECT * FROM locked', values: [] }, signal);
        reading.catch(() => {});
        return reading;
      },
      close,
    });
  } finally {
    await unlock();
    await close();
    await rig.dropConnections();
  }
}

/** A connection reset between batches of `sql` fails the read with a connection error; the source reads on. */
async function assertReadsOnAfterReset(rig: Rig, s: Source, sql: string): Promise<void> {
  const stream = await s.openRows({ sql, values: [] }, new AbortController().signal, { batchSize: 100 });
  const it = await first(stream);
  await rig.dropConnections();
  await rig.roundTrip();
  await assert.rejects(drain(it), SourceConnectError);
  const again = await s.openRows({ sql: 'SELECT 1 AS one', values: [] }, new AbortController().signal);
  const rows = [];
  for await (const batch of again.batches) rows.push(...batch);
  assert.deepEqual(rows, [[1]]);
}

describe('PostgreSQL source: failures under a read', { timeout: scaled(180_000) }, () => {
  let name: string;
  let url: URL;
  let admin: pg.Client;
  let proxy: TcpProxy;
  const app = `ferry-resilience-${process.pid}`;
  /** The sessions of the source under test, as the server sees them. */
  const sessions = async () =>
    (
      await admin.query<{ pid: number; state: string; wait: string | null }>(
        'SELECT pid, state, wait_event_type AS wait FROM pg_stat_activity WHERE application_name = $1',
        [app],
      )
    ).rows;

  before(async () => {
    name = await createEmptyPostgresDatabase();
    url = new URL(await postgresUrl(name));
    admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await admin.query('CREATE TABLE locked (id int); INSERT INTO locked VALUES (1)');
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  after(async () => {
    await admin.end();
    await proxy.close();
    await dropPostgresDatabase(name);
  });

  const rig: Rig = {
    source(stopGraceMs) {
      const via = new URL(url);
      via.host = `${proxy.host}:${proxy.port}`;
      return createPostgresSource({
        connectionString: via.toString(),
        applicationName: app,
        ...(stopGraceMs !== undefined ? { stopGraceMs } : {}),
      });
    },
    // An exclusive lock, held by a transaction of its own.
    async lockTable() {
      const holder = new pg.Client({ connectionString: url.toString() });
      await holder.connect();
      await holder.query('BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
      return async () => {
        await holder.query('ROLLBACK');
        await holder.end();
      };
    },
    dropConnections: () => proxy.drop(),
    roundTrip: () => admin.query('SELECT 1'),
  };

  // Between batches the client is checked out and idle: its socket's error has no listener of the pool's.
  test('a connection reset between batches fails the read with a connection error; the source works on', () =>
    withSource(rig, {}, ({ source: s }) =>
      assertReadsOnAfterReset(rig, s, 'SELECT g FROM generate_series(1, 1000000) AS g'),
    ));

  test('a backend terminated on the server mid-read fails the read with the server’s reason', () =>
    withSource(rig, {}, async ({ source: s }) => {
      const stream = await s.openRows(
        { sql: 'SELECT g FROM generate_series(1, 1000000) AS g', values: [] },
        new AbortController().signal,
        { batchSize: 100 },
      );
      const it = await first(stream);
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [app],
      );
      // The server has closed the session: the proxy has passed the close on.
      await waitFor('the terminated session to close', () => proxy.open === 0);
      await admin.query('SELECT 1');
      await assert.rejects(
        drain(it),
        (err: Error) => err instanceof SourceConnectError && /terminating connection/.test(err.message),
      );
    }));

  test('a stopped read whose close never reaches the server (a partition) is cancelled there, then terminated after the grace period', () =>
    withSource(rig, { lock: true, stopGraceMs: scaled(2_000) }, async ({ readLocked }) => {
      const controller = new AbortController();
      const reading = readLocked(controller.signal);
      const [waiting] = await waitFor('the read to wait on the lock', async () => {
        const found = await sessions();
        return found.length === 1 && found[0]!.wait === 'Lock' && found;
      });
      proxy.freeze();
      controller.abort(new Error('stopped by the test'));
      await assert.rejects(reading, /stopped by the test/);
      // The cancel request came over a connection of its own: the lock wait is over (the
      // backend now waits to send its error to a client that no longer reads), the session is not.
      await waitFor('the cancel to end the lock wait', async () =>
        (await sessions()).some((x) => x.pid === waiting!.pid && x.wait !== 'Lock'),
      );
      // Ferry's close never arrives; after the grace period the session is terminated.
      await waitFor('the session to be terminated', async () => (await sessions()).length === 0, 30_000);
    }));

  test('closing the source (shutdown) stops reads still running and ends their sessions without waiting out the grace', () =>
    withSource(rig, { lock: true, stopGraceMs: 10 * 60_000 }, async ({ readLocked, close }) => {
      const reading = readLocked();
      await waitFor('the read to wait on the lock', async () =>
        (await sessions()).some((x) => x.wait === 'Lock'),
      );
      proxy.freeze();
      await close();
      await assert.rejects(reading);
      await waitFor('the session to be terminated', async () => (await sessions()).length === 0);
    }));

  test('a read that takes more than maxBytes from the server is stopped with ReadLimitError', () =>
    withSource(rig, {}, async ({ source: s }) => {
      await assert.rejects(
        s.openRows({ sql: "SELECT repeat('x', 5000000) AS big", values: [] }, new AbortController().signal, {
          maxBytes: 1_000_000,
        }),
        ReadLimitError,
      );
      await waitFor('the session to end', async () => (await sessions()).length === 0);
    }));
});

describe('MariaDB source: failures under a read', { timeout: scaled(180_000) }, () => {
  let db: MysqlTestDb;
  let admin: mysql.Connection;
  let proxy: TcpProxy;
  /** The threads running a statement on `locked` (the source's), as the server sees them. */
  const threads = async () => {
    const [rows] = await admin.query(
      `SELECT ID AS id, COMMAND AS command, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST
        WHERE DB = ? AND ID <> CONNECTION_ID()`,
      [db.name],
    );
    return rows as Array<{ id: number; command: string; state: string; info: string | null }>;
  };
  const waitingOnLock = async () =>
    (await threads()).find((t) => /metadata lock/.test(t.state) && /FROM locked/.test(t.info ?? ''));

  before(async () => {
    db = await createMysqlDatabase();
    await db.exec('CREATE TABLE locked (id int); INSERT INTO locked VALUES (1);');
    admin = await mysql.createConnection({ uri: db.url });
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 3306) });
  });
  after(async () => {
    await admin.end();
    await proxy.close();
    await db.drop();
  });

  const rig: Rig = {
    source(stopGraceMs) {
      const via = new URL(db.url);
      via.host = `${proxy.host}:${proxy.port}`;
      return createMysqlSource({
        uri: via.toString(),
        ...(stopGraceMs !== undefined ? { stopGraceMs } : {}),
      });
    },
    // A write lock: a SELECT waits for its metadata lock.
    async lockTable() {
      const holder = await mysql.createConnection({ uri: db.url });
      await holder.query('LOCK TABLES locked WRITE');
      return async () => {
        await holder.query('UNLOCK TABLES');
        await holder.end();
      };
    },
    dropConnections: () => proxy.drop(),
    roundTrip: () => admin.query('SELECT 1'),
  };

  test('a connection killed on the server while its query waits fails the read at once (it never hangs)', () =>
    withSource(rig, { lock: true }, async ({ readLocked }) => {
      const reading = readLocked();
      const waiting = await waitFor('the read to wait on the lock', waitingOnLock);
      await admin.query(`KILL CONNECTION ${Number(waiting.id)}`);
      await assert.rejects(reading, SourceConnectError);
    }));

  test('a connection reset between batches fails the read with a connection error; the source works on', () =>
    withSource(rig, {}, ({ source: s }) =>
      assertReadsOnAfterReset(rig, s, 'SELECT seq FROM seq_1_to_1000000'),
    ));

  test('a cancel reaches the server: KILL QUERY, and the query is gone from PROCESSLIST', () =>
    withSource(rig, { lock: true }, async ({ readLocked }) => {
      const controller = new AbortController();
      const reading = readLocked(controller.signal);
      const waiting = await waitFor('the read to wait on the lock', waitingOnLock);
      controller.abort(new Error('cancelled by the test'));
      await assert.rejects(reading, /cancelled by the test/);
      // The lock is still held: only the server's own cancel ends the wait.
      await waitFor(
        'the query to leave PROCESSLIST',
        async () => !(await threads()).some((t) => t.id === waiting.id && t.info !== null),
        15_000,
      );
    }));

  test('a stopped read whose close never reaches the server (a partition): KILL QUERY, then KILL CONNECTION after the grace period', () =>
    withSource(rig, { lock: true, stopGraceMs: scaled(2_000) }, async ({ readLocked }) => {
      const controller = new AbortController();
      const reading = readLocked(controller.signal);
      const waiting = await waitFor('the read to wait on the lock', waitingOnLock);
      proxy.freeze();
      controller.abort(new Error('stopped by the test'));
      await assert.rejects(reading, /stopped by the test/);
      await waitFor('the query to be killed', async () =>
        (await threads()).some((t) => t.id === waiting.id && t.info === null),
      );
      await waitFor(
        'the connection to be killed',
        async () => !(await threads()).some((t) => t.id === waiting.id),
        30_000,
      );
    }));
});

describe('SQLite source: the byte limit', () => {
  test('a read that takes more than maxBytes is stopped with ReadLimitError', async () => {
    const f = await createSqliteFile(
      "CREATE TABLE t (v text); INSERT INTO t VALUES (printf('%.*c', 3000000, 'x'));",
    );
    const source = createSqliteSource(f.path);
    try {
      const stream = await source.openRows(
        { sql: 'SELECT v FROM t', values: [] },
        new AbortController().signal,
        {
          maxBytes: 1_000_000,
        },
      );
      await assert.rejects(drain(stream.batches[Symbol.asyncIterator]()), ReadLimitError);
    } finally {
      await source.close();
      await f.cleanup();
    }
  });
});
