import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../lib/log.ts';

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

/**
 * The data directory holds secrets, export files and (embedded) the database:
 * nothing in it is for other users. New files are private through Ferry's umask
 * (077, set at start); what an earlier version left readable is repaired here,
 * once per start. The embedded PostgreSQL's folder (pg/) keeps the modes that
 * its server and Ferry set there, and a directory may stay passable (x) for the
 * server's own user: only reading and writing by others are taken away.
 */
export async function secureDataDir(dir: string, log: Logger): Promise<number> {
  const top = await stat(dir).catch(() => null);
  if (!top) return 0;
  let repaired = 0;
  const tighten = async (path: string, mode: number, isDir: boolean) => {
    const open = isDir ? mode & 0o066 : mode & 0o077;
    if (open === 0) return;
    await chmod(path, mode & 0o777 & (isDir ? ~0o066 : ~0o077));
    repaired++;
  };
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (path === dir && entry.name === 'pg') continue;
      if (entry.isSymbolicLink()) continue;
      const s = await stat(child);
      await tighten(child, s.mode, entry.isDirectory());
      if (entry.isDirectory()) await walk(child);
    }
  };
  await tighten(dir, top.mode, true);
  await walk(dir);
  if (repaired > 0)
    log.warn(
      { dataDir: dir, repaired },
      'made files and folders in the data directory private to Ferry’s user',
    );
  return repaired;
}
