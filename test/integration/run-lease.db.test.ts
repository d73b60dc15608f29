import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/lib/ids.ts';
import { recoverLostRuns } from '../../src/modules/runs/lifecycle.ts';
import {
  claimRun,
  completeRun,
  heartbeatRun,
  insertAttempt,
  listAttempts,
} from '../../src/modules/runs/repo.ts';
import { call, createTestApp, setupFirstTenant, type TenantHandle, type TestApp } from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { jobsForRuns } from '../helpers/schedules.ts';

// S9 without waiting: an attempt whose heartbeat stopped is declared lost by the
// database's clock and retried; anything the lost attempt says afterwards is refused.

for (const backend of backends()) {
  describe(`run leases (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let reportId: string;
    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
      reportId = (
        await call(t, {
          method: 'POST',
          url: '/api/v1/templates/customer-list/use',
          key: owner.apiKey,
          body: {},
        })
      ).body.id;
    });
    after(() => t.close());

    test('S9: a silent attempt is declared lost and the run retried; its late heartbeat and completion are rejected', async () => {
      const run = (
        await call(t, {
          method: 'POST',
          url: '/api/v1/exports',
          key: owner.apiKey,
          body: { reportId, format: 'csv' },
        })
      ).body;
      const stale = newId();
      const now = new Date();
      await t.ctx.db.transaction(async (tx) => {
        assert.ok(await claimRun(tx, run.id, 1, stale, now));
        await insertAttempt(tx, { id: stale, runId: run.id, number: 1, worker: 'test:1', now });
      });
      // Silent for longer than the lease, by the database's clock.
      await t.ctx.db.query(`UPDATE runs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [
        run.id,
      ]);
      assert.equal(await recoverLostRuns(t.ctx), 1);
      const retried = (await call(t, { url: `/api/v1/runs/${run.id}`, key: owner.apiKey })).body;
      assert.equal(retried.status, 'queued');
      assert.equal(retried.error, null, 'no error of its own while it may still succeed');
      assert.match(retried.lastFailure.error, /stopped responding/);
      assert.equal(retried.lastFailure.errorCode, 'lost');
      assert.equal(await jobsForRuns(t.ctx.db, [run.id]), 2, 'a job for attempt 2 beside the first');
      const attempts = await listAttempts(t.ctx.db, run.id);
      assert.deepEqual(
        attempts.map((a) => [a.number, a.status]),
        [[1, 'lost']],
      );
      assert.equal(
        await heartbeatRun(t.ctx.db, run.id, stale, 10, 100),
        null,
        'the lost attempt learns it lost the run',
      );
      const accepted = await completeRun(t.ctx.db, run.id, stale, {
        rows: 1,
        bytes: 1,
        fileName: 'x.csv',
        contentType: 'text/csv',
        checksum: 'x',
        now: new Date(),
      });
      assert.equal(accepted, false, 'a stale completion is rejected');
      const after = (await call(t, { url: `/api/v1/runs/${run.id}`, key: owner.apiKey })).body;
      assert.equal(after.status, 'queued');
      assert.equal(after.fileName, null);
    });
  });
}
