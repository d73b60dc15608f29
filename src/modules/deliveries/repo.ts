import type { Executor } from '../../db/db.ts';
import type { RunDeliveryRow } from '../runs/repo.ts';

// The deliveries table: one row per run × destination, written only here.

/** A delivery as stored: what the run view shows (RunDeliveryRow), plus what only sending needs. */
export interface DeliveryRow extends RunDeliveryRow {
  tenant_id: string;
  heartbeat_at: Date | null;
  file_name: string | null;
  file_checksum: string | null;
}

/** Queued deliveries of a run, one per destination; a run's destination is delivered once (replays add nothing). */
export async function insertDeliveries(
  db: Executor,
  rows: Array<{
    id: string;
    tenantId: string;
    runId: string;
    destinationId: string;
    name: string;
    type: string;
    maxAttempts: number;
    now: Date;
  }>,
): Promise<DeliveryRow[]> {
  if (rows.length === 0) return [];
  const r = await db.query<DeliveryRow>(
    `INSERT INTO deliveries (id, tenant_id, run_id, destination_id, destination_name, destination_type, status, max_attempts, created_at)
     SELECT x.id, x.tenant_id, x.run_id, x.destination_id, x.name, x.type, 'queued', x.max_attempts, x.now
       FROM jsonb_to_recordset($1::jsonb)
         AS x(id uuid, tenant_id uuid, run_id uuid, destination_id uuid, name text, type text, max_attempts int, now timestamptz)
     ON CONFLICT (run_id, destination_id) DO NOTHING
     RETURNING *`,
    [
      JSON.stringify(
        rows.map((d) => ({
          id: d.id,
          tenant_id: d.tenantId,
          run_id: d.runId,
          destination_id: d.destinationId,
          name: d.name,
          type: d.type,
          max_attempts: d.maxAttempts,
          now: d.now,
        })),
      ),
    ],
  );
  return r.rows;
}

/** Takes a queued delivery for attempt `attempt`; undefined when it is not (taken, retried or done already). */
export async function claimDelivery(
  db: Executor,
  id: string,
  attempt: number,
  now: Date,
): Promise<DeliveryRow | undefined> {
  const r = await db.query<DeliveryRow>(
    `UPDATE deliveries SET status = 'sending', attempts = $2, started_at = coalesce(started_at, $3), heartbeat_at = $3,
            next_attempt_at = NULL
      WHERE id = $1 AND status = 'queued' AND attempts = $2 - 1 RETURNING *`,
    [id, attempt, now],
  );
  return r.rows[0];
}

/** A sending delivery is still alive (a long upload): the sweep leaves it alone. */
export async function heartbeatDelivery(db: Executor, id: string, attempt: number): Promise<void> {
  await db.query(
    `UPDATE deliveries SET heartbeat_at = now() WHERE id = $1 AND status = 'sending' AND attempts = $2`,
    [id, attempt],
  );
}

export async function completeDelivery(
  db: Executor,
  id: string,
  attempt: number,
  d: {
    receipt: { summary: string; details: Record<string, unknown> };
    fileName: string | null;
    checksum: string | null;
    now: Date;
  },
): Promise<DeliveryRow | undefined> {
  const r = await db.query<DeliveryRow>(
    `UPDATE deliveries SET status = 'succeeded', finished_at = $3, receipt = $4, error = NULL, file_name = $5,
            file_checksum = $6, heartbeat_at = NULL
      WHERE id = $1 AND status = 'sending' AND attempts = $2 RETURNING *`,
    [id, attempt, d.now, JSON.stringify(d.receipt), d.fileName, d.checksum],
  );
  return r.rows[0];
}

/** Ends an attempt that failed: queued again for `retryAt`, or failed for good when it is null. */
export async function failDeliveryAttempt(
  db: Executor,
  id: string,
  attempt: number,
  d: { error: string; details: Record<string, unknown>; retryAt: Date | null; now: Date },
): Promise<DeliveryRow | undefined> {
  const r = await db.query<DeliveryRow>(
    `UPDATE deliveries SET status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'queued' END,
            finished_at = CASE WHEN $4::timestamptz IS NULL THEN $5::timestamptz ELSE NULL END,
            next_attempt_at = $4, error = $3, heartbeat_at = NULL,
            receipt = CASE WHEN $6::jsonb = '{}'::jsonb THEN receipt ELSE jsonb_build_object('summary', $3::text, 'details', $6::jsonb) END
      WHERE id = $1 AND status = 'sending' AND attempts = $2 RETURNING *`,
    [id, attempt, d.error, d.retryAt, d.now, JSON.stringify(d.details)],
  );
  return r.rows[0];
}

/** A failed delivery gets one more attempt (the file is not made again). */
export async function requeueFailedDelivery(
  db: Executor,
  tenantId: string,
  runId: string,
  id: string,
): Promise<DeliveryRow | undefined> {
  const r = await db.query<DeliveryRow>(
    `UPDATE deliveries SET status = 'queued', finished_at = NULL, next_attempt_at = NULL, max_attempts = attempts + 1
      WHERE tenant_id = $1 AND run_id = $2 AND id = $3 AND status = 'failed' RETURNING *`,
    [tenantId, runId, id],
  );
  return r.rows[0];
}

export async function getDelivery(
  db: Executor,
  tenantId: string,
  runId: string,
  id: string,
): Promise<DeliveryRow | undefined> {
  const r = await db.query<DeliveryRow>(
    'SELECT * FROM deliveries WHERE tenant_id = $1 AND run_id = $2 AND id = $3',
    [tenantId, runId, id],
  );
  return r.rows[0];
}

/** Sending deliveries silent for `seconds` (their worker died): to be retried or failed by the caller. */
export async function staleDeliveries(db: Executor, seconds: number): Promise<DeliveryRow[]> {
  const r = await db.query<DeliveryRow>(
    `SELECT * FROM deliveries WHERE status = 'sending' AND heartbeat_at < now() - make_interval(secs => $1)
      ORDER BY heartbeat_at LIMIT 100`,
    [seconds],
  );
  return r.rows;
}
