import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import type { Db } from '../../src/db/db.ts';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { createPgDb } from '../../src/db/pg.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/log.ts';
import { hashPassword } from '../../src/lib/passwords.ts';
import { createSecretBox } from '../../src/lib/secrets.ts';
import { beginIdempotentRequest, hashRequest } from '../../src/modules/idempotency/service.ts';
import type { Role } from '../../src/modules/members/roles.ts';
import { cleanupSessions } from '../../src/modules/sessions/service.ts';
import { buildServer } from '../../src/server/build-server.ts';
import {
  type Call,
  call,
  createKey,
  createTestApp,
  loginCookie,
  OWNER_PASSWORD,
  type Reply,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import {
  backends,
  createEmptyPostgresDatabase,
  dropPostgresDatabase,
  postgresUrl,
  TEST_SECRET,
} from '../helpers/db.ts';

// Issue 13, items 9, 10 and 13: idempotency records per caller, sign-in limits
// that credentials cannot lift, and the optional /metrics token.

/** A member added straight in the database, so these cases do not depend on how members are invited. */
async function addMember(t: TestApp, tenantId: string, email: string, role: Role): Promise<string> {
  const id = randomUUID();
  await t.ctx.db.query('INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)', [
    id,
    email,
    email,
    await hashPassword(OWNER_PASSWORD),
  ]);
  await t.ctx.db.query('INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)', [
    tenantId,
    id,
    role,
  ]);
  return id;
}

function login(t: TestApp, email: string, password: string, remoteAddress: string): Promise<Reply> {
  return call(t, { method: 'POST', url: '/api/v1/auth/login', body: { email, password }, remoteAddress });
}

for (const backend of backends()) {
  describe(`Idempotency-Key belongs to the caller that sent it (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let adminKey: string;
    let adminCookie: string;
    const cookieHeaders = { 'x-requested-with': 'ferry' };

    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
      adminKey = await createKey(t, owner.apiKey, 'admin');
      await addMember(t, owner.tenantId, 'adam@example.com', 'admin');
      adminCookie = await loginCookie(t, 'adam@example.com', OWNER_PASSWORD);
    });
    after(() => t.close());

    const createKeyWith = (who: Partial<Call>, idempotencyKey: string, body: object) =>
      call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        body,
        ...who,
        headers: { ...who.headers, 'idempotency-key': idempotencyKey },
      });

    test("an admin sending the owner's Idempotency-Key gets a fresh execution, never the owner's secret", async () => {
      const body = { name: 'deploy', role: 'viewer' };
      const first = await createKeyWith({ key: owner.apiKey }, 'shared-key-1', body);
      assert.equal(first.status, 201);
      const callers: Array<[string, Partial<Call>]> = [
        ['admin API key', { key: adminKey }],
        ['admin session', { cookie: adminCookie, headers: cookieHeaders }],
      ];
      for (const [label, who] of callers) {
        const theirs = await createKeyWith(who, 'shared-key-1', body);
        assert.equal(theirs.status, 201, label);
        assert.equal(theirs.headers['idempotent-replayed'], undefined, label);
        assert.ok(!theirs.text.includes(first.body.apiKey), `${label} must not see the owner's secret`);
        assert.notEqual(theirs.body.id, first.body.id, label);
        // The caller's own retry replays the caller's own answer.
        const retry = await createKeyWith(who, 'shared-key-1', body);
        assert.equal(retry.headers['idempotent-replayed'], 'true', label);
        assert.equal(retry.body.apiKey, theirs.body.apiKey, label);
      }
      const ownerRetry = await createKeyWith({ key: owner.apiKey }, 'shared-key-1', body);
      assert.equal(ownerRetry.headers['idempotent-replayed'], 'true');
      assert.equal(ownerRetry.body.apiKey, first.body.apiKey);
      const made = await t.ctx.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM api_keys WHERE name = 'deploy'",
      );
      assert.equal(made.rows[0]!.n, 3);
    });

    test("a user's records follow the user across sessions, not the session", async () => {
      const body = { name: 'across sessions', role: 'viewer' };
      const first = await createKeyWith({ cookie: adminCookie, headers: cookieHeaders }, 'user-key-1', body);
      assert.equal(first.status, 201);
      const otherSession = await loginCookie(t, 'adam@example.com', OWNER_PASSWORD);
      const retry = await createKeyWith({ cookie: otherSession, headers: cookieHeaders }, 'user-key-1', body);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      assert.equal(retry.body.apiKey, first.body.apiKey);
    });

    test('a stored answer is not replayed once the caller lost the role it was made with', async () => {
      // Bob, an owner, creates an owner key; demoted to admin he could not create one any more.
      const bob = await addMember(t, owner.tenantId, 'bob@example.com', 'owner');
      const bobCookie = await loginCookie(t, 'bob@example.com', OWNER_PASSWORD);
      const bobCall = { cookie: bobCookie, headers: cookieHeaders };
      const body = { name: 'owner key', role: 'owner' };
      const first = await createKeyWith(bobCall, 'bob-1', body);
      assert.equal(first.status, 201);
      await t.ctx.db.query("UPDATE memberships SET role = 'admin' WHERE user_id = $1", [bob]);
      const replay = await createKeyWith(bobCall, 'bob-1', body);
      assert.equal(replay.status, 422);
      assert.equal(replay.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(replay.body.errors[0].path, 'Idempotency-Key');
      assert.ok(!replay.text.includes(first.body.apiKey));
    });

    test('the OpenAPI document says whose records these are', async () => {
      const doc = await call(t, { url: '/api/v1/openapi.json' });
      assert.match(doc.body.info.description, /Idempotency-Key/);
      assert.match(doc.body.info.description, /per caller/);
    });
  });

  describe(`sign-in is counted per address whatever credentials come along (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    before(async () => {
      t = await createTestApp(backend, {
        env: { FERRY_RATE_LIMIT_ANONYMOUS: '5', FERRY_RATE_LIMIT_AUTHENTICATED: '1000' },
      });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('a valid Bearer header or session cookie does not lift the limit on login', async () => {
      const address = '10.20.0.1';
      const statuses: number[] = [];
      // A different unknown e-mail each time, so only the address limit is in play.
      const attempt = (i: number, extra: Partial<Call>) =>
        call(t, {
          method: 'POST',
          url: '/api/v1/auth/login',
          body: { email: `guess${i}@example.com`, password: 'wrong-password' },
          remoteAddress: address,
          ...extra,
        });
      for (let i = 0; i < 5; i++) statuses.push((await attempt(i, {})).status);
      const withKey = await attempt(5, { key: owner.apiKey });
      const cookie = await loginCookie(t, owner.email, OWNER_PASSWORD);
      const withCookie = await attempt(6, { cookie });
      statuses.push(withKey.status, withCookie.status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
      assert.ok(Number(withKey.headers['retry-after']) > 0);
      // The key keeps its own budget for everything else.
      assert.equal(
        (await call(t, { url: '/api/v1/me', key: owner.apiKey, remoteAddress: address })).status,
        200,
      );
    });

    test('a valid Bearer header does not lift the limit on setup', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await call(t, {
          method: 'POST',
          url: '/api/v1/setup',
          key: owner.apiKey,
          remoteAddress: '10.20.0.2',
          body: { setupToken: 'guess', tenantName: 'X', email: 'x@example.com', password: OWNER_PASSWORD },
        });
        statuses.push(r.status);
      }
      assert.deepEqual(statuses, [404, 404, 404, 404, 404, 429, 429]);
    });
  });

  describe(`repeated wrong passwords for one account (${backend})`, () => {
    const clock = new ManualClock('2026-03-01T08:00:00Z');
    let t: TestApp;
    let owner: TenantHandle;
    let n = 0;
    // Each attempt from a new address: the per-address limit is not what stops them.
    const nextAddress = () => `10.30.${Math.floor(++n / 250)}.${n % 250}`;
    before(async () => {
      t = await createTestApp(backend, { clock });
      owner = await setupFirstTenant(t);
    });
    after(() => t.close());

    test('are slowed with growing delays, refused with 429 and Retry-After, audited, and reset by the right password', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await login(t, owner.email, 'wrong-1', nextAddress())).status);
      const refused = await login(t, owner.email, 'wrong-1', nextAddress());
      statuses.push(refused.status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
      assert.equal(refused.headers['retry-after'], '30');
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
      // While delayed even the right password is refused: it is not checked at all.
      assert.equal((await login(t, owner.email, OWNER_PASSWORD, nextAddress())).status, 429);

      const audit = await call(t, { url: '/api/v1/audit?action=auth.login_throttled', key: owner.apiKey });
      assert.equal(audit.body.items.length, 1);
      assert.equal(audit.body.items[0].target.id, owner.userId);
      assert.equal(audit.body.items[0].details.failures, 5);
      assert.equal(audit.body.items[0].details.retryAfterSeconds, 30);

      // The next wrong password after the delay doubles it.
      clock.advance(30_000);
      assert.equal((await login(t, owner.email, 'wrong-2', nextAddress())).status, 401);
      const longer = await login(t, owner.email, OWNER_PASSWORD, nextAddress());
      assert.equal(longer.status, 429);
      assert.equal(longer.headers['retry-after'], '60');
      clock.advance(59_000);
      assert.equal((await login(t, owner.email, OWNER_PASSWORD, nextAddress())).headers['retry-after'], '1');

      // Once the delay has passed, the right password works and clears the count.
      clock.advance(1_000);
      assert.equal((await login(t, owner.email, OWNER_PASSWORD, nextAddress())).status, 200);
      for (let i = 0; i < 4; i++)
        assert.equal((await login(t, owner.email, 'wrong-3', nextAddress())).status, 401);
    });

    test('the delay grows to a cap of 15 minutes, so nobody is locked out for longer', async () => {
      const email = 'capped@example.com';
      await addMember(t, owner.tenantId, email, 'viewer');
      // Guess, and whenever refused wait exactly as long as told, then guess again.
      const retryAfters: number[] = [];
      for (let i = 0; i < 40 && retryAfters.length < 7; i++) {
        const r = await login(t, email, 'wrong', nextAddress());
        if (r.status === 429) {
          retryAfters.push(Number(r.headers['retry-after']));
          clock.advance(Number(r.headers['retry-after']) * 1000);
        }
      }
      assert.deepEqual(retryAfters, [30, 60, 120, 240, 480, 900, 900]);
      assert.equal((await login(t, email, OWNER_PASSWORD, nextAddress())).status, 200);
    });

    test('an unknown e-mail is delayed the same way, so the answer does not reveal which accounts exist', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push((await login(t, 'nobody@example.com', 'x', nextAddress())).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    });

    test('an address the account signed in from before keeps its own count: strangers cannot lock the owner out', async () => {
      const email = 'familiar@example.com';
      await addMember(t, owner.tenantId, email, 'viewer');
      const home = '10.40.0.1';
      assert.equal((await login(t, email, OWNER_PASSWORD, home)).status, 200);
      for (let i = 0; i < 5; i++) await login(t, email, 'wrong', nextAddress());
      assert.equal((await login(t, email, OWNER_PASSWORD, nextAddress())).status, 429);
      assert.equal((await login(t, email, OWNER_PASSWORD, home)).status, 200);
      // A guesser at that address is slowed on its own count.
      for (let i = 0; i < 5; i++) assert.equal((await login(t, email, 'wrong', home)).status, 401);
      assert.equal((await login(t, email, OWNER_PASSWORD, home)).status, 429);
    });

    test('the count is kept in the database, so every API process enforces it', async () => {
      const email = 'shared@example.com';
      await addMember(t, owner.tenantId, email, 'viewer');
      const second = await buildServer(t.ctx);
      try {
        for (let i = 0; i < 5; i++) await login(t, email, 'wrong', nextAddress());
        const r = await second.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { email, password: OWNER_PASSWORD },
          remoteAddress: nextAddress(),
        });
        assert.equal(r.statusCode, 429);
      } finally {
        await second.close();
      }
    });

    test('the sessions cleanup forgets old counts, and familiar addresses after 90 days', async () => {
      const count = async () =>
        (await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM login_throttle')).rows[0]!.n;
      const familiar = async () =>
        (
          await t.ctx.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM login_throttle WHERE last_success_at IS NOT NULL AND scope <> '*'",
          )
        ).rows[0]!.n;
      assert.ok((await familiar()) > 0);
      assert.ok((await count()) > (await familiar()));
      clock.advance(25 * 3_600_000);
      await cleanupSessions(t.ctx);
      assert.equal(await count(), await familiar());
      clock.advance(90 * 86_400_000);
      await cleanupSessions(t.ctx);
      assert.equal(await count(), 0);
    });
  });

  describe(`FERRY_METRICS_TOKEN (${backend})`, () => {
    const token = 'metrics-token-0123456789abcdef';
    let t: TestApp;
    before(async () => {
      t = await createTestApp(backend, { env: { FERRY_METRICS_TOKEN: token } });
    });
    after(() => t.close());

    test('/metrics answers 401 without the token or with a wrong one, and the metrics with it', async () => {
      const none = await call(t, { url: '/metrics' });
      assert.equal(none.status, 401);
      assert.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      assert.ok(!none.text.includes('ferry_'));
      const wrong = await call(t, { url: '/metrics', headers: { authorization: `Bearer ${token}x` } });
      assert.equal(wrong.status, 401);
      const basic = await call(t, { url: '/metrics', headers: { authorization: `Basic ${token}` } });
      assert.equal(basic.status, 401);
      const ok = await call(t, { url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.match(ok.text, /ferry_runs_active/);
    });

    test('a token too short to be safe is a configuration error naming the variable', () => {
      assert.throws(
        () => loadConfig({ FERRY_METRICS_TOKEN: 'short' }),
        (err: unknown) => err instanceof ConfigError && /FERRY_METRICS_TOKEN/.test(err.message),
      );
      assert.equal(loadConfig({}).metricsToken, undefined);
    });
  });
}

describe('migration 0008 on a database holding idempotency records of the old shape', () => {
  let name: string;
  let db: Db;
  before(async () => {
    name = await createEmptyPostgresDatabase();
    db = createPgDb({
      url: await postgresUrl(name),
      max: 2,
      applicationName: 'test',
      log: createLogger('silent'),
    });
  });
  after(async () => {
    await db.close();
    await dropPostgresDatabase(name);
  });

  test('keeps the old rows, but replays them to no one', async () => {
    const migrations = await loadMigrations();
    await migrate(db, migrations.slice(0, 7));
    const tenantId = randomUUID();
    const secrets = createSecretBox(TEST_SECRET);
    await db.query("INSERT INTO tenants (id, name, slug) VALUES ($1, 'Old', 'old')", [tenantId]);
    await db.query(
      `INSERT INTO idempotency_keys (tenant_id, key, method, path, request_hash, status_code, response_body)
       VALUES ($1, 'old-key', 'POST', '/api/v1/api-keys', $2, 201, $3)`,
      [
        tenantId,
        hashRequest('POST', '/api/v1/api-keys', { name: 'n', role: 'viewer' }),
        secrets.encrypt('{"key":"fry_old_secret"}', `idempotency:${tenantId}:old-key`),
      ],
    );
    await migrate(db, migrations);
    const rows = await db.query<{ principal: string }>('SELECT principal FROM idempotency_keys');
    assert.deepEqual(rows.rows, [{ principal: 'legacy' }]);
    // Any caller of that tenant sending the old key gets a fresh execution.
    const caller = { tenantId, principal: `user:${randomUUID()}`, access: 'owner' };
    const deps = { db, clock: new ManualClock(), secrets };
    const outcome = await beginIdempotentRequest(deps, caller, 'old-key', {
      method: 'POST',
      path: '/api/v1/api-keys',
      body: { name: 'n', role: 'viewer' },
    });
    assert.deepEqual(outcome, { kind: 'proceed' });
  });
});
