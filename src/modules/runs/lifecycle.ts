import { hostname } from 'node:os';
import type { Tx } from '../../db/db.ts';
import type { ExportResult } from '../../engine/pipeline.ts';
import { newId } from '../../lib/ids.ts';
import { insertArtifact } from '../artifacts/repo.ts';
import type { Deps } from '../deps.ts';
import {
  Cancelled,
  classifyFailure,
  LeaseLost,
  LOST_MESSAGE,
  type QueryContext,
  retryDelayMs,
  WorkerStopping,
} from './failure.ts';
import { deferRunAttempt, enqueueRunAttempt, type RunJob } from './jobs.ts';
import { attemptPrefix, type OutputPlan } from './output.ts';
import {
  claimRun,
  completeRun,
  countRunningRuns,
  endRun,
  findLostRuns,
  finishAttempt,
  insertAttempt,
  isCancelRequested,
  lastDeliveredDataChecksum,
  lockLeasedRun,
  lockTenantRunSlots,
  type RunRow,
  skipRunForCondition,
} from './repo.ts';

// The life of an attempt around its export: claimed, then published, failed
// (retried with backoff, S8), cancelled (S10), or lost and recovered (S9). Every
// way a run ends goes through here, and announces its outcome to the modules
// that follow runs (schedules count failures; deliveries start on success).

export const WORKER_ID = `${hostname()}:${process.pid}`;

/** How a run ended, told in the transaction that ends it. */
export interface RunOutcome {
  run: Pick<RunRow, 'id' | 'tenant_id' | 'schedule_id' | 'attempts' | 'destination_ids'>;
  status: 'succeeded' | 'skipped_condition' | 'failed';
}
/** A module that follows runs (wired in app/context.ts): runs know none of them. */
export type RunOutcomeListener = (deps: Deps, tx: Tx, outcome: RunOutcome) => Promise<void>;

export async function announceOutcome(deps: Deps, tx: Tx, outcome: RunOutcome): Promise<void> {
  for (const listener of deps.runOutcomeListeners) await listener(deps, tx, outcome);
}

/**
 * Claims a job's run for a new attempt, or puts the job back (S11: its tenant is at
 * its cap of running runs, or this worker is stopping). Undefined when there is
 * nothing to do: cancelled while queued, taken by another worker, or a stale job.
 */
export async function claimAttempt(
  deps: Deps,
  job: RunJob,
  attemptId: string,
  started: Date,
  stopping?: AbortSignal,
): Promise<RunRow | undefined> {
  return deps.db.transaction(async (tx) => {
    // S11: a tenant at its cap of running runs waits; its job comes back shortly, behind other tenants' work.
    // So does a job picked up while this worker shuts down, for another worker to take.
    const tenantId = await lockTenantRunSlots(tx, job.runId);
    const atCap = async (id: string) => (await countRunningRuns(tx, id)) >= deps.config.tenantConcurrency;
    if (tenantId && (stopping?.aborted || (await atCap(tenantId)))) {
      await deferRunAttempt(deps, tx, { id: job.runId, tenantId }, job);
      return undefined;
    }
    const claimed = await claimRun(tx, job.runId, job.attempt, attemptId, started);
    if (claimed)
      await insertAttempt(tx, {
        id: attemptId,
        runId: job.runId,
        number: job.attempt,
        worker: WORKER_ID,
        now: started,
      });
    return claimed;
  });
}

/** The one way a run ends cancelled (S10): the run and the attempt holding it. */
export async function endCancelled(
  tx: Tx,
  runId: string,
  attemptId: string | null,
  now: Date,
): Promise<void> {
  await endRun(tx, runId, attemptId, 'cancelled', { message: 'Cancelled by a user', code: 'cancelled' }, now);
  if (attemptId) await finishAttempt(tx, attemptId, 'cancelled', null, now);
}

/**
 * Publishes a finished attempt's file in one transaction: the run succeeded (or is
 * skipped by its condition), the attempt finished, the outcome announced and the
 * artifact recorded; or, when the attempt no longer holds the run, its file removed.
 */
export async function publish(
  deps: Deps,
  run: RunRow,
  attemptId: string,
  output: Pick<OutputPlan, 'key' | 'fileName' | 'contentType'>,
  result: ExportResult,
): Promise<void> {
  const { key, fileName, contentType } = output;
  const now = deps.clock.now();
  const published = await deps.db.transaction(async (tx) => {
    const unmet = await unmetCondition(tx, run, result);
    if (unmet) {
      // The run did its work; the file is simply not wanted (scheduling issue: conditions).
      if (
        await skipRunForCondition(tx, run.id, attemptId, {
          rows: result.rows,
          dataChecksum: result.dataSha256,
          reason: unmet,
          now,
        })
      ) {
        await finishAttempt(tx, attemptId, 'succeeded', null, now);
        await announceOutcome(deps, tx, { run, status: 'skipped_condition' });
        return false;
      }
    }
    const ok = await completeRun(tx, run.id, attemptId, {
      rows: result.rows,
      bytes: result.bytes,
      fileName,
      contentType,
      checksum: result.sha256,
      dataChecksum: result.dataSha256,
      warnings: result.warnings,
      now,
    });
    if (!ok) {
      // Cancelled while finishing (S10): the run ends cancelled, not succeeded.
      if (await isCancelRequested(tx, run.id)) {
        await endCancelled(tx, run.id, attemptId, now);
      }
      return false;
    }
    await finishAttempt(tx, attemptId, 'succeeded', null, now);
    await announceOutcome(deps, tx, { run, status: 'succeeded' });
    await insertArtifact(tx, {
      id: newId(),
      tenantId: run.tenant_id,
      runId: run.id,
      storage: deps.storage.kind,
      key,
      fileName,
      contentType,
      size: result.bytes,
      checksum: result.sha256,
      now,
      expiresAt: new Date(now.getTime() + deps.config.artifactTtlDays * 86_400_000),
    });
    return true;
  });
  // A stale or cancelled attempt must not leave a file behind.
  if (!published) await deps.storage.remove(key);
}

/** Why a finished result is not delivered, or null when its condition holds. */
async function unmetCondition(tx: Tx, run: RunRow, result: ExportResult): Promise<string | null> {
  if (run.condition === 'has_rows' && result.rows === 0)
    return 'Not delivered: the result has no rows (condition: only when there are rows)';
  if (run.condition === 'changed' && run.schedule_id && result.dataSha256) {
    const previous = await lastDeliveredDataChecksum(tx, run.schedule_id, run.id, run.recipient);
    if (previous === result.dataSha256)
      return 'Not delivered: the rows are the same as in the last delivered run (condition: only when changed)';
  }
  return null;
}

export async function recordFailure(
  deps: Deps,
  run: RunRow,
  attemptId: string,
  attempt: number,
  err: unknown,
  queryContext?: QueryContext,
): Promise<void> {
  const now = deps.clock.now();
  // Lost: whoever declared it so has recorded it and retried the run; if nobody
  // has yet (it noticed its own silence first), it declares itself lost.
  if (err instanceof LeaseLost) return handBack(deps, run, attemptId, LOST_MESSAGE);
  if (err instanceof WorkerStopping) return handBack(deps, run, attemptId, err.message);
  const failure = classifyFailure(err, queryContext);
  const outcome = await deps.db.transaction(async (tx) => {
    // A stale attempt that failed (its partial file removed when it was declared
    // lost, say) records nothing: the run belongs to a newer attempt.
    if (!(await lockLeasedRun(tx, run.id, attemptId))) return 'stale';
    // A cancel asked for while this attempt failed wins over any retry (S10).
    if (err instanceof Cancelled || (await isCancelRequested(tx, run.id))) {
      await endCancelled(tx, run.id, attemptId, now);
      return 'cancelled';
    }
    await finishAttempt(tx, attemptId, 'failed', failure.message, now);
    if (failure.retryable && attempt < run.max_attempts) {
      await requeue(
        deps,
        tx,
        { id: run.id, tenantId: run.tenant_id },
        attemptId,
        attempt,
        { message: failure.message, code: failure.code },
        now,
      );
      return 'retry';
    }
    await endRun(tx, run.id, attemptId, 'failed', { message: failure.message, code: failure.code }, now);
    await announceOutcome(deps, tx, { run, status: 'failed' });
    return 'failed';
  });
  if (outcome !== 'cancelled')
    deps.log.warn({ runId: run.id, attempt, outcome, error: failure.message }, 'run attempt failed');
}

/** Puts the run back in the queue for its next attempt, after a full-jitter backoff (S8). */
async function requeue(
  deps: Deps,
  tx: Tx,
  run: { id: string; tenantId: string },
  attemptId: string | null,
  attempt: number,
  error: { message: string; code: string },
  now: Date,
): Promise<void> {
  if (await endRun(tx, run.id, attemptId, 'queued', error, now)) {
    await enqueueRunAttempt(deps, tx, run, attempt + 1, new Date(now.getTime() + retryDelayMs(attempt)));
  }
}

/**
 * Ends the attempt holding a (locked) run as lost, then retries the run, fails it
 * when it has no attempts left, or ends it cancelled when a cancel was asked for (S9).
 */
async function declareLost(deps: Deps, tx: Tx, run: RunRow, message: string): Promise<void> {
  const now = deps.clock.now();
  const attemptId = run.lease_attempt_id;
  if (attemptId) await finishAttempt(tx, attemptId, 'lost', message, now);
  if (run.cancel_requested_at) {
    // The attempt stays recorded as lost; the run ends cancelled.
    await endCancelled(tx, run.id, attemptId, now);
  } else if (run.attempts < run.max_attempts) {
    await requeue(
      deps,
      tx,
      { id: run.id, tenantId: run.tenant_id },
      attemptId,
      run.attempts,
      { message, code: 'lost' },
      now,
    );
  } else {
    await endRun(tx, run.id, attemptId, 'failed', { message, code: 'lost' }, now);
    await announceOutcome(deps, tx, { run, status: 'failed' });
  }
}

/**
 * An attempt that stops unfinished while it may still hold the run (its worker
 * shuts down, or it was silent for a whole lease) hands the run back at once, as
 * lost, instead of leaving it to wait out its lease. Nothing when the lease is
 * gone already. The attempt has already removed its partial file.
 */
async function handBack(deps: Deps, run: RunRow, attemptId: string, message: string): Promise<void> {
  const handed = await deps.db.transaction(async (tx) => {
    const current = await lockLeasedRun(tx, run.id, attemptId);
    if (current) await declareLost(deps, tx, current, message);
    return current !== undefined;
  });
  if (handed)
    deps.log.warn({ runId: run.id, attempt: run.attempts, reason: message }, 'run attempt handed back');
}

/**
 * Runs whose worker died (no heartbeat for a lease, by the database's clock) are
 * retried, failed or cancelled (S9), and what their lost attempt wrote goes at
 * once: its partial file (a multipart upload on S3), or a file it committed but
 * never published. A lost attempt still alive (a stopped process that resumes)
 * finds its file gone and learns from its next heartbeat that it lost the run.
 */
export async function recoverLostRuns(deps: Deps): Promise<number> {
  const lost = await findLostRuns(deps.db, deps.config.runLeaseSeconds);
  let recovered = 0;
  for (const candidate of lost) {
    if (!candidate.lease_attempt_id) continue;
    const attemptId = candidate.lease_attempt_id;
    const run = await deps.db.transaction(async (tx) => {
      // Still silent, and still the same attempt, once locked: it did not heartbeat or finish meanwhile.
      const run = await lockLeasedRun(tx, candidate.id, attemptId, deps.config.runLeaseSeconds);
      if (run) await declareLost(deps, tx, run, LOST_MESSAGE);
      return run;
    });
    if (!run) continue;
    recovered++;
    await deps.storage.removeAttempt(attemptPrefix(run, run.attempts)).catch((err: unknown) =>
      // The daily sweep removes what is left.
      deps.log.warn(
        { runId: run.id, attempt: run.attempts, err: { message: (err as Error).message } },
        "could not remove a lost attempt's files",
      ),
    );
  }
  return recovered;
}
