import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { migrate } from '../db/migrate.ts';
import { createPgDb } from '../db/pg.ts';
import { openPglite } from '../db/pglite.ts';
import { ensureDemoData, readDemoState } from '../demo/build.ts';
import { registerJobHandlers } from '../jobs/handlers.ts';
import { createQueue, type QueueRole } from '../jobs/queue.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { createSecretBox } from '../lib/secrets.ts';
import { createLocalStorage } from '../engine/storage/local.ts';
import { createSourceRegistry } from '../modules/connections/sources.ts';
import type { Deps } from '../modules/deps.ts';
import { loadOrCreateSecret, lockDataDir } from './data-dir.ts';

export interface AppContext extends Deps {
  roles: ReadonlySet<QueueRole>;
  close(): Promise<void>;
}

export interface OpenedDatabase {
  db: Db;
  pglite?: PGlite;
  secret: string;
  release(): Promise<void>;
}

/** Opens the configured database: PostgreSQL with DATABASE_URL, otherwise PGlite in the data directory. */
export async function openDatabase(
  config: Readonly<Config>,
  log: Logger,
  applicationName = 'ferry',
): Promise<OpenedDatabase> {
  if (config.databaseUrl) {
    const db = createPgDb({ url: config.databaseUrl, max: config.databasePoolMax, applicationName, log });
    return { db, secret: config.secret!, release: () => db.close() };
  }
  const unlock = await lockDataDir(config.dataDir);
  try {
    const secret = config.secret ?? (await loadOrCreateSecret(config.dataDir));
    const { db, pglite } = await openPglite(join(config.dataDir, 'pgdata'));
    return {
      db,
      pglite,
      secret,
      release: async () => {
        await db.close();
        await unlock();
      },
    };
  } catch (err) {
    await unlock();
    throw err;
  }
}

export interface ContextOptions {
  roles: ReadonlySet<QueueRole>;
  log: Logger;
  clock?: Clock;
  /** An already open database (tests); otherwise the configured one is opened. */
  database?: OpenedDatabase;
}

/** The composition root: database, migrations, queue, and the job handlers for a worker. */
export async function createContext(config: Readonly<Config>, options: ContextOptions): Promise<AppContext> {
  const { log, roles } = options;
  const database = options.database ?? (await openDatabase(config, log, `ferry-${[...roles].join('-')}`));
  try {
    const result = await migrate(database.db);
    if (result.applied.length > 0) log.info({ applied: result.applied }, 'database migrated');
    if (!(await readDemoState(database.db))) {
      log.info({ rows: config.demoRows }, 'building the demo dataset (first start only)');
    }
    const demo = await ensureDemoData(database.db, { rows: config.demoRows });
    if (demo.built) log.info({ ms: demo.ms }, 'demo dataset ready');
    const queue = createQueue({
      roles,
      log,
      pglite: database.pglite,
      databaseUrl: config.databaseUrl,
      poolMax: 4,
    });
    await queue.start();
    const secrets = createSecretBox(database.secret);
    const sources = createSourceRegistry({
      pglite: database.pglite,
      databaseUrl: config.databaseUrl,
      secrets,
      sqliteDir: config.sqliteDir,
    });
    const deps: Deps = {
      db: database.db,
      queue,
      clock: options.clock ?? systemClock,
      log,
      secrets,
      config: Object.freeze({ ...config, secret: database.secret }),
      sources,
      storage: createLocalStorage(join(config.dataDir, 'artifacts')),
    };
    if (roles.has('worker')) await registerJobHandlers(queue, deps);
    return {
      ...deps,
      roles,
      async close() {
        await queue.stop();
        await sources.closeAll();
        await database.release();
      },
    };
  } catch (err) {
    await database.release();
    throw err;
  }
}
