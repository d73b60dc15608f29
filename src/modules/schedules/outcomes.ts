import type { Executor } from '../../db/db.ts';
import { stableId } from '../../lib/ids.ts';
import type { Deps } from '../deps.ts';
import type { RunOutcome, RunOutcomeListener } from '../runs/lifecycle.ts';
import { countScheduleFailure, pauseSchedule, resetScheduleFailures } from './repo.ts';

// What a scheduled run's end means for its schedule, told by the runs module in
// the transaction that ends the run: a success (or a run skipped by its condition)
// resets the failure count; a final failure (after its retries) counts, pauses
// the schedule after N in a row, and e-mails its owner — the e-mail is a job
// enqueued in the same transaction, so it is sent once the failure is recorded.

export interface FailureNotice {
  runId: string;
  scheduleId: string;
  failures: number;
  paused: boolean;
}

/** Wired in app/context.ts as a run outcome listener. */
export const followScheduledRuns: RunOutcomeListener = async (deps, tx, outcome) => {
  const scheduleId = outcome.run.schedule_id;
  if (!scheduleId) return;
  if (outcome.status === 'failed') await recordScheduleFailure(deps, tx, outcome.run);
  else await resetScheduleFailures(tx, outcome.run.tenant_id, scheduleId);
};

async function recordScheduleFailure(
  deps: Pick<Deps, 'queue' | 'clock'>,
  tx: Executor,
  run: RunOutcome['run'],
): Promise<FailureNotice | null> {
  if (!run.schedule_id) return null;
  const row = await countScheduleFailure(tx, run.tenant_id, run.schedule_id);
  if (!row) return null;
  const paused =
    row.active && row.pause_after_failures > 0 && row.consecutive_failures >= row.pause_after_failures;
  if (paused)
    await pauseSchedule(
      tx,
      run.tenant_id,
      run.schedule_id,
      `Paused automatically after ${row.consecutive_failures} failed runs in a row; fix the cause, then resume it`,
      deps.clock.now(),
    );
  const notice: FailureNotice = {
    runId: run.id,
    scheduleId: run.schedule_id,
    failures: row.consecutive_failures,
    paused,
  };
  // One notice per run and attempt count: a retried-then-failed-again run (S12) sends again, a replay does not.
  await deps.queue.send(
    'schedule.failure_notice',
    notice,
    { id: stableId(`failure-notice:${run.id}:${run.attempts}`) },
    tx,
  );
  return notice;
}
