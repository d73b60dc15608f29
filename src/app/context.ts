import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { openEmbeddedPostgres } from '../db/embedded-postgres.ts';
import { migrate } from '../db/migrate.ts';
import { createPgDb } from '../db/pg.ts';
import { convertPgliteDataDir } from '../db/pglite-convert.ts';
import { createMailer } from '../delivery/email.ts';
import { type DemoStatus, ensureDemoData, readDemoState } from '../demo/build.ts';
import { type DemoReaders, demoGroupSql, demoReaders } from '../demo/readers.ts';
import type { PrivilegeReport } from '../engine/sources/types.ts';
import { createLocalStorage } from '../engine/storage/local.ts';
import { createQueue, type QueueRole } from '../jobs/queue.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { createSecretBox } from '../lib/secrets.ts';
import { createAuthCache } from '../modules/auth-cache.ts';
import { recordPrivilegeCheck } from '../modules/connections/privileges.ts';
import type { ConnectionRow } from '../modules/connections/repo.ts';
import { createSourceRegistry } from '../modules/connections/sources.ts';
import { deliverRunOutcomes } from '../modules/deliveries/service.ts';
import type { Deps } from '../modules/deps.ts';
import { createRunEvents } from '../modules/runs/events.ts';
import { followScheduledRuns } from '../modules/schedules/outcomes.ts';
import { startSchedulerLoop } from '../scheduler/loop.ts';
import { loadOrCreateSecret, secureDataDir } from './data-dir.ts';
import { registerJobHandlers } from './job-handlers.ts';

export interface AppContext extends Deps {
  roles: ReadonlySet<QueueRole>;
  close(): Promise<void>;
}

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
  let demoBuild: ReturnType<typeof prepareDemoInBackground> | undefined;
  try {
    const result = await migrate(database.db);
    if (result.applied.length > 0) log.info({ applied: result.applied }, 'database migrated');
    demoBuild = prepareDemoInBackground(database.demo, config.demoRows, log);
    const demo = demoBuild;
    const queue = createQueue({
      roles,
      log,
      databaseUrl: database.url,
      poolMax: 4,
    });
    await queue.start();
    const secrets = createSecretBox(database.secret);
    // A check that a use starts is recorded through the services, wired once deps exist.
    let recordCheck: (row: ConnectionRow, report: PrivilegeReport) => Promise<void> = async () => {};
    const sources = createSourceRegistry({
      demo: { ...database.demo, ready: demo.ready },
      secrets,
      policy: { sqliteDir: config.sqliteDir, allowSockets: config.allowSockets },
      onPrivilegesChecked: (row, report) => recordCheck(row, report),
    });
    const deps: Deps = {
      db: database.db,
      queue,
      clock: options.clock ?? systemClock,
      log,
      secrets,
      config: Object.freeze({ ...config, secret: database.secret }),
      sources,
      storage:
        config.storage.kind === 's3'
          ? // Loaded only here: the AWS SDK is ~28 MB of memory that local storage never needs.
            (await import('../engine/storage/s3.ts')).createS3Storage(config.storage)
          : createLocalStorage(join(config.dataDir, 'artifacts')),
      mailer: createMailer(config.smtp, log),
      // Modules that follow how runs end; runs know none of them.
      runOutcomeListeners: [followScheduledRuns, deliverRunOutcomes],
      // Connects on the first event stream, not before.
      runEvents: roles.has('api')
        ? createRunEvents({ url: database.url, log, maxStreamsPerPrincipal: config.maxEventStreams })
        : undefined,
      authCache: roles.has('api') ? createAuthCache({ url: database.url, log }) : undefined,
      demo,
    };
    recordCheck = (row, report) => recordPrivilegeCheck(deps, row, report, null);
    const stopHandlers = roles.has('worker') ? await registerJobHandlers(queue, deps) : () => {};
    const scheduler = roles.has('scheduler') ? startSchedulerLoop(deps) : null;
    return {
      ...deps,
      roles,
      async close() {
        await deps.runEvents?.stop();
        await deps.authCache?.stop();
        stopHandlers();
        await scheduler?.stop();
        await queue.stop();
        await sources.closeAll();
        // A build under way finishes (first start only): cut off, it would start over next time.
        await demo.settled;
        deps.mailer.close();
        await database.release();
      },
    };
  } catch (err) {
    await demoBuild?.settled;
    await database.release();
    throw err;
  }
}
