import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../../src/db/embedded-postgres.ts';
import { baseEnv, runFerry } from './process.ts';
import { waitFor } from './time.ts';

// Looking at a data directory's embedded PostgreSQL from outside, as an operator would.

export interface Postmaster {
  pid: number;
  startTime: string;
  socketDir: string;
  listen: string;
}

/** The running server's postmaster.pid, or null when none runs on the data directory. */
export async function postmaster(dataDir: string): Promise<Postmaster | null> {
  const text = await readFile(join(dataDir, 'pg', 'data', 'postmaster.pid'), 'utf8').catch(() => null);
  if (text === null) return null;
  const lines = text.split('\n');
  return { pid: Number(lines[0]), startTime: lines[2]!, socketDir: lines[4]!, listen: lines[5]!.trim() };
}

/** `ferry tenant create` on the data directory (running or not); returns the owner's API key. */
export async function createTenant(dataDir: string, name: string): Promise<string> {
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
    baseEnv({ FERRY_DATA_DIR: dataDir }),
  );
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { apiKey: string }).apiKey;
}

/** The name of the tenant an API key belongs to, through a running Ferry's API. */
export async function tenantName(url: string, apiKey: string): Promise<string> {
  const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
  assert.equal(me.status, 200);
  return ((await me.json()) as { tenant: { name: string } }).tenant.name;
}

/**
 * Removes a test's data directory, first stopping a server a failed test left
 * running on it (a SIGKILLed Ferry leaves its postmaster behind).
 */
export async function removeDataDir(dataDir: string): Promise<void> {
  const left = await postmaster(dataDir);
  if (left && isAlive(left.pid)) {
    process.kill(left.pid, 'SIGQUIT');
    await waitFor(`the left-over server (pid ${left.pid}) to stop`, () => !isAlive(left.pid), 60_000, 25);
  }
  await rm(dataDir, { recursive: true, force: true });
}
