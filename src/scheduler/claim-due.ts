import type { Tx } from '../db/db.ts';
import { newId } from '../lib/ids.ts';
import type { Deps } from '../modules/deps.ts';
import { enqueueNewRuns } from '../modules/runs/jobs.ts';
import type { ScheduleRow } from '../modules/schedules/repo.ts';
import { type PlannedRun, planSchedule } from './plan.ts';
import { compileScheduleTiming } from './timing.ts';

// One scheduler transaction (scheduling.md S4): claim due schedules with
// FOR UPDATE SKIP LOCKED by the database's clock, insert their runs, enqueue
// the jobs and advance next_run_at — all committed together or not at all. Any
// number of schedulers can do this at once: a locked schedule is skipped, and
// UNIQUE (schedule_id, scheduled_for) would refuse a second run regardless.

type DueRow = ScheduleRow & { busy: boolean };

export interface TickResult {
  now: Date;
  claimed: number;
  queued: number;
  skipped: number;
}

const SELECT_CANDIDATES = `SELECT s.*, EXISTS (SELECT 1 FROM runs r WHERE r.schedule_id = s.id AND r.status IN ('queued', 'running')) AS busy
  FROM schedules s`;

async function claimDueSchedules(tx: Tx, limit: number): Promise<{ now: Date; rows: DueRow[] }> {
  const nowRow = await tx.query<{ now: Date }>('SELECT ferry_now() AS now');
  const now = nowRow.rows[0]!.now;
  // Two statements, not one with OR: under OR the planner walks the (next_run_at) index
  // past the due ones and filters every active schedule (all 100,000 of them on each
  // tick that finds fewer than `limit` due). Here the due ones are an index range that
  // stops at the first schedule not due, and schedules with a backlog come from their
  // partial index. Together they are the same set, in the same order (due ones first).
  const due = await tx.query<DueRow>(
    `${SELECT_CANDIDATES}
      WHERE s.active AND s.next_run_at <= $1
      ORDER BY s.next_run_at
      LIMIT $2
      FOR UPDATE OF s SKIP LOCKED`,
    [now, limit],
  );
  if (due.rows.length >= limit) return { now, rows: due.rows };
  // Occurrences waiting for the active run to finish, now that it has (not due ones: those were above).
  // `backlog <> '{}'` says the same as cardinality > 0 (backlog is never null), but the planner
  // has statistics for it and so knows how few rows have one: it then uses the partial index.
  const waiting = await tx.query<DueRow>(
    `${SELECT_CANDIDATES}
      WHERE s.active
        AND cardinality(s.backlog) > 0
        AND s.backlog <> '{}'
        AND (s.next_run_at IS NULL OR s.next_run_at > $1)
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.schedule_id = s.id AND r.status IN ('queued', 'running'))
      ORDER BY s.next_run_at
      LIMIT $2
      FOR UPDATE OF s SKIP LOCKED`,
    [now, limit - due.rows.length],
  );
  return { now, rows: [...due.rows, ...waiting.rows] };
}

interface RunInsert {
  id: string;
  schedule_id: string;
  scheduled_for: string;
  status: PlannedRun['status'];
  error: string | null;
}

/** Runs of many schedules in one statement; the report is snapshotted as it is now. */
async function insertScheduledRuns(
  tx: Tx,
  runs: RunInsert[],
  now: Date,
): Promise<Array<{ id: string; tenant_id: string; status: string }>> {
  if (runs.length === 0) return [];
  const r = await tx.query<{ id: string; tenant_id: string; status: string }>(
    `INSERT INTO runs (id, tenant_id, report_id, schedule_id, trigger, status, format, format_options, parameters, time_zone,
                       report_snapshot, report_name, scheduled_for, created_at, finished_at, error, error_code, condition, created_by)
     SELECT x.id, s.tenant_id, s.report_id, s.id, 'schedule', x.status, s.format, s.format_options, s.parameters, s.time_zone,
            jsonb_build_object('connectionId', p.connection_id, 'sql', p.sql, 'spec', p.spec, 'parameters', p.parameters),
            p.name, x.scheduled_for, $2, CASE WHEN x.status = 'queued' THEN NULL ELSE $2::timestamptz END,
            x.error, CASE WHEN x.status = 'queued' THEN NULL ELSE x.status END, s.condition, s.owner_id
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, schedule_id uuid, scheduled_for timestamptz, status text, error text)
       JOIN schedules s ON s.id = x.schedule_id
       JOIN reports p ON p.tenant_id = s.tenant_id AND p.id = s.report_id
     ON CONFLICT (schedule_id, scheduled_for) DO NOTHING
     RETURNING id, tenant_id, status`,
    [JSON.stringify(runs), now],
  );
  return r.rows;
}

async function advanceSchedules(
  tx: Tx,
  updates: Array<{ id: string; next_run_at: string | null; backlog: string[] }>,
): Promise<void> {
  if (updates.length === 0) return;
  await tx.query(
    `UPDATE schedules s SET next_run_at = x.next_run_at, backlog = x.backlog
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, next_run_at timestamptz, backlog timestamptz[])
      WHERE s.id = x.id`,
    [JSON.stringify(updates)],
  );
}

/** Claims and fires up to `limit` due schedules in one transaction. */
export async function fireDueSchedules(deps: Deps, limit: number): Promise<TickResult> {
  return deps.db.transaction(async (tx) => {
    const { now, rows } = await claimDueSchedules(tx, limit);
    const inserts: RunInsert[] = [];
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
        await tx.query(`UPDATE schedules SET active = false, paused_reason = $2 WHERE id = $1`, [
          row.id,
          `Paused: its timing can no longer be computed (${(err as Error).message})`,
        ]);
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

/** Milliseconds until the next schedule is due, by the database's clock (null when none is). */
export async function msUntilNextDue(deps: Deps): Promise<number | null> {
  const r = await deps.db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(next_run_at) - ferry_now()) * 1000)::float8 AS ms FROM schedules WHERE active`,
  );
  const ms = r.rows[0]?.ms;
  return ms === null || ms === undefined ? null : Number(ms);
}
