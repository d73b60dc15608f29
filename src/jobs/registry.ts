// The one list of background job names. Each queue is created at start-up by
// every process, so sending and working never hit a missing queue.

export const jobNames = ['sessions.cleanup', 'idempotency.cleanup'] as const;
export type JobName = (typeof jobNames)[number];

/** Maintenance jobs and when they run (cron, UTC). */
export const maintenanceSchedules: ReadonlyArray<{ name: JobName; cron: string }> = [
  { name: 'sessions.cleanup', cron: '*/15 * * * *' },
  { name: 'idempotency.cleanup', cron: '7 * * * *' },
];
