import type { Executor } from '../../db/db.ts';
import { runStatuses } from './schema.ts';

// The SQL behind GET /api/v1/stats: runs of a tenant in a period, grouped by one dimension.

export interface StatsRow {
  key: string;
  report_id: string | null;
  runs: number;
  succeeded: number;
  failed: number;
  queued: number;
  running: number;
  cancelled: number;
  skipped_missed: number;
  skipped_overlap: number;
  skipped_condition: number;
  rows: string;
  bytes: string;
  p50_ms: number | null;
  p95_ms: number | null;
}

const dimensions = {
  report: 'report_name',
  format: 'format',
  // The calendar day in the asked zone ($4).
  day: "to_char(created_at AT TIME ZONE $4::text, 'YYYY-MM-DD')",
} as const;
export type StatsDimension = keyof typeof dimensions;

/** The longest period whose days are all listed (days without runs with zeros). */
export const MAX_FILLED_DAYS = 366;

export async function runStats(
  db: Executor,
  tenantId: string,
  by: StatsDimension | null,
  from: Date,
  to: Date,
  zone = 'UTC',
): Promise<StatsRow[]> {
  const key = by ? dimensions[by] : "'all'";
  // The report's id: that of its newest run under this name (a deleted report has none).
  const reportId =
    by === 'report' ? '(array_agg(report_id::text ORDER BY created_at DESC))[1]' : 'NULL::text';
  const counts = runStatuses
    .map((s) => `count(*) FILTER (WHERE status = '${s}')::int AS ${s}`)
    .join(',\n            ');
  const r = await db.query<StatsRow>(
    `SELECT ${key} AS key, ${reportId} AS report_id, count(*)::int AS runs,
            ${counts},
            coalesce(sum(row_count), 0)::text AS rows, coalesce(sum(file_size), 0)::text AS bytes,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) FILTER (WHERE status = 'succeeded') AS p50_ms,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) FILTER (WHERE status = 'succeeded') AS p95_ms
       FROM runs WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
      GROUP BY 1 ORDER BY 1`,
    by === 'day' ? [tenantId, from, to, zone] : [tenantId, from, to],
  );
  return r.rows;
}

/** What the run_totals trigger has counted (migration 0011): runs that ended, by status and format. */
export async function runTotals(db: Executor) {
  const r = await db.query<{
    status: string;
    format: string;
    runs: string;
    rows_written: string;
    bytes_written: string;
    timed: string;
    duration_seconds: number;
    duration_buckets: string[];
  }>('SELECT * FROM run_totals ORDER BY status, format');
  return r.rows;
}

/** Runs queued and running across the installation. */
export async function countActiveRuns(db: Executor): Promise<Array<{ status: string; n: number }>> {
  const r = await db.query<{ status: string; n: number }>(
    `SELECT s.status, (SELECT count(*)::int FROM runs WHERE status = s.status) AS n
       FROM (VALUES ('queued'), ('running')) AS s(status)`,
  );
  return r.rows;
}
