import { randomInt } from 'node:crypto';
import type { Executor } from '../../db/db.ts';
import type { JobSendOptions } from '../../jobs/queue.ts';
import { stableId } from '../../lib/ids.ts';
import type { Deps } from '../deps.ts';
import { waitingRunsByTenant } from './repo.ts';

// How a run's attempt becomes a `run.execute` job. Fairness (docs/scheduling.md S11)
// comes from two things: a job's priority is minus the number of runs its
// tenant already has waiting, so workers take tenants in turn instead of
// draining one tenant's backlog first; and a worker that picks up a run of a
// tenant already at its cap of running runs puts it back for a moment.
// (pg-boss 12's group concurrency was tried first and set aside; the cap checked
// at claim is what is tested.)

export interface RunJob {
  runId: string;
  attempt: number;
  /** How often this attempt was put back because its tenant was at its cap (S11). */
  deferrals?: number;
}

/** The job id of an attempt: the same run and attempt always give the same id, so an attempt is enqueued once. */
export function attemptJobId(runId: string, attempt: number): string {
  return stableId(`${runId}:${attempt}`);
}

export function runJob(
  run: { id: string; tenantId: string },
  attempt: number,
  waitingAhead: number,
  startAfter?: Date,
  deferrals = 0,
): JobSendOptions & { data: RunJob } {
  return {
    id:
      deferrals === 0
        ? attemptJobId(run.id, attempt)
        : stableId(`${run.id}:${attempt}:deferred:${deferrals}`),
    data: deferrals === 0 ? { runId: run.id, attempt } : { runId: run.id, attempt, deferrals },
    priority: -Math.min(waitingAhead, 1_000_000),
    ...(startAfter ? { startAfter } : {}),
  };
}

/** Puts an attempt back for a moment because its tenant is at its concurrency cap (S11). */
export async function deferRunAttempt(
  deps: Pick<Deps, 'queue'>,
  tx: Executor,
  run: { id: string; tenantId: string },
  job: RunJob,
): Promise<void> {
  const waiting = await waitingRunsByTenant(tx, [run.tenantId], [run.id]);
  const delay = 500 + randomInt(0, 1_000);
  const { data, ...options } = runJob(
    run,
    job.attempt,
    waiting.get(run.tenantId) ?? 0,
    new Date(Date.now() + delay),
    (job.deferrals ?? 0) + 1,
  );
  await deps.queue.send('run.execute', data, options, tx);
}

/** Enqueues one attempt of a queued run inside the caller's transaction. */
export async function enqueueRunAttempt(
  deps: Pick<Deps, 'queue'>,
  tx: Executor,
  run: { id: string; tenantId: string },
  attempt: number,
  startAfter?: Date,
): Promise<void> {
  const waiting = await waitingRunsByTenant(tx, [run.tenantId], [run.id]);
  const { data, ...options } = runJob(run, attempt, waiting.get(run.tenantId) ?? 0, startAfter);
  await deps.queue.send('run.execute', data, options, tx);
}

/** Enqueues the first attempt of many new runs in one statement. */
export async function enqueueNewRuns(
  deps: Pick<Deps, 'queue'>,
  tx: Executor,
  runs: Array<{ id: string; tenantId: string }>,
): Promise<void> {
  if (runs.length === 0) return;
  const tenants = [...new Set(runs.map((r) => r.tenantId))];
  const waiting = await waitingRunsByTenant(
    tx,
    tenants,
    runs.map((r) => r.id),
  );
  const jobs = runs.map((run) => {
    const ahead = waiting.get(run.tenantId) ?? 0;
    waiting.set(run.tenantId, ahead + 1);
    return runJob(run, 1, ahead);
  });
  await deps.queue.sendMany('run.execute', jobs, tx);
}
