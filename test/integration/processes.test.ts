import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadMigrations } from '../../src/db/migrate.ts';
import {
  createEmptyPostgresDatabase,
  dropPostgresDatabase,
  postgresUrl,
  TEST_SECRET,
} from '../helpers/db.ts';
import { baseEnv, runFerry, startFerry } from '../helpers/process.ts';

describe('ferry processes on the embedded database', () => {
  let dir: string;
  let apiKey: string;
  let reportForCli = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-proc-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('bad configuration or usage stops start-up with exit code 2 and names the problem', async () => {
    const cfg = await runFerry(
      ['start'],
      baseEnv({ PORT: 'abc', FERRY_SECRET: 'short', FERRY_DATA_DIR: dir }),
    );
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /PORT must be a whole number/);
    assert.match(cfg.stderr, /FERRY_SECRET must be at least 32 characters/);
    const noSecret = await runFerry(
      ['migrate'],
      baseEnv({ DATABASE_URL: 'postgres://postgres@127.0.0.1/test' }),
    );
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.stderr, /FERRY_SECRET is required with DATABASE_URL/);
    const flag = await runFerry(['start', '--bogus'], baseEnv({}));
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /bogus/);
    const cmd = await runFerry(['launch'], baseEnv({}));
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /Unknown command "launch"/);
    const missing = await runFerry(['tenant', 'create', '--name', 'X'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--email must be an e-mail address/);
  });

  test('`ferry tenant create --json` on a stopped instance prints the tenant and an API key', async () => {
    const r = await runFerry(
      [
        'tenant',
        'create',
        '--name',
        'Acme',
        '--email',
        'boss@example.com',
        '--password',
        'long-enough-pw',
        '--json',
      ],
      baseEnv({ FERRY_DATA_DIR: dir }),
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(out).sort(), ['apiKey', 'tenantId', 'userId']);
    assert.match(out.apiKey, /^fry_/);
    apiKey = out.apiKey;
    // The generated instance secret is kept in the data dir, private to its owner.
    const secret = await stat(join(dir, 'secret'));
    assert.equal(secret.mode & 0o077, 0);
  });

  test('`ferry start` serves the API with that key, shares its embedded PostgreSQL with a second process on the same data dir, and stops gracefully on SIGTERM', async () => {
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir }));
    try {
      // Setup is closed: a user exists already.
      assert.equal((await fetch(`${ferry.url}/api/v1/setup`)).status, 404);
      const me = await fetch(`${ferry.url}/api/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { tenant: { name: string } }).tenant.name, 'Acme');

      // A second process on the same data directory attaches to the running server;
      // when it exits, the server stays up for the process still using it.
      const postmaster = await readFile(join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8');
      const second = await runFerry(
        [
          'tenant',
          'create',
          '--name',
          'B',
          '--email',
          'b@example.com',
          '--password',
          'long-enough-pw',
          '--json',
        ],
        baseEnv({ FERRY_DATA_DIR: dir }),
      );
      assert.equal(second.code, 0, second.stderr);
      const other = JSON.parse(second.stdout) as { apiKey: string };
      assert.equal(await readFile(join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8'), postmaster);
      const otherMe = await fetch(`${ferry.url}/api/v1/me`, {
        headers: { authorization: `Bearer ${other.apiKey}` },
      });
      assert.equal(otherMe.status, 200);
      assert.equal(((await otherMe.json()) as { tenant: { name: string } }).tenant.name, 'B');

      // A request still arriving when SIGTERM comes is finished, not dropped.
      const body = JSON.stringify({ email: 'late@example.com', role: 'viewer' });
      const pending = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${ferry.url}/api/v1/members`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.write(body.slice(0, 10));
        setTimeout(() => req.end(body.slice(10)), 500);
      });
      await new Promise((r) => setTimeout(r, 100));
      const stopping = ferry.stop('SIGTERM');
      const response = await pending;
      assert.equal(response.status, 202, response.text);
      const { code, ms } = await stopping;
      assert.equal(code, 0, ferry.output());
      assert.ok(ms < 10_000, `shutdown took ${ms} ms`);
      // The last process out stopped the server.
      await assert.rejects(stat(join(dir, 'pg', 'data', 'postmaster.pid')), /ENOENT/);
    } finally {
      await ferry.stop('SIGKILL');
    }
  });

  test('`ferry demo --rows N` rebuilds the demo dataset at that size', async () => {
    const r = await runFerry(['demo', '--rows', '800'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /800 order lines/);
    const bad = await runFerry(['demo', '--rows', 'lots'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rows must be a whole number/);
  });

  test('S9: a worker killed mid-run (SIGKILL) is detected by its silent heartbeat; the retry leaves exactly one file', async () => {
    const env = baseEnv({ FERRY_DATA_DIR: dir, FERRY_RUN_LEASE_SECONDS: '6' });
    let ferry = await startFerry(['start'], env);
    const api = (path: string, body?: object) =>
      fetch(`${ferry.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));
    let runId = '';
    try {
      const demo = (await api('/api/v1/connections')).body.items[0].id;
      const report = await api('/api/v1/reports', {
        name: 'Two million rows',
        connectionId: demo,
        sql: 'SELECT g, md5(g::text) AS h FROM generate_series(1, 1000000) AS g',
      });
      reportForCli = report.body.id;
      const started = await api('/api/v1/exports', { reportId: report.body.id, format: 'csv' });
      assert.equal(started.status, 202);
      runId = started.body.id;
      for (let i = 0; i < 200 && (await api(`/api/v1/runs/${runId}`)).body.status !== 'running'; i++)
        await new Promise((r) => setTimeout(r, 50));
      await ferry.stop('SIGKILL');
      ferry = await startFerry(['start'], env);
      let run: Record<string, any> = {};
      for (let i = 0; i < 600; i++) {
        run = (await api(`/api/v1/runs/${runId}`)).body;
        if (run.status === 'succeeded' || run.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.equal(run.rowCount, 1_000_000);
      assert.deepEqual(
        run.attemptHistory.map((a: { status: string }) => a.status),
        ['lost', 'succeeded'],
      );
      const tenant = (await api('/api/v1/me')).body.tenant.id;
      const attemptsOnDisk = await readdir(join(dir, 'artifacts', tenant, runId));
      assert.deepEqual(attemptsOnDisk, ['2'], 'only the succeeded attempt left a file');
      // The killed attempt's temporary file went when it was declared lost; the
      // successful attempt leaves none.
      const leftovers = (await readdir(join(dir, 'artifacts', '.tmp')).catch(() => [])).filter((f) =>
        f.startsWith(`${runId}-`),
      );
      assert.deepEqual(leftovers, []);
    } finally {
      assert.equal((await ferry.stop()).code, 0);
    }
  });

  test('`ferry export` runs one export in the foreground and writes the file', async () => {
    const out = join(dir, 'export.csv');
    const r = await runFerry(
      ['export', '--report', reportForCli, '--format', 'csv', '--out', out],
      baseEnv({ FERRY_DATA_DIR: dir }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1,000,000 rows/);
    const text = await readFile(out, 'utf8');
    assert.equal(text.split('\r\n').length, 1_000_002);
    const bad = await runFerry(
      ['export', '--report', 'nope', '--out', out],
      baseEnv({ FERRY_DATA_DIR: dir }),
    );
    assert.equal(bad.code, 2);
  });

  test('a fresh data dir prints the setup token, also written to <data dir>/setup-token', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'ferry-fresh-'));
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: fresh, LOG_LEVEL: 'silent' }));
    try {
      const token = (await readFile(join(fresh, 'setup-token'), 'utf8')).trim();
      assert.ok(ferry.output().includes(`setup token: ${token}`));
      assert.match(ferry.output(), /Ferry is running at http:\/\/localhost:\d+/);
      const r = await fetch(`${ferry.url}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          setupToken: token,
          tenantName: 'Fresh',
          email: 'f@example.com',
          password: 'long-enough-pw',
        }),
      });
      assert.equal(r.status, 201);
      await assert.rejects(stat(join(fresh, 'setup-token')), /ENOENT/);
    } finally {
      assert.equal((await ferry.stop()).code, 0);
      await rm(fresh, { recursive: true, force: true });
    }
  });
});

describe('ferry processes on PostgreSQL', () => {
  let name: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    name = await createEmptyPostgresDatabase();
    env = baseEnv({
      DATABASE_URL: await postgresUrl(name),
      FERRY_SECRET: TEST_SECRET,
      FERRY_DATA_DIR: await mkdtemp(join(tmpdir(), 'ferry-pg-')),
    });
  });
  after(() => dropPostgresDatabase(name));

  test('two `ferry migrate` processes at once on an empty database: both succeed, each migration applied once', async () => {
    const [a, b] = await Promise.all([runFerry(['migrate'], env), runFerry(['migrate'], env)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const client = new pg.Client({ connectionString: await postgresUrl(name) });
    await client.connect();
    try {
      const rows = await client.query('SELECT version FROM ferry_migrations ORDER BY version');
      assert.deepEqual(
        rows.rows.map((r) => r.version),
        (await loadMigrations()).map((m) => m.version),
      );
      const boss = await client.query("SELECT to_regclass('pgboss.job') IS NOT NULL AS ok");
      assert.equal(boss.rows[0].ok, true);
    } finally {
      await client.end();
    }
    // Between them the two applied every migration exactly once (which one applied
    // which depends on who took the lock first; the other may find nothing left).
    const applied = [a.stdout, b.stdout].flatMap(
      (out) => /Applied ([^;]+);/.exec(out)?.[1]?.split(', ') ?? [],
    );
    const migrations = await loadMigrations();
    const names = migrations.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
    assert.deepEqual([...applied].sort(), names);
    for (const out of [a.stdout, b.stdout])
      assert.match(out, new RegExp(`(at |up to date \\()migration ${migrations.length}\\b`));
  });

  test('api, worker and scheduler run as separate processes on one database; setup works through the api', async () => {
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
    const client = new pg.Client({ connectionString: await postgresUrl(name) });
    await client.connect();
    try {
      const schedules = await client.query('SELECT name FROM pgboss.schedule ORDER BY name');
      assert.deepEqual(
        schedules.rows.map((r) => r.name),
        ['artifacts.cleanup', 'idempotency.cleanup', 'runs.retention', 'sessions.cleanup'],
      );
    } finally {
      await client.end();
    }
  });
});
