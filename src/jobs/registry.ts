// The one list of background job names and their queue settings. Each queue is
// created at start-up by every process, so sending and working never hit a
// missing queue.

export const jobNames = [
  'sessions.cleanup',
  'idempotency.cleanup',
  'artifacts.cleanup',
  'run.execute',
  'schedule.failure_notice',
  'runs.retention',
  'delivery.send',
] as const;
export type JobName = (typeof jobNames)[number];

export interface QueueSettings {
  retryLimit: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  notify?: boolean;
}

export const queueSettings: Record<JobName, QueueSettings> = {
  'sessions.cleanup': { retryLimit: 3, retryDelay: 5, retryBackoff: true },
  'idempotency.cleanup': { retryLimit: 3, retryDelay: 5, retryBackoff: true },
  'artifacts.cleanup': { retryLimit: 3, retryDelay: 30, retryBackoff: true },
  // Runs keep their own attempts and backoff (docs/scheduling.md S8): pg-boss must not retry them.
  'run.execute': { retryLimit: 0, expireInSeconds: 86_400, notify: true },
  // SMTP can be briefly unavailable: retry with backoff for about an hour.
  'schedule.failure_notice': { retryLimit: 8, retryDelay: 30, retryBackoff: true },
  'runs.retention': { retryLimit: 3, retryDelay: 60, retryBackoff: true },
  // Deliveries keep their own attempts, backoff and Retry-After: pg-boss must not retry them either.
  'delivery.send': { retryLimit: 0, expireInSeconds: 3_600, notify: true },
};

/** Maintenance jobs and when they run (cron, UTC). */
export const maintenanceSchedules: ReadonlyArray<{ name: JobName; cron: string }> = [
  { name: 'sessions.cleanup', cron: '*/15 * * * *' },
  { name: 'idempotency.cleanup', cron: '7 * * * *' },
  { name: 'artifacts.cleanup', cron: '17 * * * *' },
  { name: 'runs.retention', cron: '37 3 * * *' },
];
