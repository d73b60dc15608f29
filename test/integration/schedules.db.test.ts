import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { deleteOldRuns } from '../../src/modules/runs/retention.ts';
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
import { jobsForRuns, scheduleRuns, setDatabaseNow, tick } from '../helpers/schedules.ts';

for (const backend of backends()) {
  describe(`schedules (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let other: TenantHandle;
    let reportId: string;
    let otherReportId: string;
    // The host clock is wrong on purpose: scheduling must follow the database's clock only (S4).
    const wrongHostClock = new ManualClock('1999-01-01T00:00:00Z');

    before(async () => {
      t = await createTestApp(backend, { clock: wrongHostClock });
      owner = await setupFirstTenant(t);
      other = await createTenant(t, owner.apiKey, 'Other', 'other@example.com');
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = used.body.id;
      const otherUsed = await reportFromTemplate(t, other.apiKey, 'customer-list');
      otherReportId = otherUsed.body.id;
    });
    after(() => t.close());

    const create = (body: object, key = owner.apiKey) =>
      call(t, {
        method: 'POST',
        url: '/api/v1/schedules',
        key,
        body: { name: 'Daily customers', reportId, format: 'csv', ...body },
      });
    const get = async (id: string) =>
      (await call(t, { url: `/api/v1/schedules/${id}`, key: owner.apiKey })).body;
    const post = (path: string, headers: Record<string, string> = {}) =>
      call(t, { method: 'POST', url: path, key: owner.apiKey, headers });

    test('create: description, next five runs in the zone, and validation that names the field (S14)', async () => {
      await setDatabaseNow(t.ctx.db, '2026-03-27T12:00:00Z');
      const r = await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin' });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.description, 'At 02:30, Europe/Berlin');
      assert.deepEqual(r.body.upcoming, [
        '2026-03-28T01:30:00.000Z',
        '2026-03-29T01:00:00.000Z',
        '2026-03-30T00:30:00.000Z',
        '2026-03-31T00:30:00.000Z',
        '2026-04-01T00:30:00.000Z',
      ]);
      assert.equal(r.body.nextRunAt, '2026-03-28T01:30:00.000Z');
      assert.equal(r.body.lastRun, null);
      assert.equal(r.body.missedPolicy, 'latest');
      assert.equal(r.body.overlapPolicy, 'skip');

      const bad = async (body: object, path: string, pattern: RegExp) => {
        const res = await create(body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
        assert.equal(res.body.errors[0].path, path, res.text);
        assert.match(res.body.errors[0].message, pattern);
      };
      await bad({ cron: '61 * * * *' }, 'cron', /minute field "61"/);
      await bad({ cron: '0 0 31 2 *' }, 'cron', /never fires/);
      await bad({ cron: '0 0 * * * *' }, 'cron', /seconds/);
      await bad({ cron: '0 9 * * *', timezone: 'Europe/Atlantis' }, 'timezone', /IANA/);
      await bad({}, 'cron', /required/);
      await bad({ cron: '0 9 * * *', preset: { kind: 'daily', time: '09:00' } }, 'preset', /either/);
      await bad({ preset: { kind: 'daily', time: '9am' } }, 'preset.time', /HH:MM/);
      await bad({ cron: '0 9 * * *', reportId: otherReportId }, 'reportId', /no report/);
      await bad({ cron: '0 9 * * *', parameters: { nope: 1 } }, 'parameters.nope', /not a parameter/);
      await bad(
        { cron: '0 9 * * *', destinationIds: [otherReportId] },
        'destinationIds[0]',
        /no destination/,
      );
      await bad({ cron: '0 9 * * *', calendar: { country: 'XX' } }, 'calendar.country', /.+/);
      await bad({ cron: '0 9 * * *', notify: { emails: ['not-an-address'] } }, 'notify.emails.0', /.+/);
      await bad({ cron: '0 9 * * *', formatOptions: { delimiter: 'ab' } }, 'formatOptions.delimiter', /.+/);
      const preview = await post('/api/v1/cron/preview');
      assert.equal(preview.status, 400);
    });

    test('cron preview: description and next occurrences, from a given instant', async () => {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/cron/preview',
        key: owner.apiKey,
        body: {
          preset: { kind: 'weekdays', time: '09:00' },
          timezone: 'Europe/Berlin',
          from: '2026-01-02T12:00:00Z',
          count: 3,
        },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.cron, '0 9 * * 1-5');
      assert.equal(r.body.description, 'At 09:00, Monday through Friday, Europe/Berlin');
      assert.deepEqual(r.body.next, [
        '2026-01-05T08:00:00.000Z',
        '2026-01-06T08:00:00.000Z',
        '2026-01-07T08:00:00.000Z',
      ]);
      const bad = await call(t, {
        method: 'POST',
        url: '/api/v1/cron/preview',
        key: owner.apiKey,
        body: { cron: '0 0 30 2 *' },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, 'cron');
    });

    test('descriptions follow Accept-Language: German for de-DE, English without the header', async () => {
      const german = { 'accept-language': 'de-DE,de;q=0.9' };
      const body = { preset: { kind: 'weekdays', time: '09:00' }, timezone: 'Europe/Berlin' };
      const preview = (headers: Record<string, string>) =>
        call(t, { method: 'POST', url: '/api/v1/cron/preview', key: owner.apiKey, body, headers });
      const de = await preview(german);
      assert.equal(de.status, 200, de.text);
      assert.equal(de.body.description, 'Um 09:00, Montag bis Freitag, Europe/Berlin');
      assert.match(String(de.headers['vary']), /Accept-Language/);
      assert.equal((await preview({})).body.description, 'At 09:00, Monday through Friday, Europe/Berlin');
      // A preset a cron can say shows that cron; one it cannot (last business day) shows none.
      assert.equal(de.body.cron, '0 9 * * 1-5');
      const lastBusinessDay = await call(t, {
        method: 'POST',
        url: '/api/v1/cron/preview',
        key: owner.apiKey,
        body: { preset: { kind: 'monthly', day: 'last_business_day', time: '17:30' } },
      });
      assert.equal(lastBusinessDay.status, 200, lastBusinessDay.text);
      assert.equal(lastBusinessDay.body.cron, null);

      await setDatabaseNow(t.ctx.db, '2026-03-27T12:00:00Z');
      const created = await create({
        preset: { kind: 'monthly', day: 'last_business_day', time: '17:30' },
        timezone: 'Europe/Berlin',
        calendar: { country: 'DE' },
      });
      assert.equal(created.status, 201, created.text);
      const url = `/api/v1/schedules/${created.body.id}`;
      const got = await call(t, { url, key: owner.apiKey, headers: german });
      assert.equal(created.body.cron, null, 'no cron says "last business day"');
      assert.equal(got.body.cron, null);
      assert.equal(
        got.body.description,
        'Am letzten Geschäftstag des Monats um 17:30 (ohne Wochenenden und gesetzliche Feiertage in DE), Europe/Berlin',
      );
      assert.equal(
        (await call(t, { url, key: owner.apiKey })).body.description,
        'At 17:30, on the last business day of the month (DE public holidays and weekends), Europe/Berlin',
      );
    });

    test('cron preview: DST facts per occurrence (spring-forward gap named) and warnings', async () => {
      const preview = (body: object) =>
        call(t, { method: 'POST', url: '/api/v1/cron/preview', key: owner.apiKey, body });
      const r = await preview({
        cron: '30 2 * * *',
        timezone: 'Europe/Berlin',
        from: '2026-03-27T12:00:00Z',
        count: 3,
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.occurrences, [
        { at: '2026-03-28T01:30:00.000Z', offsetChange: null, requestedTime: null },
        {
          at: '2026-03-29T01:00:00.000Z',
          offsetChange: { from: '+01:00', to: '+02:00' },
          requestedTime: '02:30',
        },
        { at: '2026-03-30T00:30:00.000Z', offsetChange: null, requestedTime: null },
      ]);
      assert.deepEqual(r.body.warnings, []);

      const monthly = await preview({ preset: { kind: 'monthly', time: '09:00', day: 31 }, timezone: 'UTC' });
      assert.deepEqual(
        monthly.body.warnings.map((w: { code: string }) => w.code),
        ['short_months'],
      );
      const often = await preview({ cron: '*/5 * * * *' });
      assert.equal(often.body.warnings[0].code, 'frequent');
      assert.equal(often.body.warnings[0].minutes, 5);
    });

    test('S4: one run per occurrence by the database clock (the host clock is years off); a second tick adds nothing', async () => {
      await setDatabaseNow(t.ctx.db, '2026-05-04T08:00:00Z');
      const s = (await create({ cron: '0 9 * * *', timezone: 'Europe/Berlin', name: 'S4' })).body;
      assert.equal(s.nextRunAt, '2026-05-05T07:00:00.000Z');
      await setDatabaseNow(t.ctx.db, '2026-05-05T06:59:59Z');
      await tick(t);
      assert.equal((await scheduleRuns(t, owner.apiKey, s.id)).length, 0, 'not due one second early');
      await setDatabaseNow(t.ctx.db, '2026-05-05T07:00:00.200Z');
      await tick(t);
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.status, 'queued');
      assert.equal(runs[0]!.trigger, 'schedule');
      assert.equal(runs[0]!.scheduledFor, '2026-05-05T07:00:00.000Z');
      assert.equal(await jobsForRuns(t.ctx.db, [runs[0]!.id]), 1, 'exactly one job for the run');
      const after = await get(s.id);
      assert.equal(after.nextRunAt, '2026-05-06T07:00:00.000Z');
      assert.equal(after.lastRun.id, runs[0]!.id);
      const dup = await t.ctx.db
        .query(
          `INSERT INTO runs (id, tenant_id, report_id, schedule_id, trigger, status, format, report_snapshot, report_name, scheduled_for)
           SELECT gen_random_uuid(), tenant_id, report_id, schedule_id, trigger, 'succeeded', format, report_snapshot, report_name, scheduled_for FROM runs WHERE id = $1`,
          [runs[0]!.id],
        )
        .then(
          () => 'inserted',
          (err: Error) => err.message,
        );
      assert.match(
        dup,
        /runs_schedule_occurrence_key|duplicate key/,
        'UNIQUE (schedule_id, scheduled_for) holds',
      );
    });

    test('S3: through the scheduler, Berlin 02:30 fires once on the fall-back night; New York 02:00 fires at 03:00 EDT on the spring-forward night', async () => {
      await setDatabaseNow(t.ctx.db, '2026-10-24T12:00:00Z');
      const s = (await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin', name: 'S3 Berlin' })).body;
      // Tick through the fall-back night every 15 minutes, as a live scheduler would see it.
      for (
        let at = Date.parse('2026-10-24T23:00:00Z');
        at <= Date.parse('2026-10-25T03:00:00Z');
        at += 15 * 60_000
      ) {
        await setDatabaseNow(t.ctx.db, new Date(at));
        await tick(t);
        const active = await scheduleRuns(t, owner.apiKey, s.id);
        for (const r of active.filter((x) => x.status === 'queued'))
          await post(`/api/v1/runs/${r.id}/cancel`);
      }
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.deepEqual(
        runs.map((r) => r.scheduledFor),
        ['2026-10-25T00:30:00.000Z'],
        'once, at 02:30 CEST; not again at 02:30 CET (01:30Z)',
      );
      await setDatabaseNow(t.ctx.db, '2026-03-07T12:00:00Z');
      const ny = (await create({ cron: '0 2 * * *', timezone: 'America/New_York', name: 'S3 NY' })).body;
      assert.equal(ny.nextRunAt, '2026-03-08T07:00:00.000Z', '02:00 does not exist on 8 March: 03:00 EDT');
      await setDatabaseNow(t.ctx.db, '2026-03-08T07:00:02Z');
      await tick(t);
      const nyRuns = await scheduleRuns(t, owner.apiKey, ny.id);
      assert.deepEqual(
        nyRuns.map((r) => r.scheduledFor),
        ['2026-03-08T07:00:00.000Z'],
      );
      assert.equal((await get(ny.id)).nextRunAt, '2026-03-09T06:00:00.000Z');
    });

    test('S1: after downtime, latest runs the most recent occurrence once and records each earlier one skipped_missed', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-01T00:10:00Z');
      const s = (await create({ cron: '0 * * * *', name: 'S1 latest' })).body;
      await setDatabaseNow(t.ctx.db, '2026-06-01T05:30:00Z');
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.deepEqual(
        runs.map((r) => [r.scheduledFor?.slice(11, 16), r.status]),
        [
          ['01:00', 'skipped_missed'],
          ['02:00', 'skipped_missed'],
          ['03:00', 'skipped_missed'],
          ['04:00', 'skipped_missed'],
          ['05:00', 'queued'],
        ],
      );
      assert.match(runs[0]!.error!, /Missed while the scheduler was not running/);
      assert.equal(
        await jobsForRuns(
          t.ctx.db,
          runs.map((r) => r.id),
        ),
        1,
        'skipped runs have no job',
      );
      assert.equal((await get(s.id)).nextRunAt, '2026-06-01T06:00:00.000Z', 'the first occurrence after now');
    });

    test('S1: skip creates no run for a missed occurrence; all runs each (capped), one at a time (S2)', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-02T00:10:00Z');
      const skip = (await create({ cron: '0 * * * *', name: 'S1 skip', missedPolicy: 'skip' })).body;
      const all = (await create({ cron: '0 * * * *', name: 'S1 all', missedPolicy: 'all', missedCap: 3 }))
        .body;
      await setDatabaseNow(t.ctx.db, '2026-06-02T05:30:00Z');
      await tick(t);
      const skipped = await scheduleRuns(t, owner.apiKey, skip.id);
      assert.deepEqual(
        skipped.map((r) => r.status),
        Array(5).fill('skipped_missed'),
      );
      const allRuns = await scheduleRuns(t, owner.apiKey, all.id);
      assert.deepEqual(
        allRuns.map((r) => [r.scheduledFor?.slice(11, 16), r.status]),
        [
          ['01:00', 'skipped_missed'],
          ['02:00', 'skipped_missed'],
          ['03:00', 'queued'],
        ],
      );
      const pending = (await get(all.id)).pendingOccurrences;
      assert.deepEqual(pending, ['2026-06-02T04:00:00.000Z', '2026-06-02T05:00:00.000Z']);
      // When the active run ends, the next waiting occurrence gets its run.
      await post(`/api/v1/runs/${allRuns[2]!.id}/cancel`);
      await tick(t);
      const later = await scheduleRuns(t, owner.apiKey, all.id);
      assert.deepEqual(
        later.slice(3).map((r) => [r.scheduledFor?.slice(11, 16), r.status]),
        [['04:00', 'queued']],
      );
    });

    /** Ends each active run of the schedule (cancel) and ticks, until nothing waits: every occurrence that got a run, in order (the last one still queued). */
    async function drain(scheduleId: string): Promise<Array<[string | undefined, string]>> {
      for (let i = 0; i < 1000 && (await get(scheduleId)).pendingOccurrences.length > 0; i++) {
        const active = (await scheduleRuns(t, owner.apiKey, scheduleId)).filter((r) => r.status === 'queued');
        for (const run of active) await post(`/api/v1/runs/${run.id}/cancel`);
        await tick(t);
      }
      return (await scheduleRuns(t, owner.apiKey, scheduleId))
        .filter((r) => !r.status.startsWith('skipped_'))
        .map((r) => [r.scheduledFor?.slice(11, 16), r.status]);
    }

    test('S1: all runs the occurrence due now too, behind the missed ones (down 09:59 to 13:00:30: 10, 11, 12 and 13 run)', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-02T09:59:00Z');
      const s = (await create({ cron: '0 * * * *', name: 'S1 all newest', missedPolicy: 'all' })).body;
      await setDatabaseNow(t.ctx.db, '2026-06-02T13:00:30Z');
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.deepEqual(
        runs.map((r) => [r.scheduledFor?.slice(11, 16), r.status]),
        [['10:00', 'queued']],
      );
      assert.deepEqual((await get(s.id)).pendingOccurrences, [
        '2026-06-02T11:00:00.000Z',
        '2026-06-02T12:00:00.000Z',
        '2026-06-02T13:00:00.000Z',
      ]);
      assert.equal((await get(s.id)).nextRunAt, '2026-06-02T14:00:00.000Z');
      assert.deepEqual(await drain(s.id), [
        ['10:00', 'cancelled'],
        ['11:00', 'cancelled'],
        ['12:00', 'cancelled'],
        ['13:00', 'queued'],
      ]);
    });

    test('S1: all with missedCap 5 runs five occurrences, the one due now included', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-02T14:00:30Z');
      const s = (await create({ cron: '* * * * *', name: 'S1 all cap', missedPolicy: 'all', missedCap: 5 }))
        .body;
      await setDatabaseNow(t.ctx.db, '2026-06-02T14:20:30Z');
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.equal(runs.filter((r) => r.status === 'skipped_missed').length, 15, '14:01 to 14:15 are missed');
      assert.equal(runs.filter((r) => r.status === 'skipped_overlap').length, 0);
      assert.deepEqual(await drain(s.id), [
        ['14:16', 'cancelled'],
        ['14:17', 'cancelled'],
        ['14:18', 'cancelled'],
        ['14:19', 'cancelled'],
        ['14:20', 'queued'],
      ]);
    });

    test('S2: an occurrence due while a run is active is recorded skipped_overlap; queue_one keeps exactly one waiting', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-03T00:10:00Z');
      const s = (await create({ cron: '0 * * * *', name: 'S2 skip' })).body;
      const q = (await create({ cron: '0 * * * *', name: 'S2 queue', overlapPolicy: 'queue_one' })).body;
      for (const hour of ['01', '02', '03']) {
        await setDatabaseNow(t.ctx.db, `2026-06-03T${hour}:00:01Z`);
        await tick(t);
      }
      assert.deepEqual(
        (await scheduleRuns(t, owner.apiKey, s.id)).map((r) => r.status),
        ['queued', 'skipped_overlap', 'skipped_overlap'],
      );
      const qRuns = await scheduleRuns(t, owner.apiKey, q.id);
      assert.deepEqual(
        qRuns.map((r) => r.status),
        ['queued', 'skipped_overlap'],
      );
      assert.deepEqual((await get(q.id)).pendingOccurrences, ['2026-06-03T02:00:00.000Z']);
      const active = await t.ctx.db.query(
        `SELECT count(*)::int AS n FROM runs WHERE schedule_id = $1 AND status IN ('queued', 'running')`,
        [q.id],
      );
      assert.equal(active.rows[0]!.n, 1, 'never two active runs of one schedule');
    });

    test('S6: a paused schedule creates no runs; resume counts from now with no burst', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-04T00:10:00Z');
      const s = (await create({ cron: '0 * * * *', name: 'S6' })).body;
      const paused = await post(`/api/v1/schedules/${s.id}/pause`);
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.body.active, false);
      assert.equal(paused.body.nextRunAt, null);
      assert.equal((await post(`/api/v1/schedules/${s.id}/pause`)).status, 409);
      await setDatabaseNow(t.ctx.db, '2026-06-04T05:30:00Z');
      await tick(t);
      assert.equal((await scheduleRuns(t, owner.apiKey, s.id)).length, 0);
      const resumed = await post(`/api/v1/schedules/${s.id}/resume`);
      assert.equal(resumed.status, 200);
      assert.equal(resumed.body.nextRunAt, '2026-06-04T06:00:00.000Z');
      const again = await post(`/api/v1/schedules/${s.id}/resume`);
      assert.equal(again.status, 409);
      assert.match(again.body.detail, /already active/);
      await tick(t);
      assert.equal((await scheduleRuns(t, owner.apiKey, s.id)).length, 0, 'no burst of missed runs');
    });

    test('S7: run now creates a manual run, 409 while active, honours Idempotency-Key, never moves next_run_at', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-05T00:10:00Z');
      const s = (await create({ cron: '0 9 * * *', name: 'S7' })).body;
      const first = await post(`/api/v1/schedules/${s.id}/run`, { 'idempotency-key': 'run-now-1' });
      assert.equal(first.status, 202, first.text);
      assert.equal(first.body.trigger, 'manual');
      assert.equal(first.body.scheduleId, s.id);
      const replay = await post(`/api/v1/schedules/${s.id}/run`, { 'idempotency-key': 'run-now-1' });
      assert.equal(replay.status, 202);
      assert.equal(replay.body.id, first.body.id);
      const second = await post(`/api/v1/schedules/${s.id}/run`);
      assert.equal(second.status, 409, second.text);
      assert.match(second.body.detail, /queued or running/);
      assert.equal((await get(s.id)).nextRunAt, s.nextRunAt);
      assert.equal((await scheduleRuns(t, owner.apiKey, s.id)).length, 1);
    });

    test('edits: a new cron or zone counts from the next occurrence; the old definition never fires', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-06T08:00:00Z');
      const s = (await create({ cron: '0 9 * * *', name: 'edit' })).body;
      assert.equal(s.nextRunAt, '2026-06-06T09:00:00.000Z');
      const patched = await call(t, {
        method: 'PATCH',
        url: `/api/v1/schedules/${s.id}`,
        key: owner.apiKey,
        body: { cron: '0 9 * * *', timezone: 'America/New_York' },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.nextRunAt, '2026-06-06T13:00:00.000Z');
      await setDatabaseNow(t.ctx.db, '2026-06-06T09:00:30Z');
      await tick(t);
      assert.equal((await scheduleRuns(t, owner.apiKey, s.id)).length, 0, 'nothing at the old 09:00 UTC');
      await setDatabaseNow(t.ctx.db, '2026-06-06T13:00:01Z');
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.deepEqual(
        runs.map((r) => r.scheduledFor),
        ['2026-06-06T13:00:00.000Z'],
      );
      const renamed = await call(t, {
        method: 'PATCH',
        url: `/api/v1/schedules/${s.id}`,
        key: owner.apiKey,
        body: { name: 'renamed' },
      });
      assert.equal(
        renamed.body.nextRunAt,
        '2026-06-07T13:00:00.000Z',
        'other edits keep the next occurrence',
      );
      const bad = await call(t, {
        method: 'PATCH',
        url: `/api/v1/schedules/${s.id}`,
        key: owner.apiKey,
        body: { timezone: 'Nowhere/Land' },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, 'timezone');
    });

    test("tenants: another tenant cannot see, run, or point a schedule at this tenant's report", async () => {
      const s = (await create({ cron: '0 9 * * *', name: 'private' })).body;
      for (const [method, url] of [
        ['GET', `/api/v1/schedules/${s.id}`],
        ['POST', `/api/v1/schedules/${s.id}/run`],
        ['POST', `/api/v1/schedules/${s.id}/pause`],
        ['DELETE', `/api/v1/schedules/${s.id}`],
      ] as const) {
        const r = await call(t, { method, url, key: other.apiKey });
        assert.equal(r.status, 404, `${method} ${url}`);
      }
      const foreign = await create({ cron: '0 9 * * *', reportId }, other.apiKey);
      assert.equal(foreign.status, 400);
      assert.equal(foreign.body.errors[0].path, 'reportId');
      const list = await call(t, { url: '/api/v1/schedules', key: other.apiKey });
      assert.deepEqual(
        list.body.items.map((x: { name: string }) => x.name),
        ['Usage summary every Monday'],
        'the other tenant sees its own example only',
      );
    });

    test('a new tenant has an example: a weekly Usage summary PDF, paused until an e-mail destination is chosen', async () => {
      const fresh = await createTenant(t, owner.apiKey, 'Example tenant', 'example-owner@example.com');
      const list = await call(t, { url: '/api/v1/schedules', key: fresh.apiKey });
      assert.equal(list.body.items.length, 1);
      const example = list.body.items[0];
      assert.equal(example.name, 'Usage summary every Monday');
      assert.equal(example.format, 'pdf');
      assert.deepEqual(example.preset, { kind: 'weekly', weekday: 'monday', time: '08:00' });
      assert.equal(example.active, false);
      assert.match(example.pausedReason, /starts once you choose an e-mail destination/);
      const report = await call(t, { url: `/api/v1/reports/${example.reportId}`, key: fresh.apiKey });
      assert.equal(report.body.name, 'Usage summary');
      // It works on the demo data as it is.
      const preview = await call(t, {
        method: 'POST',
        url: `/api/v1/reports/${example.reportId}/preview`,
        key: fresh.apiKey,
        body: {},
      });
      assert.equal(preview.status, 200, preview.text);
      assert.ok(preview.body.rows.length > 0, 'the usage summary has rows');

      // A webhook is not an e-mail destination: still paused.
      const patch = (destinationIds: string[]) =>
        call(t, {
          method: 'PATCH',
          url: `/api/v1/schedules/${example.id}`,
          key: fresh.apiKey,
          body: { destinationIds },
        });
      const hook = await call(t, {
        method: 'POST',
        url: '/api/v1/destinations',
        key: fresh.apiKey,
        body: {
          name: 'Hook',
          type: 'webhook',
          settings: { url: 'https://hooks.example.com/ferry', mode: 'event' },
          secrets: { secrets: [`whsec_${Buffer.alloc(24, 1).toString('base64')}`] },
        },
      });
      assert.equal(hook.status, 201, hook.text);
      assert.equal((await patch([hook.body.id])).body.active, false);
      const mail = await call(t, {
        method: 'POST',
        url: '/api/v1/destinations',
        key: fresh.apiKey,
        body: { name: 'Me', type: 'email', settings: { to: ['example-owner@example.com'] } },
      });
      assert.equal(mail.status, 201, mail.text);
      const started = await patch([hook.body.id, mail.body.id]);
      assert.equal(started.status, 200, started.text);
      assert.equal(started.body.active, true, 'choosing an e-mail destination starts it');
      assert.equal(started.body.pausedReason, null);
      assert.equal(new Date(started.body.nextRunAt).getUTCDay(), 1, 'next Monday');
      assert.equal(new Date(started.body.nextRunAt).getUTCHours(), 8);
    });

    test('a report with schedules cannot be deleted until its schedules are (409 naming them)', async () => {
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      const s = (await create({ cron: '0 9 * * *', name: 'keeps the report', reportId: used.body.id })).body;
      const refused = await call(t, {
        method: 'DELETE',
        url: `/api/v1/reports/${used.body.id}`,
        key: owner.apiKey,
      });
      assert.equal(refused.status, 409, refused.text);
      assert.match(refused.body.detail, /"keeps the report"/);
      await call(t, { method: 'DELETE', url: `/api/v1/schedules/${s.id}`, key: owner.apiKey });
      const deleted = await call(t, {
        method: 'DELETE',
        url: `/api/v1/reports/${used.body.id}`,
        key: owner.apiKey,
      });
      assert.equal(deleted.status, 204);
    });

    test('delete: the schedule goes, its run history stays', async () => {
      await setDatabaseNow(t.ctx.db, '2026-06-08T00:10:00Z');
      const s = (await create({ cron: '0 * * * *', name: 'to delete' })).body;
      await setDatabaseNow(t.ctx.db, '2026-06-08T01:00:01Z');
      await tick(t);
      const [run] = await scheduleRuns(t, owner.apiKey, s.id);
      const del = await call(t, { method: 'DELETE', url: `/api/v1/schedules/${s.id}`, key: owner.apiKey });
      assert.equal(del.status, 204);
      assert.equal((await call(t, { url: `/api/v1/schedules/${s.id}`, key: owner.apiKey })).status, 404);
      const kept = await call(t, { url: `/api/v1/runs/${run!.id}`, key: owner.apiKey });
      assert.equal(kept.status, 200);
      assert.equal(kept.body.scheduleId, null);
    });

    test('S13: retention deletes finished runs older than the retention period, never queued work', async () => {
      await setDatabaseNow(t.ctx.db, '2026-09-01T00:10:00Z');
      const s = (await create({ cron: '0 * * * *', name: 'S13', missedPolicy: 'latest' })).body;
      await setDatabaseNow(t.ctx.db, '2026-09-01T03:00:01Z');
      await tick(t);
      const runs = await scheduleRuns(t, owner.apiKey, s.id);
      assert.deepEqual(
        runs.map((r) => r.status),
        ['skipped_missed', 'skipped_missed', 'queued'],
      );
      // 91 days later, by the database's clock.
      await setDatabaseNow(t.ctx.db, '2026-12-01T04:00:00Z');
      const deleted = await deleteOldRuns(t.ctx);
      assert.ok(deleted >= 2);
      const left = await scheduleRuns(t, owner.apiKey, s.id);
      assert.deepEqual(
        left.map((r) => r.status),
        ['queued'],
        'the queued run is never deleted',
      );
    });
  });
}
