import { type Static, Type } from 'typebox';
import { Invalid } from '../../lib/errors.ts';
import { isoDate, isValidTimeZone, localParts } from '../../lib/zoned-time.ts';
import { Timestamp } from '../../server/schemas.ts';
import type { Deps } from '../deps.ts';
import { type RunStatus, runStatuses } from './schema.ts';
import { MAX_FILLED_DAYS, runStats, type StatsRow } from './stats-repo.ts';

// GET /api/v1/stats: how exports went, per report, format and day.

/** The stats of a tenant's runs created in [from, to) (default: the last 30 days), days in `zone`. */
export async function tenantStats(deps: Deps, tenantId: string, query: Static<typeof StatsQuerySchema>) {
  const to = query.to ? new Date(query.to) : new Date(deps.clock.now().getTime() + 1000);
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * 86_400_000);
  if (from >= to) throw Invalid.field('from', 'must be before to');
  const zone = query.zone ?? 'UTC';
  if (!isValidTimeZone(zone)) throw Invalid.field('zone', 'is not a known IANA time zone');
  const [total, byReport, byFormat, byDay] = await Promise.all([
    runStats(deps.db, tenantId, null, from, to),
    runStats(deps.db, tenantId, 'report', from, to),
    runStats(deps.db, tenantId, 'format', from, to),
    runStats(deps.db, tenantId, 'day', from, to, zone),
  ]);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    zone,
    total: presentStats(total[0] ?? emptyStatsRow('all')),
    byReport: byReport.map(presentReportStats),
    byFormat: byFormat.map(presentStats),
    byDay: fillDays(byDay, from, to, zone).map(presentStats),
  };
}

export const emptyStatsRow = (key: string): StatsRow => ({
  key,
  report_id: null,
  runs: 0,
  succeeded: 0,
  failed: 0,
  queued: 0,
  running: 0,
  cancelled: 0,
  skipped_missed: 0,
  skipped_overlap: 0,
  skipped_condition: 0,
  rows: '0',
  bytes: '0',
  p50_ms: null,
  p95_ms: null,
});

/**
 * Every calendar day of [from, to) in the zone, those without runs as zeros, so a
 * chart has one bar per day; periods longer than MAX_FILLED_DAYS list only days with runs.
 */
export function fillDays(rows: StatsRow[], from: Date, to: Date, zone: string): StatsRow[] {
  const first = localParts(from, zone);
  const last = localParts(new Date(to.getTime() - 1), zone);
  const start = Date.UTC(first.year, first.month - 1, first.day);
  const end = Date.UTC(last.year, last.month - 1, last.day);
  const days = Math.round((end - start) / 86_400_000) + 1;
  if (days > MAX_FILLED_DAYS) return rows;
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const out: StatsRow[] = [];
  for (let i = 0; i < days; i++) {
    const d = new Date(start + i * 86_400_000);
    const key = isoDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
    out.push(byKey.get(key) ?? emptyStatsRow(key));
  }
  return out;
}

const Count = Type.Integer({ minimum: 0 });
const NullableMs = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);

export const StatsRowSchema = Type.Object({
  key: Type.String({ description: "The report name, format, day (YYYY-MM-DD in `zone`) or 'all'" }),
  runs: Count,
  succeeded: Count,
  failed: Count,
  statuses: Type.Object(
    Object.fromEntries(runStatuses.map((s) => [s, Count])) as Record<RunStatus, typeof Count>,
    { description: 'Runs per status' },
  ),
  failureRate: Type.Number({ minimum: 0, maximum: 1, description: 'failed / runs (0 without runs)' }),
  rows: Count,
  bytes: Count,
  durationP50Ms: NullableMs,
  durationP95Ms: NullableMs,
});

export const ReportStatsRowSchema = Type.Object({
  ...StatsRowSchema.properties,
  reportId: Type.Union([Type.String(), Type.Null()], {
    description: 'The report of the newest run under this name; null when it was deleted',
  }),
});

export const StatsQuerySchema = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Start (default: 30 days before to)' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'End, exclusive (default: now)' })),
    zone: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$',
        description: 'IANA time zone whose calendar days byDay counts in (default UTC)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const StatsSchema = Type.Object({
  from: Timestamp,
  to: Timestamp,
  zone: Type.String(),
  total: StatsRowSchema,
  byReport: Type.Array(ReportStatsRowSchema),
  byFormat: Type.Array(StatsRowSchema),
  byDay: Type.Array(StatsRowSchema, {
    description: `Every day of the period, days without runs as zeros (periods over ${MAX_FILLED_DAYS} days: days with runs only)`,
  }),
});

export function presentStats(row: StatsRow) {
  return {
    key: row.key,
    runs: row.runs,
    succeeded: row.succeeded,
    failed: row.failed,
    statuses: Object.fromEntries(runStatuses.map((s) => [s, row[s]])) as Record<RunStatus, number>,
    failureRate: row.runs === 0 ? 0 : row.failed / row.runs,
    rows: Number(row.rows),
    bytes: Number(row.bytes),
    durationP50Ms: row.p50_ms === null ? null : Math.round(Number(row.p50_ms)),
    durationP95Ms: row.p95_ms === null ? null : Math.round(Number(row.p95_ms)),
  };
}

export function presentReportStats(row: StatsRow) {
  return { ...presentStats(row), reportId: row.report_id };
}
