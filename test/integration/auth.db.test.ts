import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { setupToken } from '../../src/modules/setup/service.ts';
import {
  call,
  createKey,
  createTestApp,
  loginCookie,
  OWNER_PASSWORD,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';

for (const backend of backends()) {
  describe(`setup (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(backend);
    });
    after(() => t.close());

    test('setup is open until the first user exists, then answers 404', async () => {
      assert.deepEqual((await call(t, { url: '/api/v1/setup' })).body, { required: true });
      const wrong = await call(t, {
        method: 'POST',
        url: '/api/v1/setup',
        body: {
          setupToken: 'not-the-token',
          tenantName: 'X',
          email: 'x@example.com',
          password: OWNER_PASSWORD,
        },
      });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.headers['content-type'], 'application/problem+json; charset=utf-8');

      // Two setups at once: exactly one wins.
      const body = (email: string) => ({
        setupToken: setupToken(t.ctx.secrets),
        tenantName: 'Acme',
        email,
        password: OWNER_PASSWORD,
      });
      const [a, b] = await Promise.all([
        call(t, { method: 'POST', url: '/api/v1/setup', body: body('a@example.com') }),
        call(t, { method: 'POST', url: '/api/v1/setup', body: body('b@example.com') }),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [201, 404]);
      const winner = a.status === 201 ? a : b;
      assert.match(winner.body.apiKey, /^fry_[A-Za-z0-9_-]{43}$/);

      assert.equal((await call(t, { url: '/api/v1/setup' })).status, 404);
      const again = await call(t, { method: 'POST', url: '/api/v1/setup', body: body('c@example.com') });
      assert.equal(again.status, 404);
      const users = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      assert.equal(users.rows[0]!.n, 1);

      const me = await call(t, { url: '/api/v1/me', key: winner.body.apiKey });
      assert.equal(me.status, 200);
      assert.equal(me.body.role, 'owner');
      assert.equal(me.body.instanceAdmin, true);
      assert.equal(me.body.tenant.id, winner.body.tenantId);
    });
  });

  describe(`sessions and API keys (${backend})`, () => {
    const clock = new ManualClock('2026-03-01T08:00:00Z');
    let t: TestApp;
    let owner: TenantHandle;
    before(async () => {
      t = await createTestApp(backend, { clock, env: { FERRY_SESSION_TTL_HOURS: '2' } });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('no credentials: 401 problem+json', async () => {
      const r = await call(t, { url: '/api/v1/members' });
      assert.equal(r.status, 401);
      assert.equal(r.body.status, 401);
      assert.equal(r.body.title, 'Unauthorized');
      assert.ok(r.body.detail.length > 0);
      const bad = await call(t, { url: '/api/v1/members', key: 'fry_unknown' });
      assert.equal(bad.status, 401);
      assert.match(bad.body.detail, /API key is not valid/);
    });

    test('login sets an httpOnly SameSite=Lax cookie; unknown e-mail and wrong password get the same answer', async () => {
      const ok = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { email: owner.email, password: OWNER_PASSWORD },
      });
      assert.equal(ok.status, 200);
      const cookie = String(ok.headers['set-cookie']);
      assert.match(cookie, /^ferry_session=[^;]+;/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Lax/);
      assert.match(cookie, /Path=\//);

      const wrongPassword = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { email: owner.email, password: 'nope-nope' },
      });
      const unknownUser = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { email: 'nobody@example.com', password: 'nope-nope' },
      });
      assert.equal(wrongPassword.status, 401);
      assert.equal(unknownUser.status, 401);
      assert.equal(wrongPassword.body.detail, unknownUser.body.detail);
      assert.equal(wrongPassword.headers['set-cookie'], undefined);

      const audit = await call(t, { url: '/api/v1/audit?action=auth.*', key: owner.apiKey });
      const actions = audit.body.items.map((i: { action: string }) => i.action);
      assert.ok(actions.includes('auth.login'));
      assert.ok(actions.includes('auth.login_failed'));
      // The failed attempt on an unknown address is not shown to any tenant.
      assert.ok(!JSON.stringify(audit.body).includes('nobody@example.com'));
    });

    test('a session works until it expires, and logout revokes it', async () => {
      const cookie = await loginCookie(t, owner.email, OWNER_PASSWORD);
      assert.equal((await call(t, { url: '/api/v1/me', cookie })).body.via, 'session');
      clock.advance(2 * 3_600_000 - 1000);
      assert.equal((await call(t, { url: '/api/v1/me', cookie })).status, 200);
      clock.advance(2000);
      const expired = await call(t, { url: '/api/v1/me', cookie });
      assert.equal(expired.status, 401);
      assert.match(expired.body.detail, /session has expired/);

      const cookie2 = await loginCookie(t, owner.email, OWNER_PASSWORD);
      const noHeader = await call(t, { method: 'POST', url: '/api/v1/auth/logout', cookie: cookie2 });
      assert.equal(noHeader.status, 403, 'cookie writes need X-Requested-With');
      const out = await call(t, {
        method: 'POST',
        url: '/api/v1/auth/logout',
        cookie: cookie2,
        headers: { 'x-requested-with': 'ferry' },
      });
      assert.equal(out.status, 204);
      assert.match(String(out.headers['set-cookie']), /ferry_session=;/);
      assert.equal((await call(t, { url: '/api/v1/me', cookie: cookie2 })).status, 401);
    });

    test('the sessions cleanup removes expired and revoked sessions only', async () => {
      const live = await loginCookie(t, owner.email, OWNER_PASSWORD);
      const { cleanupSessions } = await import('../../src/modules/sessions/service.ts');
      await cleanupSessions(t.ctx);
      const left = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions');
      assert.equal(left.rows[0]!.n, 1);
      assert.equal((await call(t, { url: '/api/v1/me', cookie: live })).status, 200);
    });

    test('API keys: secret shown once, stored hashed, last use kept, revocation and expiry stop them', async () => {
      const created = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'CI', role: 'editor' },
      });
      assert.equal(created.status, 201);
      const secret: string = created.body.apiKey;
      assert.ok(secret.startsWith(created.body.prefix));
      const stored = await t.ctx.db.query<{ key_hash: string }>(
        'SELECT key_hash FROM api_keys WHERE id = $1',
        [created.body.id],
      );
      assert.match(stored.rows[0]!.key_hash, /^[0-9a-f]{64}$/);
      assert.ok(!JSON.stringify(stored.rows).includes(secret));

      const listed = await call(t, { url: '/api/v1/api-keys', key: owner.apiKey });
      assert.ok(!listed.text.includes(secret));
      assert.equal(
        (await call(t, { url: `/api/v1/api-keys/${created.body.id}`, key: owner.apiKey })).body.lastUsedAt,
        null,
      );
      assert.equal((await call(t, { url: '/api/v1/me', key: secret })).body.role, 'editor');
      assert.ok(
        (await call(t, { url: `/api/v1/api-keys/${created.body.id}`, key: owner.apiKey })).body.lastUsedAt,
      );

      assert.equal(
        (await call(t, { method: 'DELETE', url: `/api/v1/api-keys/${created.body.id}`, key: owner.apiKey }))
          .status,
        204,
      );
      assert.equal((await call(t, { url: '/api/v1/me', key: secret })).status, 401);

      const expiring = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: {
          name: 'short',
          role: 'viewer',
          expiresAt: new Date(clock.now().getTime() + 60_000).toISOString(),
        },
      });
      assert.equal((await call(t, { url: '/api/v1/me', key: expiring.body.apiKey })).status, 200);
      clock.advance(61_000);
      assert.equal((await call(t, { url: '/api/v1/me', key: expiring.body.apiKey })).status, 401);

      const past = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: owner.apiKey,
        body: { name: 'p', role: 'viewer', expiresAt: '2000-01-01T00:00:00Z' },
      });
      assert.equal(past.status, 400);
      assert.equal(past.body.errors[0].path, 'expiresAt');
    });

    test('a key cannot be created with more power than its creator', async () => {
      const admin = await createKey(t, owner.apiKey, 'admin');
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: admin,
        body: { name: 'x', role: 'owner' },
      });
      assert.equal(r.status, 403);
      const ok = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: admin,
        body: { name: 'x', role: 'admin' },
      });
      assert.equal(ok.status, 201);
      const escalate = await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        key: admin,
        body: { name: 'x', role: 'admin', instanceAdmin: true },
      });
      assert.equal(escalate.status, 403);
    });

    test('key creation and revocation are audited with actor, target and ip', async () => {
      const audit = await call(t, { url: '/api/v1/audit?action=api_key.revoked', key: owner.apiKey });
      assert.equal(audit.status, 200);
      const entry = audit.body.items[0];
      assert.equal(entry.actor.type, 'api_key');
      assert.equal(entry.target.type, 'api_key');
      assert.equal(entry.ip, '127.0.0.1');
      assert.ok(Date.parse(entry.createdAt));
    });
  });
}
