import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { isAlive } from '../../src/db/embedded-postgres.ts';
import { baseEnv, runFerry, startFerry } from '../helpers/process.ts';

// The embedded PostgreSQL as users meet it: `ferry start` on a data directory,
// restarted, killed, shared, run as root. Each test drives the real program.

const isRoot = process.getuid?.() === 0;

interface Postmaster {
  pid: number;
  startTime: string;
  socketDir: string;
  listen: string;
}

async function postmaster(dir: string): Promise<Postmaster | null> {
  const text = await readFile(join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8').catch(() => null);
  if (text === null) return null;
  const lines = text.split('\n');
  return { pid: Number(lines[0]), startTime: lines[2]!, socketDir: lines[4]!, listen: lines[5]!.trim() };
}

async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

/** Waits for a state, not for a time: a busy machine only makes it slower. */
async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function createTenant(dir: string, name: string): Promise<string> {
  const r = await runFerry(
    [
      'tenant',
      'create',
      '--name',
      name,
      '--email',
      `${name.toLowerCase()}@example.com`,
      '--password',
      'long-enough-pw',
      '--json',
    ],
    baseEnv({ FERRY_DATA_DIR: dir }),
  );
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { apiKey: string }).apiKey;
}

async function tenantName(url: string, apiKey: string): Promise<string> {
  const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
  assert.equal(me.status, 200);
  return ((await me.json()) as { tenant: { name: string } }).tenant.name;
}

describe('the embedded PostgreSQL', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-epg-'));
  });
  after(async () => {
    // Whatever a failed test left running on this folder is stopped.
    const left = await postmaster(dir);
    if (left && isAlive(left.pid)) process.kill(left.pid, 'SIGQUIT');
    await rm(dir, { recursive: true, force: true });
  });

  test('first start: a server on a unix socket only, as an unprivileged user, password private; stopped with Ferry', async () => {
    const apiKey = await createTenant(dir, 'First');
    // `tenant create` started the server and, the last one out, stopped it.
    assert.equal(await postmaster(dir), null);
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir }));
    try {
      assert.equal(await tenantName(ferry.url, apiKey), 'First');
      const server = (await postmaster(dir))!;
      assert.equal(server.listen, '', 'no TCP address');
      assert.equal(server.socketDir, join(dir, 'pg', 'run'));
      assert.ok((await stat(join(dir, 'pg', 'run', '.s.PGSQL.5432'))).isSocket());
      if (isRoot) assert.notEqual(await uidOf(server.pid), 0, 'PostgreSQL runs as root');
      else assert.equal(await uidOf(server.pid), process.getuid!());
      assert.equal((await stat(join(dir, 'pg', 'password'))).mode & 0o077, 0);
      // The password is required, even on the socket.
      const noPassword = new pg.Client({
        host: server.socketDir,
        user: 'ferry',
        database: 'ferry',
        password: 'wrong',
      });
      await assert.rejects(noPassword.connect(), /password authentication failed/);
    } finally {
      const { code } = await ferry.stop('SIGTERM');
      assert.equal(code, 0, ferry.output());
    }
    assert.equal(await postmaster(dir), null, 'the server stopped with Ferry');
  });

  test('restart: the same data, a new server', async () => {
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir }));
    try {
      const apiKey = await createTenant(dir, 'Second');
      assert.equal(await tenantName(ferry.url, apiKey), 'Second');
    } finally {
      assert.equal((await ferry.stop('SIGTERM')).code, 0, ferry.output());
    }
  });

  test('SIGKILL: the orphaned server is adopted by the next start, then stopped by it', async () => {
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir, LOG_LEVEL: 'info' }));
    const before = (await postmaster(dir))!;
    await ferry.stop('SIGKILL');
    assert.ok(isAlive(before.pid), 'a SIGKILLed Ferry leaves its postmaster running');
    const again = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir, LOG_LEVEL: 'info' }));
    try {
      assert.match(again.output(), /adopted the embedded PostgreSQL left running/);
      assert.equal((await postmaster(dir))!.pid, before.pid);
      const apiKey = await createTenant(dir, 'Third');
      assert.equal(await tenantName(again.url, apiKey), 'Third');
    } finally {
      assert.equal((await again.stop('SIGTERM')).code, 0, again.output());
    }
    await until('the adopted server stopped', () => !isAlive(before.pid));
  });

  test('a server Ferry did not start is left alone, and Ferry says so', async () => {
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir }));
    const running = (await postmaster(dir))!;
    await ferry.stop('SIGKILL');
    // As if someone else had started a server on this folder: the record does not match.
    const record = join(dir, 'pg', 'server.json');
    const saved = await readFile(record, 'utf8');
    await writeFile(record, JSON.stringify({ pid: running.pid + 1, startTime: running.startTime }));
    try {
      const refused = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: dir }));
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        new RegExp(`PostgreSQL server that Ferry did not start \\(pid ${running.pid}\\)`),
      );
      assert.ok(isAlive(running.pid), 'the server was touched');
    } finally {
      await writeFile(record, saved);
    }
    // Ours again: adopted and stopped by the next Ferry.
    const migrate = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: dir }));
    assert.equal(migrate.code, 0, migrate.stderr);
    await until('the server stopped', () => !isAlive(running.pid));
  });

  test('split roles on one data directory: api and worker share one server; it stops when the last one does', async () => {
    const api = await startFerry(['api'], baseEnv({ FERRY_DATA_DIR: dir }));
    let worker: Awaited<ReturnType<typeof startFerry>> | undefined;
    try {
      worker = await startFerry(['worker'], baseEnv({ FERRY_DATA_DIR: dir }));
      const server = (await postmaster(dir))!;
      assert.equal((await api.stop('SIGTERM')).code, 0, api.output());
      assert.ok(isAlive(server.pid), 'the worker still uses the server');
      assert.equal((await worker.stop('SIGTERM')).code, 0, worker.output());
      await until('the server stopped', () => !isAlive(server.pid));
    } finally {
      await api.stop('SIGKILL');
      await worker?.stop('SIGKILL');
    }
  });

  test('the data directory is private: nothing in it readable by others, and an old one is repaired at start', async () => {
    // An export file and a folder as an earlier version left them: readable by everyone.
    await mkdir(join(dir, 'artifacts', 'old'), { recursive: true, mode: 0o755 });
    await chmod(join(dir, 'artifacts', 'old'), 0o755);
    await writeFile(join(dir, 'artifacts', 'old', 'export.csv'), 'a,b\n', { mode: 0o644 });
    await chmod(join(dir, 'artifacts', 'old', 'export.csv'), 0o644);
    await chmod(join(dir, 'secret'), 0o644);
    const r = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: dir, LOG_LEVEL: 'info' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /made files and folders in the data directory private/);
    const open: string[] = [];
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        const child = join(path, entry.name);
        // The binaries (when linked for the server's user) are programs, not data.
        if (child === join(dir, 'pg', 'binaries') || entry.isSymbolicLink()) continue;
        const s = await stat(child);
        if (s.isSocket()) continue;
        // Folders may stay passable (x) for the server's user; nothing is readable or writable by others.
        if (s.mode & (s.isDirectory() ? 0o066 : 0o077)) open.push(`${child} ${(s.mode & 0o777).toString(8)}`);
        if (entry.isDirectory()) await walk(child);
      }
    };
    await walk(dir);
    assert.deepEqual(open, []);
  });

  test('a data directory whose path has a comma, a space and a quote (the socket setting is a list)', async () => {
    const odd = await mkdtemp(join(tmpdir(), 'ferry-odd, "dir" '));
    try {
      const r = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: odd }));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /the database is at migration \d+/);
      assert.equal(await postmaster(odd), null, 'stopped after migrate');
    } finally {
      await rm(odd, { recursive: true, force: true });
    }
  });

  test('the server user: a clear error for one that does not exist, for root, or where it cannot reach the data', async () => {
    if (!isRoot) {
      const r = await runFerry(
        ['migrate'],
        baseEnv({ FERRY_DATA_DIR: dir, FERRY_EMBEDDED_PG_USER: 'someone-else' }),
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /FERRY_EMBEDDED_PG_USER=someone-else needs Ferry to run as root/);
      return;
    }
    const missing = await runFerry(
      ['migrate'],
      baseEnv({ FERRY_DATA_DIR: dir, FERRY_EMBEDDED_PG_USER: 'no-such-user-x' }),
    );
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /FERRY_EMBEDDED_PG_USER=no-such-user-x: there is no such operating-system user/,
    );
    const root = await runFerry(
      ['migrate'],
      baseEnv({ FERRY_DATA_DIR: dir, FERRY_EMBEDDED_PG_USER: 'root' }),
    );
    assert.equal(root.code, 1);
    assert.match(root.stderr, /PostgreSQL refuses to run as root/);
    // A data directory below a folder only root may enter.
    const closed = await mkdtemp(join(tmpdir(), 'ferry-closed-'));
    try {
      const inside = join(closed, 'data');
      await mkdir(inside);
      const blocked = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: inside }));
      assert.equal(blocked.code, 1);
      assert.match(
        blocked.stderr,
        new RegExp(`cannot reach the data directory .*${closed} does not let it pass`),
      );
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});
