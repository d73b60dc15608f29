import type { Queue } from '../jobs/queue.ts';
import { cleanupArtifacts } from '../modules/artifacts/service.ts';
import { type DeliveryJob, executeDelivery, recoverStaleDeliveries } from '../modules/deliveries/service.ts';
import type { Deps } from '../modules/deps.ts';
import { cleanupIdempotencyKeys } from '../modules/idempotency/service.ts';
import { executeRunAttempt } from '../modules/runs/execute.ts';
import type { RunJob } from '../modules/runs/jobs.ts';
import { recoverLostRuns } from '../modules/runs/lifecycle.ts';
import { deleteOldRuns } from '../modules/runs/retention.ts';
import { sendFailureNotice } from '../modules/schedules/notify.ts';
import type { FailureNotice } from '../modules/schedules/outcomes.ts';
import { cleanupSessions } from '../modules/sessions/service.ts';

/**
 * How long a shutting-down worker lets its running exports finish before it
 * hands them back (S9): with the queue's own wait and the closing of pools, a
 * stop stays inside the 10 s that process managers allow (SHUTDOWN_TIMEOUT_MS).
 */
export const SHUTDOWN_DRAIN_MS = 5_000;

/**
 * Starts the worker side: one handler per job name, and the lost-run sweep.
 * Returns a function that stops the sweep and gives running exports
 * SHUTDOWN_DRAIN_MS before aborting them; the queue's stop waits for them.
 */
export async function registerJobHandlers(queue: Queue, deps: Deps): Promise<() => void> {
  const stopping = new AbortController();
  // Maintenance runs from a cron every 15 minutes or less often: looking every 30 s is plenty.
  const maintenance = { pollingIntervalSeconds: 30 };
  await queue.work('sessions.cleanup', async () => ({ deleted: await cleanupSessions(deps) }), maintenance);
  await queue.work(
    'idempotency.cleanup',
    async () => ({ deleted: await cleanupIdempotencyKeys(deps) }),
    maintenance,
  );
  await queue.work('artifacts.cleanup', async () => ({ deleted: await cleanupArtifacts(deps) }), maintenance);
  await queue.work('runs.retention', async () => ({ deleted: await deleteOldRuns(deps) }), maintenance);
  await queue.work<FailureNotice>('schedule.failure_notice', (job) => sendFailureNotice(deps, job.data), {
    pollingIntervalSeconds: 5,
  });
  // Runs and deliveries: NOTIFY wakes a slot for a new job; a retry whose backoff ended is seen within a second.
  await queue.work<DeliveryJob>('delivery.send', (job) => executeDelivery(deps, job.data), {
    concurrency: deps.config.workerConcurrency * 2,
    pollingIntervalSeconds: 1,
  });
  await queue.work<RunJob>('run.execute', (job) => executeRunAttempt(deps, job.data, stopping.signal), {
    concurrency: deps.config.workerConcurrency,
    pollingIntervalSeconds: 1,
  });
  const sweep = setInterval(
    () => {
      recoverLostRuns(deps).catch((err) => deps.log.warn({ err }, 'lost-run recovery failed'));
      recoverStaleDeliveries(deps).catch((err) => deps.log.warn({ err }, 'stale-delivery recovery failed'));
    },
    Math.min(10_000, (deps.config.runLeaseSeconds * 1000) / 3),
  );
  sweep.unref();
  return () => {
    clearInterval(sweep);
    setTimeout(() => stopping.abort(), SHUTDOWN_DRAIN_MS).unref();
  };
}
