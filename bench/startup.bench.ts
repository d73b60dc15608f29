import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { baseEnv, freePort, MAIN } from '../test/helpers/process.ts';

// What a new user meets: `ferry start` on an empty data directory (first start,
// which creates the database and the demo data), then a restart on the same
// directory, each timed from spawn to /readyz answering 200; and the idle memory
// of the whole installation as PSS summed over every process that belongs to it
// (Ferry, its children, and the database server with its own processes, which
// outlive a SIGKILLed Ferry and so are found through the data directory), after
// the demo data was used once (an XLSX export of a template's report). With
// TEST_DATABASE_URL, also `ferry start` on that PostgreSQL (a database of its own):
// the memory of Ferry's process there (RSS), the server being the operator's.
// The reference is a bare Fastify process started and measured the same way.

const DEMO_ROWS = '200000';

async function rssKb(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function pssKb(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const m = /^Pss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Every pid whose parent chain reaches one of the roots. */
async function descendants(roots: number[]): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parent.set(Number(name), ppid);
  }
  const found = new Set(roots.filter((p) => parent.has(p)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent)
      if (!found.has(pid) && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
  }
  return [...found];
}

async function postmasterPid(dataDir: string): Promise<number[]> {
  for (const dir of ['pg', 'pgdata']) {
    const text = await readFile(join(dataDir, dir, 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0) return [pid];
  }
  return [];
}

interface Started {
  child: ChildProcess;
  url: string;
  readyMs: number;
  stop(): Promise<void>;
}

async function start(args: string[], env: NodeJS.ProcessEnv, withPort: boolean): Promise<Started> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, withPort ? [...args, '--port', String(port)] : args, {
    env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${out}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    url,
    readyMs: performance.now() - started,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** The tenant's key: made through the setup token on a first start, then kept. */
async function ownerKey(ferry: Started, dataDir: string): Promise<string> {
  const token = (await readFile(join(dataDir, 'setup-token'), 'utf8')).trim();
  const r = await fetch(`${ferry.url}/api/v1/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      setupToken: token,
      tenantName: 'Bench',
      email: 'b@example.com',
      password: 'bench-password',
    }),
  });
  if (r.status !== 201) throw new Error(`setup: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { apiKey: string }).apiKey;
}

/** Uses the demo data once, as a new user would: a template's report exported to CSV, waited for. */
async function exportFromDemoOnce(ferry: Started, key: string): Promise<void> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const report = await fetch(`${ferry.url}/api/v1/templates/sales-order-lines/use`, {
    method: 'POST',
    headers,
    body: '{}',
  });
  if (report.status !== 201) throw new Error(`template: ${report.status} ${await report.text()}`);
  const { id } = (await report.json()) as { id: string };
  const run = await fetch(`${ferry.url}/api/v1/exports`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ reportId: id, format: 'xlsx' }),
  });
  if (run.status !== 202) throw new Error(`export: ${run.status} ${await run.text()}`);
  const runId = ((await run.json()) as { id: string }).id;
  for (;;) {
    const r = (await (await fetch(`${ferry.url}/api/v1/runs/${runId}`, { headers })).json()) as {
      status: string;
    };
    if (r.status === 'succeeded') return;
    if (['failed', 'cancelled'].includes(r.status)) throw new Error(`the demo export ${r.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Waits for start-up work, the demo build and GC to settle, then sums PSS (and the main process's RSS). */
async function idleMemory(ferry: Started, dataDir: string | null): Promise<Memory> {
  await new Promise((r) => setTimeout(r, 5000));
  const pids = await descendants([ferry.child.pid!, ...(dataDir ? await postmasterPid(dataDir) : [])]);
  let kb = 0;
  for (const pid of pids) kb += await pssKb(pid);
  return { pssMb: kb / 1024, rssMb: (await rssKb(ferry.child.pid!)) / 1024, processes: pids.length };
}

interface Memory {
  pssMb: number;
  rssMb: number;
  processes: number;
}

const BARE = `
import Fastify from 'fastify';
const app = Fastify();
app.get('/readyz', async () => ({ ok: true }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

export async function run(): Promise<void> {
  const rows: string[][] = [
    ['what', 'ready ms', 'ratio', 'idle PSS MB', 'ratio', 'Ferry RSS MB', 'processes'],
  ];
  const bare = await start(
    ['--input-type=module', '-e', BARE],
    { ...process.env, NODE_PATH: join(import.meta.dirname, '..', 'node_modules') },
    false,
  );
  const bareMemory = await idleMemory(bare, null);
  await bare.stop();
  const row = (name: string, readyMs: number, m: Memory) =>
    rows.push([
      name,
      readyMs.toFixed(0),
      (readyMs / bare.readyMs).toFixed(1),
      m.pssMb.toFixed(0),
      (m.pssMb / bareMemory.pssMb).toFixed(1),
      m.rssMb.toFixed(0),
      String(m.processes),
    ]);
  row('bare Fastify (reference)', bare.readyMs, bareMemory);
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-start-'));
  try {
    const env = baseEnv({ FERRY_DATA_DIR: dataDir, FERRY_DEMO_ROWS: DEMO_ROWS, LOG_LEVEL: 'warn' });
    const first = await start([MAIN, 'start'], env, true);
    const key = await ownerKey(first, dataDir);
    await exportFromDemoOnce(first, key);
    row(
      `ferry start, first (empty dir, ${DEMO_ROWS} demo rows), demo used once`,
      first.readyMs,
      await idleMemory(first, dataDir),
    );
    await first.stop();
    const again = await start([MAIN, 'start'], env, true);
    await exportFromDemoOnce(again, key);
    row('ferry start, restart, demo used once', again.readyMs, await idleMemory(again, dataDir));
    await again.stop();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const given = process.env['TEST_DATABASE_URL'];
  if (given) {
    // On PostgreSQL (DATABASE_URL): Ferry's own process; the server is not Ferry's.
    const name = `ferry_bench_start_${process.pid}`;
    const admin = new pg.Client({ connectionString: given });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(given);
    url.pathname = `/${name}`;
    const pgDir = await mkdtemp(join(tmpdir(), 'ferry-bench-start-pg-'));
    try {
      const env = baseEnv({
        FERRY_DATA_DIR: pgDir,
        DATABASE_URL: url.toString(),
        FERRY_SECRET: 'bench-secret-bench-secret-bench-secret',
        FERRY_DEMO_ROWS: DEMO_ROWS,
        LOG_LEVEL: 'warn',
      });
      const ferry = await start([MAIN, 'start'], env, true);
      await exportFromDemoOnce(ferry, await ownerKey(ferry, pgDir));
      row('ferry start on PostgreSQL, demo used once', ferry.readyMs, await idleMemory(ferry, null));
      await ferry.stop();
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await rm(pgDir, { recursive: true, force: true });
    }
  }
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(width[i]!)).join('  ')}\n`);
}
