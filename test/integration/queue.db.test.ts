import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/lib/ids.ts';
import {
  createTestApp,
  loginCookie,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { waitFor } from '../helpers/time.ts';

for (const backend of backends()) {
  describe(`background jobs on pg-boss (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker', 'scheduler'] });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('the scheduler registers the maintenance jobs on a cron schedule', async () => {
      const schedules = await t.ctx.queue.boss.getSchedules();
      const byName = Object.fromEntries(schedules.map((s) => [s.name, s.cron]));
      assert.equal(byName['sessions.cleanup'], '*/15 * * * *');
      assert.equal(byName['idempotency.cleanup'], '7 * * * *');
    });

    test('a worker runs sessions.cleanup: expired and revoked sessions go, live ones stay', async () => {
      await loginCookie(t, owner.email, owner.password);
      const insert = (expires: string, revoked: string | null) =>
        t.ctx.db.query(
          `INSERT INTO sessions (id, token_hash, user_id, tenant_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [newId(), newId(), owner.userId, owner.tenantId, expires, revoked],
        );
      await insert('2000-01-01T00:00:00Z', null);
      await insert('2999-01-01T00:00:00Z', '2001-01-01T00:00:00Z');
      const count = async () =>
        (await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions')).rows[0]!.n;
      assert.equal(await count(), 3);
      const jobId = await t.ctx.queue.send('sessions.cleanup', {});
      assert.ok(jobId);
      await waitFor('the cleanup job', async () => (await count()) === 1);
      await waitFor(
        'job completion',
        async () => (await t.ctx.queue.boss.getJobById('sessions.cleanup', jobId!))?.state === 'completed',
      );
    });

    test('a job sent inside a transaction exists only if the transaction commits', async () => {
      const rolledBack = newId();
      await assert.rejects(
        t.ctx.db.transaction(async (tx) => {
          await t.ctx.queue.send('idempotency.cleanup', {}, { id: rolledBack }, tx);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal(await t.ctx.queue.boss.getJobById('idempotency.cleanup', rolledBack), null);
      const committed = newId();
      await t.ctx.db.transaction(async (tx) => {
        await t.ctx.queue.send('idempotency.cleanup', {}, { id: committed }, tx);
      });
      assert.ok(await t.ctx.queue.boss.getJobById('idempotency.cleanup', committed));
    });
  });
}
