import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AppContext, createContext } from '../src/app/context.ts';
import { loadConfig } from '../src/config.ts';
import { bossAdapter, type Db, type QueryResult, type Tx } from '../src/db/db.ts';
import { demoReaders, dropDemoReadersSql } from '../src/demo/readers.ts';
import { createLogger } from '../src/lib/log.ts';
import type { Principal } from '../src/modules/auth-context.ts';
import type { Deps } from '../src/modules/deps.ts';
import { createExport } from '../src/modules/runs/service.ts';
import { fireDueSchedules } from '../src/scheduler/claim-due.ts';
import { SCHEDULER_BATCH, startSchedulerLoop } from '../src/scheduler/loop.ts';
import { admin, dbUrl, fmt, percentile, table } from './lib.ts';

// The scheduler on PostgreSQL, in three parts:
//  1. a burst: 10,000 of 100,000 active schedules due in the same minute, fired
//     by 1 and by 3 `ferry scheduler` processes (time until every run and job is
//     committed, and a check that there is exactly one of each), then the same
//     burst fired in-process tick by tick to show what one batch transaction costs;
//  2. steady load: ~1,000 firings a minute at arbitrary instants, one scheduler
//     loop, lateness of each run (created_at − scheduled_for, database clock);
//  3. end to end: 1,000 small CSV exports due at once through `ferry start`
//     (default worker settings), against the same 1,000 exports created directly
//     with the service behind POST /api/v1/exports, executed by the same process.
// Time is moved with the database clock (clock_offset, read by ferry_now()):
// the due schedules sit at a fixed instant and every process sees it at once.

const SECRET = 'bench-scheduler-secret-that-is-long-enough-0123456789';
const ROOT = join(import.meta.dirname, '..');

const TENANTS = 100;
const SCHEDULES = Number(process.env['BENCH_SCHEDULES'] ?? 100_000);
const DUE = Number(process.env['BENCH_DUE'] ?? 10_000);
/** Part 2: seconds of real time over which the steady-load schedules come due. */
const STEADY_SECONDS = Number(process.env['BENCH_STEADY_SECONDS'] ?? 60);
const STEADY_PER_MINUTE = 1_000;
const E2E_RUNS = Number(process.env['BENCH_E2E_RUNS'] ?? 1_000);
const E2E_TENANTS = 10;
/** Part 3: a path still running after this long is stopped (its time is projected from its rate). */
const E2E_CAP_SECONDS = Number(process.env['BENCH_E2E_CAP_SECONDS'] ?? 60);

/** The due instant of the burst (database clock); cron `0 0 * * *` fires exactly then. */
const T0 = new Date('2030-01-01T00:00:00Z');
/** How far before a due instant the database clock is set once the schedulers are ready. */
const LEAD_MS = 2_000;
const REPORT_SQL =
  "SELECT g AS id, 'line ' || g AS label, g * 1.25 AS amount, date '2030-01-01' + g AS day FROM generate_series(1, 100) AS g";

const log = createLogger('silent');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- plumbing

async function createDatabase(name: string): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
}

/** Drops the database and the demo reader roles Ferry created for it (roles are cluster-wide). */
async function dropDatabase(name: string): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(dropDemoReadersSql(demoReaders(dbUrl(name), SECRET).group));
}

function ferryEnv(database: string, dataDir: string, extra: Record<string, string> = {}) {
  return {
    PATH: process.env['PATH'] ?? '',
    DATABENCH_BASE_URL: dbUrl(database),
    FERRY_SECRET: SECRET,
    FERRY_DATA_DIR: dataDir,
    FERRY_DEMO_ROWS: '1000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function openContext(database: string, dataDir: string): Promise<AppContext> {
  // The 'api' role: migrations, demo data and pg-boss, but no scheduler loop and no workers.
  return createContext(loadConfig(ferryEnv(database, dataDir)), { roles: new Set(['api'] as const), log });
}

interface Child {
  stop(): Promise<void>;
}

/** Starts `node src/main.ts <command>` and resolves once it prints `ready`. */
function startFerry(command: string, env: Record<string, string>, ready: string): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, ['src/main.ts', command], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<Child>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes(ready))
        resolve({
          async stop() {
            if (child.exitCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
    });
    child.once('exit', (code) => reject(new Error(`ferry ${command} exited (${code}): ${stderr}`)));
    // A process that neither becomes ready nor exits (a start-up error that leaves pg-boss running).
    setTimeout(() => {
      if (stdout.includes(ready)) return;
      child.kill('SIGKILL');
      reject(new Error(`ferry ${command} was not ready after 60 s: ${stderr}`));
    }, 60_000).unref();
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Sets the database clock (ferry_now()) to `at`; returns performance.now() at that database instant. */
async function setDatabaseNow(db: Db, at: Date): Promise<number> {
  const before = performance.now();
  await db.query(
    `INSERT INTO clock_offset (singleton, shift) VALUES (true, $1::timestamptz - clock_timestamp())
     ON CONFLICT (singleton) DO UPDATE SET shift = excluded.shift`,
    [at],
  );
  return (before + performance.now()) / 2;
}

async function count(db: Db, sql: string): Promise<number> {
  const r = await db.query<{ n: string }>(sql);
  return Number(r.rows[0]!.n);
}

/** Tenants, their owner, demo connection and one 100-row report each, in bulk. */
function seedTenantsSql(tenants: number): string {
  return `
INSERT INTO tenants (id, name, slug)
  SELECT md5('tenant-' || i)::uuid, 'Bench tenant ' || i, 'bench-tenant-' || i FROM generate_series(1, ${tenants}) i;
INSERT INTO users (id, email, name)
  SELECT md5('user-' || i)::uuid, 'owner-' || i || '@bench.example', 'Owner ' || i FROM generate_series(1, ${tenants}) i;
INSERT INTO memberships (tenant_id, user_id, role)
  SELECT md5('tenant-' || i)::uuid, md5('user-' || i)::uuid, 'owner' FROM generate_series(1, ${tenants}) i;
INSERT INTO connections (id, tenant_id, name, type)
  SELECT md5('connection-' || i)::uuid, md5('tenant-' || i)::uuid, 'Demo data', 'demo' FROM generate_series(1, ${tenants}) i;
INSERT INTO reports (id, tenant_id, connection_id, name, sql)
  SELECT md5('report-' || i)::uuid, md5('tenant-' || i)::uuid, md5('connection-' || i)::uuid, 'Hundred rows', $q$${REPORT_SQL}$q$
    FROM generate_series(1, ${tenants}) i;`;
}

/** `total` daily schedules spread over the tenants; the first `due` are due at `dueAt`, the rest a day later. */
function seedSchedulesSql(tenants: number, total: number, due: number, dueAt: Date, prefix = ''): string {
  return `
INSERT INTO schedules (id, tenant_id, report_id, name, format, cron, next_run_at, owner_id)
  SELECT gen_random_uuid(), md5('tenant-' || t)::uuid, md5('report-' || t)::uuid,
         CASE WHEN i <= ${due} THEN '${prefix}due-' ELSE '${prefix}later-' END || i, 'csv', '0 0 * * *',
         CASE WHEN i <= ${due} THEN '${dueAt.toISOString()}'::timestamptz
              ELSE '${dueAt.toISOString()}'::timestamptz + interval '1 day' END,
         md5('user-' || t)::uuid
    FROM generate_series(1, ${total}) i, LATERAL (SELECT (i % ${tenants}) + 1 AS t) x;`;
}

// ---------------------------------------------------------------- part 1: burst

interface BurstResult {
  label: string;
  seconds: number;
  lastCreatedMs: number;
  runs: number;
  occurrences: number;
  jobs: number;
  jobRuns: number;
}

async function resetBurst(db: Db): Promise<void> {
  await db.exec(`
    DELETE FROM runs;
    DELETE FROM pgboss.job WHERE name = 'run.execute';
    UPDATE schedules SET next_run_at = '${T0.toISOString()}', backlog = '{}' WHERE name LIKE 'due-%';`);
  await db.exec('VACUUM ANALYZE schedules, runs, pgboss.job');
}

async function burstCounts(db: Db) {
  const r = await db.query<{
    runs: string;
    occurrences: string;
    jobs: string;
    job_runs: string;
    last: number;
  }>(
    `SELECT (SELECT count(*) FROM runs) AS runs,
            (SELECT count(DISTINCT (schedule_id, scheduled_for)) FROM runs) AS occurrences,
            (SELECT count(*) FROM pgboss.job WHERE name = 'run.execute') AS jobs,
            (SELECT count(DISTINCT data->>'runId') FROM pgboss.job WHERE name = 'run.execute') AS job_runs,
            (SELECT extract(epoch FROM max(created_at) - $1::timestamptz) * 1000 FROM runs)::float8 AS last`,
    [T0],
  );
  const row = r.rows[0]!;
  return {
    runs: Number(row.runs),
    occurrences: Number(row.occurrences),
    jobs: Number(row.jobs),
    jobRuns: Number(row.job_runs),
    lastCreatedMs: Number(row.last),
  };
}

/** Fires the burst with `processes` scheduler processes; time from the due instant until all is committed. */
async function burstWithProcesses(
  ctx: AppContext,
  database: string,
  dataDir: string,
  processes: number,
): Promise<BurstResult> {
  await resetBurst(ctx.db);
  await setDatabaseNow(ctx.db, new Date(T0.getTime() - 3_600_000));
  const children = await Promise.all(
    Array.from({ length: processes }, () =>
      startFerry('scheduler', ferryEnv(database, dataDir), 'Ferry scheduler is running'),
    ),
  );
  try {
    // Every loop re-reads the next due instant at least once a second, so 2 s ahead all have seen it.
    const dueAt = (await setDatabaseNow(ctx.db, new Date(T0.getTime() - LEAD_MS))) + LEAD_MS;
    let done = 0;
    for (;;) {
      const runs = await count(ctx.db, 'SELECT count(*) AS n FROM runs');
      const jobs = await count(ctx.db, "SELECT count(*) AS n FROM pgboss.job WHERE name = 'run.execute'");
      if (runs >= DUE && jobs >= DUE) {
        done = performance.now();
        break;
      }
      if (performance.now() - dueAt > 120_000) throw new Error(`burst stalled at ${runs} runs, ${jobs} jobs`);
      await sleep(20);
    }
    // Leave the schedulers running a little longer: a duplicate would show up now.
    await sleep(1_500);
    const c = await burstCounts(ctx.db);
    return {
      label: `${processes} × \`ferry scheduler\` process${processes > 1 ? 'es' : ''}`,
      seconds: (done - dueAt) / 1000,
      ...c,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

interface TickProfile {
  ms: number;
  claimed: number;
  statements: Array<{ label: string; ms: number }>;
  seqRead: number;
  idxFetch: number;
  written: number;
  /** Per table: rows read by sequential scans, fetched through indexes, and written. */
  tables: Map<string, [number, number, number]>;
}

function statementLabel(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (/^SELECT ferry_now\(\)/.test(s)) return 'read the database clock';
  if (/FOR UPDATE OF s SKIP LOCKED/.test(s)) return 'claim due schedules (FOR UPDATE SKIP LOCKED)';
  if (/^INSERT INTO runs/.test(s)) return 'insert runs (jsonb_to_recordset)';
  if (/FROM runs .*GROUP BY tenant_id/.test(s)) return 'count queued runs per tenant (job priority)';
  if (/^UPDATE schedules s SET next_run_at/.test(s)) return 'advance next_run_at';
  if (/pgboss/.test(s)) return `pg-boss: ${s.slice(0, 40)}…`;
  return s.slice(0, 50);
}

/** A Db whose transactions time every statement and read the transaction's own table statistics. */
function profiledDb(
  db: Db,
  onTick: (p: Omit<TickProfile, 'ms' | 'claimed'> & { statsMs: number }) => void,
): Db {
  return {
    query: (text, params) => db.query(text, params),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
    transaction: (fn) =>
      db.transaction(async (raw) => {
        // pg_stat_xact_* holds what this backend has not yet flushed to the shared statistics, which
        // on PostgreSQL 15+ can include earlier transactions: the tick's share is the difference.
        const snapshot = async () => {
          const stats = await raw.query<{ name: string; seq: string; idx: string; written: string }>(
            `SELECT schemaname || '.' || relname AS name, seq_tup_read AS seq, coalesce(idx_tup_fetch, 0) AS idx,
                    n_tup_ins + n_tup_upd + n_tup_del AS written
               FROM pg_stat_xact_all_tables WHERE schemaname IN ('public', 'pgboss')`,
          );
          return new Map(
            stats.rows.map((t) => [t.name, [Number(t.seq), Number(t.idx), Number(t.written)] as const]),
          );
        };
        let started = performance.now();
        const before = await snapshot();
        let statsMs = performance.now() - started;
        const statements: Array<{ label: string; ms: number }> = [];
        const query = async <R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
          const started = performance.now();
          try {
            return await raw.query<R>(text, params);
          } finally {
            statements.push({ label: statementLabel(text), ms: performance.now() - started });
          }
        };
        const inner = { query, exec: (sql: string) => raw.exec(sql) };
        const tx: Tx = { ...inner, isTransaction: true, boss: bossAdapter(inner) };
        const result = await fn(tx);
        started = performance.now();
        const after = await snapshot();
        statsMs += performance.now() - started;
        const tables = new Map<string, [number, number, number]>();
        for (const [name, v] of after) {
          const b = before.get(name) ?? [0, 0, 0];
          const d: [number, number, number] = [v[0] - b[0], v[1] - b[1], v[2] - b[2]];
          if (d.some((x) => x > 0)) tables.set(name, d);
        }
        const sum = (i: number) => [...tables.values()].reduce((a, v) => a + v[i]!, 0);
        onTick({ statements, seqRead: sum(0), idxFetch: sum(1), written: sum(2), tables, statsMs });
        return result;
      }),
  };
}

/** The burst fired in this process, one fireDueSchedules(500) after another, each tick profiled. */
async function burstProfiled(ctx: AppContext): Promise<{ result: BurstResult; ticks: TickProfile[] }> {
  await resetBurst(ctx.db);
  let last: (Omit<TickProfile, 'ms' | 'claimed'> & { statsMs: number }) | null = null;
  const deps: Deps = {
    ...ctx,
    db: profiledDb(ctx.db, (p) => {
      last = p;
    }),
  };
  const dueAt = (await setDatabaseNow(ctx.db, new Date(T0.getTime() + 1_000))) - 1_000;
  const ticks: TickProfile[] = [];
  const started = performance.now();
  for (;;) {
    const t = performance.now();
    const r = await fireDueSchedules(deps, SCHEDULER_BATCH);
    const p = last as unknown as Omit<TickProfile, 'ms' | 'claimed'> & { statsMs: number };
    if (r.claimed === 0) break;
    ticks.push({ ...p, ms: performance.now() - t - p.statsMs, claimed: r.claimed });
  }
  const done = performance.now();
  const c = await burstCounts(ctx.db);
  return {
    result: {
      label: `in-process fireDueSchedules(${SCHEDULER_BATCH}) loop (profiled)`,
      seconds: (done - started) / 1000,
      ...c,
      lastCreatedMs: c.lastCreatedMs - (started - dueAt),
    },
    ticks,
  };
}

async function partBurst(database: string, dataDir: string): Promise<void> {
  const ctx = await openContext(database, dataDir);
  try {
    const seedStarted = performance.now();
    await ctx.db.exec(seedTenantsSql(TENANTS) + seedSchedulesSql(TENANTS, SCHEDULES, DUE, T0));
    await ctx.db.exec('ANALYZE');
    const seedSeconds = (performance.now() - seedStarted) / 1000;

    const results = [
      await burstWithProcesses(ctx, database, dataDir, 1),
      await burstWithProcesses(ctx, database, dataDir, 3),
    ];
    const profiled = await burstProfiled(ctx);
    results.push(profiled.result);

    process.stdout.write(
      `### 1. Burst: ${fmt(DUE)} of ${fmt(SCHEDULES)} active schedules (${TENANTS} tenants) due at the same instant\n\n` +
        `Seeded in ${seedSeconds.toFixed(1)} s. "due → committed" is wall time from the due instant (database clock) until ` +
        `${fmt(DUE)} runs and ${fmt(DUE)} run.execute jobs are visible; "last claim" is max(runs.created_at) − due ` +
        '(the database clock when the last batch was claimed). Counts are taken 1.5 s after completion, schedulers still running.\n\n',
    );
    const reference = results[0]!.seconds;
    const rows = [
      [
        'scheduler',
        'due → committed',
        'schedules/s',
        'last claim',
        'runs',
        'distinct occurrences',
        'jobs',
        'distinct job runs',
        'exactly once',
        'time vs 1 process',
      ],
    ];
    for (const r of results) {
      const ok = [r.runs, r.occurrences, r.jobs, r.jobRuns].every((n) => n === DUE);
      rows.push([
        r.label,
        `${r.seconds.toFixed(2)} s`,
        fmt(DUE / r.seconds),
        `${(r.lastCreatedMs / 1000).toFixed(2)} s`,
        fmt(r.runs),
        fmt(r.occurrences),
        fmt(r.jobs),
        fmt(r.jobRuns),
        ok ? 'yes' : 'NO',
        (r.seconds / reference).toFixed(2),
      ]);
    }
    table(rows);

    const ticks = profiled.ticks;
    const ms = ticks.map((t) => t.ms).sort((a, b) => a - b);
    const claimed = ticks.reduce((s, t) => s + t.claimed, 0);
    const totalMs = ms.reduce((s, v) => s + v, 0);
    const avg = (f: (t: TickProfile) => number) => ticks.reduce((s, t) => s + f(t), 0) / ticks.length;
    process.stdout.write(
      `Per batch transaction (in-process run above; pg_stat_statements is not preloaded on this server, so each statement ` +
        'is timed at the client and rows come from pg_stat_xact_all_tables inside the transaction, pgboss schema included):\n\n',
    );
    table([
      [
        'ticks',
        'schedules per tick',
        'ms per tick p50 / p95 / max',
        'ms per schedule',
        'statements per tick',
        'rows read (seq scan / index) per tick',
        'rows written per tick',
      ],
      [
        fmt(ticks.length),
        fmt(claimed / ticks.length),
        `${ms.length ? percentile(ms, 50).toFixed(1) : '-'} / ${percentile(ms, 95).toFixed(1)} / ${percentile(ms, 100).toFixed(1)}`,
        (totalMs / claimed).toFixed(3),
        avg((t) => t.statements.length).toFixed(1),
        `${fmt(avg((t) => t.seqRead))} / ${fmt(avg((t) => t.idxFetch))}`,
        fmt(avg((t) => t.written)),
      ],
    ]);
    const byLabel = new Map<string, { calls: number; ms: number }>();
    for (const t of ticks)
      for (const s of t.statements) {
        const e = byLabel.get(s.label) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += s.ms;
        byLabel.set(s.label, e);
      }
    const stmtRows = [['statement', 'per tick', 'ms per tick', 'share of tick']];
    let statementMs = 0;
    for (const [label, e] of [...byLabel].sort((a, b) => b[1].ms - a[1].ms)) {
      statementMs += e.ms;
      stmtRows.push([
        label,
        (e.calls / ticks.length).toFixed(1),
        (e.ms / ticks.length).toFixed(1),
        `${((100 * e.ms) / totalMs).toFixed(0)} %`,
      ]);
    }
    stmtRows.push([
      'planning in Node, BEGIN/COMMIT, pool',
      '-',
      ((totalMs - statementMs) / ticks.length).toFixed(1),
      `${((100 * (totalMs - statementMs)) / totalMs).toFixed(0)} %`,
    ]);
    table(stmtRows);
    const byTable = new Map<string, [number, number, number]>();
    for (const t of ticks)
      for (const [name, v] of t.tables) {
        const e = byTable.get(name) ?? [0, 0, 0];
        byTable.set(name, [e[0] + v[0], e[1] + v[1], e[2] + v[2]]);
      }
    const tableRows = [
      ['table', 'rows read by seq scan per tick', 'rows fetched by index per tick', 'rows written per tick'],
    ];
    for (const [name, v] of [...byTable].sort((a, b) => b[1][0] + b[1][1] - a[1][0] - a[1][1]))
      tableRows.push([name, ...v.map((x) => fmt(x / ticks.length))]);
    table(tableRows);

    await partSteady(ctx);
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------- part 2: steady load

async function partSteady(ctx: AppContext): Promise<void> {
  const n = Math.round((STEADY_SECONDS * STEADY_PER_MINUTE) / 60);
  // Six hours after the burst: nothing else is due (the other 100,000 schedules wait for the next midnight).
  const base = new Date(T0.getTime() + 6 * 3_600_000);
  await ctx.db.exec(`
    DELETE FROM runs;
    DELETE FROM pgboss.job WHERE name = 'run.execute';`);
  // next_run_at at arbitrary instants (not cron occurrences: the scheduler only reads next_run_at);
  // after firing, each moves on to the next midnight of its daily cron.
  await ctx.db.exec(`
    INSERT INTO schedules (id, tenant_id, report_id, name, format, cron, next_run_at)
      SELECT gen_random_uuid(), md5('tenant-' || t)::uuid, md5('report-' || t)::uuid, 'steady-' || i, 'csv', '0 0 * * *',
             '${base.toISOString()}'::timestamptz + interval '${LEAD_MS} milliseconds'
               + random() * interval '${STEADY_SECONDS} seconds'
        FROM generate_series(1, ${n}) i, LATERAL (SELECT (i % ${TENANTS}) + 1 AS t) x;`);
  await ctx.db.exec('VACUUM ANALYZE schedules, runs, pgboss.job');
  let ticks = 0;
  const deps: Deps = {
    ...ctx,
    db: profiledDb(ctx.db, () => {
      ticks++;
    }),
  };
  await setDatabaseNow(ctx.db, base);
  const loop = startSchedulerLoop(deps);
  await sleep(LEAD_MS + STEADY_SECONDS * 1000 + 2_000);
  await loop.stop();
  const r = await ctx.db.query<{ ms: number }>(
    `SELECT (extract(epoch FROM r.created_at - r.scheduled_for) * 1000)::float8 AS ms
       FROM runs r JOIN schedules s ON s.id = r.schedule_id WHERE s.name LIKE 'steady-%'`,
  );
  const lateness = r.rows.map((row) => Number(row.ms)).sort((a, b) => a - b);
  const jobs = await count(ctx.db, "SELECT count(*) AS n FROM pgboss.job WHERE name = 'run.execute'");
  process.stdout.write(
    `### 2. Steady load: ${fmt(n)} schedules due at random instants over ${STEADY_SECONDS} s ` +
      `(${fmt(STEADY_PER_MINUTE)} firings/min) among ${fmt(SCHEDULES + n)} active schedules, one startSchedulerLoop\n\n` +
      'Lateness = runs.created_at − runs.scheduled_for, both from the database clock (created_at is the clock read at the ' +
      'start of the claiming transaction, so commit time is not included).\n\n',
  );
  table([
    ['runs created', 'jobs', 'transactions', 'lateness p50', 'p99', 'max'],
    [
      `${fmt(lateness.length)} of ${fmt(n)}`,
      fmt(jobs),
      fmt(ticks),
      `${percentile(lateness, 50).toFixed(1)} ms`,
      `${percentile(lateness, 99).toFixed(1)} ms`,
      `${percentile(lateness, 100).toFixed(1)} ms`,
    ],
  ]);
}

// ---------------------------------------------------------------- part 3: end to end

interface E2eResult {
  seconds: number;
  succeeded: number;
  failed: number;
  finished: boolean;
}

/** Waits until all E2E_RUNS runs of `trigger` have ended, or E2E_CAP_SECONDS have passed. */
async function waitSucceeded(db: Db, trigger: string, startedAt: number): Promise<E2eResult> {
  for (;;) {
    const r = await db.query<{ done: string; failed: string }>(
      `SELECT count(*) FILTER (WHERE status = 'succeeded') AS done,
              count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS failed
         FROM runs WHERE trigger = $1`,
      [trigger],
    );
    const succeeded = Number(r.rows[0]!.done);
    const failed = Number(r.rows[0]!.failed);
    const seconds = (performance.now() - startedAt) / 1000;
    if (succeeded + failed >= E2E_RUNS) return { seconds, succeeded, failed, finished: true };
    if (seconds > E2E_CAP_SECONDS) return { seconds, succeeded, failed, finished: false };
    await sleep(100);
  }
}

/** Drops what is still waiting (after a capped phase) so the next phase has the worker to itself. */
async function dropQueued(db: Db): Promise<void> {
  await db.exec(`
    DELETE FROM pgboss.job WHERE name = 'run.execute' AND state IN ('created', 'retry');
    UPDATE runs SET status = 'cancelled', finished_at = ferry_now() WHERE status = 'queued';`);
  for (
    let i = 0;
    i < 100 && (await count(db, "SELECT count(*) AS n FROM runs WHERE status = 'running'")) > 0;
    i++
  )
    await sleep(100);
}

function e2eRow(label: string, r: E2eResult, reference: E2eResult | null): string[] {
  const rate = r.succeeded / r.seconds;
  const projected = r.finished ? r.seconds : E2E_RUNS / rate;
  const refProjected = reference
    ? reference.finished
      ? reference.seconds
      : E2E_RUNS / (reference.succeeded / reference.seconds)
    : projected;
  return [
    label,
    `${fmt(r.succeeded)} of ${fmt(E2E_RUNS)}`,
    fmt(r.failed),
    r.finished
      ? `${r.seconds.toFixed(1)} s`
      : `stopped at ${r.seconds.toFixed(0)} s; ~${projected.toFixed(0)} s projected`,
    rate.toFixed(1),
    (projected / refProjected).toFixed(2),
  ];
}

async function partEndToEnd(database: string, dataDir: string): Promise<void> {
  const ctx = await openContext(database, dataDir);
  let server: Child | undefined;
  try {
    await ctx.db.exec(seedTenantsSql(E2E_TENANTS) + seedSchedulesSql(E2E_TENANTS, E2E_RUNS, E2E_RUNS, T0));
    await ctx.db.exec('ANALYZE');
    await setDatabaseNow(ctx.db, new Date(T0.getTime() - 3_600_000));
    const port = await freePort();
    server = await startFerry(
      'start',
      ferryEnv(database, dataDir, { PORT: String(port), HOST: '127.0.0.1' }),
      'Ferry is running at',
    );

    // Scheduled: all due at T0.
    const dueAt = (await setDatabaseNow(ctx.db, new Date(T0.getTime() - LEAD_MS))) + LEAD_MS;
    const scheduled = await waitSucceeded(ctx.db, 'schedule', dueAt);
    if (!scheduled.finished) await dropQueued(ctx.db);

    // Reference: the same 1,000 exports created with the service behind POST /api/v1/exports
    // (8 at a time, like concurrent API clients), executed by the same process.
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < E2E_RUNS) {
          const i = next++;
          const tenant = (i % E2E_TENANTS) + 1;
          const ids = await ctx.db.query<{ tenant: string; usr: string; report: string }>(
            `SELECT md5('tenant-' || $1::int)::uuid AS tenant, md5('user-' || $1::int)::uuid AS usr,
                    md5('report-' || $1::int)::uuid AS report`,
            [tenant],
          );
          const row = ids.rows[0]!;
          const actor: Principal = {
            kind: 'api_key',
            tenantId: row.tenant,
            userId: row.usr,
            apiKeyId: null,
            sessionId: null,
            role: 'owner',
            permissions: new Set(),
            isInstanceAdmin: false,
            label: 'bench',
          };
          await createExport(
            ctx,
            actor,
            { ip: null, userAgent: null },
            { reportId: row.report, format: 'csv' },
            'api',
          );
        }
      }),
    );
    const createdSeconds = (performance.now() - started) / 1000;
    const direct = await waitSucceeded(ctx.db, 'api', started);
    if (!direct.finished) await dropQueued(ctx.db);

    process.stdout.write(
      `### 3. End to end: ${fmt(E2E_RUNS)} CSV exports of 100 rows (local storage) over ${E2E_TENANTS} tenants, ` +
        `one \`ferry start\` process (api + worker + scheduler, FERRY_WORKER_CONCURRENCY default ${loadConfig(ferryEnv(database, dataDir)).workerConcurrency})\n\n` +
        'Scheduled: from the due instant until every run has succeeded. Direct: the same exports created with ' +
        `createExport (the service behind POST /api/v1/exports, 8 concurrent callers; creating them took ${createdSeconds.toFixed(1)} s) ` +
        'from the first call until every run has succeeded; the same worker process executes both.\n\n',
    );
    table([
      ['path', 'succeeded', 'failed', 'due/first call → all succeeded', 'runs/s', 'time vs direct'],
      e2eRow('scheduled (due at once)', scheduled, direct),
      e2eRow('direct createExport (reference)', direct, null),
    ]);
    if (!scheduled.finished || !direct.finished)
      process.stdout.write(
        `A path not done after ${E2E_CAP_SECONDS} s (the goal) is stopped there to keep the bench short: ` +
          'its rate is what succeeded so far, its time is projected from that rate, and its remaining runs are cancelled.\n\n',
      );
  } finally {
    await server?.stop();
    await ctx.close();
  }
}

export async function run(): Promise<void> {
  const tag = `${process.pid}`;
  const burstDb = `ferry_bench_sched_${tag}`;
  const e2eDb = `ferry_bench_e2e_${tag}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-sched-'));
  const e2eDir = await mkdtemp(join(tmpdir(), 'ferry-bench-e2e-'));
  const started = performance.now();
  try {
    // BENCH_SCHEDULER_PARTS=burst or =e2e runs one part (both by default).
    const parts = (process.env['BENCH_SCHEDULER_PARTS'] ?? 'burst,e2e').split(',');
    if (parts.includes('burst')) {
      await createDatabase(burstDb);
      await partBurst(burstDb, dataDir);
    }
    if (parts.includes('e2e')) {
      await createDatabase(e2eDb);
      await partEndToEnd(e2eDb, e2eDir);
    }
  } finally {
    await dropDatabase(burstDb).catch(() => {});
    await dropDatabase(e2eDb).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    await rm(e2eDir, { recursive: true, force: true });
  }
  process.stdout.write(
    `Total ${((performance.now() - started) / 1000).toFixed(0)} s (PostgreSQL, 2 cores).\n`,
  );
}
