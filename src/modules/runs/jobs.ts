import type { Executor } from '../../db/db.ts';
import type { JobSendOptions } from '../../jobs/queue.ts';
import { stableId } from '../../lib/ids.ts';
import type { Deps } from '../deps.ts';

// How a run's attempt becomes a `run.execute` job. Fairness (scheduling.md S11)
// comes from two things pg-boss does for us: jobs of one tenant form a group
// whose concurrency is capped across all workers, and a job's priority is minus
// the number of runs its tenant already has waiting, so workers take tenants in
// turn instead of draining one tenant's backlog first.

export interface RunJob {
  runId: string;
  attempt: number;
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
): JobSendOptions & { data: RunJob } {
  return {
    id: attemptJobId(run.id, attempt),
    data: { runId: run.id, attempt },
    priority: -Math.min(waitingAhead, 1_000_000),
    group: { id: run.tenantId },
    ...(startAfter ? { startAfter } : {}),
  };
}

/** Queued runs per tenant, not counting the given runs (those being enqueued now). */
export async function waitingRunsByTenant(
  db: Executor,
  tenantIds: string[],
  excludeRunIds: string[],
): Promise<Map<string, number>> {
  const r = await db.query<{ tenant_id: string; n: string }>(
    `SELECT tenant_id, count(*) AS n FROM runs
      WHERE tenant_id = ANY($1::uuid[]) AND status = 'queued' AND NOT (id = ANY($2::uuid[]))
      GROUP BY tenant_id`,
    [tenantIds, excludeRunIds],
  );
  return new Map(r.rows.map((row) => [row.tenant_id, Number(row.n)]));
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
