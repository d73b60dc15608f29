import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createTenant,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { CREATE_PACED_FUNCTION, pacedSql } from '../helpers/paced.ts';
import { type SmtpPeer, startSmtp } from '../helpers/peers/smtp.ts';
import { waitForRun } from '../helpers/runs.ts';
import { scheduleRuns, setDatabaseNow, tick } from '../helpers/schedules.ts';

// Scheduled runs executed by a real worker: conditions, failure e-mails to a
// real SMTP server, automatic pause, and fairness between tenants.

for (const backend of backends()) {
  describe(`scheduled runs with a worker (${backend})`, () => {
    let t: TestApp;
    let smtp: SmtpPeer;
    let owner: TenantHandle;
    let connectionId: string;

    before(async () => {
      smtp = await startSmtp();
      t = await createTestApp(backend, {
        roles: ['api', 'worker'],
        env: { ...smtp.env, FERRY_TENANT_CONCURRENCY: '1', FERRY_WORKER_CONCURRENCY: '2' },
      });
      owner = await setupFirstTenant(t);
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      connectionId = used.body.connectionId;
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    const report = async (sql: string, key = owner.apiKey, parameters: object[] = []) => {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key,
        body: { name: `r ${sql.slice(0, 40)}`, connectionId, sql, parameters },
      });
      assert.equal(r.status, 201, r.text);
      return r.body.id as string;
    };
    const schedule = async (body: object) => {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/schedules',
        key: owner.apiKey,
        body: { name: 'scheduled', format: 'csv', cron: '0 * * * *', ...body },
      });
      assert.equal(r.status, 201, r.text);
      return r.body;
    };
    /** Fires the occurrence at `iso` and waits for its run to finish. */
    const fire = async (scheduleId: string, iso: string) => {
      await setDatabaseNow(t.ctx.db, iso);
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, scheduleId);
      const run = runs.at(-1)!;
      return waitForRun(t, owner.apiKey, run.id);
    };

    test('condition has_rows: an empty result ends skipped_condition and leaves no file', async () => {
      await setDatabaseNow(t.ctx.db, '2026-07-01T00:10:00Z');
      const s = await schedule({
        reportId: await report('SELECT id FROM customers WHERE id < 0'),
        condition: 'has_rows',
      });
      const run = await fire(s.id, '2026-07-01T01:00:01Z');
      assert.equal(run.status, 'skipped_condition', run.error);
      assert.match(run.error, /no rows/);
      assert.equal(run.rowCount, 0);
      assert.equal(run.fileName, null);
      const file = await call(t, { url: `/api/v1/runs/${run.id}/download`, key: owner.apiKey });
      assert.equal(file.status, 409);
    });

    test('condition changed: the same rows as the last delivered run are not delivered again; new rows are', async () => {
      await setDatabaseNow(t.ctx.db, '2026-07-02T00:10:00Z');
      const s = await schedule({
        reportId: await report(
          'SELECT {{day}}::date AS day, count(*) AS customers FROM customers',
          owner.apiKey,
          [{ name: 'day', type: 'date', default: 'today' }],
        ),
        format: 'xlsx',
        condition: 'changed',
        cron: '0 */6 * * *',
      });
      const first = await fire(s.id, '2026-07-02T06:00:01Z');
      assert.equal(first.status, 'succeeded', first.error);
      const same = await fire(s.id, '2026-07-02T12:00:01Z');
      assert.equal(same.status, 'skipped_condition', same.error);
      assert.match(same.error, /same as in the last delivered run/);
      const nextDay = await fire(s.id, '2026-07-03T00:00:01Z');
      assert.equal(nextDay.status, 'succeeded', 'a new day is a new result');
    });

    test("relative-date parameters are evaluated at the occurrence, in the schedule's zone", async () => {
      await setDatabaseNow(t.ctx.db, '2026-07-10T00:10:00Z');
      const s = await schedule({
        reportId: await report('SELECT {{day}}::date AS day, {{month}}::date AS month_start', owner.apiKey, [
          { name: 'day', type: 'date', default: 'today' },
          { name: 'month', type: 'date', default: 'start_of_last_month' },
        ]),
        cron: '0 1 1 * *',
        timezone: 'Pacific/Auckland',
      });
      // 1 August 01:00 in Auckland is 31 July 13:00 UTC: the schedule's "today" is already August.
      assert.equal(s.nextRunAt, '2026-07-31T13:00:00.000Z');
      const run = await fire(s.id, '2026-07-31T13:00:01Z');
      assert.equal(run.status, 'succeeded', run.error);
      const file = await call(t, { url: `/api/v1/runs/${run.id}/download`, key: owner.apiKey });
      assert.match(file.text, /2026-08-01,2026-07-01/);
    });

    test('failures: the owner and extra addresses are e-mailed; after N failures in a row the schedule pauses and says so', async () => {
      await setDatabaseNow(t.ctx.db, '2026-07-04T00:10:00Z');
      const s = await schedule({
        name: 'Nightly broken',
        reportId: await report('SELECT * FROM no_such_table'),
        notify: { emails: ['finance@example.com'], pauseAfterFailures: 2 },
      });
      const first = await fire(s.id, '2026-07-04T01:00:01Z');
      assert.equal(first.status, 'failed');
      const [mail] = await smtp.waitFor(1);
      assert.deepEqual([...mail!.to].sort(), ['finance@example.com', 'owner@example.com']);
      assert.equal(mail!.subject, 'Failed: scheduled export "Nightly broken"');
      assert.match(mail!.text ?? '', /no_such_table/);
      assert.match(mail!.text ?? '', /2026-07-04 01:00 UTC/);
      assert.equal(
        (await call(t, { url: `/api/v1/schedules/${s.id}`, key: owner.apiKey })).body.consecutiveFailures,
        1,
      );

      const second = await fire(s.id, '2026-07-04T02:00:01Z');
      assert.equal(second.status, 'failed');
      const mails = await smtp.waitFor(2);
      assert.equal(mails[1]!.subject, 'Paused: scheduled export "Nightly broken"');
      assert.match(mails[1]!.text ?? '', /PAUSED/);
      const paused = (await call(t, { url: `/api/v1/schedules/${s.id}`, key: owner.apiKey })).body;
      assert.equal(paused.active, false);
      assert.match(paused.pausedReason, /after 2 failed runs in a row/);
      await setDatabaseNow(t.ctx.db, '2026-07-04T03:00:01Z');
      await tick(t);
      assert.equal(
        (await scheduleRuns(t, owner.apiKey, s.id)).length,
        2,
        'a paused schedule creates no runs',
      );
      const resumed = await call(t, {
        method: 'POST',
        url: `/api/v1/schedules/${s.id}/resume`,
        key: owner.apiKey,
      });
      assert.equal(resumed.body.consecutiveFailures, 0);
    });

    test("S11: one tenant's backlog does not hold back another tenant's run", async () => {
      // Runs that last until they are cancelled: the other tenant's run cannot be
      // let through by the busy tenant's backlog simply finishing.
      await t.ctx.db.exec(CREATE_PACED_FUNCTION);
      const slow = await report(pacedSql(1));
      const backlog: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await call(t, {
          method: 'POST',
          url: '/api/v1/exports',
          key: owner.apiKey,
          body: { reportId: slow, format: 'csv' },
        });
        backlog.push(r.body.id);
      }
      const other = await createTenant(t, owner.apiKey, 'Fair', 'fair@example.com');
      const otherReport = await reportFromTemplate(t, other.apiKey, 'customer-list');
      const single = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: other.apiKey,
        body: { reportId: otherReport.body.id, format: 'csv' },
      });
      const done = await waitForRun(t, other.apiKey, single.body.id);
      assert.equal(done.status, 'succeeded', done.error);
      const backlogRuns = await Promise.all(
        backlog.map(async (id) => (await call(t, { url: `/api/v1/runs/${id}`, key: owner.apiKey })).body),
      );
      // The whole backlog was still there: one run at the busy tenant's cap of 1, the rest waiting.
      assert.deepEqual(backlogRuns.map((r) => r.status).sort(), [
        'queued',
        'queued',
        'queued',
        'queued',
        'queued',
        'running',
      ]);
      // Nothing of the backlog is left running for the next test.
      for (const id of backlog) {
        const cancel = await call(t, { method: 'POST', url: `/api/v1/runs/${id}/cancel`, key: owner.apiKey });
        assert.equal(cancel.status, 200, cancel.text);
      }
      for (const id of backlog) assert.equal((await waitForRun(t, owner.apiKey, id)).status, 'cancelled');
    });
  });
}
