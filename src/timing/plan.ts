import type { CompiledTiming } from './occurrences.ts';

// What one scheduler tick does with one due schedule (docs/scheduling.md S1, S2),
// as a pure function of the schedule, its timing and the database's now.

/** An occurrence this late when first seen was missed (Ferry was down), not merely picked up late. */
export const MISSED_AFTER_MS = 60_000;
/** Skipped occurrences recorded one by one, at most, after a long downtime. */
export const MAX_RECORDED_MISSED = 1_000;

export interface PlannedRun {
  scheduledFor: Date;
  status: 'queued' | 'skipped_missed' | 'skipped_overlap';
  reason: string | null;
}

export interface SchedulePlan {
  runs: PlannedRun[];
  nextRunAt: Date | null;
  backlog: Date[];
}

export interface ScheduleState {
  nextRunAt: Date | null;
  backlog: Date[];
  missedPolicy: 'latest' | 'all' | 'skip';
  missedCap: number;
  overlapPolicy: 'skip' | 'queue_one';
  /** A queued or running run of this schedule exists. */
  busy: boolean;
}

const OVERLAP_REASON = 'A run of this schedule was still queued or running';

function dueOccurrences(
  timing: CompiledTiming,
  first: Date,
  now: Date,
): { due: Date[]; dropped: number; last: Date } {
  const due: Date[] = [first];
  let dropped = 0;
  let last = first;
  for (;;) {
    const next = timing.nextAfter(last);
    if (!next || next > now) break;
    last = next;
    due.push(next);
    if (due.length > MAX_RECORDED_MISSED) {
      due.shift();
      dropped++;
    }
  }
  return { due, dropped, last };
}

export function planSchedule(state: ScheduleState, timing: CompiledTiming, now: Date): SchedulePlan {
  const runs: PlannedRun[] = [];
  const backlog = [...state.backlog];
  let busy = state.busy;
  // A waiting occurrence goes first once the schedule is free (queue_one, or 'all' after downtime).
  if (!busy && backlog.length > 0) {
    runs.push({ scheduledFor: backlog.shift()!, status: 'queued', reason: null });
    busy = true;
  }
  if (!state.nextRunAt || state.nextRunAt > now) return { runs, nextRunAt: state.nextRunAt, backlog };

  const { due, dropped, last } = dueOccurrences(timing, state.nextRunAt, now);
  // S1/S3: the next occurrence is computed forward from the last one, never backwards from now.
  const nextRunAt = timing.nextAfter(last);
  const isLate = (at: Date) => now.getTime() - at.getTime() > MISSED_AFTER_MS;
  // A catch-up: this tick found occurrences that came due while no scheduler ran. Under 'all'
  // its occurrences are one backlog, the one due now included (it is no more an overlap with
  // the first of them than they are with each other). On-time occurrences obey S2 alone.
  const catchUp = state.missedPolicy === 'all' && (due.length > 1 || isLate(due[0]!));
  let toRun: Date[];
  if (state.missedPolicy === 'all') toRun = due.slice(-state.missedCap);
  else if (state.missedPolicy === 'skip') toRun = isLate(last) ? [] : [last];
  else toRun = [last];
  const missed = due.slice(0, due.length - toRun.length);
  missed.forEach((at, i) => {
    const earlier = i === 0 && dropped > 0 ? ` (and ${dropped} earlier occurrences not listed)` : '';
    runs.push({
      scheduledFor: at,
      status: 'skipped_missed',
      reason: `Missed while the scheduler was not running (missed-run policy: ${state.missedPolicy})${earlier}`,
    });
  });
  for (const at of toRun) {
    if (!busy) {
      runs.push({ scheduledFor: at, status: 'queued', reason: null });
      busy = true;
      continue;
    }
    if (catchUp) {
      backlog.push(at);
      // The cap keeps the newest occurrences, as it does for missed ones: past it the oldest waiting gives way.
      if (backlog.length > state.missedCap)
        runs.push({ scheduledFor: backlog.shift()!, status: 'skipped_overlap', reason: OVERLAP_REASON });
    } else if (state.overlapPolicy === 'queue_one' && backlog.length === 0) backlog.push(at);
    else runs.push({ scheduledFor: at, status: 'skipped_overlap', reason: OVERLAP_REASON });
  }
  return { runs, nextRunAt, backlog };
}
