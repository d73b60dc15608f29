import { addDays, isoDate, localParts, offsetMs, zonedToUtc } from '../lib/zoned-time.ts';

// What a person should know about a timing before saving it (ui.md, "Time
// zones and next runs"): which occurrences fall on a day the clocks change,
// which fixed times do not exist that day (and when the run happens instead),
// and warnings about the expression itself.

export interface OccurrenceInsight {
  /** The occurrence, a UTC instant. */
  at: string;
  /** The zone's UTC offset before and after a change on this local day; null on an ordinary day. */
  offsetChange: { from: string; to: string } | null;
  /** The local time the expression asks for when that time does not exist that day (spring-forward gap). */
  requestedTime: string | null;
}

export type TimingWarning =
  | { code: 'short_months'; day: number; message: string }
  | { code: 'frequent'; minutes: number; message: string }
  | { code: 'day_or_weekday'; message: string };

const pad = (n: number) => String(n).padStart(2, '0');

function formatOffset(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The fixed local time of an expression whose minute and hour fields are single numbers. */
function fixedTime(fields: string[]): { hour: number; minute: number } | null {
  const [minute, hour] = fields;
  if (!minute || !hour || !/^\d{1,2}$/.test(minute) || !/^\d{1,2}$/.test(hour)) return null;
  return { hour: Number(hour), minute: Number(minute) };
}

/** DST facts of each occurrence in the zone. */
export function describeOccurrences(
  cron: string,
  timeZone: string,
  occurrences: Date[],
): OccurrenceInsight[] {
  const fixed = fixedTime(cron.trim().split(/\s+/));
  return occurrences.map((at) => {
    const p = localParts(at, timeZone);
    const date = isoDate(p.year, p.month, p.day);
    const startOf = (d: string) => {
      const [year, month, day] = d.split('-').map(Number) as [number, number, number];
      return zonedToUtc({ year, month, day, hour: 0, minute: 0, second: 0 }, timeZone);
    };
    // The offset just before the local day begins and just before it ends: a
    // change at any moment of the day (midnight included) makes them differ.
    const before = offsetMs(new Date(startOf(date).getTime() - 1000), timeZone);
    const after = offsetMs(new Date(startOf(addDays(date, 1)).getTime() - 1000), timeZone);
    const shifted = fixed !== null && (p.hour !== fixed.hour || p.minute !== fixed.minute);
    return {
      at: at.toISOString(),
      offsetChange: before === after ? null : { from: formatOffset(before), to: formatOffset(after) },
      requestedTime: shifted ? `${pad(fixed.hour)}:${pad(fixed.minute)}` : null,
    };
  });
}

const FREQUENT_MINUTES = 15;

/**
 * Warnings about an expression: a day of the month that some months lack, runs
 * closer together than a quarter hour, and both day fields restricted (they
 * combine with OR). `occurrences` are its next few runs, in order.
 */
export function timingWarnings(cron: string, occurrences: Date[]): TimingWarning[] {
  const fields = cron.trim().split(/\s+/);
  const [, , dom = '*', , dow = '*'] = fields;
  const warnings: TimingWarning[] = [];
  const restricted = (f: string) => f !== '*' && f !== '?';
  if (/^\d{1,2}$/.test(dom) && Number(dom) >= 29 && !restricted(dow)) {
    const day = Number(dom);
    warnings.push({
      code: 'short_months',
      day,
      message: `Months without a day ${day} are skipped; use "last day of the month" to run every month`,
    });
  }
  let smallest = Number.POSITIVE_INFINITY;
  for (let i = 1; i < occurrences.length; i++) {
    smallest = Math.min(smallest, occurrences[i]!.getTime() - occurrences[i - 1]!.getTime());
  }
  if (smallest < FREQUENT_MINUTES * 60_000) {
    const minutes = Math.max(1, Math.round(smallest / 60_000));
    warnings.push({
      code: 'frequent',
      minutes,
      message: `Runs as often as every ${minutes} minute(s); each run queries the database and makes a file`,
    });
  }
  if (restricted(dom) && restricted(dow))
    warnings.push({
      code: 'day_or_weekday',
      message: 'Both day of month and day of week are set: a day matching either one runs (cron OR)',
    });
  return warnings;
}
