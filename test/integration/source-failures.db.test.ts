import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, createTestApp, setupFirstTenant, type TenantHandle, type TestApp } from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import {
  addConnection,
  type Engine,
  engines,
  mariadbEngine,
  postgresEngine,
  whileWaiting,
} from '../helpers/lockable-sources.ts';
import { waitForRun } from '../helpers/runs.ts';
import { scaled, waitFor } from '../helpers/time.ts';

// Issue 13, items 1–3 through the API: a source whose session is terminated
// fails the preview or the run (retried as its policy says); a preview has a
// deadline of its own and a byte cap; a stopped statement is stopped on the
// source server. Connections that drop under a running `ferry start`:
// source-failures.process.test.ts.

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
          const done = await waitForRun(t, owner.apiKey, run.id);
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
        const done = await waitForRun(t, owner.apiKey, run.id);
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
}
