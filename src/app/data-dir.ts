import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// The embedded database lives in one folder that only one process may open.

export class DataDirBusyError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The data directory ${dir} is in use by Ferry process ${pid}. Stop that process first (the embedded database allows one process), or use DATABASE_URL to share a PostgreSQL server.`,
    );
    this.name = 'DataDirBusyError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data directory's lock file; returns a function that releases it. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'ferry.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
        throw new DataDirBusyError(dir, pid);
      // Left behind by a process that died: take it over.
      await rm(path, { force: true });
    }
  }
  throw new Error(`Could not lock the data directory ${dir}`);
}

/** The instance secret for the embedded database: generated once, kept in the data directory. */
export async function loadOrCreateSecret(dir: string): Promise<string> {
  const path = join(dir, 'secret');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 32) return existing;
    throw new Error(`${path} is shorter than 32 characters; set FERRY_SECRET or restore the file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
