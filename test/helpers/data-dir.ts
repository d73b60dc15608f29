import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from '../../src/db/embedded-postgres.ts';
import { baseEnv, runFerry } from './process.ts';
import { waitFor } from './time.ts';

// A first `ferry start` on an empty data directory runs initdb, the migrations
// and the demo build: seconds of CPU that most process tests do not test. They
// start from a copy of one data directory that `ferry tenant create` made (the
// embedded PostgreSQL stopped cleanly, one tenant with its owner and API key,
// the demo dataset), built once and kept in .test-cache until Ferry's source or
// dependencies change.
// Tests of the first start itself use an empty directory.

const ROOT = join(import.meta.dirname, '..', '..');
const CACHE = join(ROOT, '.test-cache', 'data-dirs');

export interface TenantDataDir {
  /** A fresh copy, in the temporary folder, owned by this test. */
  dir: string;
  apiKey: string;
  tenantId: string;
  userId: string;
  /** The owner's e-mail address and password. */
  email: string;
  password: string;
}

const OWNER = { name: 'Acme', email: 'owner@example.com', password: 'long-enough-pw' };

/** A copy of the prepared data directory, with the tenant "Acme" and its owner's API key. */
export async function dataDirWithTenant(prefix = 'ferry-dir-'): Promise<TenantDataDir> {
  const template = await preparedTemplate();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await copyTree(template.dir, dir);
  return { dir, ...template.tenant, email: OWNER.email, password: OWNER.password };
}

interface Template {
  dir: string;
  tenant: { apiKey: string; tenantId: string; userId: string };
}

let template: Promise<Template> | undefined;

function preparedTemplate(): Promise<Template> {
  template ??= findOrBuild();
  return template;
}

/** Everything a data directory's contents depend on: Ferry's source (not its tests) and its dependencies. */
async function sourceKey(): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(join(ROOT, 'src'), { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const file of files) hash.update(relative(ROOT, file)).update(await readFile(file));
  hash.update(await readFile(join(ROOT, 'package-lock.json')));
  hash.update(JSON.stringify(baseEnv({})));
  return hash.digest('hex').slice(0, 16);
}

/**
 * The template for this source, built by the first test process that needs it;
 * others wait for it (a lock directory holding the builder's pid; a dead
 * builder's lock is taken over).
 */
async function findOrBuild(): Promise<Template> {
  const key = await sourceKey();
  const dir = join(CACHE, key);
  const described = `${dir}.json`;
  const lock = `${dir}.lock`;
  await mkdir(CACHE, { recursive: true });
  return waitFor(
    'the prepared data directory (built by another test process)',
    async () => {
      const ready = await readFile(described, 'utf8').then(
        (text) => JSON.parse(text) as Template['tenant'],
        () => null,
      );
      if (ready) return { dir, tenant: ready };
      if (!(await takeLock(lock))) return undefined;
      try {
        return await build(dir, described);
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
    },
    180_000,
    200,
  );
}

async function takeLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
    if (owner > 0 && !isAlive(owner)) await rm(lock, { recursive: true, force: true });
    return false;
  }
  await writeFile(join(lock, 'pid'), String(process.pid));
  return true;
}

async function build(dir: string, described: string): Promise<Template> {
  // Made where every test's copy will live (the server's user must reach it: a
  // checkout under /root would not do), then kept in the cache.
  const scratch = await mkdtemp(join(tmpdir(), 'ferry-template-'));
  try {
    const created = await runFerry(
      [
        'tenant',
        'create',
        '--name',
        OWNER.name,
        '--email',
        OWNER.email,
        '--password',
        OWNER.password,
        '--json',
      ],
      baseEnv({ FERRY_DATA_DIR: scratch }),
    );
    if (created.code !== 0)
      throw new Error(`ferry tenant create failed (${created.code}):\n${created.stderr}`);
    const tenant = JSON.parse(created.stdout) as Template['tenant'];
    // The demo dataset too, which `ferry start` would otherwise build on each copy.
    const demo = await runFerry(['demo'], baseEnv({ FERRY_DATA_DIR: scratch }));
    if (demo.code !== 0) throw new Error(`ferry demo failed (${demo.code}):\n${demo.stderr}`);
    const building = `${dir}.building`;
    await rm(building, { recursive: true, force: true });
    await copyTree(scratch, building);
    await rm(dir, { recursive: true, force: true });
    await rename(building, dir);
    await writeFile(described, JSON.stringify(tenant));
    await removeOlderTemplates(dir);
    return { dir, tenant };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Templates of earlier source versions (the cache keeps only the newest). */
async function removeOlderTemplates(current: string): Promise<void> {
  for (const entry of await readdir(CACHE)) {
    const path = join(CACHE, entry);
    if (/^[0-9a-f]{16}(\.json)?$/.test(entry) && path.replace(/\.json$/, '') !== current)
      await rm(path, { recursive: true, force: true });
  }
}

/** Copies a data directory with its owners and modes (as root, the cluster belongs to the server's own user). */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await promisify(execFile)('cp', ['-a', `${from}/.`, to]);
}
