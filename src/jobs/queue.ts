import { type Job, PgBoss } from 'pg-boss';
import type { Executor } from '../db/db.ts';
import type { Logger } from '../lib/log.ts';
import { scrubUrl } from '../lib/log.ts';
import { type JobName, jobNames, maintenanceSchedules, queueSettings } from './registry.ts';

// pg-boss on Ferry's own database, for both adapters. Jobs are rows, so work that
// must follow a write is enqueued inside the writer's transaction (`send(..., tx)`).

export type QueueRole = 'api' | 'worker' | 'scheduler';

export interface QueueOptions {
  roles: ReadonlySet<QueueRole>;
  log: Logger;
  databaseUrl: string;
  poolMax?: number;
}

export interface JobSendOptions {
  id?: string;
  startAfter?: Date;
  singletonKey?: string;
  /** Higher first. */
  priority?: number;
}

export interface QueueCounts {
  name: string;
  queued: number;
  active: number;
  failed: number;
}

export interface Queue {
  readonly boss: PgBoss;
  start(): Promise<void>;
  send(name: JobName, data: object, options?: JobSendOptions, tx?: Executor): Promise<string | null>;
  /** Many jobs in one statement, inside the caller's transaction when given. */
  sendMany(name: JobName, jobs: Array<JobSendOptions & { data: object }>, tx?: Executor): Promise<void>;
  work<T extends object>(
    name: JobName,
    handler: (job: Job<T>) => Promise<unknown>,
    options?: { concurrency?: number; pollingIntervalSeconds?: number },
  ): Promise<void>;
  counts(): Promise<QueueCounts[]>;
  stop(): Promise<void>;
}

export function createQueue(options: QueueOptions): Queue {
  const isSupervisor = options.roles.has('worker') || options.roles.has('scheduler');
  const common = {
    schedule: options.roles.has('scheduler'),
    supervise: isSupervisor,
    migrate: true,
    application_name: 'ferry-queue',
    // Ferry keeps its own run history; pg-boss only needs recent jobs.
    persistWarnings: false,
    // Workers wake on NOTIFY for queues that ask for it, instead of waiting for a poll.
    useListenNotify: true,
  };
  const boss = new PgBoss({ ...common, connectionString: options.databaseUrl, max: options.poolMax ?? 4 });
  boss.on('error', (err) => {
    const message = err instanceof Error ? err.message : String(err);
    options.log.error(
      {
        err: {
          message: message.replace(options.databaseUrl, scrubUrl(options.databaseUrl)),
        },
      },
      'queue error',
    );
  });
  let started = false;
  return {
    boss,
    async start() {
      await boss.start();
      started = true;
      // Only what is missing or different: creating a queue that exists changes
      // nothing (pg-boss inserts ON CONFLICT DO NOTHING) but cost two round trips
      // and a lock each, ~0.2 s of every start for nine queues (measured).
      const queues = new Set((await boss.getQueues([...jobNames])).map((q) => q.name));
      for (const name of jobNames) {
        if (!queues.has(name)) await boss.createQueue(name, queueSettings[name]);
      }
      if (options.roles.has('scheduler')) {
        const schedules = new Map((await boss.getSchedules()).map((s) => [s.name, s]));
        for (const { name, cron } of maintenanceSchedules) {
          const now = schedules.get(name);
          if (now?.cron !== cron || now.timezone !== 'UTC')
            await boss.schedule(name, cron, {}, { tz: 'UTC' });
        }
      }
    },
    async send(name, data, sendOptions = {}, tx) {
      // Inside a transaction the job row commits or rolls back with the caller's writes.
      const db = tx && 'isTransaction' in tx ? tx.boss : undefined;
      return boss.send(name, data, { ...sendOptions, ...(db ? { db } : {}) });
    },
    async sendMany(name, jobs, tx) {
      if (jobs.length === 0) return;
      const db = tx && 'isTransaction' in tx ? tx.boss : undefined;
      await boss.insert(name, jobs, db ? { db } : {});
    },
    async work(name, handler, workOptions = {}) {
      // One pg-boss worker per slot, so each can be woken on its own: a worker that
      // just finished a job fetches the next at once instead of sleeping out its
      // polling interval (which capped a backlog of short jobs at one per interval
      // per slot: 2 exports/s). An empty fetch sleeps as usual.
      for (let slot = 0; slot < (workOptions.concurrency ?? 1); slot++) {
        let id: string | undefined;
        id = await boss.work(
          name,
          {
            localConcurrency: 1,
            pollingIntervalSeconds: workOptions.pollingIntervalSeconds ?? 2,
            // NOTIFY wakes workers for new jobs, but not for jobs whose start time arrives
            // later (retries after backoff, runs put back by the tenant cap): poll for those.
            notifyPollingIntervalSeconds: Math.max(1, workOptions.pollingIntervalSeconds ?? 2),
          },
          async (jobs) => {
            try {
              for (const job of jobs) await handler(job as never);
            } finally {
              if (id && jobs.length > 0) boss.notifyWorker(id);
            }
          },
        );
      }
    },
    async counts() {
      const queues = await boss.getQueues([...jobNames]);
      return queues.map((q) => ({
        name: q.name,
        queued: q.queuedCount,
        active: q.activeCount,
        failed: q.failedCount,
      }));
    },
    async stop() {
      if (!started) return;
      started = false;
      await boss.stop({ graceful: true, timeout: 8000, close: true });
    },
  };
}
