import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestApp, setupFirstTenant, type TenantHandle, type TestApp } from '../helpers/app.ts';
import { backends, TEST_SECRET } from '../helpers/db.ts';
import { addConnection, type Engine, engines, whileWaiting } from '../helpers/lockable-sources.ts';
import { baseEnv, type Running, startFerry } from '../helpers/process.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { scaled, waitFor } from '../helpers/time.ts';

// Issue 13, items 1–3 with a real `ferry start`: a source connection that drops
// fails the preview or the run (retried as its policy says), never the process;
// a preview whose client goes away is stopped on the source server; Ferry's own
// database connections dropping leave it running (the API-level failures:
// source-failures.db.test.ts).

for (const backend of backends()) {
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
