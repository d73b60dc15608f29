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
    /** pollingIntervalSeconds: how often an idle slot looks for jobs whose start time came (default 2). */
    options?: { concurrency?: number; pollingIntervalSeconds?: number },
  ): Promise<void>;
  counts(): Promise<QueueCounts[]>;
  stop(): Promise<void>;
}

/** A worker slot of a queue: its pg-boss worker, and whether it is working on a job. */
interface Slot {
  id?: string;
  busy: boolean;
}

/** How long an idle slot sleeps unless woken: only a backstop, the timer in work() wakes one idle slot per interval. */
const BACKSTOP_SECONDS = 60;

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
    // pg-boss's registry of running instances (a row per process, its vitals every 30 s)
    // is not used by Ferry, and taking the vitals kept an event-loop monitor that woke
    // every process 50 times a second.
    registerInstance: false,
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
  /** Per queue this process works: wakes one of its idle slots. */
  const wakers = new Map<JobName, () => void>();
  const timers: NodeJS.Timeout[] = [];
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
      const id = await boss.send(name, data, { ...sendOptions, ...(db ? { db } : {}) });
      // Committed and due now: this process's idle slot, if it has one, takes it at once.
      if (!db && !sendOptions.startAfter) wakers.get(name)?.();
      return id;
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
      // per slot: 2 exports/s). Idle slots do not each poll: one timer per queue
      // wakes one idle slot per interval to look for jobs whose start time came
      // (retries after backoff, runs put back by the tenant cap; NOTIFY and a send
      // from this process wake them for new jobs), and a slot that got a job wakes
      // another idle one, in case more are due. An idle worker process polled
      // ~8.5 times a second before (one poll per slot), ~3 now.
      const slots: Slot[] = [];
      const wakeOneIdle = () => {
        const idle = slots.find((slot) => !slot.busy && slot.id !== undefined);
        if (idle?.id) boss.notifyWorker(idle.id);
      };
      for (let i = 0; i < (workOptions.concurrency ?? 1); i++) {
        const slot: Slot = { busy: false };
        slots.push(slot);
        slot.id = await boss.work(
          name,
          {
            localConcurrency: 1,
            pollingIntervalSeconds: BACKSTOP_SECONDS,
            notifyPollingIntervalSeconds: BACKSTOP_SECONDS,
          },
          async (jobs) => {
            if (jobs.length === 0) return;
            slot.busy = true;
            wakeOneIdle();
            try {
              for (const job of jobs) await handler(job as never);
            } finally {
              slot.busy = false;
              if (slot.id) boss.notifyWorker(slot.id);
            }
          },
        );
      }
      wakers.set(name, wakeOneIdle);
      const timer = setInterval(wakeOneIdle, (workOptions.pollingIntervalSeconds ?? 2) * 1000);
      timer.unref();
      timers.push(timer);
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
      for (const timer of timers.splice(0)) clearInterval(timer);
      if (!started) return;
      started = false;
      await boss.stop({ graceful: true, timeout: 8000, close: true });
    },
  };
}
