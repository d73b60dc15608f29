import type { Executor } from '../../db/db.ts';

/** Active run statuses, as SQL. */
const ACTIVE = "('queued', 'running')";

export interface ScheduleRow {
  id: string;
  tenant_id: string;
  report_id: string;
  name: string;
  parameters: Record<string, unknown>;
  format: string;
  format_options: Record<string, unknown>;
  cron: string;
  preset: Record<string, unknown> | null;
  time_zone: string;
  calendar: { country: string; region?: string } | null;
  day_rule: 'last_business_day' | null;
  condition: 'always' | 'has_rows' | 'changed';
  missed_policy: 'latest' | 'all' | 'skip';
  missed_cap: number;
  overlap_policy: 'skip' | 'queue_one';
  destination_ids: string[];
  recipients_sql: string | null;
  active: boolean;
  next_run_at: Date | null;
  backlog: Date[];
  notify_emails: string[];
  pause_after_failures: number;
  consecutive_failures: number;
  paused_reason: string | null;
  owner_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** The fields a user sets; the scheduler owns next_run_at, backlog and the failure count. */
export interface ScheduleFields {
  reportId: string;
  name: string;
  parameters: Record<string, unknown>;
  format: string;
  formatOptions: Record<string, unknown>;
  cron: string;
  preset: Record<string, unknown> | null;
  timeZone: string;
  calendar: { country: string; region?: string | undefined } | null;
  dayRule: 'last_business_day' | null;
  condition: ScheduleRow['condition'];
  missedPolicy: ScheduleRow['missed_policy'];
  missedCap: number;
  overlapPolicy: ScheduleRow['overlap_policy'];
  destinationIds: string[];
  notifyEmails: string[];
  pauseAfterFailures: number;
  recipientsSql: string | null;
}

const columns = `report_id, name, parameters, format, format_options, cron, preset, time_zone, calendar, day_rule,
  condition, missed_policy, missed_cap, overlap_policy, destination_ids, notify_emails, pause_after_failures, recipients_sql`;

function values(f: ScheduleFields): unknown[] {
  return [
    f.reportId,
    f.name,
    JSON.stringify(f.parameters),
    f.format,
    JSON.stringify(f.formatOptions),
    f.cron,
    f.preset === null ? null : JSON.stringify(f.preset),
    f.timeZone,
    f.calendar === null ? null : JSON.stringify(f.calendar),
    f.dayRule,
    f.condition,
    f.missedPolicy,
    f.missedCap,
    f.overlapPolicy,
    f.destinationIds,
    f.notifyEmails,
    f.pauseAfterFailures,
    f.recipientsSql,
  ];
}

export async function insertSchedule(
  db: Executor,
  s: ScheduleFields & { id: string; tenantId: string; ownerId: string | null; nextRunAt: Date; now: Date },
): Promise<ScheduleRow> {
  const r = await db.query<ScheduleRow>(
    `INSERT INTO schedules (id, tenant_id, owner_id, next_run_at, created_at, updated_at, ${columns})
     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
     RETURNING *`,
    [s.id, s.tenantId, s.ownerId, s.nextRunAt, s.now, ...values(s)],
  );
  return r.rows[0]!;
}

/**
 * Rewrites a schedule's definition and its next occurrence together, under the row
 * lock the caller holds; a new timing (`timingChanged`) drops the occurrences waiting
 * under the old one.
 */
export async function updateSchedule(
  db: Executor,
  tenantId: string,
  id: string,
  s: ScheduleFields & { nextRunAt: Date | null; now: Date; timingChanged: boolean },
): Promise<ScheduleRow> {
  const r = await db.query<ScheduleRow>(
    `UPDATE schedules SET (${columns}) = ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20),
            next_run_at = $21, updated_at = $22, backlog = CASE WHEN $23 THEN '{}' ELSE backlog END
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, ...values(s), s.nextRunAt, s.now, s.timingChanged],
  );
  return r.rows[0]!;
}

export async function getSchedule(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<ScheduleRow | undefined> {
  const r = await db.query<ScheduleRow>('SELECT * FROM schedules WHERE tenant_id = $1 AND id = $2', [
    tenantId,
    id,
  ]);
  return r.rows[0];
}

/** Takes the schedule's row lock: edits, pause/resume and run-now serialise with the scheduler (S4). */
export async function lockSchedule(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<ScheduleRow | undefined> {
  const r = await db.query<ScheduleRow>(
    'SELECT * FROM schedules WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
    [tenantId, id],
  );
  return r.rows[0];
}

export async function listSchedules(
  db: Executor,
  tenantId: string,
  f: { reportId?: string | undefined; active?: boolean | undefined },
  before: { createdAt: Date; id: string } | null,
  limit: number,
): Promise<ScheduleRow[]> {
  const where = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  if (f.reportId) {
    params.push(f.reportId);
    where.push(`report_id = $${params.length}`);
  }
  if (f.active !== undefined) {
    params.push(f.active);
    where.push(`active = $${params.length}`);
  }
  if (before) {
    params.push(before.createdAt, before.id);
    where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(limit);
  const r = await db.query<ScheduleRow>(
    `SELECT * FROM schedules WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return r.rows;
}

/**
 * The one way a schedule is paused (S6), by a user, after failures in a row, or
 * when its timing can no longer be computed: no new runs, and the occurrences
 * waiting for an active run are dropped (a resume never catches up).
 */
export async function pauseSchedule(
  db: Executor,
  tenantId: string,
  id: string,
  reason: string,
  now: Date,
): Promise<ScheduleRow | undefined> {
  const r = await db.query<ScheduleRow>(
    `UPDATE schedules SET active = false, paused_reason = $3, backlog = '{}', updated_at = $4
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, reason, now],
  );
  return r.rows[0];
}

/** Resumes a paused schedule from its next occurrence after now (S6), its failure count reset. */
export async function resumeSchedule(
  db: Executor,
  tenantId: string,
  id: string,
  nextRunAt: Date | null,
  now: Date,
): Promise<ScheduleRow> {
  const r = await db.query<ScheduleRow>(
    `UPDATE schedules SET active = true, next_run_at = coalesce($3, next_run_at), paused_reason = NULL, consecutive_failures = 0,
            backlog = '{}', updated_at = $4
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, nextRunAt, now],
  );
  return r.rows[0]!;
}

/** A scheduled run succeeded: the count of failures in a row starts again. */
export async function resetScheduleFailures(db: Executor, tenantId: string, id: string): Promise<void> {
  await db.query(
    'UPDATE schedules SET consecutive_failures = 0 WHERE tenant_id = $1 AND id = $2 AND consecutive_failures <> 0',
    [tenantId, id],
  );
}

/** A scheduled run failed for good: one more failure in a row. */
export async function countScheduleFailure(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<{ consecutive_failures: number; pause_after_failures: number; active: boolean } | undefined> {
  const r = await db.query<{ consecutive_failures: number; pause_after_failures: number; active: boolean }>(
    `UPDATE schedules SET consecutive_failures = consecutive_failures + 1 WHERE tenant_id = $1 AND id = $2
      RETURNING consecutive_failures, pause_after_failures, active`,
    [tenantId, id],
  );
  return r.rows[0];
}

export async function deleteSchedule(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM schedules WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return r.rowCount > 0;
}

/** The database's clock (docs/scheduling.md S4): every process agrees on it, whatever its host clock says. */
export async function databaseNow(db: Executor): Promise<Date> {
  const r = await db.query<{ now: Date }>('SELECT ferry_now() AS now');
  return r.rows[0]!.now;
}

export type DueRow = ScheduleRow & { busy: boolean };

const SELECT_CANDIDATES = `SELECT s.*, EXISTS (SELECT 1 FROM runs r WHERE r.schedule_id = s.id AND r.status IN ${ACTIVE}) AS busy
  FROM schedules s`;

/**
 * Locks up to `limit` schedules to fire now, by the database's clock (S4): due ones,
 * then ones whose backlog waits for an active run that has ended. Locked ones are skipped.
 */
export async function claimDueSchedules(tx: Executor, limit: number): Promise<{ now: Date; rows: DueRow[] }> {
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
        AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.schedule_id = s.id AND r.status IN ${ACTIVE})
      ORDER BY s.next_run_at
      LIMIT $2
      FOR UPDATE OF s SKIP LOCKED`,
    [now, limit - due.rows.length],
  );
  return { now, rows: [...due.rows, ...waiting.rows] };
}

/** Moves fired schedules to their next occurrence and backlog, in one statement. */
export async function advanceSchedules(
  tx: Executor,
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

/** Milliseconds until the next schedule is due, by the database's clock (null when none is). */
export async function msUntilNextDue(db: Executor): Promise<number | null> {
  const r = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(next_run_at) - ferry_now()) * 1000)::float8 AS ms FROM schedules WHERE active`,
  );
  const ms = r.rows[0]?.ms;
  return ms === null || ms === undefined ? null : Number(ms);
}

/** Active schedules whose next run is more than `seconds` late by the database clock (a stalled scheduler). */
export async function countOverdueSchedules(db: Executor, seconds: number): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM schedules WHERE active AND next_run_at < ferry_now() - make_interval(secs => $1)`,
    [seconds],
  );
  return r.rows[0]!.n;
}

/** What a failure notice says: the schedule, its recipients and owner, and the failed run. */
export async function failureNoticeFacts(db: Executor, scheduleId: string, runId: string) {
  const r = await db.query<{
    name: string;
    time_zone: string;
    notify_emails: string[];
    owner_email: string | null;
    run_error: string | null;
    scheduled_for: Date | null;
    created_at: Date;
    attempts: number;
    report_name: string;
  }>(
    `SELECT s.name, s.time_zone, s.notify_emails, u.email AS owner_email, r.error AS run_error, r.scheduled_for,
            r.created_at, r.attempts, r.report_name
       FROM schedules s JOIN runs r ON r.id = $2 AND r.schedule_id = s.id
       LEFT JOIN users u ON u.id = s.owner_id
      WHERE s.id = $1`,
    [scheduleId, runId],
  );
  return r.rows[0];
}
