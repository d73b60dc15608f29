import type { Executor } from '../../db/db.ts';
import { stableId } from '../../lib/ids.ts';
import type { Deps } from '../deps.ts';

// What a scheduled run's end means for its schedule: a success resets the
// failure count; a final failure (after its retries) counts, pauses the
// schedule after N in a row, and e-mails its owner — the e-mail is a job
// enqueued in the same transaction, so it is sent once the failure is recorded.

export interface FailureNotice {
  runId: string;
  scheduleId: string;
  failures: number;
  paused: boolean;
}

export async function recordScheduleSuccess(db: Executor, scheduleId: string | null): Promise<void> {
  if (!scheduleId) return;
  await db.query(
    'UPDATE schedules SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0',
    [scheduleId],
  );
}

export async function recordScheduleFailure(
  deps: Pick<Deps, 'queue'>,
  tx: Executor,
  run: { id: string; schedule_id: string | null; attempts: number },
): Promise<FailureNotice | null> {
  if (!run.schedule_id) return null;
  const r = await tx.query<{ consecutive_failures: number; pause_after_failures: number; active: boolean }>(
    `UPDATE schedules SET consecutive_failures = consecutive_failures + 1 WHERE id = $1
      RETURNING consecutive_failures, pause_after_failures, active`,
    [run.schedule_id],
  );
  const row = r.rows[0];
  if (!row) return null;
  const paused =
    row.active && row.pause_after_failures > 0 && row.consecutive_failures >= row.pause_after_failures;
  if (paused)
    await tx.query(`UPDATE schedules SET active = false, backlog = '{}', paused_reason = $2 WHERE id = $1`, [
      run.schedule_id,
      `Paused automatically after ${row.consecutive_failures} failed runs in a row; fix the cause, then resume it`,
    ]);
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
