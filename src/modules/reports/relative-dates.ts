import { addDays, isoDate, localParts, zonedToUtc } from '../../lib/zoned-time.ts';

// Relative values for date and datetime parameters, evaluated in a time zone at a
// given moment (the run's scheduled time, or now for a preview).

export const relativeDates = [
  'today',
  'yesterday',
  'start_of_week',
  'start_of_month',
  'start_of_last_month',
  'end_of_last_month',
  'start_of_quarter',
  'start_of_year',
  'last_successful_run',
  'run_time',
] as const;
export type RelativeDate = (typeof relativeDates)[number];

export function isRelativeDate(value: unknown): value is RelativeDate {
  return typeof value === 'string' && (relativeDates as readonly string[]).includes(value);
}

export interface EvaluationContext {
  now: Date;
  timeZone: string;
  /** When the report last succeeded (for incremental exports); null: never. */
  lastSuccessfulRunAt: Date | null;
}

/** A relative date as a local calendar date ('YYYY-MM-DD') in the context's zone. */
export function relativeToDate(value: RelativeDate, ctx: EvaluationContext): string {
  const instantDate = (at: Date) => {
    const p = localParts(at, ctx.timeZone);
    return isoDate(p.year, p.month, p.day);
  };
  const p = localParts(ctx.now, ctx.timeZone);
  const today = isoDate(p.year, p.month, p.day);
  switch (value) {
    case 'today':
      return today;
    case 'yesterday':
      return addDays(today, -1);
    case 'start_of_week': {
      const dow = new Date(`${today}T00:00:00Z`).getUTCDay(); // 0 = Sunday
      return addDays(today, -((dow + 6) % 7));
    }
    case 'start_of_month':
      return isoDate(p.year, p.month, 1);
    case 'start_of_last_month':
      return isoDate(p.year, p.month - 1, 1);
    case 'end_of_last_month':
      return isoDate(p.year, p.month, 0);
    case 'start_of_quarter':
      return isoDate(p.year, Math.floor((p.month - 1) / 3) * 3 + 1, 1);
    case 'start_of_year':
      return isoDate(p.year, 1, 1);
    case 'run_time':
      return instantDate(ctx.now);
    case 'last_successful_run':
      return ctx.lastSuccessfulRunAt ? instantDate(ctx.lastSuccessfulRunAt) : '1970-01-01';
  }
}

/** A relative date as an instant: local midnight of the date, or the exact moment for run_time / last_successful_run. */
export function relativeToInstant(value: RelativeDate, ctx: EvaluationContext): Date {
  if (value === 'run_time') return ctx.now;
  if (value === 'last_successful_run') return ctx.lastSuccessfulRunAt ?? new Date(0);
  const [y, m, d] = relativeToDate(value, ctx).split('-').map(Number) as [number, number, number];
  return zonedToUtc({ year: y, month: m, day: d, hour: 0, minute: 0, second: 0 }, ctx.timeZone);
}
