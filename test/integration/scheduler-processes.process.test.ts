import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { TEST_SECRET } from '../helpers/db.ts';
import { baseEnv, MAIN, type Running, startFerry } from '../helpers/process.ts';
import { waitFor } from '../helpers/time.ts';

// S4 across real processes on one PostgreSQL: several `ferry scheduler`
// processes fire 1,000 schedules due in the same minute exactly once, and a
// scheduler killed mid-transaction leaves one run or none per occurrence.

describe('scheduler processes on PostgreSQL', () => {
  let t: TestApp;
  let owner: TenantHandle;
  let template: string;

  before(async () => {
    t = await createTestApp();
    owner = await setupFirstTenant(t);
    const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
    const s = await call(t, {
      method: 'POST',
      url: '/api/v1/schedules',
      key: owner.apiKey,
      body: { name: 'template', reportId: used.body.id, format: 'csv', cron: '* * * * *' },
    });
    assert.equal(s.status, 201, s.text);
    template = s.body.id;
    // Not part of the batches below.
    await t.ctx.db.query('UPDATE schedules SET active = false WHERE id = $1', [template]);
  });
  after(() => t.close());

  const env = () => baseEnv({ DATABASE_URL: t.database.url, FERRY_SECRET: TEST_SECRET, LOG_LEVEL: 'error' });

  /** n copies of the template schedule (yearly), each with one occurrence due a second ago by the database clock. */
  async function dueSchedules(n: number, label: string): Promise<void> {
    await t.ctx.db.query(
      `INSERT INTO schedules (id, tenant_id, report_id, name, format, cron, time_zone, next_run_at, owner_id)
       SELECT gen_random_uuid(), s.tenant_id, s.report_id, $2 || g, s.format, '0 0 1 1 *', 'UTC',
              date_trunc('second', ferry_now()) - interval '1 second', s.owner_id
         FROM schedules s, generate_series(1, $3) AS g WHERE s.id = $1`,
      [template, label, n],
    );
  }

  async function counts(label: string) {
    const r = await t.ctx.db.query<{
      schedules: number;
      fired: number;
      runs: number;
      jobs: number;
      max_per_occurrence: number;
    }>(
      `SELECT (SELECT count(*)::int FROM schedules WHERE name LIKE $1) AS schedules,
              (SELECT count(*)::int FROM schedules WHERE name LIKE $1 AND next_run_at > ferry_now()) AS fired,
              (SELECT count(*)::int FROM runs r JOIN schedules s ON s.id = r.schedule_id WHERE s.name LIKE $1) AS runs,
              (SELECT count(*)::int FROM pgboss.job j JOIN runs r ON j.data->>'runId' = r.id::text
                 JOIN schedules s ON s.id = r.schedule_id WHERE j.name = 'run.execute' AND s.name LIKE $1) AS jobs,
              (SELECT coalesce(max(c), 0)::int FROM (SELECT count(*) AS c FROM runs r JOIN schedules s ON s.id = r.schedule_id
                 WHERE s.name LIKE $1 GROUP BY r.schedule_id, r.scheduled_for) x) AS max_per_occurrence`,
      [`${label}%`],
    );
    return r.rows[0]!;
  }

  async function waitUntil(label: string, done: (c: Awaited<ReturnType<typeof counts>>) => boolean) {
    let last: Awaited<ReturnType<typeof counts>> | undefined;
    return waitFor(
      () => `the ${label} schedules (last counts: ${JSON.stringify(last)})`,
      async () => {
        last = await counts(label);
        return done(last) && last;
      },
      60_000,
      200,
    );
  }

  test('S4: three scheduler processes, 1,000 schedules due in the same minute → exactly 1,000 runs and 1,000 jobs', async () => {
    await dueSchedules(1000, 'three-');
    const schedulers: Running[] = await Promise.all([1, 2, 3].map(() => startFerry(['scheduler'], env())));
    try {
      await waitUntil('three-', (x) => x.fired === 1000);
    } finally {
      // SIGTERM lets each finish the transaction it is in: whatever any of them was
      // about to fire (twice, wrongly) is committed before the count.
      for (const s of schedulers) assert.equal((await s.stop()).code, 0, s.output());
    }
    assert.deepEqual(await counts('three-'), {
      schedules: 1000,
      fired: 1000,
      runs: 1000,
      jobs: 1000,
      max_per_occurrence: 1,
    });
  });

  test('S4: a scheduler killed (SIGKILL) between claim and commit leaves one run or none, never two; a new one finishes the work', async () => {
    await dueSchedules(5000, 'killed-');
    // Kill schedulers at different moments after their first batch of 500 committed:
    // the kill lands inside a later batch transaction.
    for (const delay of [0, 25, 50, 100]) {
      const child = spawn(process.execPath, [MAIN, 'scheduler'], { env: env(), stdio: 'ignore' });
      const before = await counts('killed-');
      await waitFor(
        `the scheduler to commit its first batch (kill at +${delay} ms)`,
        async () => (await counts('killed-')).runs > before.runs,
        60_000,
        10,
      );
      // The moment of the kill is what this loop varies.
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await once(child, 'exit');
      const c = await counts('killed-');
      // Atomic: every run has its job, every fired schedule has its run, nothing twice.
      assert.equal(c.runs, c.jobs, `after a kill at ${delay} ms: ${JSON.stringify(c)}`);
      assert.equal(c.runs, c.fired, `after a kill at ${delay} ms: ${JSON.stringify(c)}`);
      assert.ok(c.max_per_occurrence <= 1);
      assert.ok(
        c.runs > before.runs && c.runs < 5000,
        `the kill at +${delay} ms came mid-work: ${c.runs} runs`,
      );
    }
    const survivor = await startFerry(['scheduler'], env());
    try {
      const c = await waitUntil('killed-', (x) => x.fired === 5000);
      assert.equal(c.runs, 5000);
      assert.equal(c.jobs, 5000);
      assert.equal(c.max_per_occurrence, 1);
    } finally {
      assert.equal((await survivor.stop()).code, 0, survivor.output());
    }
  });
});
