import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/log.ts';
import { AUTH_CACHE_APPLICATION, createAuthCache } from '../../src/modules/auth-cache.ts';
import { call, createTestApp, setupFirstTenant, type TenantHandle, type TestApp } from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/time.ts';

// The principals an API process keeps in memory (issue 19): kept after the first
// request, dropped by every change the database notifies, never served while the
// process cannot hear those notifications, and bounded.

const silent = createLogger('silent');

for (const backend of backends()) {
  describe(`principals kept in memory (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    const clock = new ManualClock('2026-06-01T12:00:00Z');

    before(async () => {
      t = await createTestApp(backend, { clock });
      owner = await setupFirstTenant(t);
    });
    after(() => t?.close());

    const me = (key: string) => call(t, { url: '/api/v1/me', key });
    const newKey = async (body: Record<string, unknown>) => {
      const r = await call(t, { method: 'POST', url: '/api/v1/api-keys', key: owner.apiKey, body });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string; apiKey: string };
    };

    test('a key is kept after its first request, and its /me answers what the database says', async () => {
      const cache = t.ctx.authCache!;
      await waitFor('the auth cache to listen', () => cache.active);
      const key = await newKey({ name: 'kept', role: 'viewer' });
      const first = await me(key.apiKey);
      assert.equal(first.status, 200);
      assert.ok(cache.size > 0);
      const again = await me(key.apiKey);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.body.tenant.name, 'First tenant');
      assert.equal(again.body.role, 'viewer');
      // A rename is a change the kept row carries: the next request shows it.
      await t.database.db.query("UPDATE tenants SET name = 'Renamed' WHERE id = $1", [owner.tenantId]);
      assert.equal((await me(key.apiKey)).body.tenant.name, 'Renamed');
    });

    test('an expiry is checked on every request from the kept row', async () => {
      const key = await newKey({ name: 'expiring', role: 'viewer', expiresAt: '2026-06-01T13:00:00Z' });
      assert.equal((await me(key.apiKey)).status, 200);
      assert.equal((await me(key.apiKey)).status, 200);
      clock.set('2026-06-01T13:00:01Z');
      try {
        assert.equal((await me(key.apiKey)).status, 401);
      } finally {
        clock.set('2026-06-01T12:00:00Z');
      }
    });

    test('while the listening connection is down nothing is kept or served from memory; it comes back', async () => {
      const cache = t.ctx.authCache!;
      const key = await newKey({ name: 'listener', role: 'viewer' });
      assert.equal((await me(key.apiKey)).status, 200);
      const killed = await t.database.db.query<{ ok: boolean }>(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [AUTH_CACHE_APPLICATION],
      );
      assert.equal(killed.rows.length, 1);
      await waitFor('the auth cache to notice the lost connection', () => !cache.active || undefined);
      assert.equal(cache.size, 0);
      // Changed while nobody listens: still refused at once.
      await t.database.db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
      assert.equal((await me(key.apiKey)).status, 401);
      assert.equal((await me(owner.apiKey)).status, 200);
      assert.equal(cache.size, 0);
      await waitFor('the auth cache to listen again', () => cache.active);
      assert.equal((await me(owner.apiKey)).status, 200);
      assert.ok(cache.size > 0);
      assert.equal((await me(key.apiKey)).status, 401);
    });
  });

  describe(`the auth cache itself (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp(backend);
    });
    after(() => t?.close());

    test('keeps at most maxEntries, dropping the least recently used; finds only what exists', async () => {
      const cache = createAuthCache({ url: t.database.url, log: silent, maxEntries: 3 });
      try {
        await waitFor('the auth cache to listen', () => cache.active);
        const loads: string[] = [];
        const get = (k: string) =>
          cache.lookup(k, async () => {
            loads.push(k);
            return k === 'missing' ? undefined : { k };
          });
        for (const k of ['a', 'b', 'c']) await get(k);
        await get('a'); // a is now the most recently used
        await get('d'); // evicts b
        assert.equal(cache.size, 3);
        loads.length = 0;
        for (const k of ['a', 'c', 'd']) assert.deepEqual(await get(k), { k });
        assert.deepEqual(loads, []);
        await get('b');
        assert.deepEqual(loads, ['b']);
        // Nothing is kept for what the database did not find: asked again, read again.
        assert.equal(await get('missing'), undefined);
        assert.equal(await get('missing'), undefined);
        assert.deepEqual(loads, ['b', 'missing', 'missing']);
        // Any notification drops everything.
        const client = new pg.Client({ connectionString: t.database.url });
        await client.connect();
        try {
          await client.query("SELECT pg_notify('ferry_auth', 'test')");
        } finally {
          await client.end();
        }
        loads.length = 0;
        await get('a');
        assert.deepEqual(loads, ['a']);
      } finally {
        await cache.stop();
      }
    });

    test('a listening connection that stops answering (a network partition, no reset) is given up on: requests read the database instead of waiting', async () => {
      const server = new URL(t.database.url);
      const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
      const through = new URL(t.database.url);
      through.hostname = proxy.host;
      through.port = String(proxy.port);
      const cache = createAuthCache({ url: through.toString(), log: silent, syncTimeoutMs: 300 });
      try {
        await waitFor('the auth cache to listen', () => cache.active);
        let loads = 0;
        const get = () =>
          cache.lookup('k', async () => {
            loads++;
            return { loads };
          });
        await get();
        await get();
        assert.equal(loads, 1);
        proxy.freeze();
        // Kept, but the round trip that must come first gets no answer: read again.
        assert.deepEqual(await get(), { loads: 2 });
        assert.equal(cache.active, false);
        assert.equal(cache.size, 0);
        await get();
        assert.equal(loads, 3);
      } finally {
        await cache.stop();
        await proxy.close();
      }
    });
  });
}
