import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { invite } from '../helpers/invitations.ts';

// What the workspace pages of the web UI read: statistics per day, status,
// report and format, and the audit log with its filters.

for (const backend of backends()) {
  describe(`statistics and audit filters (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let other: TenantHandle;
    let reportId: string;

    async function insertRun(
      tenant: TenantHandle,
      r: {
        status: string;
        createdAt: string;
        durationMs?: number;
        rows?: number;
        bytes?: number;
        format?: string;
        report?: string | null;
        name?: string;
      },
    ) {
      const created = new Date(r.createdAt);
      const finished = r.durationMs === undefined ? null : new Date(created.getTime() + r.durationMs);
      await t.ctx.db.query(
        `INSERT INTO runs (id, tenant_id, report_id, trigger, status, format, report_snapshot, report_name,
                           created_at, started_at, finished_at, row_count, file_size)
         VALUES ($1, $2, $3, 'api', $4, $5, '{}'::jsonb, $6, $7, $8, $9, $10, $11)`,
        [
          randomUUID(),
          tenant.tenantId,
          r.report === undefined ? null : r.report,
          r.status,
          r.format ?? 'csv',
          r.name ?? 'Stats report',
          created,
          finished ? created : null,
          finished,
          r.rows ?? null,
          r.bytes ?? null,
        ],
      );
    }

    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
      other = await createTenant(t, owner.apiKey, 'Other tenant', 'other@example.com');
      const report = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = report.body.id;
      // 2026-03-10 23:30 UTC is already 2026-03-11 in Berlin (CET, UTC+1).
      await insertRun(owner, {
        status: 'succeeded',
        createdAt: '2026-03-10T23:30:00Z',
        durationMs: 1000,
        rows: 10,
        bytes: 100,
        report: reportId,
      });
      await insertRun(owner, {
        status: 'succeeded',
        createdAt: '2026-03-10T10:00:00Z',
        durationMs: 3000,
        rows: 5,
        bytes: 50,
        format: 'xlsx',
        report: reportId,
      });
      await insertRun(owner, { status: 'failed', createdAt: '2026-03-12T08:00:00Z', report: reportId });
      await insertRun(owner, { status: 'skipped_overlap', createdAt: '2026-03-12T09:00:00Z', name: 'Other' });
      await insertRun(other, { status: 'failed', createdAt: '2026-03-11T08:00:00Z' });
    });
    after(() => t.close());

    const period = 'from=2026-03-10T00:00:00Z&to=2026-03-14T00:00:00Z';

    test('stats count runs per status and list every day of the period, days without runs as zeros', async () => {
      const r = await call(t, { url: `/api/v1/stats?${period}`, key: owner.apiKey });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.zone, 'UTC');
      assert.equal(r.body.total.runs, 4, 'the other tenant is not counted');
      assert.deepEqual(r.body.total.statuses, {
        queued: 0,
        running: 0,
        succeeded: 2,
        failed: 1,
        cancelled: 0,
        skipped_missed: 0,
        skipped_overlap: 1,
        skipped_condition: 0,
      });
      assert.equal(r.body.total.failureRate, 0.25);
      assert.equal(r.body.total.rows, 15);
      assert.equal(r.body.total.bytes, 150);
      assert.deepEqual(
        r.body.byDay.map((d: { key: string; runs: number }) => [d.key, d.runs]),
        [
          ['2026-03-10', 2],
          ['2026-03-11', 0],
          ['2026-03-12', 2],
          ['2026-03-13', 0],
        ],
      );
      const empty = r.body.byDay[1];
      assert.equal(empty.durationP50Ms, null);
      assert.equal(empty.statuses.failed, 0);
      const csv = r.body.byFormat.find((f: { key: string }) => f.key === 'csv');
      assert.equal(csv.runs, 3);
      const xlsx = r.body.byFormat.find((f: { key: string }) => f.key === 'xlsx');
      assert.equal(xlsx.durationP50Ms, 3000);
    });

    test('stats per report carry the report id; a run without a report has none', async () => {
      const r = await call(t, { url: `/api/v1/stats?${period}`, key: owner.apiKey });
      const stats = r.body.byReport.find((x: { key: string }) => x.key === 'Stats report');
      assert.equal(stats.reportId, reportId);
      assert.equal(stats.runs, 3);
      assert.equal(stats.failed, 1);
      assert.equal(stats.durationP50Ms, 2000);
      assert.ok(stats.durationP95Ms >= stats.durationP50Ms);
      const orphan = r.body.byReport.find((x: { key: string }) => x.key === 'Other');
      assert.equal(orphan.reportId, null);
      assert.equal(orphan.statuses.skipped_overlap, 1);
    });

    test('stats count days in the asked zone; an unknown zone is a 400 naming the field', async () => {
      const r = await call(t, {
        url: `/api/v1/stats?${period}&zone=Europe/Berlin`,
        key: owner.apiKey,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.zone, 'Europe/Berlin');
      const days = Object.fromEntries(
        r.body.byDay.map((d: { key: string; runs: number }) => [d.key, d.runs]),
      );
      // 2026-03-10T00:00Z is 01:00 in Berlin; 2026-03-14T00:00Z (exclusive) ends on the 14th at 01:00.
      assert.deepEqual(days, {
        '2026-03-10': 1,
        '2026-03-11': 1,
        '2026-03-12': 2,
        '2026-03-13': 0,
        '2026-03-14': 0,
      });
      for (const zone of ['Mars/Olympus', '+01:00']) {
        const bad = await call(t, {
          url: `/api/v1/stats?${period}&zone=${encodeURIComponent(zone)}`,
          key: owner.apiKey,
        });
        assert.equal(bad.status, 400, zone);
        assert.match(bad.body.errors[0].path, /zone$/);
      }
    });

    test('a period longer than a year lists only the days with runs', async () => {
      const r = await call(t, {
        url: '/api/v1/stats?from=2024-01-01T00:00:00Z&to=2026-04-01T00:00:00Z',
        key: owner.apiKey,
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        r.body.byDay.map((d: { key: string }) => d.key),
        ['2026-03-10', '2026-03-12'],
      );
    });

    test('a viewer may read stats but not the audit log', async () => {
      const viewer = await createKey(t, owner.apiKey, 'viewer');
      assert.equal((await call(t, { url: '/api/v1/stats', key: viewer })).status, 200);
      assert.equal((await call(t, { url: '/api/v1/audit', key: viewer })).status, 403);
      assert.equal((await call(t, { url: '/api/v1/audit/facets', key: viewer })).status, 403);
    });

    test('the audit log filters by actor type; facets list actions, target types and actors of the tenant', async () => {
      const admin = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'Audit admin key', role: 'admin' },
      });
      assert.equal(admin.status, 201, admin.text);
      assert.equal((await invite(t, admin.body.apiKey, 'audited@example.com', 'viewer')).status, 202);

      const byKey = await call(t, { url: '/api/v1/audit?actorType=api_key&limit=500', key: owner.apiKey });
      assert.equal(byKey.status, 200, byKey.text);
      assert.ok(byKey.body.items.length > 0);
      assert.ok(byKey.body.items.every((e: { actor: { type: string } }) => e.actor.type === 'api_key'));
      const system = await call(t, { url: '/api/v1/audit?actorType=system', key: owner.apiKey });
      assert.ok(system.body.items.some((e: { action: string }) => e.action === 'tenant.created'));
      assert.ok(system.body.items.every((e: { actor: { type: string } }) => e.actor.type === 'system'));
      const bad = await call(t, { url: '/api/v1/audit?actorType=robot', key: owner.apiKey });
      assert.equal(bad.status, 400);

      const facets = await call(t, { url: '/api/v1/audit/facets', key: owner.apiKey });
      assert.equal(facets.status, 200, facets.text);
      assert.ok(facets.body.actions.includes('member.invited'));
      assert.ok(facets.body.actions.includes('api_key.created'));
      assert.deepEqual([...facets.body.actions].sort(), facets.body.actions);
      assert.ok(facets.body.targetTypes.includes('invitation'));
      const actor = facets.body.actors[0];
      assert.deepEqual(actor, { type: 'api_key', id: admin.body.id, label: 'Audit admin key' });
      const filtered = await call(t, {
        url: `/api/v1/audit?actorId=${actor.id}&targetType=invitation`,
        key: owner.apiKey,
      });
      assert.deepEqual(
        filtered.body.items.map((e: { action: string }) => e.action),
        ['member.invited'],
      );

      // The other tenant's log names none of this tenant's actions or actors.
      const theirs = await call(t, { url: '/api/v1/audit/facets', key: other.apiKey });
      assert.equal(theirs.status, 200);
      assert.ok(!theirs.body.actions.includes('member.invited'));
      assert.ok(!theirs.body.actors.some((a: { id: string | null }) => a.id === admin.body.id));
    });
  });
}
