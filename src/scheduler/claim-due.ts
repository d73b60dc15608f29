import { newId } from '../lib/ids.ts';
import type { Deps } from '../modules/deps.ts';
import { enqueueNewRuns } from '../modules/runs/jobs.ts';
import { insertScheduledRuns, type ScheduledRunInsert } from '../modules/runs/repo.ts';
import { advanceSchedules, claimDueSchedules, pauseSchedule } from '../modules/schedules/repo.ts';
import { planSchedule } from '../timing/plan.ts';
import { compileScheduleTiming } from '../timing/timing.ts';

// One scheduler transaction (docs/scheduling.md S4): claim due schedules with
// FOR UPDATE SKIP LOCKED by the database's clock, insert their runs, enqueue
// the jobs and advance next_run_at — all committed together or not at all. Any
// number of schedulers can do this at once: a locked schedule is skipped, and
// UNIQUE (schedule_id, scheduled_for) would refuse a second run regardless.

export interface TickResult {
  now: Date;
  claimed: number;
  queued: number;
  skipped: number;
}

/** Claims and fires up to `limit` due schedules in one transaction. */
export async function fireDueSchedules(deps: Deps, limit: number): Promise<TickResult> {
  return deps.db.transaction(async (tx) => {
    const { now, rows } = await claimDueSchedules(tx, limit);
    const inserts: ScheduledRunInsert[] = [];
    const updates: Array<{ id: string; next_run_at: string | null; backlog: string[] }> = [];
    for (const row of rows) {
      let plan: ReturnType<typeof planSchedule>;
      try {
        const timing = compileScheduleTiming(row);
        plan = planSchedule(
          {
            nextRunAt: row.next_run_at,
            backlog: row.backlog,
            missedPolicy: row.missed_policy,
            missedCap: row.missed_cap,
            overlapPolicy: row.overlap_policy,
            busy: row.busy,
          },
          timing,
          now,
        );
      } catch (err) {
        // A definition that no longer compiles (a zone removed from the time-zone database): stop it, loudly.
        deps.log.error(
          { err, scheduleId: row.id },
          'schedule timing cannot be computed; the schedule is paused',
        );
        await pauseSchedule(
          tx,
          row.tenant_id,
          row.id,
          `Paused: its timing can no longer be computed (${(err as Error).message})`,
          now,
        );
        continue;
      }
      for (const run of plan.runs)
        inserts.push({
          id: newId(),
          schedule_id: row.id,
          scheduled_for: run.scheduledFor.toISOString(),
          status: run.status,
          error: run.reason,
        });
      updates.push({
        id: row.id,
        next_run_at: plan.nextRunAt?.toISOString() ?? null,
        backlog: plan.backlog.map((d) => d.toISOString()),
      });
    }
    const inserted = await insertScheduledRuns(tx, inserts, now);
    const queued = inserted.filter((r) => r.status === 'queued');
    await enqueueNewRuns(
      deps,
      tx,
      queued.map((r) => ({ id: r.id, tenantId: r.tenant_id })),
    );
    await advanceSchedules(tx, updates);
    return { now, claimed: rows.length, queued: queued.length, skipped: inserted.length - queued.length };
  });
}
