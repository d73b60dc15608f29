import type { Executor } from '../../db/db.ts';

// GET /api/v1/stats: how exports went, per report, format and day.

export interface StatsRow {
  key: string;
  runs: number;
  succeeded: number;
  failed: number;
  rows: string;
  bytes: string;
  p50_ms: number | null;
  p95_ms: number | null;
}

const dimensions = {
  report: 'report_name',
  format: 'format',
  day: "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
} as const;
export type StatsDimension = keyof typeof dimensions;

export async function runStats(
  db: Executor,
  tenantId: string,
  by: StatsDimension | null,
  from: Date,
  to: Date,
): Promise<StatsRow[]> {
  const key = by ? dimensions[by] : "'all'";
  const r = await db.query<StatsRow>(
    `SELECT ${key} AS key, count(*)::int AS runs,
            count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            coalesce(sum(row_count), 0)::text AS rows, coalesce(sum(file_size), 0)::text AS bytes,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) FILTER (WHERE status = 'succeeded') AS p50_ms,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000) FILTER (WHERE status = 'succeeded') AS p95_ms
       FROM runs WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
      GROUP BY 1 ORDER BY 1`,
    [tenantId, from, to],
  );
  return r.rows;
}

export function presentStats(row: StatsRow) {
  return {
    key: row.key,
    runs: row.runs,
    succeeded: row.succeeded,
    failed: row.failed,
    failureRate: row.runs === 0 ? 0 : row.failed / row.runs,
    rows: Number(row.rows),
    bytes: Number(row.bytes),
    durationP50Ms: row.p50_ms === null ? null : Math.round(Number(row.p50_ms)),
    durationP95Ms: row.p95_ms === null ? null : Math.round(Number(row.p95_ms)),
  };
}
