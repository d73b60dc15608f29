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

describe('PostgreSQL source: failures under a read', { timeout: scaled(180_000) }, () => {
  let name: string;
  let url: URL;
  let admin: pg.Client;
  let proxy: TcpProxy;
  const app = `ferry-resilience-${process.pid}`;
  const source = (stopGraceMs?: number): Source => {
    const via = new URL(url);
    via.host = `${proxy.host}:${proxy.port}`;
    return createPostgresSource({
      connectionString: via.toString(),
      applicationName: app,
      ...(stopGraceMs !== undefined ? { stopGraceMs } : {}),
    });
  };
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

  /** Holds an exclusive lock on `locked` until the returned function is called. */
  const lockTable = async () => {
    const holder = new pg.Client({ connectionString: url.toString() });
    await holder.connect();
    await holder.query('BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await holder.query('ROLLBACK');
      await holder.end();
    };
  };

  test('a connection reset between batches fails the read with a connection error; the source works on', async () => {
    const s = source();
    try {
      const stream = await s.openRows(
        { sql: 'SELECT g FROM generate_series(1, 1000000) AS g', values: [] },
        new AbortController().signal,
        { batchSize: 100 },
      );
      const it = await first(stream);
      // Between batches the client is checked out and idle: its socket's error has no listener of the pool's.
      await proxy.drop();
      await admin.query('SELECT 1'); // a round trip: the reset has reached the client's socket by now
      await assert.rejects(drain(it), SourceConnectError);
      const again = await s.openRows({ sql: 'SELECT 1 AS one', values: [] }, new AbortController().signal);
      const rows = [];
      for await (const batch of again.batches) rows.push(...batch);
      assert.deepEqual(rows, [[1]]);
    } finally {
      await s.close();
    }
  });

  test('a backend terminated on the server mid-read fails the read with the server’s reason', async () => {
    const s = source();
    try {
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
    } finally {
      await s.close();
    }
  });

  test('a stopped read whose close never reaches the server (a partition) is cancelled there, then terminated after the grace period', async () => {
    const unlock = await lockTable();
    const s = source(scaled(2_000));
    try {
      const controller = new AbortController();
      const reading = s.openRows({ sql: 'SELECT * FROM locked', values: [] }, controller.signal);
      reading.catch(() => {});
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
    } finally {
      await unlock();
      await s.close();
      await proxy.drop();
    }
  });

  test('closing the source (shutdown) stops reads still running and ends their sessions without waiting out the grace', async () => {
    const unlock = await lockTable();
    const s = source(10 * 60_000);
    try {
      const reading = s.openRows({ sql: 'SELECT * FROM locked', values: [] }, new AbortController().signal);
      reading.catch(() => {});
      await waitFor('the read to wait on the lock', async () =>
        (await sessions()).some((x) => x.wait === 'Lock'),
      );
      proxy.freeze();
      await s.close();
      await assert.rejects(reading);
      await waitFor('the session to be terminated', async () => (await sessions()).length === 0);
    } finally {
      await unlock();
      await proxy.drop();
    }
  });

  test('a read that takes more than maxBytes from the server is stopped with ReadLimitError', async () => {
    const s = source();
    try {
      await assert.rejects(
        s.openRows({ sql: "SELECT repeat('x', 5000000) AS big", values: [] }, new AbortController().signal, {
          maxBytes: 1_000_000,
        }),
        ReadLimitError,
      );
      await waitFor('the session to end', async () => (await sessions()).length === 0);
    } finally {
      await s.close();
    }
  });
});

describe('MariaDB source: failures under a read', { timeout: scaled(180_000) }, () => {
  let db: MysqlTestDb;
  let admin: mysql.Connection;
  let proxy: TcpProxy;
  const source = (stopGraceMs?: number): Source => {
    const via = new URL(db.url);
    via.host = `${proxy.host}:${proxy.port}`;
    return createMysqlSource({ uri: via.toString(), ...(stopGraceMs !== undefined ? { stopGraceMs } : {}) });
  };
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

  /** Holds a write lock on `locked` (a SELECT waits for its metadata lock) until the returned function is called. */
  const lockTable = async () => {
    const holder = await mysql.createConnection({ uri: db.url });
    await holder.query('LOCK TABLES locked WRITE');
    return async () => {
      await holder.query('UNLOCK TABLES');
      await holder.end();
    };
  };

  test('a connection killed on the server while its query waits fails the read at once (it never hangs)', async () => {
    const unlock = await lockTable();
    const s = source();
    try {
      const reading = s.openRows({ sql: 'SELECT * FROM locked', values: [] }, new AbortController().signal);
      reading.catch(() => {});
      const waiting = await waitFor('the read to wait on the lock', waitingOnLock);
      await admin.query(`KILL CONNECTION ${Number(waiting.id)}`);
      await assert.rejects(reading, SourceConnectError);
    } finally {
      await unlock();
      await s.close();
    }
  });

  test('a connection reset between batches fails the read with a connection error; the source works on', async () => {
    const s = source();
    try {
      const stream = await s.openRows(
        { sql: 'SELECT seq FROM seq_1_to_1000000', values: [] },
        new AbortController().signal,
        { batchSize: 100 },
      );
      const it = await first(stream);
      await proxy.drop();
      await admin.query('SELECT 1');
      await assert.rejects(drain(it), SourceConnectError);
      const again = await s.openRows({ sql: 'SELECT 1 AS one', values: [] }, new AbortController().signal);
      const rows = [];
      for await (const batch of again.batches) rows.push(...batch);
      assert.deepEqual(rows, [[1]]);
    } finally {
      await s.close();
    }
  });

  test('a cancel reaches the server: KILL QUERY, and the query is gone from PROCESSLIST', async () => {
    const unlock = await lockTable();
    const s = source();
    try {
      const controller = new AbortController();
      const reading = s.openRows({ sql: 'SELECT * FROM locked', values: [] }, controller.signal);
      reading.catch(() => {});
      const waiting = await waitFor('the read to wait on the lock', waitingOnLock);
      controller.abort(new Error('cancelled by the test'));
      await assert.rejects(reading, /cancelled by the test/);
      // The lock is still held: only the server's own cancel ends the wait.
      await waitFor(
        'the query to leave PROCESSLIST',
        async () => !(await threads()).some((t) => t.id === waiting.id && t.info !== null),
        15_000,
      );
    } finally {
      await unlock();
      await s.close();
    }
  });

  test('a stopped read whose close never reaches the server (a partition): KILL QUERY, then KILL CONNECTION after the grace period', async () => {
    const unlock = await lockTable();
    const s = source(scaled(2_000));
    try {
      const controller = new AbortController();
      const reading = s.openRows({ sql: 'SELECT * FROM locked', values: [] }, controller.signal);
      reading.catch(() => {});
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
    } finally {
      await unlock();
      await s.close();
      await proxy.drop();
    }
  });
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
