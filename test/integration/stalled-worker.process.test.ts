import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { dataDirWithTenant } from '../helpers/data-dir.ts';
import { createTestDatabase, TEST_SECRET } from '../helpers/db.ts';
import { CREATE_PACED_FUNCTION, pacedSql } from '../helpers/paced.ts';
import { removeDataDir } from '../helpers/postmaster.ts';
import { baseEnv, type Running, runFerry, startFerry } from '../helpers/process.ts';
import { startS3 } from '../helpers/s3.ts';
import { waitFor } from '../helpers/time.ts';

// Scheduling S9 with real processes and real signals: a worker stopped (SIGSTOP)
// past its lease and then continued, and a worker killed mid-export. The lost
// attempt must let go of everything it held: its job and worker slot, its source
// query, its partial file, and the process must still stop on SIGTERM.

// About 1 MB/s for minutes: an export that is always mid-way (see paced.ts).
const SLOW_SQL = pacedSql(1);
// Ten times faster: past S3's first 8 MB part in a second or so.
const FAST_SQL = pacedSql(10);

/** The parts of the API's answers these tests read. */
interface Answer {
  id: string;
  status: string;
  items: Array<{ id: string }>;
  progress: { rows: number };
  attemptHistory: Array<{ number: number; status: string; worker: string }>;
}

/** How the processes reach their database, and which command the stalled worker runs. */
interface Setup {
  label: string;
  /**
   * A migrated database with a tenant: the environment for every process, the
   * owner's API key, how the test itself connects, and how it all goes away.
   */
  prepare(): Promise<{
    dataDir: string;
    env: NodeJS.ProcessEnv;
    tenant: { apiKey: string; tenantId: string };
    connect(): Promise<pg.Client>;
    drop(): Promise<void>;
  }>;
  workerArgs: string[];
  /** Also run the lost-file tests (once is enough: they are about storage, not the database). */
  lostFiles?: boolean;
}

const setups: Setup[] = [
  {
    label: 'separate api and worker processes on PostgreSQL (DATABASE_URL)',
    workerArgs: ['worker'],
    async prepare() {
      const database = await createTestDatabase();
      const dataDir = await mkdtemp(join(tmpdir(), 'ferry-stall-'));
      const env = { DATABASE_URL: database.url, FERRY_SECRET: TEST_SECRET, FERRY_DATA_DIR: dataDir };
      const created = await runFerry(
        [
          'tenant',
          'create',
          '--name',
          'Stall',
          '--email',
          'stall@example.com',
          '--password',
          'long-enough-pw',
          '--json',
        ],
        baseEnv(env),
      );
      assert.equal(created.code, 0, created.stderr);
      return {
        dataDir,
        env,
        tenant: JSON.parse(created.stdout) as { apiKey: string; tenantId: string },
        connect: async () => {
          const client = new pg.Client({ connectionString: database.url });
          await client.connect();
          return client;
        },
        drop: async () => {
          await database.release();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    label: '`ferry start` and `ferry worker` on the embedded database',
    workerArgs: ['start'],
    lostFiles: true,
    async prepare() {
      const { dir: dataDir, apiKey, tenantId } = await dataDirWithTenant('ferry-stall-');
      return {
        dataDir,
        env: { FERRY_DATA_DIR: dataDir },
        tenant: { apiKey, tenantId },
        connect: async () => {
          const client = new pg.Client({
            host: join(dataDir, 'pg', 'run'),
            user: 'ferry',
            database: 'ferry',
            password: (await readFile(join(dataDir, 'pg', 'password'), 'utf8')).trim(),
          });
          await client.connect();
          return client;
        },
        drop: () => removeDataDir(dataDir),
      };
    },
  },
];

// The two setups share nothing (each has its database, data directory and
// processes): they run side by side.
describe('a stalled or killed worker', { concurrency: true }, () => {
  // Within a setup, one test at a time: they share its processes.
  for (const setup of setups)
    describe(setup.label, { concurrency: 1 }, () => {
      let db: pg.Client;
      let drop = async () => {};
      let dataDir: string;
      let env: NodeJS.ProcessEnv;
      let apiKey: string;
      let api: Running;
      let tenantId: string;
      let slowReport: string;
      let fastReport: string;
      const started: Running[] = [];

      const call = (path: string, body?: object): Promise<{ status: number; body: Answer }> =>
        fetch(`${api.url}${path}`, {
          method: body ? 'POST' : 'GET',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          ...(body ? { body: JSON.stringify(body) } : {}),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Answer }));
      const getRun = async (id: string) => (await call(`/api/v1/runs/${id}`)).body;
      const workerId = (p: Running) => `${hostname()}:${p.child.pid}`;
      const start = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
        const p = await startFerry(args, { ...env, ...extra });
        started.push(p);
        return p;
      };
      /** The attempts of a run as [number, status, worker]. */
      const attempts = async (id: string) =>
        (await getRun(id)).attemptHistory.map((a) => [a.number, a.status, a.worker]);
      /** The pg-boss state of the job of one attempt of a run. */
      const jobState = async (runId: string, attempt: number) =>
        (
          await db.query<{ state: string }>(
            `SELECT state FROM pgboss.job WHERE name = 'run.execute' AND data->>'runId' = $1
              AND (data->>'attempt')::int = $2 ORDER BY created_on DESC LIMIT 1`,
            [runId, attempt],
          )
        ).rows[0]?.state;
      const partials = async (runId: string) =>
        (await readdir(join(dataDir, 'artifacts', '.tmp')).catch(() => [] as string[])).filter((f) =>
          f.startsWith(`${runId}-`),
        );
      const exportOf = async (reportId: string) => {
        const r = await call('/api/v1/exports', { reportId, format: 'csv' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        return r.body.id;
      };

      before(async () => {
        const prepared = await setup.prepare();
        ({ dataDir, drop } = prepared);
        ({ apiKey, tenantId } = prepared.tenant);
        env = baseEnv({ ...prepared.env, FERRY_RUN_LEASE_SECONDS: '6', FERRY_WORKER_CONCURRENCY: '2' });
        api = await start(['api']);
        db = await prepared.connect();
        await db.query(CREATE_PACED_FUNCTION);
        const demo = (await call('/api/v1/connections')).body.items[0]!.id;
        const report = await call('/api/v1/reports', { name: 'Slow', connectionId: demo, sql: SLOW_SQL });
        assert.equal(report.status, 201, JSON.stringify(report.body));
        slowReport = report.body.id;
        const fast = await call('/api/v1/reports', { name: 'Fast', connectionId: demo, sql: FAST_SQL });
        assert.equal(fast.status, 201, JSON.stringify(fast.body));
        fastReport = fast.body.id;
      });

      after(async () => {
        for (const p of started) {
          if (p.child.exitCode === null && p.child.signalCode === null) {
            p.child.kill('SIGCONT');
            await p.stop('SIGKILL');
          }
        }
        await db?.end();
        await drop();
      });

      test('S9: a worker stopped past its lease and continued drops its stale attempt, runs two exports at once again, and stops on SIGTERM', async (t) => {
        const stalled = await start(setup.workerArgs);
        const runId = await exportOf(slowReport);
        await waitFor('the export to stream on the first worker', async () => {
          const run = await getRun(runId);
          return run.status === 'running' && run.progress.rows > 0;
        });
        assert.deepEqual(await attempts(runId), [[1, 'running', workerId(stalled)]]);
        assert.ok((await partials(runId)).length > 0, 'the attempt writes its partial file');

        stalled.child.kill('SIGSTOP');
        const other = await start(['worker']);
        // The second worker declares the silent attempt lost and runs the next one.
        await waitFor('the second worker to take the run over', async () => {
          const list = await attempts(runId);
          return list.length === 2 && list[1]![1] === 'running' && list[1]![2] === workerId(other);
        });
        assert.equal((await attempts(runId))[0]![1], 'lost');

        stalled.child.kill('SIGCONT');
        // The stale attempt notices, aborts its export and lets its job and partial file go.
        await waitFor('the stale attempt to settle its job', async () => {
          const state = await jobState(runId, 1);
          return state !== 'active' && state !== 'created' ? state : undefined;
        });
        await waitFor('the stale attempt to remove its partial file', async () =>
          (await partials(runId)).every((f) => !f.startsWith(`${runId}-1-`)),
        );
        // Its query is stopped on the server: only the newer attempt's is left.
        await waitFor("the stale attempt's query to end on the server", async () => {
          const r = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
                AND query LIKE '%ferry_q%'`,
          );
          return r.rows[0]!.n === 1;
        });
        // The newer attempt is not disturbed by it.
        const current = await getRun(runId);
        assert.equal(current.status, 'running');
        assert.deepEqual(await attempts(runId), [
          [1, 'lost', workerId(stalled)],
          [2, 'running', workerId(other)],
        ]);

        // Hand the run back and leave the first worker alone with new work.
        assert.equal((await call(`/api/v1/runs/${runId}/cancel`, {})).status, 200);
        await waitFor('the cancel', async () => (await getRun(runId)).status === 'cancelled');
        const otherStop = await other.stop('SIGTERM');
        assert.equal(otherStop.code, 0, other.output());

        // Both of its slots work again: two exports run on it at the same time.
        const a = await exportOf(slowReport);
        const b = await exportOf(slowReport);
        await waitFor('two exports running at once on the resumed worker', async () => {
          for (const id of [a, b]) {
            const run = await getRun(id);
            if (run.status !== 'running' || run.attemptHistory.at(-1)?.worker !== workerId(stalled))
              return false;
          }
          return true;
        });

        // SIGTERM with two exports mid-way: the process exits within its grace period
        // (exit code 0; past it, its backstop exits with 1).
        const stopped = await stalled.stop('SIGTERM');
        t.diagnostic(`SIGTERM to exit with two exports running: ${stopped.ms} ms`);
        assert.equal(stopped.code, 0, stalled.output());
        assert.doesNotMatch(stalled.output(), /heartbeat failed/);
        // Its runs are handed back at once rather than waiting out their lease, and leave no partial file.
        for (const id of [a, b]) {
          const run = await getRun(id);
          assert.equal(run.status, 'queued', JSON.stringify(run));
          assert.equal(run.attemptHistory[0]?.status, 'lost');
          assert.deepEqual(await partials(id), []);
        }
        // Not left for the next test's worker: two slow exports would take both its slots.
        for (const id of [a, b]) {
          assert.equal((await call(`/api/v1/runs/${id}/cancel`, {})).status, 200);
          await waitFor(
            'the handed-back run to be cancelled',
            async () => (await getRun(id)).status === 'cancelled',
          );
        }
      });

      for (const storage of ['local', 's3'] as const) {
        if (!setup.lostFiles) continue;
        test(`a killed attempt's partial file (${storage === 's3' ? 'an S3 multipart upload' : 'a local .part file'}) is removed when the attempt is declared lost`, async () => {
          const s3 = storage === 's3' ? await startS3() : undefined;
          const client = s3
            ? new S3Client({
                region: 'us-east-1',
                endpoint: s3.endpoint,
                forcePathStyle: true,
                credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
              })
            : undefined;
          try {
            const storageEnv = s3?.env ?? {};
            const killed = await start(['worker'], storageEnv);
            const runId = await exportOf(fastReport);
            // Attempt 1's unfinished file: its .part file, or its multipart upload (once a first part is up).
            const unfinished = async (attempt: number) =>
              client && s3
                ? (
                    (
                      await client.send(
                        new ListMultipartUploadsCommand({
                          Bucket: s3.bucket,
                          Prefix: `${s3.env['S3_PREFIX']}/${tenantId}/${runId}/${attempt}/`,
                        }),
                      )
                    ).Uploads ?? []
                  ).map((u) => u.Key)
                : (await partials(runId)).filter((f) => f.startsWith(`${runId}-${attempt}-`));
            await waitFor(
              'the first attempt to write its partial file',
              async () => (await unfinished(1)).length > 0,
            ).catch(async (error: Error) => {
              // Say where the run was, and what the worker printed, when it never got there.
              throw new Error(
                `${error.message}\nrun: ${JSON.stringify(await getRun(runId))}\nworker output:\n${killed.output().slice(-4000)}`,
              );
            });
            await killed.stop('SIGKILL');

            const other = await start(['worker'], storageEnv);
            await waitFor(
              'the attempt to be declared lost',
              async () => (await attempts(runId))[0]?.[1] === 'lost',
            );
            // Removed now, by whoever declared it lost; not by the daily sweep (which would
            // only take it a day later, and does not run here).
            await waitFor(
              "the lost attempt's partial file to be removed",
              async () => (await unfinished(1)).length === 0,
            );

            assert.equal((await call(`/api/v1/runs/${runId}/cancel`, {})).status, 200);
            await waitFor('the cancel', async () => (await getRun(runId)).status === 'cancelled');
            assert.deepEqual(await unfinished(2), [], 'the cancelled attempt removed its own partial file');
            assert.equal((await other.stop('SIGTERM')).code, 0, other.output());
          } finally {
            client?.destroy();
            await s3?.close();
          }
        });
      }
    });
});
