import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dataDirWithTenant } from '../helpers/data-dir.ts';
import { removeDataDir } from '../helpers/postmaster.ts';
import { baseEnv, runFerry, startFerry } from '../helpers/process.ts';
import { waitFor } from '../helpers/time.ts';

// `ferry start` on the embedded database. Each test has a data directory of its
// own, so any of them runs alone.

describe('ferry start on the embedded database', () => {
  const dirs: string[] = [];
  const prepared = async () => {
    const made = await dataDirWithTenant();
    dirs.push(made.dir);
    return made;
  };
  after(async () => {
    for (const dir of dirs) await removeDataDir(dir);
  });

  test('`ferry start` serves the API with a key made while it was stopped, shares its embedded PostgreSQL with a second process on the same data dir, and stops gracefully on SIGTERM', async () => {
    const { dir, apiKey } = await prepared();
    // At info, it says when it begins shutting down.
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir, LOG_LEVEL: 'info' }));
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

      // A request still arriving when SIGTERM comes is finished, not dropped: the
      // server has its headers (it answered 100 Continue) when the signal comes,
      // and its body follows once the server says it is shutting down.
      const body = JSON.stringify({ email: 'late@example.com', role: 'viewer' });
      const req = request(`${ferry.url}/api/v1/members`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      });
      const pending = new Promise<{ status: number; text: string }>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
      });
      req.flushHeaders();
      await once(req, 'continue');
      const stopping = ferry.stop('SIGTERM');
      await waitFor('the shutdown to begin', () => ferry.output().includes('"shutting down"'));
      req.end(body);
      const response = await pending;
      assert.equal(response.status, 202, response.text);
      // Exit code 0: it stopped within its grace period (past it, its backstop exits with 1).
      assert.equal((await stopping).code, 0, ferry.output());
      // The last process out stopped the server.
      await assert.rejects(stat(join(dir, 'pg', 'data', 'postmaster.pid')), /ENOENT/);
    } finally {
      await ferry.stop('SIGKILL');
    }
  });

  test('S9: a worker killed mid-run (SIGKILL) is detected by its silent heartbeat; the retry leaves exactly one file', async () => {
    const { dir, apiKey } = await prepared();
    const env = baseEnv({ FERRY_DATA_DIR: dir, FERRY_RUN_LEASE_SECONDS: '6' });
    let ferry = await startFerry(['start'], env);
    const api = (path: string, body?: object) =>
      fetch(`${ferry.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
        // biome-ignore lint/suspicious/noExplicitAny: the API's answers, read field by field
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));
    try {
      const demo = (await api('/api/v1/connections')).body.items[0].id;
      const report = await api('/api/v1/reports', {
        name: 'A million rows',
        connectionId: demo,
        sql: 'SELECT g, md5(g::text) AS h FROM generate_series(1, 1000000) AS g',
      });
      const started = await api('/api/v1/exports', { reportId: report.body.id, format: 'csv' });
      assert.equal(started.status, 202);
      const runId: string = started.body.id;
      await waitFor(
        'the export to run',
        async () => (await api(`/api/v1/runs/${runId}`)).body.status === 'running',
        60_000,
        50,
      );
      await ferry.stop('SIGKILL');
      ferry = await startFerry(['start'], env);
      const run = await waitFor('the run to finish after the restart', async () => {
        const current = (await api(`/api/v1/runs/${runId}`)).body;
        return ['succeeded', 'failed'].includes(current.status) && current;
      });
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

  test('a fresh data dir prints the setup token, also written to <data dir>/setup-token; the demo data, built in the background, is waited for by its first query', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'ferry-fresh-'));
    dirs.push(fresh);
    // Enough demo rows that the build is still under way when the server answers.
    const ferry = await startFerry(
      ['start'],
      baseEnv({ FERRY_DATA_DIR: fresh, LOG_LEVEL: 'silent', FERRY_DEMO_ROWS: '50000' }),
    );
    try {
      const readyAtStart = (await (await fetch(`${ferry.url}/readyz`)).json()) as { demo: string };
      assert.ok(['preparing', 'ready'].includes(readyAtStart.demo), JSON.stringify(readyAtStart));
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
      // The workspace's demo connection answers at once, waiting for the build if it runs.
      const { apiKey } = (await r.json()) as { apiKey: string };
      const headers = { authorization: `Bearer ${apiKey}` };
      const connections = (await (await fetch(`${ferry.url}/api/v1/connections`, { headers })).json()) as {
        items: { id: string; type: string }[];
      };
      const demo = connections.items.find((c) => c.type === 'demo')!;
      const schema = await fetch(`${ferry.url}/api/v1/connections/${demo.id}/schema`, { headers });
      assert.equal(schema.status, 200);
      assert.match(await schema.text(), /sales_order_lines/);
      const readyLater = (await (await fetch(`${ferry.url}/readyz`)).json()) as { demo: string };
      assert.equal(readyLater.demo, 'ready');
    } finally {
      assert.equal((await ferry.stop()).code, 0);
    }
  });
});
