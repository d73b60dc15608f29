import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { assertAttemptPrefix, type Storage } from './storage.ts';

// Files in a folder: written under a temporary name, published by rename (atomic
// on one file system), so a reader never sees half a file.

/**
 * The start of an attempt's temporary file names: its run and attempt (a key's
 * middle segments), never the user's file name, so that an attempt's partial
 * file can be found knowing only its key prefix.
 */
const tempStem = (key: string) => {
  const [, run = 'run', attempt = '0'] = key.split('/');
  return `${run}-${attempt}-`;
};

export function createLocalStorage(root: string): Storage {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = resolve(base, key);
    if (!p.startsWith(base + sep)) throw new Error(`Storage key escapes the storage folder: ${key}`);
    return p;
  };
  const tmpDir = join(base, '.tmp');
  /** Removes the temporary files that `which` picks by name and age; returns how many. */
  const removeTemps = async (which: (name: string, ageMs: number) => boolean) => {
    const names = await readdir(tmpDir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names.filter((n) => n.endsWith('.part'))) {
      const info = await stat(join(tmpDir, name)).catch(() => null);
      if (info && which(name, Date.now() - info.mtimeMs)) {
        await rm(join(tmpDir, name), { force: true });
        removed++;
      }
    }
    return removed;
  };
  return {
    kind: 'local',
    async writer(key) {
      await mkdir(tmpDir, { recursive: true });
      const temp = join(tmpDir, `${tempStem(key)}${randomBytes(4).toString('hex')}.part`);
      const stream = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
      return {
        stream,
        async commit() {
          const target = pathOf(key);
          await mkdir(dirname(target), { recursive: true });
          await rename(temp, target);
        },
        async abort() {
          // The file is opened asynchronously: wait until the stream has closed (and so
          // has certainly created its file) before removing it.
          if (!stream.closed) {
            const closed = once(stream, 'close').catch(() => {});
            stream.destroy();
            await closed;
          }
          await rm(temp, { force: true });
        },
      };
    },
    async size(key) {
      try {
        return (await stat(pathOf(key))).size;
      } catch {
        return null;
      }
    },
    async read(key, range) {
      return createReadStream(pathOf(key), range ? { start: range.start, end: range.end } : {});
    },
    async remove(key) {
      await rm(pathOf(key), { force: true });
    },
    async *listCommitted(olderThanMs) {
      // Keys are <tenant>/<run>/<attempt>/<file>; the temporary folder is not a key.
      const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
      let page: string[] = [];
      for (const entry of entries) {
        if (!entry.isFile()) continue;
        const key = relative(base, join(entry.parentPath, entry.name)).split(sep).join('/');
        if (key.startsWith('.tmp/')) continue;
        const info = await stat(join(entry.parentPath, entry.name)).catch(() => null);
        if (!info || Date.now() - info.mtimeMs <= olderThanMs) continue;
        page.push(key);
        if (page.length === 500) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    },
    async sweepUnfinished(olderThanMs) {
      return removeTemps((_, ageMs) => ageMs > olderThanMs);
    },
    async removeAttempt(prefix) {
      assertAttemptPrefix(prefix);
      const stem = tempStem(prefix);
      const partial = await removeTemps((name) => name.startsWith(stem));
      const dir = pathOf(prefix);
      const committed = await readdir(dir).catch(() => [] as string[]);
      await rm(dir, { recursive: true, force: true });
      return partial + committed.length;
    },
  };
}
