import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { openEmbeddedPostgres } from '../db/embedded-postgres.ts';
import { createPgDb } from '../db/pg.ts';
import { convertPgliteDataDir } from '../db/pglite-convert.ts';
import { type DemoStatus, ensureDemoData, readDemoState } from '../demo/build.ts';
import { type DemoReaders, demoGroupSql, demoReaders } from '../demo/readers.ts';
import type { Logger } from '../lib/log.ts';
import { loadOrCreateSecret, secureDataDir } from './data-dir.ts';

// Ferry's database, opened, and its demo dataset: all that the one-shot commands
// (migrate, tenant create, demo) need, apart from the composition root
// (context.ts), which also loads the server's, workers' and scheduler's code.

/** Where the demo data lives and how user SQL reaches it: schema `demo` in Ferry's database, read through login roles of their own, one per tenant. */
export interface DemoDatabase {
  /** Ferry's own side: builds the dataset and creates the readers. */
  db: Db;
  readers: DemoReaders;
}

export interface OpenedDatabase {
  db: Db;
  /** Ferry's database, for the queue's own pool. */
  url: string;
  demo: DemoDatabase;
  secret: string;
  release(): Promise<void>;
}

/**
 * Opens the configured database: the operator's PostgreSQL with DATABASE_URL,
 * otherwise the embedded PostgreSQL server on the data directory (started, or
 * attached to when another Ferry process on that directory runs it).
 */
export async function openDatabase(
  config: Readonly<Config>,
  log: Logger,
  applicationName = 'ferry',
): Promise<OpenedDatabase> {
  await secureDataDir(config.dataDir, log);
  if (config.databaseUrl)
    return openPostgres(config.databaseUrl, config.secret!, config, log, applicationName);
  const secret = config.secret ?? (await loadOrCreateSecret(config.dataDir));
  const server = await openEmbeddedPostgres({ dataDir: config.dataDir, log, osUser: config.embeddedPgUser });
  try {
    await convertPgliteDataDir({ dataDir: config.dataDir, url: server.url, log });
    const opened = openPostgres(server.url, secret, config, log, applicationName);
    return {
      ...opened,
      release: async () => {
        await opened.release();
        await server.release();
      },
    };
  } catch (err) {
    await server.release();
    throw err;
  }
}

function openPostgres(
  url: string,
  secret: string,
  config: Readonly<Config>,
  log: Logger,
  applicationName: string,
): OpenedDatabase {
  const db = createPgDb({ url, max: config.databasePoolMax, applicationName, log });
  return {
    db,
    url,
    demo: { db, readers: demoReaders(url, secret) },
    secret,
    release: () => db.close(),
  };
}

/** Builds the demo dataset on first start (or rebuilds it, forced) and grants its readers' group. */
export async function prepareDemo(
  demo: DemoDatabase,
  rows: number,
  log: Logger,
  force = false,
): Promise<{ built: boolean; ms: number }> {
  const { db } = demo;
  if (!force && !(await readDemoState(db)))
    log.info({ rows }, 'building the demo dataset (first start only)');
  const built = await ensureDemoData(db, { rows, force });
  if (built.built) log.info({ ms: built.ms }, 'demo dataset ready');
  try {
    await db.exec(demoGroupSql(demo.readers.group));
  } catch (err) {
    // Without CREATEROLE the demo connection cannot work; everything else can.
    log.warn(
      { err: { message: (err as Error).message } },
      'could not set up the demo reader role; the demo connection will report the error',
    );
  }
  return built;
}

/**
 * Starts preparing the demo data without waiting for it: a first start used to
 * spend most of its time here (8 s of 12 on the old embedded database) before it
 * answered at all. Whoever reads the demo data waits for `ready()`; when another
 * process is the one building it, this one waits on the build's lock.
 */
export function prepareDemoInBackground(
  demo: DemoDatabase,
  rows: number,
  log: Logger,
): DemoStatus & {
  settled: Promise<void>;
} {
  let state: DemoStatus['state'] = 'preparing';
  const done = prepareDemo(demo, rows, log).then(
    () => {
      state = 'ready';
    },
    (err: unknown) => {
      state = 'failed';
      log.error({ err }, 'the demo dataset could not be built; run `ferry demo` to try again');
      throw new Error(
        `The demo data could not be prepared (${(err as Error).message}); run \`ferry demo\` to build it again`,
      );
    },
  );
  const settled = done.catch(() => {});
  return {
    get state() {
      return state;
    },
    ready: () => done,
    settled,
  };
}
