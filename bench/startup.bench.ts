import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { baseEnv, freePort, MAIN } from '../test/helpers/process.ts';

// What a new user meets: `ferry start` on an empty data directory (first start,
// which creates the database and the demo data), then a restart on the same
// directory, each timed from spawn to /readyz answering 200; and the idle memory
// of the whole installation as PSS summed over every process that belongs to it
// (Ferry, its children, and the database server with its own processes, which
// outlive a SIGKILLed Ferry and so are found through the data directory).
// The reference is a bare Fastify process started and measured the same way.

const DEMO_ROWS = '200000';

interface Measured {
  readyMs: number;
  pssMb: number;
  processes: number;
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

async function startAndMeasure(
  args: string[],
  env: NodeJS.ProcessEnv,
  dataDir: string | null,
): Promise<Measured & { stop: () => Promise<void> }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, dataDir ? [...args, '--port', String(port)] : args, {
    env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}/readyz`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${out}`);
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const readyMs = performance.now() - started;
  // Idle: let start-up work (demo build, first scheduler ticks, GC) settle.
  await new Promise((r) => setTimeout(r, 5000));
  const pids = await descendants([child.pid!, ...(dataDir ? await postmasterPid(dataDir) : [])]);
  let kb = 0;
  for (const pid of pids) kb += await pssKb(pid);
  return {
    readyMs,
    pssMb: kb / 1024,
    processes: pids.length,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

const BARE = `
import Fastify from 'fastify';
const app = Fastify();
app.get('/readyz', async () => ({ ok: true }));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

export async function run(): Promise<void> {
  const rows: string[][] = [['what', 'ready ms', 'ratio', 'idle PSS MB', 'ratio', 'processes']];
  const bare = await startAndMeasure(
    ['--input-type=module', '-e', BARE],
    { ...process.env, NODE_PATH: join(import.meta.dirname, '..', 'node_modules') },
    null,
  );
  await bare.stop();
  const row = (name: string, m: Measured) =>
    rows.push([
      name,
      m.readyMs.toFixed(0),
      (m.readyMs / bare.readyMs).toFixed(1),
      m.pssMb.toFixed(0),
      (m.pssMb / bare.pssMb).toFixed(1),
      String(m.processes),
    ]);
  row('bare Fastify (reference)', bare);
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-start-'));
  try {
    const env = baseEnv({ FERRY_DATA_DIR: dataDir, FERRY_DEMO_ROWS: DEMO_ROWS, LOG_LEVEL: 'warn' });
    const first = await startAndMeasure([MAIN, 'start'], env, dataDir);
    await first.stop();
    row(`ferry start, first (empty dir, ${DEMO_ROWS} demo rows)`, first);
    const again = await startAndMeasure([MAIN, 'start'], env, dataDir);
    await again.stop();
    row('ferry start, restart', again);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(width[i]!)).join('  ')}\n`);
}
