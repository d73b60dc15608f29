import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
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
import { type SmtpPeer, startSmtp } from '../helpers/peers/smtp.ts';
import { setDatabaseNow, tick } from '../helpers/schedules.ts';
import { waitFor } from '../helpers/time.ts';

// Bursting (issue 17, part 12): a schedule's recipients query makes one run per
// recipient with that recipient's parameter values, grouped under the lead run
// that read the query; each recipient's file is e-mailed to that address alone
// (a real SMTP server receives it, and an independent CSV parser reads it).

interface RunBody {
  id: string;
  status: string;
  parameters: Record<string, unknown>;
  fileName: string | null;
  error: string | null;
  warnings: Array<{ code: string; message: string; count: number }>;
  burst: {
    role: string;
    leadRunId: string | null;
    recipient: string | null;
    recipients: number | null;
  } | null;
  deliveries: Array<{ status: string; error: string | null; attempts: number }>;
  deliverySummary: { pending: number };
}

for (const backend of backends()) {
  describe(`bursting (${backend})`, () => {
    let t: TestApp;
    let smtp: SmtpPeer;
    let owner: TenantHandle;
    let reportId: string;
    let mailId: string;

    before(async () => {
      smtp = await startSmtp();
      t = await createTestApp(backend, { roles: ['api', 'worker'], env: smtp.env });
      owner = await setupFirstTenant(t);
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = used.body.id;
      const mail = await call(t, {
        method: 'POST',
        url: '/api/v1/destinations',
        key: owner.apiKey,
        body: {
          name: 'Regional mail',
          type: 'email',
          settings: {
            to: ['ops@example.com'],
            cc: ['boss@example.com'],
            attach: 'file',
            subject: 'Customers for {{recipient}}',
          },
        },
      });
      assert.equal(mail.status, 201, mail.text);
      mailId = mail.body.id;
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    const schedule = (body: object) =>
      call(t, {
        method: 'POST',
        url: '/api/v1/schedules',
        key: owner.apiKey,
        body: { name: 'Burst', reportId, format: 'csv', cron: '0 6 * * 1', active: false, ...body },
      });
    const runNow = async (scheduleId: string): Promise<string> => {
      const r = await call(t, {
        method: 'POST',
        url: `/api/v1/schedules/${scheduleId}/run`,
        key: owner.apiKey,
      });
      assert.equal(r.status, 202, r.text);
      return r.body.id;
    };
    const ended = (id: string) =>
      waitFor(`run ${id} to end`, async () => {
        const run = (await call(t, { url: `/api/v1/runs/${id}`, key: owner.apiKey })).body as RunBody;
        return run.status !== 'queued' && run.status !== 'running' ? run : undefined;
      });
    const burstRuns = async (leadId: string): Promise<RunBody[]> =>
      (await call(t, { url: `/api/v1/runs?burstId=${leadId}`, key: owner.apiKey })).body.items;

    test('each recipient gets the report with its own values, e-mailed to that address alone', async () => {
      const policy = await call(t, {
        method: 'PUT',
        url: '/api/v1/delivery-policy',
        key: owner.apiKey,
        body: { allowedEmailDomains: ['example.com'], allowedWebhookHosts: [] },
      });
      assert.equal(policy.status, 200, policy.text);
      const s = await schedule({
        destinationIds: [mailId],
        recipientsSql: `SELECT * FROM (VALUES ('de@example.com', 'DE'), ('fr@example.com', 'FR'),
          ('not an address', 'DE'), ('us@outside.test', 'US'), ('de@example.com', 'DE')) AS r(email, country)`,
      });
      assert.equal(s.status, 201, s.text);
      assert.match(s.body.recipientsSql, /^SELECT/);

      const leadId = await runNow(s.body.id);
      const lead = await ended(leadId);
      assert.equal(lead.status, 'succeeded', JSON.stringify(lead));
      assert.deepEqual(lead.burst, { role: 'lead', leadRunId: null, recipient: null, recipients: 3 });
      assert.equal(lead.fileName, null, 'the lead makes runs, not a file');
      assert.deepEqual(
        lead.warnings.map((w) => [w.code, w.count]),
        [['recipient_address', 1]],
      );
      assert.match(lead.warnings[0]!.message, /rows 3/);

      const runs = await waitFor('the recipients’ runs and their deliveries', async () => {
        const all = await burstRuns(leadId);
        const done = all.every(
          (r) => r.status === 'succeeded' && r.deliveries.length === 1 && r.deliverySummary.pending === 0,
        );
        return all.length === 3 && done ? all : undefined;
      });
      const byRecipient = new Map(runs.map((r) => [r.burst!.recipient!, r]));
      assert.deepEqual([...byRecipient.keys()].sort(), [
        'de@example.com',
        'fr@example.com',
        'us@outside.test',
      ]);
      for (const [email, run] of byRecipient) {
        assert.equal(run.burst!.role, 'recipient');
        assert.equal(run.burst!.leadRunId, leadId);
        assert.equal(run.parameters['country'], email.slice(0, 2).toUpperCase());
      }
      assert.equal(new Set(runs.map((r) => r.fileName)).size, 3, 'each recipient has a file name of its own');

      // Governance applies to each recipient: one outside the allowed domains fails alone.
      const outside = byRecipient.get('us@outside.test')!.deliveries[0]!;
      assert.equal(outside.status, 'failed');
      assert.equal(outside.attempts, 1, 'a refused recipient is not retried');
      assert.match(outside.error ?? '', /us@outside\.test is outside the e-mail domains/);

      const messages = await smtp.waitFor(2);
      assert.equal(messages.length, 2);
      for (const message of messages) {
        assert.equal(message.to.length, 1, 'to the recipient alone: no cc or bcc from the destination');
        const [to] = message.to;
        assert.ok(to === 'de@example.com' || to === 'fr@example.com', to);
        assert.equal(message.subject, `Customers for ${to}`);
        const rows = parse(message.attachments[0]!.content, { columns: true, bom: true }) as Array<
          Record<string, string>
        >;
        assert.ok(rows.length > 0, `${to} gets rows`);
        const country = to!.slice(0, 2).toUpperCase();
        assert.ok(
          rows.every((row) => row['country'] === country),
          `${to} gets ${country} customers only`,
        );
      }
    });

    test('the recipients query is read-only, takes no parameters, and is checked when saved', async () => {
      const write = await schedule({ recipientsSql: "DELETE FROM customers WHERE country = 'DE'" });
      assert.equal(write.status, 400, write.text);
      assert.equal(write.body.errors[0].path, 'recipientsSql');
      const param = await schedule({ recipientsSql: 'SELECT email, {{country}} AS country FROM customers' });
      assert.equal(param.status, 400, param.text);
      assert.match(param.body.detail, /recipientsSql: takes no parameters/);
      const cleared = await schedule({ recipientsSql: '   ' });
      assert.equal(cleared.status, 201, cleared.text);
      assert.equal(cleared.body.recipientsSql, null, 'an empty query is no burst');
    });

    test('a recipients query without an email column, or with a column the report has no parameter for, fails the burst with the reason', async () => {
      const noEmail = await schedule({ name: 'No email', recipientsSql: "SELECT 'DE' AS country" });
      assert.equal(noEmail.status, 201, noEmail.text);
      const a = await ended(await runNow(noEmail.body.id));
      assert.equal(a.status, 'failed');
      assert.match(a.error ?? '', /no "email" column \(it returned: country\)/);

      const unknown = await schedule({
        name: 'Unknown column',
        recipientsSql: "SELECT 'a@example.com' AS email, 'north' AS region",
      });
      const b = await ended(await runNow(unknown.body.id));
      assert.equal(b.status, 'failed');
      assert.match(
        b.error ?? '',
        /"region", which the report has no parameter for \(its parameters: country\)/,
      );
      assert.deepEqual(await burstRuns(b.id), [], 'no recipient runs');
    });

    test('a scheduled occurrence bursts too: its recipients’ runs share the occurrence, which still fires once', async () => {
      await setDatabaseNow(t.ctx.db, '2026-11-29T12:00:00Z');
      const s = await schedule({
        name: 'Weekly burst',
        active: true,
        timezone: 'Europe/Berlin',
        recipientsSql:
          "SELECT * FROM (VALUES ('de@example.com', 'DE'), ('at@example.com', 'AT')) AS r(email, country)",
      });
      assert.equal(s.status, 201, s.text);
      assert.equal(s.body.nextRunAt, '2026-11-30T05:00:00.000Z');
      await setDatabaseNow(t.ctx.db, '2026-11-30T05:00:01Z');
      await tick(t);
      await tick(t);
      const listed = await call(t, { url: `/api/v1/runs?scheduleId=${s.body.id}`, key: owner.apiKey });
      // The lead may already have run and made its recipients' runs (they carry the
      // schedule too): the occurrence fired once when there is one run that is not a recipient's.
      const fired = (listed.body.items as RunBody[]).filter((r) => r.burst?.role !== 'recipient');
      assert.equal(fired.length, 1, 'one run for the occurrence');
      const [lead] = fired;
      assert.equal(lead!.burst?.role, 'lead');
      const done = await ended(lead!.id);
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.equal(done.burst!.recipients, 2);
      const runs = await waitFor('the recipients’ runs to end', async () => {
        const all = await burstRuns(lead!.id);
        return all.length === 2 && all.every((r) => r.status === 'succeeded') ? all : undefined;
      });
      for (const run of runs) {
        assert.equal((run as RunBody & { trigger: string }).trigger, 'schedule');
        assert.equal((run as RunBody & { scheduledFor: string }).scheduledFor, '2026-11-30T05:00:00.000Z');
      }
      const after = await call(t, { url: `/api/v1/schedules/${s.body.id}`, key: owner.apiKey });
      assert.equal(
        after.body.lastRun.id,
        lead!.id,
        'the schedule’s last run is the burst, not one recipient’s',
      );
      assert.equal(after.body.nextRunAt, '2026-12-07T05:00:00.000Z');
      await tick(t);
      const again = await call(t, { url: `/api/v1/runs?scheduleId=${s.body.id}`, key: owner.apiKey });
      assert.equal(
        again.body.items.length,
        3,
        'the lead and its two recipients’ runs; no second occurrence run',
      );
    });

    test('another tenant cannot see a burst’s runs', async () => {
      const other = await createTenant(t, owner.apiKey, 'Other tenant', 'other-burst@example.com');
      const s = await schedule({ name: 'Private burst', recipientsSql: "SELECT 'a@example.com' AS email" });
      const leadId = await runNow(s.body.id);
      await ended(leadId);
      const seen = await call(t, { url: `/api/v1/runs?burstId=${leadId}`, key: other.apiKey });
      assert.equal(seen.status, 200, seen.text);
      assert.deepEqual(seen.body.items, []);
    });
  });
}
