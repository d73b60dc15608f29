import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
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
import { answerWith, type HttpReceiver, startHttpReceiver } from '../helpers/peers/http.ts';
import { type SmtpPeer, startSmtp } from '../helpers/peers/smtp.ts';
import { waitForRun } from '../helpers/runs.ts';
import { waitFor } from '../helpers/time.ts';

// Delivery end to end: a run's file made once and handed to each destination on
// its own (a real SMTP server, a webhook receiver that checks signatures with an
// independent Standard Webhooks implementation), per-destination attempts and
// retry without a new file, recipient governance, SSRF refusals, write-only secrets.

for (const backend of backends()) {
  describe(`deliveries (${backend})`, () => {
    let t: TestApp;
    let smtp: SmtpPeer;
    let receiver: HttpReceiver;
    let owner: TenantHandle;
    let reportId: string;
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

    before(async () => {
      smtp = await startSmtp();
      receiver = await startHttpReceiver();
      t = await createTestApp(backend, {
        roles: ['api', 'worker'],
        // Loopback is allowed only here, for the local peers.
        env: { ...smtp.env, FERRY_DELIVERY_ALLOW_PRIVATE: '127.0.0.1' },
      });
      owner = await setupFirstTenant(t);
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = used.body.id;
    });
    after(async () => {
      await t.close();
      await smtp.close();
      await receiver.close();
    });

    const destination = async (body: object, key = owner.apiKey) =>
      call(t, { method: 'POST', url: '/api/v1/destinations', key, body });
    const exportTo = async (destinationIds: string[], format = 'csv') => {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId, format, destinationIds },
      });
      assert.equal(r.status, 202, r.text);
      return r.body.id as string;
    };
    const runWithDeliveries = async (id: string) => {
      let last: { status?: string; deliveries?: unknown } = {};
      return waitFor(`the deliveries of run ${id} (last seen: ${JSON.stringify(last)})`, async () => {
        const run = (await call(t, { url: `/api/v1/runs/${id}`, key: owner.apiKey })).body;
        last = { status: run.status, deliveries: run.deliveries };
        return run.deliveries.length > 0 && run.deliverySummary.pending === 0 ? run : undefined;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
      });
    };
    const fileOf = async (id: string) =>
      (
        await t.app.inject({
          url: `/api/v1/runs/${id}/download`,
          headers: { authorization: `Bearer ${owner.apiKey}` },
        })
      ).rawPayload;

    test('a file goes to e-mail and a signed webhook, each recorded with the peer’s answer', async () => {
      const mail = await destination({
        name: 'Finance mail',
        type: 'email',
        settings: { to: ['finance@example.com'], attach: 'file' },
      });
      assert.equal(mail.status, 201, mail.text);
      const hook = await destination({
        name: 'Warehouse hook',
        type: 'webhook',
        settings: { url: receiver.url, mode: 'file' },
        secrets: { secrets: [secret] },
      });
      assert.equal(hook.status, 201, hook.text);
      assert.deepEqual(hook.body.secretsSet, ['secrets']);
      assert.ok(!hook.text.includes(secret), 'the signing secret is never shown');

      const id = await exportTo([mail.body.id, hook.body.id]);
      const run = await runWithDeliveries(id);
      assert.equal(run.status, 'succeeded');
      assert.deepEqual(
        run.deliveries.map((d: { destinationName: string; status: string }) => [d.destinationName, d.status]),
        [
          ['Finance mail', 'succeeded'],
          ['Warehouse hook', 'succeeded'],
        ],
      );
      assert.deepEqual(run.deliverySummary, { total: 2, succeeded: 2, failed: 0, pending: 0 });
      const file = await fileOf(id);

      const [message] = await smtp.waitFor(1);
      assert.deepEqual(message!.to, ['finance@example.com']);
      assert.equal(message!.attachments.length, 1);
      assert.ok(
        message!.attachments[0]!.content.equals(file),
        'the attachment is the run’s file, byte for byte',
      );
      const mailDelivery = run.deliveries.find(
        (d: { destinationType: string }) => d.destinationType === 'email',
      );
      assert.ok(mailDelivery.receipt.summary.length > 0);

      assert.equal(receiver.received.length, 1);
      const got = receiver.received[0]!;
      assert.ok(got.body.equals(file), 'the webhook body is the file');
      // An independent implementation of the Standard Webhooks signature accepts it.
      new Webhook(secret).verify(
        got.body.toString('utf8'),
        {
          'webhook-id': String(got.headers['webhook-id']),
          'webhook-timestamp': String(got.headers['webhook-timestamp']),
          'webhook-signature': String(got.headers['webhook-signature']),
        },
        { jsonParse: false },
      );
      assert.equal(
        createHash('sha256').update(file).digest('hex'),
        run.checksum.replace('sha256:', ''),
        'the file is the one the run made',
      );

      const audit = await call(t, {
        url: `/api/v1/audit?action=delivery.succeeded&targetType=run&targetId=${id}`,
        key: owner.apiKey,
      });
      assert.equal(audit.status, 200, audit.text);
      const entries = audit.body.items;
      assert.equal(entries.length, 2, 'every delivery is audited');
      assert.ok(entries.every((e: { details: { checksum: string } }) => e.details.checksum === run.checksum));
    });

    test('a 4xx fails the delivery alone (the run stays succeeded); a manual retry sends the same file again', async () => {
      const hook = await destination({
        name: 'Flaky hook',
        type: 'webhook',
        settings: { url: receiver.url, mode: 'event' },
        secrets: { secrets: [secret] },
      });
      assert.equal(hook.status, 201, hook.text);
      const before = receiver.received.length;
      // 404 is permanent: the delivery fails at once, and the run stays succeeded.
      receiver.answers.push(answerWith(404));
      const id = await exportTo([hook.body.id]);
      const run = await runWithDeliveries(id);
      assert.equal(run.status, 'succeeded', 'a failed delivery never changes the run');
      const [failed] = run.deliveries;
      assert.equal(failed.status, 'failed');
      assert.equal(failed.attempts, 1, 'a 4xx is not retried');
      assert.match(failed.error, /404/);

      const retried = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${id}/deliveries/${failed.id}/retry`,
        key: owner.apiKey,
      });
      assert.equal(retried.status, 202, retried.text);
      const again = await waitFor('the retried delivery', async () => {
        const r = (await call(t, { url: `/api/v1/runs/${id}`, key: owner.apiKey })).body;
        return r.deliveries[0].status === 'succeeded' ? r : undefined;
      });
      assert.equal(again.deliveries[0].attempts, 2);
      assert.equal(again.checksum, run.checksum, 'the same file');
      const events = receiver.received.slice(before).map((r) => JSON.parse(r.body.toString('utf8')));
      assert.equal(events.length, 2);
      assert.equal(events[1].type, 'run.succeeded');
      assert.equal(events[1].data.runId, id);
      assert.match(events[1].data.link.url, /\/d\//, 'the event carries a signed download link');
      assert.equal(`sha256:${events[1].data.file.sha256}`, run.checksum);
      // The same delivery keeps its id across attempts (receivers deduplicate by it).
      const ids = receiver.received.slice(before).map((r) => r.headers['webhook-id']);
      assert.equal(ids[0], ids[1]);

      const repeat = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${id}/deliveries/${failed.id}/retry`,
        key: owner.apiKey,
      });
      assert.equal(repeat.status, 409, 'only a failed delivery can be retried');
    });

    test('a 5xx is retried on its own after a backoff, with the same webhook-id', async () => {
      const hook = await destination({
        name: 'Busy hook',
        type: 'webhook',
        settings: { url: receiver.url, mode: 'event' },
        secrets: { secrets: [secret] },
      });
      assert.equal(hook.status, 201, hook.text);
      const before = receiver.received.length;
      receiver.answers.push(answerWith(503));
      const id = await exportTo([hook.body.id]);
      const run = await runWithDeliveries(id);
      const [delivery] = run.deliveries;
      assert.equal(delivery.status, 'succeeded', JSON.stringify(delivery));
      assert.equal(delivery.attempts, 2, 'one failed attempt, then one that succeeded');
      const got = receiver.received.slice(before);
      assert.equal(got.length, 2);
      assert.equal(got[0]!.headers['webhook-id'], got[1]!.headers['webhook-id']);
      assert.ok(
        Number(got[1]!.headers['webhook-timestamp']) >= Number(got[0]!.headers['webhook-timestamp']) + 1,
        'the retry waited at least a second',
      );
    });

    test('SSRF: private, loopback and metadata addresses are refused when saved', async () => {
      for (const url of [
        'http://10.0.0.1/hook',
        'http://169.254.169.254/latest/meta-data/',
        'http://[::1]:8080/hook',
        // Loopback is allowed for 127.0.0.1 alone in this file; its neighbours are not.
        'http://127.0.0.2:9/hook',
        'http://[::ffff:10.0.0.1]/hook',
      ]) {
        const r = await destination({
          name: `Bad ${url}`,
          type: 'webhook',
          settings: { url, mode: 'event' },
          secrets: { secrets: [secret] },
        });
        assert.equal(r.status, 400, `${url}: ${r.text}`);
        assert.match(
          r.body.detail,
          /private|loopback|link-local|metadata|IPv4-mapped|not allowed|refused|reserved/i,
          url,
        );
      }
    });

    test('recipient governance: domains and hosts outside the tenant’s lists are refused', async () => {
      const set = await call(t, {
        method: 'PUT',
        url: '/api/v1/delivery-policy',
        key: owner.apiKey,
        body: { allowedEmailDomains: ['example.com'], allowedWebhookHosts: ['hooks.example.com'] },
      });
      assert.equal(set.status, 200, set.text);
      try {
        const outside = await destination({
          name: 'Outside mail',
          type: 'email',
          settings: { to: ['someone@elsewhere.org'], attach: 'link' },
        });
        assert.equal(outside.status, 400, outside.text);
        assert.match(outside.body.detail, /someone@elsewhere\.org is outside/);
        const inside = await destination({
          name: 'Sub-domain mail',
          type: 'email',
          settings: { to: ['a@eu.example.com'], attach: 'link' },
        });
        assert.equal(inside.status, 201, inside.text);
        const hook = await destination({
          name: 'Outside hook',
          type: 'webhook',
          settings: { url: receiver.url, mode: 'event' },
          secrets: { secrets: [secret] },
        });
        assert.equal(hook.status, 400, hook.text);
        assert.match(hook.body.detail, /127\.0\.0\.1 is outside/);
      } finally {
        await call(t, {
          method: 'PUT',
          url: '/api/v1/delivery-policy',
          key: owner.apiKey,
          body: { allowedEmailDomains: [], allowedWebhookHosts: [] },
        });
      }
    });

    test('destinations: another tenant’s are not found, a used one cannot be deleted, a changed URL needs its secret again', async () => {
      const hook = await destination({
        name: 'Kept hook',
        type: 'webhook',
        settings: { url: receiver.url, mode: 'event' },
        secrets: { secrets: [secret] },
      });
      assert.equal(hook.status, 201, hook.text);
      const moved = await call(t, {
        method: 'PATCH',
        url: `/api/v1/destinations/${hook.body.id}`,
        key: owner.apiKey,
        body: { settings: { url: receiver.url.replace('/hooks/ferry', '/other'), mode: 'event' } },
      });
      // The same host: the stored secret may stay.
      assert.equal(moved.status, 200, moved.text);

      const other = await createTenant(t, owner.apiKey, 'Other', 'other@example.com');
      assert.equal(
        (await call(t, { url: `/api/v1/destinations/${hook.body.id}`, key: other.apiKey })).status,
        404,
      );
      const theirs = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: other.apiKey,
        body: { reportId, format: 'csv', destinationIds: [hook.body.id] },
      });
      assert.equal(theirs.status, 400, 'another tenant’s destination cannot be named');

      const schedule = await call(t, {
        method: 'POST',
        url: '/api/v1/schedules',
        key: owner.apiKey,
        body: {
          name: 'Weekly to hook',
          reportId,
          format: 'csv',
          preset: { kind: 'weekly', weekday: 'monday', time: '08:00' },
          destinationIds: [hook.body.id],
        },
      });
      assert.equal(schedule.status, 201, schedule.text);
      assert.deepEqual(schedule.body.destinationIds, [hook.body.id]);
      const used = await call(t, { url: `/api/v1/destinations/${hook.body.id}`, key: owner.apiKey });
      assert.deepEqual(used.body.usedBy, [{ id: schedule.body.id, name: 'Weekly to hook' }]);
      const refused = await call(t, {
        method: 'DELETE',
        url: `/api/v1/destinations/${hook.body.id}`,
        key: owner.apiKey,
      });
      assert.equal(refused.status, 409, refused.text);
      assert.match(refused.body.detail, /Weekly to hook/);
    });

    test('send test: a real test message, its outcome kept on the destination', async () => {
      const hook = await destination({
        name: 'Tested hook',
        type: 'webhook',
        settings: { url: receiver.url, mode: 'event' },
        secrets: { secrets: [secret] },
      });
      const before = receiver.received.length;
      const ok = await call(t, {
        method: 'POST',
        url: `/api/v1/destinations/${hook.body.id}/test`,
        key: owner.apiKey,
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.ok, true, ok.text);
      assert.equal(receiver.received.length, before + 1);
      receiver.answers.push(answerWith(500));
      const bad = await call(t, {
        method: 'POST',
        url: `/api/v1/destinations/${hook.body.id}/test`,
        key: owner.apiKey,
      });
      assert.equal(bad.body.ok, false);
      assert.match(bad.body.message, /500/);
      const shown = await call(t, { url: `/api/v1/destinations/${hook.body.id}`, key: owner.apiKey });
      assert.equal(shown.body.lastTest.ok, false);
    });

    test('an e-mail destination with its own SMTP server: sent there with its login, never through the instance’s', async () => {
      const own = await startSmtp({ password: 'tenant-smtp-pw' });
      try {
        const server = {
          smtpHost: '127.0.0.1',
          smtpPort: own.port,
          smtpSecurity: 'none',
          smtpUser: 'reports',
          smtpFrom: 'Acme Reports <reports@acme.example.com>',
        };
        const noFrom = await destination({
          name: 'Own server without From',
          type: 'email',
          settings: { to: ['cfo@example.com'], smtpHost: '127.0.0.1' },
        });
        assert.equal(noFrom.status, 400, noFrom.text);
        assert.equal(noFrom.body.errors[0].path, 'settings.smtpFrom');
        const internal = await destination({
          name: 'Own server inside',
          type: 'email',
          settings: { to: ['cfo@example.com'], ...server, smtpHost: '10.0.0.1' },
          secrets: { smtpPassword: 'x' },
        });
        assert.equal(internal.status, 400, internal.text);
        assert.match(internal.body.detail, /settings\.smtpHost: .*private/i);

        const mail = await destination({
          name: 'Via own server',
          type: 'email',
          settings: { to: ['cfo@example.com'], ...server },
          secrets: { smtpPassword: 'tenant-smtp-pw' },
        });
        assert.equal(mail.status, 201, mail.text);
        assert.deepEqual(mail.body.secretsSet, ['smtpPassword']);
        assert.ok(!mail.text.includes('tenant-smtp-pw'), 'the password is never shown');
        const instanceBefore = smtp.messages.length;
        const id = await exportTo([mail.body.id]);
        const run = await runWithDeliveries(id);
        assert.equal(run.deliveries[0].status, 'succeeded', JSON.stringify(run.deliveries));
        const [message] = await own.waitFor(1);
        assert.deepEqual(message!.to, ['cfo@example.com']);
        assert.equal(message!.from, 'reports@acme.example.com');
        assert.ok(message!.attachments[0]!.content.equals(await fileOf(id)));
        assert.equal(smtp.messages.length, instanceBefore, 'nothing went through the instance’s server');

        // Another server is another place: the stored password does not follow it.
        const moved = await call(t, {
          method: 'PATCH',
          url: `/api/v1/destinations/${mail.body.id}`,
          key: owner.apiKey,
          body: { settings: { to: ['cfo@example.com'], ...server, smtpPort: own.port + 1 } },
        });
        assert.equal(moved.status, 400, moved.text);
        assert.match(moved.body.detail, /secret/i);

        const wrong = await destination({
          name: 'Own server, wrong password',
          type: 'email',
          settings: { to: ['cfo@example.com'], ...server },
          secrets: { smtpPassword: 'not-it' },
        });
        const failedId = await exportTo([wrong.body.id]);
        const failed = (await runWithDeliveries(failedId)).deliveries[0];
        assert.equal(failed.status, 'failed');
        assert.equal(failed.attempts, 1, 'a refused login is not retried');
        assert.match(failed.error, /authentication|535|password|credentials/i);
      } finally {
        await own.close();
      }
    });

    test('a viewer may read destinations but not create them', async () => {
      const viewer = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'viewer', role: 'viewer' },
      });
      assert.equal(viewer.status, 201, viewer.text);
      assert.equal((await call(t, { url: '/api/v1/destinations', key: viewer.body.apiKey })).status, 200);
      const r = await destination(
        { name: 'Nope', type: 'email', settings: { to: ['a@example.com'], attach: 'link' } },
        viewer.body.apiKey,
      );
      assert.equal(r.status, 403);
    });

    test('a run that waits for no delivery still shows an empty list', async () => {
      const id = await exportTo([]);
      const run = await waitForRun(t, owner.apiKey, id);
      assert.deepEqual(run.deliveries, []);
      assert.deepEqual(run.deliverySummary, { total: 0, succeeded: 0, failed: 0, pending: 0 });
    });
  });
}
