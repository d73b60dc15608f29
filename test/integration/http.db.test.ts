import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createTestApp,
  OWNER_PASSWORD,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';

for (const backend of backends()) {
  describe(`HTTP behaviour (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    before(async () => {
      t = await createTestApp(backend, {
        env: { FERRY_RATE_LIMIT_ANONYMOUS: '5', FERRY_RATE_LIMIT_AUTHENTICATED: '1000' },
      });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('over a real socket: health, readiness, request ids, security headers, metrics', async () => {
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const health = await fetch(`${address}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const ready = await fetch(`${address}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { status: string }).status, 'ready');

      const me = await fetch(`${address}/api/v1/me`, {
        headers: { authorization: `Bearer ${owner.apiKey}`, 'x-request-id': 'trace-123' },
      });
      assert.equal(me.status, 200);
      assert.equal(me.headers.get('x-request-id'), 'trace-123');
      assert.equal(me.headers.get('x-content-type-options'), 'nosniff');
      assert.match(me.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      const generated = await fetch(`${address}/healthz`, {
        headers: { 'x-request-id': 'bad id with spaces' },
      });
      assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);

      const metrics = await (await fetch(`${address}/metrics`)).text();
      assert.match(metrics, /ferry_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/me"/);
      assert.match(metrics, /ferry_queue_jobs\{queue="sessions.cleanup",state="queued"\} 0/);
      assert.match(metrics, /ferry_schedules_overdue 0/);
      assert.match(metrics, /ferry_runs_active\{status="running"\} 0/);
      assert.ok(!metrics.includes(owner.tenantId), 'ids must not become metric labels');
      // The process's own metrics (collected once per process) beside the server's, each named once.
      assert.match(metrics, /^ferry_process_cpu_user_seconds_total [0-9.e+-]+$/m);
      assert.match(metrics, /^ferry_nodejs_eventloop_lag_p99_seconds [0-9.e+-]+$/m);
      const helps = [...metrics.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]);
      assert.ok(helps.length > 20);
      assert.equal(new Set(helps).size, helps.length, 'no metric is described twice');
      for (const line of metrics.split('\n').filter((l) => l && !l.startsWith('#')))
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+$/, line);
    });

    test('plain http: no HSTS and no upgrade-insecure-requests (a laptop browser on http://localhost must work)', async () => {
      const r = await call(t, { url: '/healthz' });
      assert.equal(r.headers['strict-transport-security'], undefined);
      assert.doesNotMatch(String(r.headers['content-security-policy']), /upgrade-insecure-requests/);
    });

    test('a POST whose body has no required field accepts no body at all; one with required fields says which', async () => {
      const used = await t.app.inject({
        method: 'POST',
        url: '/api/v1/templates/customer-list/use',
        headers: { authorization: `Bearer ${owner.apiKey}` },
      });
      assert.equal(used.statusCode, 201, used.body);
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/v1/reports',
        headers: { authorization: `Bearer ${owner.apiKey}` },
      });
      assert.equal(created.statusCode, 400, created.body);
      assert.match(JSON.parse(created.body).detail, /is required/);
    });

    test('a value outside an enum is one error listing the allowed values', async () => {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId: '00000000-0000-4000-8000-000000000000', format: 'docx' },
      });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.body.errors, [
        {
          path: 'format',
          message: 'must be one of csv, tsv, xlsx, json, ndjson, xml, pdf, datev, bmd, saft',
        },
      ]);
      assert.doesNotMatch(r.body.detail, /constant|anyOf/);
    });

    test('rate limit: anonymous callers get 429 with Retry-After after the limit', async () => {
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof call>> | undefined;
      for (let i = 0; i < 7; i++) {
        last = await call(t, {
          method: 'POST',
          url: '/api/v1/auth/login',
          body: { email: 'x@example.com', password: 'wrong-password' },
          remoteAddress: '10.9.8.7',
        });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
      assert.ok(Number(last!.headers['retry-after']) > 0);
      assert.equal(last!.body.status, 429);
      assert.equal(last!.headers['content-type'], 'application/problem+json; charset=utf-8');
      // A key has its own, higher budget: the same client with a key still gets through.
      assert.equal(
        (await call(t, { url: '/api/v1/me', key: owner.apiKey, remoteAddress: '10.9.8.7' })).status,
        200,
      );
      // Health checks are never limited; other addresses have their own budget (another
      // e-mail: x@example.com itself now has to wait, whatever the address).
      assert.equal((await call(t, { url: '/healthz', remoteAddress: '10.9.8.7' })).status, 200);
      assert.equal(
        (
          await call(t, {
            method: 'POST',
            url: '/api/v1/auth/login',
            body: { email: 'y@example.com', password: 'wrong-password' },
            remoteAddress: '10.9.8.8',
          })
        ).status,
        401,
      );
    });

    test('Idempotency-Key: a retried POST replays the first answer and does the work once', async () => {
      const send = (body: object) =>
        call(t, {
          method: 'POST',
          url: '/api/v1/members',
          key: owner.apiKey,
          body,
          headers: { 'idempotency-key': 'add-ann-1' },
        });
      const first = await send({ email: 'ann@example.com', role: 'viewer' });
      const second = await send({ email: 'ann@example.com', role: 'viewer' });
      assert.equal(first.status, 202);
      assert.equal(second.status, 202);
      assert.equal(second.headers['idempotent-replayed'], 'true');
      assert.deepEqual(second.body, first.body);
      const other = await send({ email: 'bob@example.com', role: 'viewer' });
      assert.equal(other.status, 422);
      assert.equal(other.body.errors[0].path, 'Idempotency-Key');
      // A new API key replayed keeps its secret, which is stored encrypted.
      const k1 = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'n', role: 'viewer' },
        headers: { 'idempotency-key': 'k' },
      });
      const k2 = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'n', role: 'viewer' },
        headers: { 'idempotency-key': 'k' },
      });
      assert.equal(k1.body.apiKey, k2.body.apiKey);
      const stored = await t.ctx.db.query<{ response_body: string }>(
        "SELECT response_body FROM idempotency_keys WHERE key = 'k'",
      );
      assert.ok(!stored.rows[0]!.response_body.includes(k1.body.apiKey));
      // A failed request is not stored, so the client can fix it and retry with the same key.
      const bad = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'n', role: 'viewer', expiresAt: '2001-01-01T00:00:00Z' },
        headers: { 'idempotency-key': 'fix-me' },
      });
      assert.equal(bad.status, 400);
      const fixed = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'n', role: 'viewer', expiresAt: '2099-01-01T00:00:00Z' },
        headers: { 'idempotency-key': 'fix-me' },
      });
      assert.equal(fixed.status, 201);
      const invalidKey = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'n', role: 'viewer' },
        headers: { 'idempotency-key': 'x'.repeat(300) },
      });
      assert.equal(invalidKey.status, 400);
    });

    test('logs never contain passwords, API keys, session tokens or setup tokens', async () => {
      const login = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { email: owner.email, password: OWNER_PASSWORD },
        remoteAddress: '10.1.1.1',
      });
      assert.equal(login.status, 200);
      const token = String(login.headers['set-cookie']).split(';')[0]!.split('=')[1]!;
      await call(t, { url: '/api/v1/me', cookie: `ferry_session=${token}` });
      await call(t, { url: '/api/v1/me?password=hunter2hunter2', key: owner.apiKey });
      await call(t, {
        method: 'POST',
        url: '/api/v1/members',
        key: owner.apiKey,
        body: { email: 'z@example.com', role: 'viewer', password: 'sup3r-secret-pw' },
      });
      const invited = await call(t, {
        method: 'POST',
        url: '/api/v1/members',
        key: owner.apiKey,
        body: { email: 'z@example.com', role: 'viewer' },
      });
      const invitationToken = new URL(invited.body.acceptUrl).hash.replace('#token=', '');
      await call(t, {
        method: 'POST',
        url: '/api/v1/invitations/accept',
        body: { token: invitationToken, password: 'sup3r-secret-pw' },
      });
      t.ctx.log.info({ password: 'hunter2hunter2', nested: { apiKey: owner.apiKey } }, 'redaction check');
      t.ctx.log.flush?.();
      const logs = t.logs.join('');
      assert.ok(logs.includes('redaction check'), 'logs were captured');
      assert.ok(logs.includes('"path":"/api/v1/me"'), 'requests are logged');
      for (const secret of [
        OWNER_PASSWORD,
        owner.apiKey,
        token,
        'sup3r-secret-pw',
        'hunter2hunter2',
        invitationToken,
      ]) {
        assert.ok(!logs.includes(secret), `log contains ${secret.slice(0, 6)}…`);
      }
    });
  });
}
