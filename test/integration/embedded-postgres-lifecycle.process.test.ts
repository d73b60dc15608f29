import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isAlive } from '../../src/db/embedded-postgres.ts';
import { dataDirWithTenant } from '../helpers/data-dir.ts';
import { createTenant, postmaster, removeDataDir, tenantName } from '../helpers/postmaster.ts';
import { baseEnv, type Running, runFerry, startFerry } from '../helpers/process.ts';
import { waitFor } from '../helpers/time.ts';

// The embedded PostgreSQL's life beside Ferry's processes: restarted, killed,
// shared, or not Ferry's at all. Each test starts from its own copy of a data
// directory that an earlier server left (see data-dir.ts).

describe('the embedded PostgreSQL across Ferry processes', () => {
  const dirs: string[] = [];
  const prepared = async () => {
    const made = await dataDirWithTenant('ferry-epg-');
    dirs.push(made.dir);
    return made;
  };
  after(async () => {
    // Whatever a failed test left running on its folder is stopped.
    for (const dir of dirs) await removeDataDir(dir);
  });
  const stopped = (pid: number) =>
    waitFor(`the server (pid ${pid}) to stop`, () => !isAlive(pid), 60_000, 25);

  test('restart: the same data, a new server', async () => {
    const { dir, apiKey: earlier } = await prepared();
    const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dir }));
    try {
      // What the earlier server stored is there…
      assert.equal(await tenantName(ferry.url, earlier), 'Acme');
      // …and the new one takes more.
      const apiKey = await createTenant(dir, 'Second');
      assert.equal(await tenantName(ferry.url, apiKey), 'Second');
    } finally {
      assert.equal((await ferry.stop('SIGTERM')).code, 0, ferry.output());
    }
  });

  test('SIGKILL: the orphaned server is adopted by the next start, then stopped by it', async () => {
    const { dir } = await prepared();
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
    await stopped(before.pid);
  });

  test('a server Ferry did not start is left alone, and Ferry says so', async () => {
    const { dir } = await prepared();
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
    await stopped(running.pid);
  });

  test('split roles on one data directory: api and worker share one server; it stops when the last one does', async () => {
    const { dir } = await prepared();
    const api = await startFerry(['api'], baseEnv({ FERRY_DATA_DIR: dir }));
    let worker: Running | undefined;
    try {
      worker = await startFerry(['worker'], baseEnv({ FERRY_DATA_DIR: dir }));
      const server = (await postmaster(dir))!;
      assert.equal((await api.stop('SIGTERM')).code, 0, api.output());
      assert.ok(isAlive(server.pid), 'the worker still uses the server');
      assert.equal((await worker.stop('SIGTERM')).code, 0, worker.output());
      await stopped(server.pid);
    } finally {
      await api.stop('SIGKILL');
      await worker?.stop('SIGKILL');
    }
  });
});
