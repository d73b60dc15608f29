import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { dataDirWithTenant } from '../helpers/data-dir.ts';
import { createTenant, postmaster, removeDataDir, tenantName } from '../helpers/postmaster.ts';
import { baseEnv, runFerry, startFerry } from '../helpers/process.ts';

// The embedded PostgreSQL as users meet it: `ferry start` on a data directory,
// for the first time, in an odd place, as root. Each test drives the real
// program on a data directory of its own (restarts, kills and sharing are in
// embedded-postgres-lifecycle.process.test.ts).

const isRoot = process.getuid?.() === 0;

async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

describe('the embedded PostgreSQL', () => {
  const dirs: string[] = [];
  const emptyDir = async (prefix = 'ferry-epg-') => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    // Whatever a failed test left running on its folder is stopped.
    for (const dir of dirs) await removeDataDir(dir);
  });

  test('first start: a server on a unix socket only, as an unprivileged user, password private; stopped with Ferry', async () => {
    const dir = await emptyDir();
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

  test('the data directory is private: nothing in it readable by others, and an old one is repaired at start', async () => {
    const { dir } = await dataDirWithTenant();
    dirs.push(dir);
    // An export file and a folder as an earlier version left them: readable by everyone.
    await mkdir(join(dir, 'artifacts', 'old'), { recursive: true, mode: 0o755 });
    await chmod(join(dir, 'artifacts', 'old'), 0o755);
    await writeFile(join(dir, 'artifacts', 'old', 'export.csv'), 'a,b\n', { mode: 0o644 });
    await chmod(join(dir, 'artifacts', 'old', 'export.csv'), 0o644);
    await chmod(join(dir, 'secret'), 0o644);
    const r = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: dir, LOG_LEVEL: 'info' }));
    assert.equal(r.code, 0, r.stderr);
    // Logged on stderr: a command's stdout is its answer alone.
    assert.match(r.stderr, /made files and folders in the data directory private/);
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
    const odd = await emptyDir('ferry-odd, "dir" ');
    const r = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: odd }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the database is at migration \d+/);
    assert.equal(await postmaster(odd), null, 'stopped after migrate');
  });

  test('the server user: a clear error for one that does not exist, for root, or where it cannot reach the data', async () => {
    const dir = await emptyDir();
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
    const closed = await emptyDir('ferry-closed-');
    const inside = join(closed, 'data');
    await mkdir(inside);
    const blocked = await runFerry(['migrate'], baseEnv({ FERRY_DATA_DIR: inside }));
    assert.equal(blocked.code, 1);
    assert.match(
      blocked.stderr,
      new RegExp(`cannot reach the data directory .*${closed} does not let it pass`),
    );
  });
});
