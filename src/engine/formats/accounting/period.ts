import { AccountingDataError } from './mapping.ts';

// The period a file covers: from the report's date parameters (a schedule's
// start_of_last_month … end_of_last_month), and the fiscal year it lies in.

export interface AccountingPeriod {
  /** YYYY-MM-DD, inclusive. */
  from: string;
  to: string;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})/;

function isoOf(value: unknown, name: string): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  const m = typeof value === 'string' ? ISO.exec(value) : null;
  if (!m)
    throw new AccountingDataError(
      `the period needs the date parameter "${name}" (got ${JSON.stringify(value ?? null)})`,
    );
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** The period from the run's parameter values, by the parameter names the format's settings give. */
export function periodFrom(
  parameters: Record<string, unknown> | undefined,
  names: { from: string; to: string },
): AccountingPeriod {
  const p = parameters ?? {};
  const period = { from: isoOf(p[names.from], names.from), to: isoOf(p[names.to], names.to) };
  if (period.from > period.to)
    throw new AccountingDataError(`the period ${period.from} – ${period.to} ends before it starts`);
  return period;
}

/** The fiscal year that holds `day`, for a fiscal year starting in `startMonth` (1–12). */
export function fiscalYearOf(day: string, startMonth: number): AccountingPeriod {
  const [y, m] = [Number(day.slice(0, 4)), Number(day.slice(5, 7))];
  const startYear = m >= startMonth ? y : y - 1;
  const from = `${startYear}-${String(startMonth).padStart(2, '0')}-01`;
  // The day before the next fiscal year starts.
  const next = new Date(Date.UTC(startYear + 1, startMonth - 1, 1));
  const to = new Date(next.getTime() - 86_400_000).toISOString().slice(0, 10);
  return { from, to };
}
