import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

// Files in a folder: written under a temporary name, published by rename (atomic
// on one file system), so a reader never sees half a file.

export interface Storage {
  readonly kind: 'local';
  /** Where an attempt writes before publishing (unique per attempt). */
  tempPath(name: string): Promise<string>;
  publish(tempPath: string, key: string): Promise<void>;
  size(key: string): Promise<number | null>;
  read(key: string, range?: { start: number; end: number }): ReadStream;
  remove(key: string): Promise<void>;
  discard(tempPath: string): Promise<void>;
}

export function createLocalStorage(root: string): Storage {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = resolve(base, key);
    if (!p.startsWith(base + sep)) throw new Error(`Storage key escapes the storage folder: ${key}`);
    return p;
  };
  return {
    kind: 'local',
    async tempPath(name) {
      const dir = join(base, '.tmp');
      await mkdir(dir, { recursive: true });
      return join(dir, `${name}.part`);
    },
    async publish(tempPath, key) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      await rename(tempPath, target);
    },
    async size(key) {
      try {
        return (await stat(pathOf(key))).size;
      } catch {
        return null;
      }
    },
    read(key, range) {
      return createReadStream(pathOf(key), range ? { start: range.start, end: range.end } : {});
    },
    async remove(key) {
      await rm(pathOf(key), { force: true });
      await rm(dirname(pathOf(key)), { recursive: false, force: true }).catch(() => {});
    },
    async discard(tempPath) {
      await rm(tempPath, { force: true });
    },
  };
}
