import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// The instance secret of an installation on the embedded database lives in its data directory.

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
