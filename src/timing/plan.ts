import type { CompiledTiming } from './occurrences.ts';

// What one scheduler tick does with one due schedule (docs/scheduling.md S1, S2),
// as a pure function of the schedule, its timing and the database's now.

/** An occurrence this late when first seen was missed (Ferry was down), not merely picked up late. */
export const MISSED_AFTER_MS = 60_000;
/** Skipped occurrences recorded one by one, at most, after a long downtime. */
export const MAX_RECORDED_MISSED = 1_000;
/** Occurrences walked from next_run_at before the walk gauges how many more are due. */
const GAUGE = 50;

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

interface Walk {
  /** Occurrences from the start up to `now`, in order. */
  items: Date[];
  /** The walk reached `now` (or the end of the schedule) within its limit. */
  complete: boolean;
}

/** The occurrences from `start` (an occurrence itself) up to `now`, at most `limit` of them. */
function walk(timing: CompiledTiming, start: Date | null, now: Date, limit: number): Walk {
  const items: Date[] = [];
  for (let at = start; at && at <= now; at = timing.nextAfter(at)) {
    if (items.length === limit) return { items, complete: false };
    items.push(at);
  }
  return { items, complete: true };
}

/**
 * The occurrences in a window before `now` that holds between MAX_RECORDED_MISSED
 * and four times as many: sized by `spacing` to hold 10 % more than the list, then
 * widened while it holds too few and narrowed while it holds too many. Null when
 * the window would reach back to `headEnd` (the rest of the walk is short) or no
 * window fitted in 20 tries: then the caller walks on.
 */
function newestWindow(timing: CompiledTiming, headEnd: Date, now: Date, spacing: number): Date[] | null {
  let back = spacing * MAX_RECORDED_MISSED * 1.1;
  for (let tries = 0; tries < 20; tries++) {
    const from = now.getTime() - back;
    if (from <= headEnd.getTime()) return null;
    const window = walk(timing, timing.nextAfter(new Date(from)), now, 4 * MAX_RECORDED_MISSED);
    if (!window.complete) back /= 2;
    else if (window.items.length < MAX_RECORDED_MISSED) back *= 2;
    else return window.items;
  }
  return null;
}

/**
 * The occurrences due from `first` (the schedule's next_run_at) to `now`: all of
 * them, or after a long outage only the newest MAX_RECORDED_MISSED, with
 * `unlisted` set. Walking every one of them is not bounded (an every-minute
 * schedule down for three months has 120,000, which took one tick ~10 s of CPU
 * in croner), so a walk that has not reached now after a few occurrences gauges
 * their spacing: when the rest is about a list's worth it walks on; otherwise it
 * walks a window before now sized to hold a little more than the newest ones,
 * widened or narrowed until it does. The work is about MAX_RECORDED_MISSED occurrences
 * whatever the outage.
 */
function dueOccurrences(
  timing: CompiledTiming,
  first: Date,
  now: Date,
): { due: Date[]; unlisted: boolean; last: Date } {
  const head = walk(timing, first, now, GAUGE);
  let items = head.items;
  if (!head.complete) {
    const headEnd = items[items.length - 1]!;
    const spacing = (headEnd.getTime() - first.getTime()) / (items.length - 1);
    const rest = (now.getTime() - headEnd.getTime()) / spacing;
    // About a window's worth or fewer left: walking on is no more work than a window.
    const window = rest <= 1.2 * MAX_RECORDED_MISSED ? null : newestWindow(timing, headEnd, now, spacing);
    items =
      window ?? items.concat(walk(timing, timing.nextAfter(headEnd), now, Number.POSITIVE_INFINITY).items);
  }
  const due = items.slice(-MAX_RECORDED_MISSED);
  return { due, unlisted: due[0]!.getTime() !== first.getTime(), last: items[items.length - 1]! };
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

  const first = state.nextRunAt;
  const { due, unlisted, last } = dueOccurrences(timing, first, now);
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
    const earlier =
      i === 0 && unlisted ? ` (and every earlier one since ${first.toISOString()}, not listed)` : '';
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
