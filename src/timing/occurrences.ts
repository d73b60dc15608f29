import { Cron } from 'croner';
import { isValidTimeZone, localParts, zonedToUtc } from '../lib/zoned-time.ts';
import { isWeekend, lastBusinessDayIn } from './calendar.ts';
import { type DescriptionLanguage, describeTiming } from './describe.ts';

// When a schedule fires (docs/scheduling.md S3, S14). croner 11.0.0, pinned exactly,
// computes cron occurrences in the schedule's zone with the DST behaviour S3
// asks for: a fixed time inside a spring-forward gap fires at the first valid
// instant after it, a fixed time inside a repeated hour fires once (first
// pass), and wildcard/step fields fire at real instants. Ferry adds business
// days on top: a calendar that skips weekends and holidays, and "the last
// business day of the month".

export const dayRules = ['last_business_day'] as const;
export type DayRule = (typeof dayRules)[number];

/** Which local dates are working days. */
export interface BusinessDays {
  /** Which days are off, for the description: "DE-BY public holidays and weekends". */
  label(language: DescriptionLanguage): string;
  isBusinessDay(year: number, month: number, day: number): boolean;
  lastBusinessDayOfMonth(year: number, month: number): number;
}

export interface Timing {
  cron: string;
  timeZone: string;
  /** Occurrences on days that are not business days are skipped. */
  businessDays: BusinessDays | null;
  dayRule: DayRule | null;
}

/** A timing that cannot be used, naming the request field at fault. */
export class TimingError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'TimingError';
    this.field = field;
  }
}

/** Saturday and Sunday off, no holidays: the default for "last business day". */
const isWeekday = (year: number, month: number, day: number) => !isWeekend(year, month, day);
export const weekendsOnly: BusinessDays = {
  label: (language) => (language === 'de' ? 'ohne Wochenenden' : 'weekends'),
  isBusinessDay: isWeekday,
  lastBusinessDayOfMonth: (year, month) => lastBusinessDayIn(year, month, isWeekday),
};

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;
// S14: an expression that never fires in this horizon is refused.
export const HORIZON_MS = 5 * 366 * 86_400_000;

export interface CompiledTiming {
  readonly timing: Timing;
  /** The first occurrence strictly after `after`, or null when there is none within five years of it. */
  nextAfter(after: Date): Date | null;
  /** Up to `count` occurrences after `after`. */
  upcoming(after: Date, count: number): Date[];
  /** The timing in words, ending with the zone; English unless another language is asked for. */
  describe(language?: DescriptionLanguage): string;
}

function cronOf(expression: string, timeZone: string): Cron {
  return new Cron(expression, { timezone: timeZone, paused: true, legacyMode: true });
}

/** Names the cron field croner rejects, by trying each field alone among wildcards. */
function explainCronError(fields: string[], err: unknown): TimingError {
  for (let i = 0; i < fields.length; i++) {
    const probe = fields.map((f, j) => (j === i ? f : '*')).join(' ');
    try {
      cronOf(probe, 'UTC');
    } catch {
      return new TimingError('cron', `the ${FIELD_NAMES[i]} field "${fields[i]}" is not valid`);
    }
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new TimingError('cron', `is not a valid cron expression (${detail})`);
}

function checkExpression(expression: string): string[] {
  if (typeof expression !== 'string' || expression.trim() === '')
    throw new TimingError('cron', 'is required: five fields, minute hour day-of-month month day-of-week');
  const fields = expression.trim().split(/\s+/);
  if (fields.length === 6)
    throw new TimingError('cron', 'has six fields; a seconds field is not supported, use five fields');
  if (fields.length !== 5)
    throw new TimingError(
      'cron',
      `has ${fields.length} field(s); use five: minute hour day-of-month month day-of-week`,
    );
  if (fields.some((f) => f.startsWith('@')))
    throw new TimingError('cron', 'nicknames such as @daily are not supported; use five fields');
  return fields;
}

function localDayStart(instant: Date, timeZone: string, plusDays: number): Date {
  const p = localParts(instant, timeZone);
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + plusDays));
  return zonedToUtc(
    {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: 0,
      minute: 0,
      second: 0,
    },
    timeZone,
  );
}

/** Checks a timing (S14) and prepares it; throws TimingError naming the field. */
export function compileTiming(timing: Timing, now: Date): CompiledTiming {
  if (!isValidTimeZone(timing.timeZone))
    throw new TimingError(
      'timezone',
      `"${timing.timeZone}" is not an IANA time zone (for example Europe/Berlin or America/New_York)`,
    );
  const fields = checkExpression(timing.cron);
  let cron: Cron;
  try {
    cron = cronOf(fields.join(' '), timing.timeZone);
  } catch (err) {
    throw explainCronError(fields, err);
  }
  const days = timing.dayRule ? (timing.businessDays ?? weekendsOnly) : timing.businessDays;
  const isWanted = (instant: Date): boolean => {
    if (!days) return true;
    const p = localParts(instant, timing.timeZone);
    if (timing.dayRule === 'last_business_day') return p.day === days.lastBusinessDayOfMonth(p.year, p.month);
    return days.isBusinessDay(p.year, p.month, p.day);
  };
  const nextAfter = (after: Date): Date | null => {
    const limit = after.getTime() + HORIZON_MS;
    let from = after;
    for (;;) {
      const candidate = cron.nextRun(from);
      if (!candidate || candidate.getTime() > limit) return null;
      if (isWanted(candidate)) return candidate;
      // An unwanted day: look again from the start of the next local day, not the next minute.
      const nextDay = localDayStart(candidate, timing.timeZone, 1);
      from = new Date(Math.max(candidate.getTime(), nextDay.getTime() - 1000));
    }
  };
  const compiled: CompiledTiming = {
    timing,
    nextAfter,
    upcoming(after, count) {
      const out: Date[] = [];
      let from = after;
      while (out.length < count) {
        const next = nextAfter(from);
        if (!next) break;
        out.push(next);
        from = next;
      }
      return out;
    },
    describe(language = 'en') {
      return describeTiming(
        {
          fields,
          timeZone: timing.timeZone,
          lastBusinessDay: timing.dayRule === 'last_business_day',
          businessDays: days,
          defaultBusinessDays: days === weekendsOnly,
        },
        language,
      );
    },
  };
  if (!nextAfter(now))
    throw new TimingError(
      timing.dayRule || timing.businessDays ? 'calendar' : 'cron',
      'never fires in the next five years (for example, February has no 31st)',
    );
  return compiled;
}
