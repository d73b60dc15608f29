import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { OpenedDatabase } from '../../src/app/database.ts';
import { type EmbeddedServer, openEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPgDb } from '../../src/db/pg.ts';
import { ensureDemoData } from '../../src/demo/build.ts';
import { demoReaders, dropDemoReadersSql } from '../../src/demo/readers.ts';
import { createQueue } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/lib/log.ts';
import { requireTier } from './tiers.ts';

// A fresh database for each test file (or test), cloned from a migrated template
// database. The server is the machine's PostgreSQL when TEST_DATABASE_URL is set
// (so Ferry stays compatible with the versions operators run), otherwise the same
// embedded PostgreSQL that `ferry start` runs, kept in .test-cache and shared by
// every test process of a run. Templates are built once per change of migrations.

export type Backend = 'embedded' | 'postgres';

export const TEST_DEMO_ROWS = 4000;
export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';
const ROOT = join(import.meta.dirname, '..', '..');
const CACHE_DIR = join(ROOT, '.test-cache');
const EMBEDDED_DIR = join(CACHE_DIR, 'embedded');
const silent = createLogger('silent');

/** The one server this run tests on: the machine's PostgreSQL, or the embedded one. */
export function backends(): Backend[] {
  return [process.env['TEST_DATABASE_URL'] ? 'postgres' : 'embedded'];
}

let embedded: Promise<EmbeddedServer> | undefined;

/**
 * The embedded test server, started or attached to. Test processes stay attached
 * until they exit; the run's global teardown, the last one out, stops it. It
 * listens on 127.0.0.1 so that tests can hand its address to connections as a
 * user would, and trades durability for speed (fsync off): it holds only test data.
 */
export function embeddedTestServer(): Promise<EmbeddedServer> {
  embedded ??= openEmbeddedPostgres({
    dataDir: EMBEDDED_DIR,
    log: silent,
    tcp: true,
    timeoutMs: 120_000,
    settings: { max_connections: '400', fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  }).then((server) => {
    process.once('beforeExit', () => void server.release());
    return server;
  });
  return embedded;
}

export async function releaseEmbeddedTestServer(): Promise<void> {
  if (embedded) await (await embedded).release();
  embedded = undefined;
}

/** The test server's URL for a database (the administrative one when none is named). */
export async function serverUrl(database?: string): Promise<string> {
  requireTier('db', 'it uses the test database');
  const given = process.env['TEST_DATABASE_URL'];
  const url = new URL(given ?? (await embeddedTestServer()).urlFor('postgres'));
  if (database) url.pathname = `/${database}`;
  return url.toString();
}

async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  const dir = join(ROOT, 'src', 'db', 'migrations');
  for (const file of (await readdir(dir)).sort()) hash.update(file).update(await readFile(join(dir, file)));
  hash.update(await readFile(join(ROOT, 'src', 'demo', 'dataset.ts')));
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  hash.update(lock.packages['node_modules/pg-boss']?.version ?? '');
  return hash.digest('hex').slice(0, 16);
}

async function migrateWithQueue(db: OpenedDatabase['db'], url: string): Promise<void> {
  await migrate(db);
  // A small demo dataset: tests check shapes and values, not volume.
  await ensureDemoData(db, { rows: TEST_DEMO_ROWS });
  const queue = createQueue({ roles: new Set(), log: silent, databaseUrl: url, poolMax: 1 });
  await queue.start();
  await queue.stop();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await serverUrl() });
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
        const url = await serverUrl(building);
        const db = createPgDb({ url, max: 2, applicationName: 'ferry-test', log: silent });
        await migrateWithQueue(db, url);
        await db.close();
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      }
      return name;
    } finally {
      await admin.query('SELECT pg_advisory_unlock(4242)');
    }
  });
}

/**
 * Before a run: on the embedded test server (this checkout's own), databases and
 * demo roles left by an earlier run that was killed are dropped, then the template
 * is built once before the test files start in parallel. Another run on the same
 * server at the same time (two terminals) keeps what it uses: a database someone
 * is connected to is left, and a role still in use refuses to go.
 */
export async function prepareTestServer(): Promise<void> {
  if (!process.env['TEST_DATABASE_URL']) {
    const key = await templateKey();
    await withAdmin(async (admin) => {
      const stale = await admin.query<{ datname: string }>(
        `SELECT datname FROM pg_database d
          WHERE (datname LIKE 'ferry\\_t\\_%' OR (datname LIKE 'ferry\\_tpl\\_%' AND datname NOT LIKE $1))
            AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
        [`ferry_tpl_${key}%`],
      );
      for (const { datname } of stale.rows)
        await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {});
      // Roles only when no other run is using the server (roles have no owner database).
      const live = await admin.query("SELECT 1 FROM pg_database WHERE datname LIKE 'ferry\\_t\\_%'");
      if (live.rows.length > 0) return;
      const roles = await admin.query<{ rolname: string }>(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE 'ferry\\_demo\\_%' ORDER BY length(rolname) DESC",
      );
      for (const { rolname } of roles.rows)
        await admin.query(`DROP ROLE IF EXISTS ${rolname}`).catch(() => {});
    });
  }
  await postgresTemplate();
}

export interface TestDatabase extends OpenedDatabase {
  backend: Backend;
}

/** A fresh, migrated, empty database on the test server. */
export async function createTestDatabase(backend: Backend = backends()[0]!): Promise<TestDatabase> {
  const name = await createEmptyPostgresDatabase(await postgresTemplate());
  const url = await serverUrl(name);
  const db = createPgDb({ url, max: 5, applicationName: 'ferry-test', log: silent });
  const readers = demoReaders(url, TEST_SECRET);
  return {
    backend,
    db,
    url,
    demo: { db, readers },
    secret: TEST_SECRET,
    release: async () => {
      await db.close();
      await dropPostgresDatabase(name);
      await withAdmin((admin) => admin.query(dropDemoReadersSql(readers.group)));
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

/** A database's URL on the test server. */
export function postgresUrl(name: string): Promise<string> {
  return serverUrl(name);
}
