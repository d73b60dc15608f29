import type { Executor } from '../../db/db.ts';

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
}

const columns = `report_id, name, parameters, format, format_options, cron, preset, time_zone, calendar, day_rule,
  condition, missed_policy, missed_cap, overlap_policy, destination_ids, notify_emails, pause_after_failures`;

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
  ];
}

export async function insertSchedule(
  db: Executor,
  s: ScheduleFields & { id: string; tenantId: string; ownerId: string | null; nextRunAt: Date; now: Date },
): Promise<ScheduleRow> {
  const r = await db.query<ScheduleRow>(
    `INSERT INTO schedules (id, tenant_id, owner_id, next_run_at, created_at, updated_at, ${columns})
     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
     RETURNING *`,
    [s.id, s.tenantId, s.ownerId, s.nextRunAt, s.now, ...values(s)],
  );
  return r.rows[0]!;
}

/** Rewrites a schedule's definition and its next occurrence together, under the row lock the caller holds. */
export async function updateSchedule(
  db: Executor,
  tenantId: string,
  id: string,
  s: ScheduleFields & { nextRunAt: Date | null; now: Date },
): Promise<ScheduleRow> {
  const r = await db.query<ScheduleRow>(
    `UPDATE schedules SET (${columns}) = ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19),
            next_run_at = $20, updated_at = $21
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, ...values(s), s.nextRunAt, s.now],
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

export async function setScheduleActive(
  db: Executor,
  tenantId: string,
  id: string,
  active: boolean,
  nextRunAt: Date | null,
  reason: string | null,
  now: Date,
): Promise<ScheduleRow> {
  const r = await db.query<ScheduleRow>(
    `UPDATE schedules SET active = $3, next_run_at = coalesce($4, next_run_at), paused_reason = $5, updated_at = $6,
            consecutive_failures = CASE WHEN $3 THEN 0 ELSE consecutive_failures END,
            backlog = CASE WHEN $3 THEN '{}' ELSE backlog END
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, active, nextRunAt, reason, now],
  );
  return r.rows[0]!;
}

export async function deleteSchedule(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM schedules WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return r.rowCount > 0;
}

/** The most recent run of each schedule, for `lastRun`. */
export async function lastRuns(
  db: Executor,
  tenantId: string,
  scheduleIds: string[],
): Promise<
  Map<
    string,
    { id: string; status: string; scheduled_for: Date | null; created_at: Date; finished_at: Date | null }
  >
> {
  if (scheduleIds.length === 0) return new Map();
  const r = await db.query<{
    schedule_id: string;
    id: string;
    status: string;
    scheduled_for: Date | null;
    created_at: Date;
    finished_at: Date | null;
  }>(
    `SELECT DISTINCT ON (schedule_id) schedule_id, id, status, scheduled_for, created_at, finished_at
       FROM runs WHERE tenant_id = $1 AND schedule_id = ANY($2::uuid[])
      ORDER BY schedule_id, created_at DESC, id DESC`,
    [tenantId, scheduleIds],
  );
  return new Map(r.rows.map((row) => [row.schedule_id, row]));
}

/** Whether the schedule has a queued or running run (S2). */
export async function hasActiveRun(db: Executor, scheduleId: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM runs WHERE schedule_id = $1 AND status IN ('queued', 'running') LIMIT 1`,
    [scheduleId],
  );
  return r.rows.length > 0;
}

/** The database's clock (scheduling.md S4): every process agrees on it, whatever its host clock says. */
export async function databaseNow(db: Executor): Promise<Date> {
  const r = await db.query<{ now: Date }>('SELECT ferry_now() AS now');
  return r.rows[0]!.now;
}
