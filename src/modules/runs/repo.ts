import type { Db, Executor } from '../../db/db.ts';
import type { RunStatus } from './schema.ts';

/** Where a run's id is announced when its status or progress changes; events.ts listens. */
export const RUN_CHANGED_CHANNEL = 'ferry_run_changed';

/**
 * Wraps `UPDATE runs ... RETURNING` (which must return id) so the same statement announces
 * each changed run on RUN_CHANGED_CHANNEL: delivered when the transaction commits, so a
 * listener that re-reads the run sees the change, and never for a change rolled back.
 */
const announcing = (update: string) =>
  `WITH changed AS (${update}) SELECT changed.* FROM changed, pg_notify('${RUN_CHANGED_CHANNEL}', changed.id::text)`;

export interface ReportSnapshot {
  connectionId: string;
  sql: string | null;
  spec: unknown;
  parameters: unknown[];
}

export interface RunRow {
  id: string;
  tenant_id: string;
  report_id: string | null;
  schedule_id: string | null;
  trigger: string;
  status: RunStatus;
  format: string;
  format_options: Record<string, unknown>;
  parameters: Record<string, unknown>;
  time_zone: string;
  report_snapshot: ReportSnapshot;
  report_name: string;
  scheduled_for: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  attempts: number;
  max_attempts: number;
  lease_attempt_id: string | null;
  heartbeat_at: Date | null;
  cancel_requested_at: Date | null;
  progress_rows: string;
  progress_bytes: string;
  row_count: string | null;
  file_name: string | null;
  file_size: string | null;
  content_type: string | null;
  checksum: string | null;
  error: string | null;
  error_code: string | null;
  condition: 'always' | 'has_rows' | 'changed';
  data_checksum: string | null;
  expected_rows: string | null;
  warnings: Array<{ code: string; message: string; count: number }>;
  destination_ids: string[];
  /** A burst's lead: the recipients query it reads (from its schedule). */
  recipients_sql: string | null;
  /** A recipient's run: the lead that made it (null once the lead is deleted) and the address. */
  burst_id: string | null;
  recipient: string | null;
  /** A burst's lead, once it has read its recipients: how many runs it made. */
  burst_size: number | null;
}

/**
 * The report as a run keeps it (connection, SQL or builder spec, parameter
 * declarations), read from `reports` aliased `p` in the statement that inserts the
 * run: every way a run is made takes the same snapshot, in the same transaction.
 */
const REPORT_SNAPSHOT = `jsonb_build_object('connectionId', p.connection_id, 'sql', p.sql, 'spec', p.spec, 'parameters', p.parameters)`;

/** A queued run of a report of the tenant, snapshotted now; undefined when there is no such report. */
export async function insertRun(
  db: Executor,
  r: {
    id: string;
    tenantId: string;
    reportId: string;
    trigger: string;
    format: string;
    formatOptions: Record<string, unknown>;
    parameters: Record<string, unknown>;
    timeZone: string;
    maxAttempts: number;
    createdBy: string | null;
    now: Date;
    scheduleId?: string | undefined;
    destinationIds?: string[] | undefined;
    recipientsSql?: string | null | undefined;
  },
): Promise<RunRow | undefined> {
  const res = await db.query<RunRow>(
    `INSERT INTO runs (id, tenant_id, report_id, trigger, status, format, format_options, parameters, time_zone,
                       report_snapshot, report_name, max_attempts, created_by, created_at, schedule_id, destination_ids,
                       recipients_sql)
     SELECT $1, p.tenant_id, p.id, $4, 'queued', $5, $6, $7, $8, ${REPORT_SNAPSHOT}, p.name, $9, $10, $11, $12, $13, $14
       FROM reports p WHERE p.tenant_id = $2 AND p.id = $3
     RETURNING *`,
    [
      r.id,
      r.tenantId,
      r.reportId,
      r.trigger,
      r.format,
      JSON.stringify(r.formatOptions),
      JSON.stringify(r.parameters),
      r.timeZone,
      r.maxAttempts,
      r.createdBy,
      r.now,
      r.scheduleId ?? null,
      r.destinationIds ?? [],
      r.recipientsSql ?? null,
    ],
  );
  return res.rows[0];
}

export async function getRun(db: Executor, tenantId: string, id: string): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>('SELECT * FROM runs WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return r.rows[0];
}

/** For the worker, which is handed a run id by the queue. */
export async function getRunById(db: Executor, id: string): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>('SELECT * FROM runs WHERE id = $1', [id]);
  return r.rows[0];
}

export interface RunFilter {
  status?: string | undefined;
  reportId?: string | undefined;
  scheduleId?: string | undefined;
  trigger?: string | undefined;
  /** The recipients' runs of one burst (its lead's id). */
  burstId?: string | undefined;
  /** Failed runs, and runs waiting for another attempt after a failed one. */
  failedOnly?: boolean | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

export async function listRuns(
  db: Executor,
  tenantId: string,
  f: RunFilter,
  before: { createdAt: Date; id: string } | null,
  limit: number,
): Promise<RunRow[]> {
  const where = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  if (f.status) add('status = ?', f.status);
  if (f.reportId) add('report_id = ?', f.reportId);
  if (f.scheduleId) add('schedule_id = ?', f.scheduleId);
  if (f.trigger) add('trigger = ?', f.trigger);
  if (f.burstId) add('burst_id = ?', f.burstId);
  if (f.failedOnly) where.push(`(status = 'failed' OR (status = 'queued' AND error IS NOT NULL))`);
  if (f.from) add('created_at >= ?', f.from);
  if (f.to) add('created_at < ?', f.to);
  if (before) {
    params.push(before.createdAt, before.id);
    where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  params.push(limit);
  const r = await db.query<RunRow>(
    `SELECT * FROM runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return r.rows;
}

/**
 * Serialises claims of one tenant's runs (a transaction-scoped advisory lock),
 * so the running count a claim sees cannot change under it. Returns the run's
 * tenant, or null when the run is gone.
 */
export async function lockTenantRunSlots(db: Executor, runId: string): Promise<string | null> {
  const r = await db.query<{ tenant_id: string }>(
    `SELECT tenant_id, pg_advisory_xact_lock(hashtextextended('ferry.run-slots:' || tenant_id::text, 0))
       FROM runs WHERE id = $1 AND status = 'queued'`,
    [runId],
  );
  return r.rows[0]?.tenant_id ?? null;
}

export async function countRunningRuns(db: Executor, tenantId: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE tenant_id = $1 AND status = 'running'`,
    [tenantId],
  );
  return r.rows[0]!.n;
}

/** Takes a queued run for one attempt; null when another worker took it or the job is stale. */
export async function claimRun(
  db: Executor,
  runId: string,
  attempt: number,
  attemptId: string,
  now: Date,
): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>(
    announcing(`UPDATE runs SET status = 'running', attempts = $2, lease_attempt_id = $3, heartbeat_at = now(), started_at = coalesce(started_at, $4),
            progress_rows = 0, progress_bytes = 0, error = NULL, error_code = NULL,
            expected_rows = (SELECT p.row_count FROM runs p
                              WHERE p.report_id = runs.report_id AND p.status = 'succeeded' AND p.id <> runs.id
                                AND p.format = runs.format AND p.parameters = runs.parameters
                              ORDER BY p.finished_at DESC LIMIT 1)
      WHERE id = $1 AND status = 'queued' AND attempts = $2 - 1 RETURNING *`),
    [runId, attempt, attemptId, now],
  );
  return r.rows[0];
}

export async function insertAttempt(
  db: Executor,
  a: { id: string; runId: string; number: number; worker: string; now: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO run_attempts (id, run_id, number, worker, status, started_at) VALUES ($1, $2, $3, $4, 'running', $5)`,
    [a.id, a.runId, a.number, a.worker, a.now],
  );
}

export async function finishAttempt(
  db: Executor,
  attemptId: string,
  status: 'succeeded' | 'failed' | 'lost' | 'cancelled',
  error: string | null,
  now: Date,
): Promise<void> {
  await db.query(
    `UPDATE run_attempts SET status = $2, error = $3, finished_at = $4 WHERE id = $1 AND status = 'running'`,
    [attemptId, status, error, now],
  );
}

/** Records liveness and progress; returns whether cancel was asked, or null when the lease is lost. */
export async function heartbeatRun(
  db: Executor,
  runId: string,
  attemptId: string,
  rows: number,
  bytes: number,
): Promise<{ cancelRequested: boolean } | null> {
  const r = await db.query<{ cancel_requested_at: Date | null }>(
    announcing(`UPDATE runs SET heartbeat_at = now(), progress_rows = $3, progress_bytes = $4
      WHERE id = $1 AND lease_attempt_id = $2 AND status = 'running' RETURNING id, cancel_requested_at`),
    [runId, attemptId, rows, bytes],
  );
  const row = r.rows[0];
  return row ? { cancelRequested: row.cancel_requested_at !== null } : null;
}

/** Publishes a result; false when the attempt no longer holds the run (stale completion). */
export async function completeRun(
  db: Executor,
  runId: string,
  attemptId: string,
  result: {
    rows: number;
    bytes: number;
    fileName: string;
    contentType: string;
    checksum: string;
    dataChecksum?: string | undefined;
    warnings?: Array<{ code: string; message: string; count: number }> | undefined;
    now: Date;
  },
): Promise<boolean> {
  const r = await db.query(
    announcing(`UPDATE runs SET status = 'succeeded', finished_at = $3, row_count = $4, progress_rows = $4, file_size = $5, progress_bytes = $5,
            file_name = $6, content_type = $7, checksum = $8, data_checksum = $9, warnings = $10::jsonb, lease_attempt_id = NULL
      WHERE id = $1 AND lease_attempt_id = $2 AND status = 'running' AND cancel_requested_at IS NULL RETURNING id`),
    [
      runId,
      attemptId,
      result.now,
      result.rows,
      result.bytes,
      result.fileName,
      result.contentType,
      result.checksum,
      result.dataChecksum ?? null,
      JSON.stringify(result.warnings ?? []),
    ],
  );
  return r.rowCount > 0;
}

/**
 * A burst's lead has read its recipients: each gets a queued run of its own,
 * the lead's snapshot with the recipient's parameters, in the lead's transaction.
 */
export async function insertRecipientRuns(
  tx: Executor,
  lead: RunRow,
  recipients: Array<{ id: string; email: string; parameters: Record<string, unknown> }>,
  now: Date,
): Promise<void> {
  if (recipients.length === 0) return;
  await tx.query(
    `INSERT INTO runs (id, tenant_id, report_id, schedule_id, trigger, status, format, format_options, parameters, time_zone,
                       report_snapshot, report_name, scheduled_for, created_at, condition, created_by, max_attempts,
                       destination_ids, burst_id, recipient)
     SELECT x.id, l.tenant_id, l.report_id, l.schedule_id, l.trigger, 'queued', l.format, l.format_options, x.parameters,
            l.time_zone, l.report_snapshot, l.report_name, l.scheduled_for, $3, l.condition, l.created_by, l.max_attempts,
            l.destination_ids, l.id, x.email
       FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, email text, parameters jsonb)
       JOIN runs l ON l.id = $1`,
    [lead.id, JSON.stringify(recipients), now],
  );
}

/** Ends a burst's lead once its recipients' runs exist; false when the attempt no longer holds it. */
export async function completeBurstLead(
  db: Executor,
  runId: string,
  attemptId: string,
  result: {
    recipients: number;
    warnings: Array<{ code: string; message: string; count: number }>;
    now: Date;
  },
): Promise<boolean> {
  const r = await db.query(
    announcing(`UPDATE runs SET status = 'succeeded', finished_at = $3, row_count = $4, progress_rows = $4, burst_size = $6,
            warnings = $5::jsonb, lease_attempt_id = NULL
      WHERE id = $1 AND lease_attempt_id = $2 AND status = 'running' AND cancel_requested_at IS NULL RETURNING id`),
    [runId, attemptId, result.now, result.recipients, JSON.stringify(result.warnings), result.recipients],
  );
  return r.rowCount > 0;
}

/** Ends a run whose condition was not met: it ran, but its file is discarded (no artifact). */
export async function skipRunForCondition(
  db: Executor,
  runId: string,
  attemptId: string,
  result: { rows: number; dataChecksum?: string | undefined; reason: string; now: Date },
): Promise<boolean> {
  const r = await db.query(
    announcing(`UPDATE runs SET status = 'skipped_condition', finished_at = $3, row_count = $4, progress_rows = $4, data_checksum = $5,
            error = $6, error_code = 'condition', lease_attempt_id = NULL
      WHERE id = $1 AND lease_attempt_id = $2 AND status = 'running' AND cancel_requested_at IS NULL RETURNING id`),
    [runId, attemptId, result.now, result.rows, result.dataChecksum ?? null, result.reason],
  );
  return r.rowCount > 0;
}

/** The data checksum of the schedule's last delivered result ("deliver only when changed"). */
export async function lastDeliveredDataChecksum(
  db: Executor,
  scheduleId: string,
  exceptRunId: string,
  recipient: string | null,
): Promise<string | null> {
  // A burst recipient's rows compare with that recipient's last delivered ones.
  const r = await db.query<{ data_checksum: string | null }>(
    `SELECT data_checksum FROM runs WHERE schedule_id = $1 AND id <> $2 AND status = 'succeeded'
        AND recipient IS NOT DISTINCT FROM $3
      ORDER BY finished_at DESC LIMIT 1`,
    [scheduleId, exceptRunId, recipient],
  );
  return r.rows[0]?.data_checksum ?? null;
}

export async function endRun(
  db: Executor,
  runId: string,
  attemptId: string | null,
  status: 'failed' | 'cancelled' | 'queued',
  error: { message: string; code: string } | null,
  now: Date,
): Promise<boolean> {
  const r = await db.query(
    announcing(`UPDATE runs SET status = $3, error = $4, error_code = $5, lease_attempt_id = NULL,
            finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE $6::timestamptz END
      WHERE id = $1 AND ($2::uuid IS NULL OR lease_attempt_id = $2) AND status IN ('queued', 'running') RETURNING id`),
    [runId, attemptId, status, error?.message ?? null, error?.code ?? null, now],
  );
  return r.rowCount > 0;
}

export async function requestCancel(
  db: Executor,
  tenantId: string,
  runId: string,
  now: Date,
): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>(
    announcing(`UPDATE runs SET cancel_requested_at = coalesce(cancel_requested_at, $3),
            status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
            finished_at = CASE WHEN status = 'queued' THEN $3 ELSE finished_at END
      WHERE tenant_id = $1 AND id = $2 AND status IN ('queued', 'running') RETURNING *`),
    [tenantId, runId, now],
  );
  return r.rows[0];
}

/** Puts a failed run back in the queue for a new attempt (S12). */
export async function requeueFailedRun(
  db: Executor,
  tenantId: string,
  runId: string,
): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>(
    announcing(`UPDATE runs SET status = 'queued', finished_at = NULL, cancel_requested_at = NULL, max_attempts = attempts + 1
      WHERE tenant_id = $1 AND id = $2 AND status = 'failed' RETURNING *`),
    [tenantId, runId],
  );
  return r.rows[0];
}

/** Running runs whose heartbeat stopped: their worker died (S9). */
/** Heartbeats are stamped and judged by the database's clock, so hosts whose clocks disagree agree on who is lost. */
export async function findLostRuns(
  db: Executor,
  leaseSeconds: number,
): Promise<Array<{ id: string; lease_attempt_id: string | null }>> {
  const r = await db.query<{ id: string; lease_attempt_id: string | null }>(
    `SELECT id, lease_attempt_id FROM runs WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1) ORDER BY heartbeat_at LIMIT 100`,
    [leaseSeconds],
  );
  return r.rows;
}

/**
 * The run, locked until the transaction ends, while the given attempt holds its
 * lease (and, with `silentSeconds`, has not heartbeated for that long by the
 * database's clock); undefined otherwise. Decisions about a lease are made on
 * this locked row, so a completion or heartbeat cannot slip in between.
 */
export async function lockLeasedRun(
  db: Executor,
  runId: string,
  attemptId: string,
  silentSeconds?: number,
): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>(
    `SELECT * FROM runs WHERE id = $1 AND status = 'running' AND lease_attempt_id = $2
        AND ($3::float8 IS NULL OR heartbeat_at < now() - make_interval(secs => $3::float8))
        FOR UPDATE`,
    [runId, attemptId, silentSeconds ?? null],
  );
  return r.rows[0];
}

/** What a run's page names besides the run: its schedule (and that schedule's zone) and who started it. */
export interface RunLabels {
  scheduleName: string | null;
  scheduleTimeZone: string | null;
  createdByName: string | null;
  createdById: string | null;
}

export async function runLabels(
  db: Executor,
  tenantId: string,
  runIds: string[],
): Promise<Map<string, RunLabels>> {
  if (runIds.length === 0) return new Map();
  const r = await db.query<{
    id: string;
    schedule_name: string | null;
    schedule_time_zone: string | null;
    created_by: string | null;
    user_name: string | null;
    user_email: string | null;
  }>(
    `SELECT r.id, s.name AS schedule_name, s.time_zone AS schedule_time_zone, r.created_by,
            u.name AS user_name, u.email AS user_email
       FROM runs r
       LEFT JOIN schedules s ON s.id = r.schedule_id AND s.tenant_id = r.tenant_id
       LEFT JOIN users u ON u.id = r.created_by
      WHERE r.tenant_id = $1 AND r.id = ANY($2::uuid[])`,
    [tenantId, runIds],
  );
  return new Map(
    r.rows.map((row) => [
      row.id,
      {
        scheduleName: row.schedule_name,
        scheduleTimeZone: row.schedule_time_zone,
        createdById: row.created_by,
        createdByName: row.user_name || row.user_email,
      },
    ]),
  );
}

/** When a run waiting after a failed attempt will be tried again: its next job's start, if queued. */
export async function nextAttemptAt(db: Executor, runId: string, attempt: number): Promise<Date | null> {
  const r = await db.query<{ start_after: Date }>(
    `SELECT start_after FROM pgboss.job
      WHERE name = 'run.execute' AND data->>'runId' = $1 AND (data->>'attempt')::int = $2
        AND state IN ('created', 'retry')
      ORDER BY start_after DESC LIMIT 1`,
    [runId, attempt],
  );
  return r.rows[0]?.start_after ?? null;
}

export interface AttemptRow {
  id: string;
  number: number;
  worker: string;
  status: string;
  started_at: Date;
  finished_at: Date | null;
  error: string | null;
}

export async function listAttempts(db: Executor, runId: string): Promise<AttemptRow[]> {
  const r = await db.query<AttemptRow>(
    'SELECT id, number, worker, status, started_at, finished_at, error FROM run_attempts WHERE run_id = $1 ORDER BY number',
    [runId],
  );
  return r.rows;
}

/** Deletes a finished run (its attempts, artifact row and downloads go with it). */
export async function deleteFinishedRun(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const r = await db.query(
    `DELETE FROM runs WHERE tenant_id = $1 AND id = $2 AND status NOT IN ('queued', 'running')`,
    [tenantId, id],
  );
  return r.rowCount > 0;
}

/** When this report last produced a file (for `last_successful_run` in incremental exports). */
export async function lastSuccessfulRunAt(
  db: Executor,
  tenantId: string,
  reportId: string | null,
  before: Date,
): Promise<Date | null> {
  if (!reportId) return null;
  const r = await db.query<{ at: Date | null }>(
    `SELECT max(coalesce(scheduled_for, created_at)) AS at FROM runs WHERE tenant_id = $1 AND report_id = $2 AND status = 'succeeded' AND coalesce(scheduled_for, created_at) < $3`,
    [tenantId, reportId, before],
  );
  return r.rows[0]?.at ?? null;
}

export async function isCancelRequested(db: Executor, runId: string): Promise<boolean> {
  const r = await db.query<{ c: Date | null }>('SELECT cancel_requested_at AS c FROM runs WHERE id = $1', [
    runId,
  ]);
  return Boolean(r.rows[0]?.c);
}

export interface ScheduledRunInsert {
  id: string;
  schedule_id: string;
  scheduled_for: string;
  status: 'queued' | 'skipped_missed' | 'skipped_overlap';
  error: string | null;
}

/** Runs of many schedules in one statement; the report is snapshotted as it is now. */
export async function insertScheduledRuns(
  tx: Executor,
  runs: ScheduledRunInsert[],
  now: Date,
): Promise<Array<{ id: string; tenant_id: string; status: string }>> {
  if (runs.length === 0) return [];
  const r = await tx.query<{ id: string; tenant_id: string; status: string }>(
    `INSERT INTO runs (id, tenant_id, report_id, schedule_id, trigger, status, format, format_options, parameters, time_zone,
                       report_snapshot, report_name, scheduled_for, created_at, finished_at, error, error_code, condition, created_by,
                       destination_ids, recipients_sql)
     SELECT x.id, s.tenant_id, s.report_id, s.id, 'schedule', x.status, s.format, s.format_options, s.parameters, s.time_zone,
            ${REPORT_SNAPSHOT},
            p.name, x.scheduled_for, $2, CASE WHEN x.status = 'queued' THEN NULL ELSE $2::timestamptz END,
            x.error, CASE WHEN x.status = 'queued' THEN NULL ELSE x.status END, s.condition, s.owner_id,
            s.destination_ids, s.recipients_sql
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, schedule_id uuid, scheduled_for timestamptz, status text, error text)
       JOIN schedules s ON s.id = x.schedule_id
       JOIN reports p ON p.tenant_id = s.tenant_id AND p.id = s.report_id
     ON CONFLICT (schedule_id, scheduled_for) WHERE recipient IS NULL DO NOTHING
     RETURNING id, tenant_id, status`,
    [JSON.stringify(runs), now],
  );
  return r.rows;
}

/** The most recent run of each schedule, for `lastRun`. */
export async function lastRunsOfSchedules(
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
       FROM runs WHERE tenant_id = $1 AND schedule_id = ANY($2::uuid[]) AND recipient IS NULL
      ORDER BY schedule_id, created_at DESC, id DESC`,
    [tenantId, scheduleIds],
  );
  return new Map(r.rows.map((row) => [row.schedule_id, row]));
}

/** Whether the schedule has a queued or running run (S2). */
export async function scheduleHasActiveRun(db: Executor, scheduleId: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM runs WHERE schedule_id = $1 AND status IN ('queued', 'running') LIMIT 1`,
    [scheduleId],
  );
  return r.rows.length > 0;
}

/**
 * Deletes up to `limit` runs that finished more than `days` ago (S13), in one
 * transaction; answers one row per run deleted (key null) and one per stored file
 * of theirs (its key), for the caller to remove after the rows are gone.
 */
export async function deleteFinishedRunsBefore(
  db: Db,
  days: number,
  limit: number,
): Promise<Array<{ key: string | null }>> {
  return db.transaction(async (tx) => {
    const r = await tx.query<{ key: string | null }>(
      `WITH old AS (
         SELECT r.id FROM runs r
          WHERE r.finished_at < ferry_now() - make_interval(days => $1)
            AND r.status NOT IN ('queued', 'running')
          ORDER BY r.finished_at LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), files AS (
         SELECT a.key FROM artifacts a JOIN old ON old.id = a.run_id WHERE a.deleted_at IS NULL
       ), gone AS (
         DELETE FROM runs r USING old WHERE r.id = old.id RETURNING r.id
       )
       SELECT files.key FROM files UNION ALL SELECT NULL FROM gone`,
      [days, limit],
    );
    return r.rows;
  });
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

/** The deliveries of runs, for the run view (written only by the deliveries module). */
export interface RunDeliveryRow {
  id: string;
  run_id: string;
  destination_id: string | null;
  destination_name: string;
  destination_type: string;
  status: 'queued' | 'sending' | 'succeeded' | 'failed';
  attempts: number;
  max_attempts: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  next_attempt_at: Date | null;
  receipt: { summary: string; details: Record<string, unknown> } | null;
  error: string | null;
}

export async function deliveriesOfRuns(
  db: Executor,
  tenantId: string,
  runIds: string[],
): Promise<Map<string, RunDeliveryRow[]>> {
  const out = new Map<string, RunDeliveryRow[]>();
  if (runIds.length === 0) return out;
  const r = await db.query<RunDeliveryRow>(
    `SELECT id, run_id, destination_id, destination_name, destination_type, status, attempts, max_attempts,
            created_at, started_at, finished_at, next_attempt_at, receipt, error
       FROM deliveries WHERE tenant_id = $1 AND run_id = ANY($2::uuid[]) ORDER BY destination_name, id`,
    [tenantId, runIds],
  );
  for (const row of r.rows) {
    const list = out.get(row.run_id) ?? [];
    list.push(row);
    out.set(row.run_id, list);
  }
  return out;
}
