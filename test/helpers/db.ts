import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { type OpenedDatabase, postgresDemoReader } from '../../src/app/context.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPgDb } from '../../src/db/pg.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { ensureDemoData } from '../../src/demo/build.ts';
import { embeddedDemoReaderSql } from '../../src/demo/dataset.ts';
import { createQueue } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/lib/log.ts';

// A fresh database for each test file (or test): PGlite loaded from a migrated
// template dump, or on PostgreSQL (TEST_DATABASE_URL) a database cloned from a
// migrated template database. Templates are built once per change of migrations.

export type Backend = 'pglite' | 'postgres';

export const TEST_DEMO_ROWS = 4000;
export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';
const ROOT = join(import.meta.dirname, '..', '..');
const CACHE_DIR = join(ROOT, '.test-cache');
const silent = createLogger('silent');

export function backends(): Backend[] {
  return process.env['TEST_DATABASE_URL'] ? ['pglite', 'postgres'] : ['pglite'];
}

async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  const dir = join(ROOT, 'src', 'db', 'migrations');
  for (const file of (await readdir(dir)).sort()) hash.update(file).update(await readFile(join(dir, file)));
  hash.update(await readFile(join(ROOT, 'src', 'demo', 'dataset.ts')));
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  for (const name of ['node_modules/@electric-sql/pglite', 'node_modules/pg-boss'])
    hash.update(lock.packages[name]?.version ?? '');
  return hash.digest('hex').slice(0, 16);
}

/** Runs fn while holding a lock file, so parallel test processes build a template once. */
async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(CACHE_DIR, { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 120_000) await rm(path, { force: true });
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${path}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

async function migrateWithQueue(opened: {
  db: OpenedDatabase['db'];
  pglite?: PGlite;
  url?: string;
}): Promise<void> {
  await migrate(opened.db);
  // A small demo dataset: tests check shapes and values, not volume.
  await ensureDemoData(opened.db, { rows: TEST_DEMO_ROWS });
  const queue = createQueue({
    roles: new Set(),
    log: silent,
    pglite: opened.pglite,
    databaseUrl: opened.url,
    poolMax: 1,
  });
  await queue.start();
  await queue.stop();
}

async function pgliteTemplate(kind: 'main' | 'demo'): Promise<string> {
  const path = join(CACHE_DIR, `pglite-${kind}-${await templateKey()}.tar.gz`);
  if (await stat(path).catch(() => null)) return path;
  return withFileLock(`${path}.lock`, async () => {
    if (await stat(path).catch(() => null)) return path;
    const { db, pglite } = await openPglite(undefined);
    if (kind === 'main') {
      await migrateWithQueue({ db, pglite });
    } else {
      // A small demo dataset: tests check shapes and values, not volume.
      await ensureDemoData(db, { rows: TEST_DEMO_ROWS });
      await db.exec(embeddedDemoReaderSql());
    }
    const dump = await pglite.dumpDataDir('gzip');
    await pglite.close();
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
    await rename(tmp, path);
    return path;
  });
}

/** The dumped demo database (PGlite), for sources that load it themselves. */
export function demoTemplatePath(): Promise<string> {
  return pgliteTemplate('demo');
}

export async function pgliteTemplatePath(): Promise<string> {
  await pgliteTemplate('demo');
  return pgliteTemplate('main');
}

function adminUrl(database?: string): string {
  const url = new URL(process.env['TEST_DATABASE_URL']!);
  if (database) url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function postgresTemplate(): Promise<string> {
  const name = `ferry_tpl_${await templateKey()}`;
  return withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock(4242)');
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rows.length === 0) {
        const building = `${name}_building`;
        await admin.query(`DROP DATABASE IF EXISTS ${building}`);
        await admin.query(`CREATE DATABASE ${building}`);
        const db = createPgDb({
          url: adminUrl(building),
          max: 2,
          applicationName: 'ferry-test',
          log: silent,
        });
        await migrateWithQueue({ db, url: adminUrl(building) });
        await ensureDemoData(db, { rows: TEST_DEMO_ROWS });
        await db.close();
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      }
      return name;
    } finally {
      await admin.query('SELECT pg_advisory_unlock(4242)');
    }
  });
}

export interface TestDatabase extends OpenedDatabase {
  backend: Backend;
  /** The connection URL, for PostgreSQL databases (to hand to child processes). */
  url?: string;
}

/** A fresh, migrated, empty database of the given kind. */
export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const main = await openPglite(undefined, new Blob([await readFile(await pgliteTemplate('main'))]));
    const demo = await openPglite(undefined, new Blob([await readFile(await pgliteTemplate('demo'))]));
    return {
      backend,
      db: main.db,
      pglite: main.pglite,
      demo: { db: demo.db, pglite: demo.pglite, host: { dumpPath: await pgliteTemplate('demo') } },
      secret: TEST_SECRET,
      release: async () => {
        await demo.db.close();
        await main.db.close();
      },
    };
  }
  const name = await createEmptyPostgresDatabase(await postgresTemplate());
  const url = adminUrl(name);
  const db = createPgDb({ url, max: 5, applicationName: 'ferry-test', log: silent });
  const reader = postgresDemoReader(url, TEST_SECRET);
  return {
    backend,
    db,
    url,
    demo: { db, reader },
    secret: TEST_SECRET,
    release: async () => {
      await db.close();
      await dropPostgresDatabase(name);
      await withAdmin((admin) => admin.query(`DROP ROLE IF EXISTS ${reader.role}`));
    },
  };
}

/** A new PostgreSQL database, optionally cloned from a template; returns its name. */
export async function createEmptyPostgresDatabase(template?: string): Promise<string> {
  const name = `ferry_t_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (admin) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
        return;
      } catch (err) {
        // Another file cloning the same template at this instant: try again.
        if (attempt < 20 && /being accessed by other users/.test((err as Error).message)) {
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
          continue;
        }
        throw err;
      }
    }
  });
  return name;
}

export async function dropPostgresDatabase(name: string): Promise<void> {
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export function postgresUrl(name: string): string {
  return adminUrl(name);
}
