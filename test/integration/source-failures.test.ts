import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { call, createTestApp, setupFirstTenant, type TenantHandle, type TestApp } from '../helpers/app.ts';
import {
  backends,
  createEmptyPostgresDatabase,
  dropPostgresDatabase,
  postgresUrl,
  TEST_SECRET,
} from '../helpers/db.ts';
import { createMysqlDatabase, type MysqlTestDb } from '../helpers/engines.ts';
import { baseEnv, type Running, startFerry } from '../helpers/process.ts';
import { waitForRun } from '../helpers/runs.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { scaled, waitFor } from '../helpers/time.ts';

// Issue 13, items 1–3 through the API: a source whose session is terminated,
// or whose connection drops, fails the preview or the run (retried as its policy
// says), never the process; a preview has a deadline of its own and a byte cap;
// a stopped statement is stopped on the source server.

/** A source database with a table `locked` that a second session can lock, so a read waits. */
interface Engine {
  name: string;
  /** Connection settings for the API, through `via` when given (a proxy). */
  connection(via?: { host: string; port: number }): object;
  target: { host: string; port: number };
  /** Locks `locked` until the returned function is called. */
  lock(): Promise<() => Promise<void>>;
  /** The server's id of a statement on `locked` waiting for the lock, if there is one. */
  waiting(): Promise<number | undefined>;
  /** Whether that statement still runs on the server. */
  running(id: number): Promise<boolean>;
  /** Ends the session on the server, as an administrator (or a restart) would. */
  kill(id: number): Promise<void>;
  close(): Promise<void>;
}

async function postgresEngine(): Promise<Engine> {
  const name = await createEmptyPostgresDatabase();
  const url = new URL(await postgresUrl(name));
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query('CREATE TABLE locked (id int); INSERT INTO locked VALUES (1)');
  const onLocked = `SELECT pid FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%FROM locked%'`;
  return {
    name: 'PostgreSQL',
    target: { host: url.hostname, port: Number(url.port || 5432) },
    connection: (via) => ({
      host: via?.host ?? url.hostname,
      port: via?.port ?? Number(url.port || 5432),
      database: name,
      user: decodeURIComponent(url.username),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    }),
    async lock() {
      const holder = new pg.Client({ connectionString: url.toString() });
      await holder.connect();
      await holder.query('BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
      return async () => {
        await holder.query('ROLLBACK');
        await holder.end();
      };
    },
    async waiting() {
      const r = await admin.query<{ pid: number }>(`${onLocked} AND wait_event_type = 'Lock'`, [name]);
      return r.rows[0]?.pid;
    },
    async running(pid) {
      const r = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      return r.rows.length > 0;
    },
    async kill(pid) {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    },
    async close() {
      await admin.end();
      await dropPostgresDatabase(name);
    },
  };
}

async function mariadbEngine(): Promise<Engine> {
  const db: MysqlTestDb = await createMysqlDatabase();
  await db.exec('CREATE TABLE locked (id int); INSERT INTO locked VALUES (1);');
  const url = new URL(db.url);
  const admin = await mysql.createConnection({ uri: db.url });
  const threads = async () => {
    const [rows] = await admin.query(
      'SELECT ID AS id, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
      [db.name],
    );
    return rows as Array<{ id: number; state: string; info: string | null }>;
  };
  return {
    name: 'MariaDB',
    target: { host: url.hostname, port: Number(url.port || 3306) },
    connection: (via) => ({
      host: via?.host ?? url.hostname,
      port: via?.port ?? Number(url.port || 3306),
      database: db.name,
      user: decodeURIComponent(url.username),
    }),
    async lock() {
      const holder = await mysql.createConnection({ uri: db.url });
      await holder.query('LOCK TABLES locked WRITE');
      return async () => {
        await holder.query('UNLOCK TABLES');
        await holder.end();
      };
    },
    async waiting() {
      return (await threads()).find((t) => /metadata lock/.test(t.state) && /FROM locked/.test(t.info ?? ''))
        ?.id;
    },
    async running(id) {
      return (await threads()).some((t) => t.id === id && t.info !== null);
    },
    async kill(id) {
      await admin.query(`KILL CONNECTION ${Number(id)}`);
    },
    async close() {
      await admin.end();
      await db.drop();
    },
  };
}

const engines: Array<[string, () => Promise<Engine>]> = [
  ['PostgreSQL', postgresEngine],
  ['MariaDB', mariadbEngine],
];

/** A tenant's connection to the engine's database (through `via`, a proxy, when given). */
async function addConnection(
  api: (method: 'POST', path: string, body: object) => Promise<{ status: number; body: { id?: string } }>,
  e: Engine,
  via?: { host: string; port: number },
): Promise<string> {
  const r = await api('POST', '/api/v1/connections', {
    name: e.name,
    type: e.name === 'MariaDB' ? 'mysql' : 'postgres',
    // The test servers' administrator accounts, confirmed.
    allowPrivilegedUser: true,
    config: e.connection(via),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.id);
}

/** Calls `during` once the engine's server shows a statement waiting on the lock; returns that statement's id. */
async function whileWaiting(e: Engine, during: (id: number) => Promise<void> = async () => {}) {
  const id = await waitFor(`${e.name}: a statement to wait on the lock`, () => e.waiting());
  await during(id);
  return id;
}

for (const backend of backends()) {
  describe(`deadlines: FERRY_PREVIEW_SECONDS=1, FERRY_MAX_RUN_SECONDS=1 (${backend})`, {
    timeout: scaled(180_000),
  }, () => {
    let t: TestApp;
    let owner: TenantHandle;
    before(async () => {
      t = await createTestApp(backend, {
        roles: ['api', 'worker'],
        env: { FERRY_PREVIEW_SECONDS: '1', FERRY_MAX_RUN_SECONDS: '1' },
      });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());
    const api = (method: 'GET' | 'POST', url: string, body?: object) =>
      call(t, { method, url, key: owner.apiKey, ...(body ? { body } : {}) });

    for (const [label, make] of engines) {
      test(`${label}: a preview waiting on a lock answers 422 at its deadline, and the statement is gone from the server`, async () => {
        const e = await make();
        const unlock = await e.lock();
        try {
          const id = await addConnection(api, e);
          const waited = whileWaiting(e);
          const r = await api('POST', '/api/v1/reports/preview', {
            report: { connectionId: id, sql: 'SELECT * FROM locked' },
          });
          assert.equal(r.status, 422, `${e.name}: ${r.text}`);
          assert.match(r.body.detail, /The preview ran longer than 1 s and was stopped/, e.name);
          // The lock is still held: only Ferry's cancel (or its end of the session) frees the server.
          const statement = await waited;
          await waitFor(
            `${e.name}: the statement to leave the server`,
            async () => !(await e.running(statement)),
          );
        } finally {
          await unlock();
          await e.close();
        }
      });

      test(`${label}: an export past FERRY_MAX_RUN_SECONDS fails saying so, and its statement is gone from the server`, async () => {
        const e = await make();
        const unlock = await e.lock();
        try {
          const id = await addConnection(api, e);
          const report = await api('POST', '/api/v1/reports', {
            name: `Locked ${e.name}`,
            connectionId: id,
            sql: 'SELECT * FROM locked',
          });
          const run = (await api('POST', '/api/v1/exports', { reportId: report.body.id, format: 'csv' }))
            .body;
          const statement = await whileWaiting(e);
          const done = await waitForRun(t, owner.apiKey, run.id, undefined, scaled(60_000));
          assert.equal(done.status, 'failed', JSON.stringify(done));
          assert.match(done.error, /took longer than the limit of 1 s/);
          await waitFor(
            `${e.name}: the statement to leave the server`,
            async () => !(await e.running(statement)),
          );
        } finally {
          await unlock();
          await e.close();
        }
      });
    }
  });

  describe(`source failures under previews and runs (${backend})`, { timeout: scaled(300_000) }, () => {
    let t: TestApp;
    let owner: TenantHandle;
    const live: Engine[] = [];
    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker'] });
      owner = await setupFirstTenant(t);
    });
    after(async () => {
      await t.close();
      for (const e of live) await e.close();
    });

    const api = (method: 'GET' | 'POST', url: string, body?: object) =>
      call(t, { method, url, key: owner.apiKey, ...(body ? { body } : {}) });
    const connect = (e: Engine) => addConnection(api, e);
    const preview = (connectionId: string, sql: string) =>
      api('POST', '/api/v1/reports/preview', { report: { connectionId, sql } });

    test('byte cap: a huge value is cut and listed in cutValues; rows after it still come', async () => {
      const e = await postgresEngine();
      live.push(e);
      const id = await connect(e);
      const r = await preview(
        id,
        "SELECT repeat('é', 5000000) AS big, 'small' AS s, g FROM generate_series(1, 3) AS g",
      );
      assert.equal(r.status, 200, r.text.slice(0, 500));
      assert.equal(r.body.rowCount, 3);
      assert.equal(r.body.truncated, false);
      // 64 KB of a two-byte character, cut on a character boundary.
      assert.equal(r.body.rows[0][0], 'é'.repeat(32_000));
      assert.deepEqual(r.body.rows[2].slice(1), ['small', 3]);
      assert.deepEqual(r.body.cutValues, [
        { row: 0, column: 0, bytes: 10_000_000 },
        { row: 1, column: 0, bytes: 10_000_000 },
        { row: 2, column: 0, bytes: 10_000_000 },
      ]);
      // Rows × value sizes: 4 MB holds 62 values cut to 64 KB; the preview stops there and says why.
      const many = await preview(id, "SELECT repeat('x', 100000) AS v FROM generate_series(1, 100)");
      assert.equal(many.status, 200, many.text.slice(0, 500));
      assert.equal(many.body.rowCount, 62);
      assert.equal(many.body.truncated, true);
      assert.equal(many.body.truncatedBy, 'bytes');
      assert.equal(many.body.cutValues.length, 62);
      // More than a preview reads from the source at all: a clear 422, not the whole value in memory.
      const huge = await preview(id, "SELECT repeat('x', 70000000) AS big");
      assert.equal(huge.status, 422, huge.text.slice(0, 500));
      assert.match(huge.body.detail, /larger than the 64 MB a preview reads/);
      const m = await mariadbEngine();
      live.push(m);
      const mid = await connect(m);
      const mr = await preview(mid, "SELECT REPEAT('é', 100000) AS big, 'small' AS s");
      assert.equal(mr.status, 200, mr.text.slice(0, 500));
      assert.equal(mr.body.rows[0][0], 'é'.repeat(32_000));
      assert.deepEqual(mr.body.cutValues, [{ row: 0, column: 0, bytes: 200_000 }]);
    });

    for (const [label, make] of engines) {
      test(`${label}: a source session ended on the server mid-preview: 422 with the reason; the next preview works`, async () => {
        const e = await make();
        live.push(e);
        const id = await connect(e);
        const unlock = await e.lock();
        try {
          const answer = preview(id, 'SELECT * FROM locked');
          await whileWaiting(e, (statement) => e.kill(statement));
          const r = await answer;
          assert.equal(r.status, 422, `${e.name}: ${r.text}`);
          assert.match(
            r.body.detail,
            /Cannot connect to the data source: .*(terminating connection|closed|killed)/i,
          );
        } finally {
          await unlock();
        }
        const next = await preview(id, 'SELECT id FROM locked');
        assert.equal(next.status, 200, next.text);
        assert.deepEqual(next.body.rows, [[1]]);
      });

      test(`${label}: a source session ended on the server mid-export: the attempt fails saying why, the run is retried and succeeds`, async () => {
        const e = await make();
        live.push(e);
        const id = await connect(e);
        const report = await api('POST', '/api/v1/reports', {
          name: `Locked ${e.name}`,
          connectionId: id,
          sql: 'SELECT * FROM locked',
        });
        assert.equal(report.status, 201, report.text);
        const unlock = await e.lock();
        let run: { id: string };
        try {
          run = (await api('POST', '/api/v1/exports', { reportId: report.body.id, format: 'csv' })).body;
          await whileWaiting(e, (statement) => e.kill(statement));
          await waitFor(`${e.name}: the first attempt to fail`, async () => {
            const r = await api('GET', `/api/v1/runs/${run.id}`);
            return r.body.attemptHistory?.[0]?.status === 'failed' && r.body;
          });
        } finally {
          await unlock();
        }
        const done = await waitForRun(t, owner.apiKey, run.id, undefined, scaled(60_000));
        assert.equal(done.status, 'succeeded', JSON.stringify(done));
        assert.deepEqual(
          done.attemptHistory.map((a: { status: string }) => a.status),
          ['failed', 'succeeded'],
        );
        assert.match(
          done.attemptHistory[0].error,
          /Cannot connect to the data source: .*(terminating connection|closed|killed)/i,
        );
      });
    }
  });

  describe(`\`ferry start\` survives connections that drop (${backend})`, {
    timeout: scaled(400_000),
  }, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let ferry: Running;
    let dataDir: string;
    /** Ferry's own database, behind a proxy too. */
    let ferryDb: TcpProxy;
    const proxied: Array<{ engine: Engine; proxy: TcpProxy; connectionId?: string }> = [];
    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
      dataDir = await mkdtemp(join(tmpdir(), 'ferry-source-failures-'));
      for (const [, make] of engines) {
        const engine = await make();
        proxied.push({ engine, proxy: await startTcpProxy(engine.target) });
      }
      const url = new URL(t.database.url);
      ferryDb = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      url.host = `${ferryDb.host}:${ferryDb.port}`;
      ferry = await startFerry(
        ['start'],
        baseEnv({
          DATABASE_URL: url.toString(),
          FERRY_SECRET: TEST_SECRET,
          FERRY_DATA_DIR: dataDir,
          // Only a client going away ends these previews early.
          FERRY_PREVIEW_SECONDS: '3600',
        }),
      );
      for (const source of proxied)
        source.connectionId = await addConnection(api, source.engine, source.proxy);
    });
    after(async () => {
      await ferry.stop('SIGKILL');
      await t.close();
      await ferryDb.close();
      for (const { engine, proxy } of proxied) {
        await proxy.close();
        await engine.close();
      }
      await rm(dataDir, { recursive: true, force: true });
    });

    const api = async (method: 'GET' | 'POST', path: string, body?: object, signal?: AbortSignal) => {
      const r = await fetch(`${ferry.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${owner.apiKey}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
      // biome-ignore lint/suspicious/noExplicitAny: a parsed JSON response read field by field
      return { status: r.status, body: (await r.json()) as any };
    };
    const alive = async () => {
      assert.equal(ferry.child.exitCode, null, ferry.output());
      assert.equal((await fetch(`${ferry.url}/readyz`)).status, 200, ferry.output());
    };
    const previewLocked = (connectionId: string, signal?: AbortSignal) =>
      api(
        'POST',
        '/api/v1/reports/preview',
        { report: { connectionId, sql: 'SELECT * FROM locked' } },
        signal,
      );

    test('source connections reset under a preview and under a running export: the request and the attempt fail, the process lives on, the run is retried', async () => {
      for (const source of proxied) {
        const { engine: e, proxy } = source;
        assert.ok(source.connectionId);
        const unlock = await e.lock();
        try {
          const answer = previewLocked(source.connectionId);
          await whileWaiting(e, () => proxy.drop());
          const r = await answer;
          assert.equal(r.status, 422, `${e.name}: ${JSON.stringify(r.body)}`);
          assert.match(r.body.detail, /Cannot connect to the data source/);
        } finally {
          await unlock();
        }
        await alive();

        const big =
          e.name === 'MariaDB'
            ? 'SELECT seq, MD5(seq) AS h FROM seq_1_to_300000'
            : 'SELECT g, md5(g::text) AS h FROM generate_series(1, 300000) AS g';
        const report = await api('POST', '/api/v1/reports', {
          name: `Big ${e.name}`,
          connectionId: source.connectionId,
          sql: big,
        });
        assert.equal(report.status, 201, JSON.stringify(report.body));
        // JSON: read row by row through the driver's cursor (PostgreSQL's CSV would come from COPY).
        const run = (await api('POST', '/api/v1/exports', { reportId: report.body.id, format: 'json' })).body;
        await waitFor(`${e.name}: the export to read from the source`, async () => {
          const r = await api('GET', `/api/v1/runs/${run.id}`);
          return r.body.status === 'running' && proxy.open > 0;
        });
        await proxy.drop();
        const done = await waitFor(
          `${e.name}: the run to finish`,
          async () => {
            const r = await api('GET', `/api/v1/runs/${run.id}`);
            return !['queued', 'running'].includes(r.body.status) && r.body;
          },
          120_000,
        );
        await alive();
        assert.equal(done.status, 'succeeded', JSON.stringify(done));
        assert.equal(done.rowCount, 300_000);
        assert.deepEqual(
          done.attemptHistory.map((a: { status: string }) => a.status),
          ['failed', 'succeeded'],
        );
        assert.match(done.attemptHistory[0].error, /Cannot connect to the data source/);
      }
    });

    test('a preview whose client goes away is stopped on the source server (long before its deadline)', async () => {
      for (const { engine: e, connectionId } of proxied) {
        assert.ok(connectionId);
        const unlock = await e.lock();
        try {
          const gone = new AbortController();
          const answer = previewLocked(connectionId, gone.signal);
          answer.catch(() => {});
          const statement = await whileWaiting(e, async () => gone.abort());
          await assert.rejects(answer);
          // Well inside the deadline (and inside the 30 s statement timeout previews had before).
          await waitFor(
            `${e.name}: the statement to leave the server`,
            async () => !(await e.running(statement)),
            15_000,
          );
        } finally {
          await unlock();
        }
      }
      await alive();
    });

    test("Ferry's own database connections reset (api, worker, scheduler, queue): the process lives on and is ready again; SIGTERM still stops it", async () => {
      for (let i = 0; i < 3; i++) {
        await waitFor("Ferry's pools to hold connections again", () => ferryDb.open > 0);
        await ferryDb.drop();
        await waitFor('ready again', async () => (await fetch(`${ferry.url}/readyz`)).status === 200);
      }
      await alive();
      const { engine: e, connectionId } = proxied[0]!;
      const r = await api('POST', '/api/v1/reports/preview', {
        report: { connectionId, sql: 'SELECT id FROM locked' },
      });
      assert.equal(r.status, 200, `${e.name}: ${JSON.stringify(r.body)}`);
      const { code } = await ferry.stop('SIGTERM');
      assert.equal(code, 0, ferry.output());
    });
  });
}
