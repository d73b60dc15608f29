import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { loadMigrations } from '../../src/db/migrate.ts';
import {
  createEmptyPostgresDatabase,
  createTestDatabase,
  dropPostgresDatabase,
  postgresUrl,
  TEST_SECRET,
} from '../helpers/db.ts';
import { baseEnv, runFerry, startFerry } from '../helpers/process.ts';

// Ferry's processes on a PostgreSQL server (DATABASE_URL). Each test has a
// database and a data directory of its own.

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('ferry processes on PostgreSQL', () => {
  test('two `ferry migrate` processes at once on an empty database: both succeed, each migration applied once', async () => {
    const name = await createEmptyPostgresDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
    try {
      const url = await postgresUrl(name);
      const env = baseEnv({ DATABASE_URL: url, FERRY_SECRET: TEST_SECRET, FERRY_DATA_DIR: dataDir });
      const [a, b] = await Promise.all([runFerry(['migrate'], env), runFerry(['migrate'], env)]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const migrations = await loadMigrations();
      await withClient(url, async (client) => {
        const rows = await client.query('SELECT version FROM ferry_migrations ORDER BY version');
        assert.deepEqual(
          rows.rows.map((r) => r.version),
          migrations.map((m) => m.version),
        );
        const boss = await client.query("SELECT to_regclass('pgboss.job') IS NOT NULL AS ok");
        assert.equal(boss.rows[0].ok, true);
      });
      // Between them the two applied every migration exactly once (which one applied
      // which depends on who took the lock first; the other may find nothing left).
      const applied = [a.stdout, b.stdout].flatMap(
        (out) => /Applied ([^;]+);/.exec(out)?.[1]?.split(', ') ?? [],
      );
      const names = migrations.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
      assert.deepEqual([...applied].sort(), names);
      for (const out of [a.stdout, b.stdout])
        assert.match(out, new RegExp(`(at |up to date \\()migration ${migrations.length}\\b`));
    } finally {
      await dropPostgresDatabase(name);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('api, worker and scheduler run as separate processes on one database; setup works through the api', async () => {
    // A migrated database with no user yet, as `ferry migrate` leaves it.
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
    try {
      const env = baseEnv({ DATABASE_URL: database.url, FERRY_SECRET: TEST_SECRET, FERRY_DATA_DIR: dataDir });
      const api = await startFerry(['api'], env);
      const others = await Promise.all([startFerry(['worker'], env), startFerry(['scheduler'], env)]).catch(
        async (e) => {
          await api.stop();
          throw e;
        },
      );
      try {
        const token = /setup token: (\S+)/.exec(api.output())?.[1];
        assert.ok(token, api.output());
        const r = await fetch(`${api.url}/api/v1/setup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            setupToken: token,
            tenantName: 'On PG',
            email: 'pg@example.com',
            password: 'long-enough-pw',
          }),
        });
        assert.equal(r.status, 201);
        const { apiKey } = (await r.json()) as { apiKey: string };
        const me = await fetch(`${api.url}/api/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
        assert.equal(me.status, 200);
      } finally {
        const stopped = await Promise.all([api, ...others].map((p) => p.stop()));
        for (const [i, s] of stopped.entries()) assert.equal(s.code, 0, [api, ...others][i]!.output());
      }
      // The scheduler registered the maintenance jobs in the shared queue.
      const schedules = await database.db.query<{ name: string }>(
        'SELECT name FROM pgboss.schedule ORDER BY name',
      );
      assert.deepEqual(
        schedules.rows.map((r) => r.name),
        ['artifacts.cleanup', 'idempotency.cleanup', 'runs.retention', 'sessions.cleanup'],
      );
    } finally {
      await database.release();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a revoked key, a signed-out session and a key revoked in SQL stop at once in every API process (each keeps principals in memory)', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-pg-'));
    try {
      const env = baseEnv({ DATABASE_URL: database.url, FERRY_SECRET: TEST_SECRET, FERRY_DATA_DIR: dataDir });
      const a = await startFerry(['api'], env);
      const b = await startFerry(['api'], env).catch(async (e) => {
        await a.stop();
        throw e;
      });
      try {
        const token = /setup token: (\S+)/.exec(a.output())?.[1];
        const setup = await fetch(`${a.url}/api/v1/setup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            setupToken: token,
            tenantName: 'Two',
            email: 'two@example.com',
            password: 'long-enough-pw',
          }),
        });
        assert.equal(setup.status, 201);
        const owner = ((await setup.json()) as { apiKey: string }).apiKey;
        const call = (url: string, path: string, init: RequestInit = {}, key = owner) =>
          fetch(`${url}${path}`, {
            ...init,
            headers: {
              authorization: `Bearer ${key}`,
              ...(init.body ? { 'content-type': 'application/json' } : {}),
            },
          });
        // Each round: a new key, used on both processes (so both keep it), revoked
        // through one, and refused by the other on the very next request.
        for (let round = 0; round < 10; round++) {
          const made = await call(a.url, '/api/v1/api-keys', {
            method: 'POST',
            body: JSON.stringify({ name: `k${round}`, role: 'editor' }),
          });
          assert.equal(made.status, 201);
          const key = (await made.json()) as { id: string; apiKey: string };
          for (const url of [a.url, b.url]) {
            for (let i = 0; i < 3; i++)
              assert.equal((await call(url, '/api/v1/me', {}, key.apiKey)).status, 200);
          }
          const [revoker, other] = round % 2 === 0 ? [a, b] : [b, a];
          assert.equal(
            (await call(revoker.url, `/api/v1/api-keys/${key.id}`, { method: 'DELETE' })).status,
            204,
          );
          const after = await call(other.url, '/api/v1/me', {}, key.apiKey);
          assert.equal(after.status, 401, `round ${round}: the other process still took the revoked key`);
          assert.equal((await call(revoker.url, '/api/v1/me', {}, key.apiKey)).status, 401);
        }
        // A session signed out on one process is refused by the other.
        const login = await fetch(`${a.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'two@example.com', password: 'long-enough-pw' }),
        });
        assert.equal(login.status, 200);
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
        const asUser = (url: string, path: string, init: RequestInit = {}) =>
          fetch(`${url}${path}`, {
            ...init,
            headers: { cookie, 'x-requested-with': 'ferry', ...init.headers },
          });
        assert.equal((await asUser(b.url, '/api/v1/me')).status, 200);
        assert.equal((await asUser(a.url, '/api/v1/me')).status, 200);
        assert.equal((await asUser(a.url, '/api/v1/auth/logout', { method: 'POST' })).status, 204);
        assert.equal((await asUser(b.url, '/api/v1/me')).status, 401);
        // A key written straight into the database (psql, another tool) is revoked there too.
        const made = await call(b.url, '/api/v1/api-keys', {
          method: 'POST',
          body: JSON.stringify({ name: 'sql', role: 'viewer' }),
        });
        const sqlKey = (await made.json()) as { id: string; apiKey: string };
        assert.equal((await call(a.url, '/api/v1/me', {}, sqlKey.apiKey)).status, 200);
        await database.db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [sqlKey.id]);
        assert.equal((await call(a.url, '/api/v1/me', {}, sqlKey.apiKey)).status, 401);
      } finally {
        const stopped = await Promise.all([a, b].map((p) => p.stop()));
        for (const [i, s] of stopped.entries()) assert.equal(s.code, 0, [a, b][i]!.output());
      }
    } finally {
      await database.release();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
