import { join } from 'node:path';
import type { Config } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { createMailer } from '../delivery/email.ts';
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
import { type OpenedDatabase, openDatabase, prepareDemoInBackground } from './database.ts';
import { registerJobHandlers } from './job-handlers.ts';

export interface AppContext extends Deps {
  roles: ReadonlySet<QueueRole>;
  close(): Promise<void>;
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
