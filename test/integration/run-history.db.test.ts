import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enqueueRunAttempt } from '../../src/modules/runs/jobs.ts';
import { RunSchema } from '../../src/modules/runs/schema.ts';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  loginCookie,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { waitForRun } from '../helpers/runs.ts';

// The run history as the web UI reads it: every filter of GET /api/v1/runs, and
// a run that names its schedule, who started it, where it failed and its file.

for (const backend of backends()) {
  describe(`run history (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let other: TenantHandle;
    let cookie: string;
    let reportId: string;
    let brokenId: string;
    let scheduleId: string;
    const ids: Record<'manual' | 'api' | 'schedule' | 'failed', string> = {
      manual: '',
      api: '',
      schedule: '',
      failed: '',
    };

    const list = async (query: string, key = owner.apiKey) => {
      const r = await call(t, { url: `/api/v1/runs?${query}`, key });
      assert.equal(r.status, 200, r.text);
      return r.body.items.map((x: { id: string }) => x.id) as string[];
    };

    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker'] });
      owner = await setupFirstTenant(t);
      other = await createTenant(t, owner.apiKey, 'Other', 'other@example.com');
      cookie = await loginCookie(t, owner.email, owner.password);
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = used.body.id;
      // Parses (so it saves), but names a column the table lacks: the database says where.
      const broken = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: {
          name: 'Broken',
          connectionId: used.body.connectionId,
          sql: 'SELECT id,\n  no_such_column\n  FROM customers',
        },
      });
      assert.equal(broken.status, 201, broken.text);
      brokenId = broken.body.id;
      const schedule = await call(t, {
        method: 'POST',
        url: '/api/v1/schedules',
        key: owner.apiKey,
        body: {
          name: 'Morning customers',
          reportId,
          format: 'csv',
          cron: '0 9 * * *',
          timezone: 'Europe/Vienna',
        },
      });
      assert.equal(schedule.status, 201, schedule.text);
      scheduleId = schedule.body.id;

      const byCookie = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        cookie,
        headers: { 'x-requested-with': 'ferry' },
        body: { reportId, format: 'csv' },
      });
      assert.equal(byCookie.status, 202, byCookie.text);
      ids.manual = byCookie.body.id;
      const byKey = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId, format: 'json' },
      });
      ids.api = byKey.body.id;
      const now = await call(t, {
        method: 'POST',
        url: `/api/v1/schedules/${scheduleId}/run`,
        key: owner.apiKey,
      });
      assert.equal(now.status, 202, now.text);
      ids.schedule = now.body.id;
      const failing = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId: brokenId, format: 'csv' },
      });
      ids.failed = failing.body.id;
      for (const id of Object.values(ids)) await waitForRun(t, owner.apiKey, id);
    });
    after(() => t.close());

    test('a run started in the app is manual, by its user; with an API key it is api', async () => {
      const manual = (await call(t, { url: `/api/v1/runs/${ids.manual}`, key: owner.apiKey })).body;
      assert.equal(manual.trigger, 'manual');
      assert.deepEqual(manual.createdBy, { id: owner.userId, name: owner.email });
      const api = (await call(t, { url: `/api/v1/runs/${ids.api}`, key: owner.apiKey })).body;
      assert.equal(api.trigger, 'api');
    });

    test('a run of a schedule names it and its zone, in the list and on its own', async () => {
      const one = (await call(t, { url: `/api/v1/runs/${ids.schedule}`, key: owner.apiKey })).body;
      assert.equal(one.scheduleId, scheduleId);
      assert.equal(one.scheduleName, 'Morning customers');
      assert.equal(one.scheduleTimeZone, 'Europe/Vienna');
      const page = await call(t, { url: `/api/v1/runs?scheduleId=${scheduleId}`, key: owner.apiKey });
      assert.equal(page.body.items[0].scheduleName, 'Morning customers');
      assert.equal(page.body.items[0].scheduleTimeZone, 'Europe/Vienna');
      const manual = (await call(t, { url: `/api/v1/runs?limit=50`, key: owner.apiKey })).body.items.find(
        (x: { id: string }) => x.id === ids.manual,
      );
      assert.equal(manual.scheduleName, null);
      assert.equal(manual.createdBy.name, owner.email);
    });

    test('filters: report, schedule, trigger, status, failed only, and the time range; they combine', async () => {
      assert.deepEqual(new Set(await list(`reportId=${brokenId}`)), new Set([ids.failed]));
      assert.deepEqual(await list(`scheduleId=${scheduleId}`), [ids.schedule]);
      assert.deepEqual(await list(`trigger=api&reportId=${reportId}`), [ids.api]);
      assert.deepEqual(new Set(await list('trigger=manual')), new Set([ids.manual, ids.schedule]));
      assert.deepEqual(await list('status=failed'), [ids.failed]);
      assert.deepEqual(await list('failedOnly=true'), [ids.failed]);
      assert.deepEqual(await list(`failedOnly=true&reportId=${reportId}`), []);
      assert.equal((await list('failedOnly=false')).length, 4);
      const first = (await call(t, { url: `/api/v1/runs/${ids.manual}`, key: owner.apiKey })).body;
      const last = (await call(t, { url: `/api/v1/runs/${ids.failed}`, key: owner.apiKey })).body;
      assert.deepEqual(await list(`to=${encodeURIComponent(first.createdAt)}`), []);
      assert.equal((await list(`from=${encodeURIComponent(first.createdAt)}`)).length, 4);
      assert.deepEqual(await list(`from=${encodeURIComponent(last.createdAt)}`), [ids.failed]);
      // Another tenant sees none of them, whatever it filters by.
      assert.deepEqual(await list(`reportId=${reportId}`, other.apiKey), []);
      assert.deepEqual(await list('trigger=manual', other.apiKey), []);
    });

    test('filters are checked: an unknown trigger or status, or a bad date, is a 400 naming it', async () => {
      for (const [query, path] of [
        ['trigger=robot', 'trigger'],
        ['status=done', 'status'],
        ['from=yesterday', 'from'],
        ['failedOnly=maybe', 'failedOnly'],
      ] as const) {
        const r = await call(t, { url: `/api/v1/runs?${query}`, key: owner.apiKey });
        assert.equal(r.status, 400, `${query}: ${r.text}`);
        assert.match(JSON.stringify(r.body.errors), new RegExp(path));
      }
    });

    test('cursor pagination keeps the filters: two pages of one, then none', async () => {
      const a = await call(t, { url: '/api/v1/runs?trigger=manual&limit=1', key: owner.apiKey });
      assert.equal(a.body.items.length, 1);
      assert.ok(a.body.nextCursor);
      const b = await call(t, {
        url: `/api/v1/runs?trigger=manual&limit=1&cursor=${encodeURIComponent(a.body.nextCursor)}`,
        key: owner.apiKey,
      });
      assert.equal(b.body.items.length, 1);
      assert.notEqual(b.body.items[0].id, a.body.items[0].id);
      assert.equal(b.body.nextCursor, null);
    });

    test('a query error says it happened in the query stage and where in the SQL (line, column)', async () => {
      const run = (await call(t, { url: `/api/v1/runs/${ids.failed}`, key: owner.apiKey })).body;
      assert.equal(run.status, 'failed');
      assert.equal(run.errorCode, 'query');
      assert.equal(run.errorStage, 'query');
      assert.match(run.error, /no_such_column.*\(line 2, column 3\)$/s);
      assert.deepEqual(run.errorLocation, { line: 2, column: 3 });
      assert.equal(run.retrying, false);
      assert.equal(run.nextAttemptAt, null);
      assert.equal(run.attempts, 1);
      assert.equal(run.attemptHistory.length, 1);
      assert.equal(run.attemptHistory[0].status, 'failed');
      assert.equal(run.attemptHistory[0].error, run.error);
      assert.equal(run.file, null);
      assert.equal(run.hasFile, false);
    });

    test('a run waiting for its next attempt says so, when that attempt starts, and which failure it retries', async () => {
      const id = ids.failed;
      const at = new Date(Date.now() + 3_600_000);
      await t.ctx.db.transaction(async (tx) => {
        await tx.query(
          `UPDATE runs SET status = 'queued', finished_at = NULL, error = 'The connection was reset', error_code = 'network', max_attempts = 3 WHERE id = $1`,
          [id],
        );
        await enqueueRunAttempt(t.ctx, tx, { id, tenantId: owner.tenantId }, 2, at);
      });
      const run = (await call(t, { url: `/api/v1/runs/${id}`, key: owner.apiKey })).body;
      assert.equal(run.retrying, true);
      // The run has no error of its own while it may still succeed; the failed attempt's is apart.
      assert.equal(run.error, null);
      assert.equal(run.errorCode, null);
      assert.equal(run.errorStage, null);
      assert.deepEqual(run.lastFailure, {
        attempt: 1,
        error: 'The connection was reset',
        errorCode: 'network',
        errorStage: 'query',
        errorLocation: null,
      });
      assert.equal(new Date(run.nextAttemptAt).getTime(), at.getTime());
      assert.deepEqual(await list('failedOnly=true'), [id]);
      const cancelled = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${id}/cancel`,
        key: owner.apiKey,
      });
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(cancelled.body.status, 'cancelled');
    });

    test('the file: available until it expires, then said to be expired', async () => {
      const run = (await call(t, { url: `/api/v1/runs/${ids.manual}`, key: owner.apiKey })).body;
      assert.equal(run.status, 'succeeded');
      assert.equal(run.file.state, 'available');
      assert.ok(new Date(run.file.expiresAt).getTime() > Date.now());
      assert.equal(run.hasFile, true);
      assert.match(run.checksum, /^sha256:[0-9a-f]{64}$/);
      assert.ok(run.rowCount > 0 && run.fileSize > 0 && run.fileName.endsWith('.csv'));
      await t.ctx.db.query(
        "UPDATE artifacts SET expires_at = now() - interval '1 second' WHERE run_id = $1",
        [run.id],
      );
      const expired = (await call(t, { url: `/api/v1/runs/${ids.manual}`, key: owner.apiKey })).body;
      assert.equal(expired.file.state, 'expired');
      assert.equal(expired.hasFile, false);
    });

    test('the run document carries exactly the fields its schema describes, for a viewer too', async () => {
      const viewer = await createKey(t, owner.apiKey, 'viewer');
      const described = Object.keys(RunSchema.properties).sort();
      const required = [...(RunSchema.required ?? [])].sort();
      for (const id of Object.values(ids)) {
        const run = (await call(t, { url: `/api/v1/runs/${id}`, key: viewer })).body;
        const keys = Object.keys(run).sort();
        assert.deepEqual(keys, described, `run ${id}`);
      }
      const listed = (await call(t, { url: '/api/v1/runs', key: viewer })).body.items[0];
      assert.deepEqual(Object.keys(listed).sort(), required);
    });
  });
}
