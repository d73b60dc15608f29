import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createQueue, type Queue } from '../../src/jobs/queue.ts';
import { newId } from '../../src/lib/ids.ts';
import { createLogger } from '../../src/lib/log.ts';
import {
  createTestApp,
  loginCookie,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/db.ts';
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

  // Idle slots do not each poll: one per queue looks for due jobs once per interval,
  // and new jobs wake them (NOTIFY, or a send from the same process).
  describe(`a queue's worker slots (${backend})`, () => {
    let database: TestDatabase;
    let queue: Queue;
    before(async () => {
      database = await createTestDatabase(backend);
      queue = createQueue({
        roles: new Set(['worker']),
        log: createLogger('warn'),
        databaseUrl: database.url,
      });
      await queue.start();
    });
    after(async () => {
      await queue.stop();
      await database.release();
    });

    test('a job whose start time comes later is taken by an idle slot while another slot is busy', async () => {
      let release = () => {};
      const blocked = new Promise<void>((resolve) => {
        release = resolve;
      });
      const handled: string[] = [];
      await queue.work<{ name: string }>(
        'schedule.failure_notice',
        async (job) => {
          handled.push(job.data.name);
          if (job.data.name === 'long') await blocked;
        },
        { concurrency: 2, pollingIntervalSeconds: 1 },
      );
      try {
        await queue.send('schedule.failure_notice', { name: 'long' });
        await waitFor('the long job to start', () => handled.includes('long'));
        await queue.send(
          'schedule.failure_notice',
          { name: 'later' },
          { startAfter: new Date(Date.now() + 1500) },
        );
        await waitFor(
          'the later job, with the first slot still busy',
          () => handled.includes('later'),
          30_000,
        );
        assert.deepEqual(handled, ['long', 'later']);
      } finally {
        release();
      }
    });

    test('a job sent by this process is taken at once, not at the next look (every 60 s here)', async () => {
      const handled: number[] = [];
      await queue.work<{ n: number }>(
        'artifacts.cleanup',
        async (job) => {
          handled.push(job.data.n);
        },
        { pollingIntervalSeconds: 60 },
      );
      for (const n of [1, 2, 3]) {
        await queue.send('artifacts.cleanup', { n });
        await waitFor(`job ${n}`, () => handled.includes(n), 20_000);
      }
    });
  });
}
