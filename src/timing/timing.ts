import { compileCalendar } from './calendar.ts';
import { type BusinessDays, type CompiledTiming, compileTiming, type DayRule } from './occurrences.ts';

// A schedule row's timing, compiled once per distinct definition: a tick over
// 10,000 schedules that share a few cron expressions parses each only once.

export interface TimingDefinition {
  cron: string;
  time_zone: string;
  calendar: { country: string; region?: string | undefined } | null;
  day_rule: DayRule | null;
}

const cache = new Map<string, CompiledTiming>();
const CACHE_LIMIT = 10_000;
const NEXT_MEMO_LIMIT = 64;

export function businessDaysOf(calendar: TimingDefinition['calendar']): BusinessDays | null {
  if (!calendar) return null;
  const compiled = compileCalendar(calendar);
  const code = `${calendar.country}${calendar.region ? `-${calendar.region}` : ''}`;
  return {
    label: (language) =>
      language === 'de'
        ? `ohne Wochenenden und gesetzliche Feiertage in ${code}`
        : `${code} public holidays and weekends`,
    isBusinessDay: (y, m, d) => compiled.isBusinessDay(y, m, d),
    lastBusinessDayOfMonth: (y, m) => compiled.lastBusinessDayOfMonth(y, m),
  };
}

/** Compiles and checks a definition (S14) as of `now`; throws TimingError or Invalid naming the field. */
export function compileDefinition(def: TimingDefinition, now: Date): CompiledTiming {
  return compileTiming(
    {
      cron: def.cron,
      timeZone: def.time_zone,
      businessDays: businessDaysOf(def.calendar),
      dayRule: def.day_rule,
    },
    now,
  );
}

/** For the scheduler: the definition was checked when it was saved. */
export function compileScheduleTiming(def: TimingDefinition): CompiledTiming {
  const key = JSON.stringify([def.cron, def.time_zone, def.calendar, def.day_rule]);
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = rememberNext(compileDefinition(def, new Date(0)));
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, compiled);
  }
  return compiled;
}

/**
 * Remembers the last few answers of nextAfter, a pure function of the definition and
 * the instant. Schedules that share a definition tend to be due at the same instant
 * (10,000 daily reports at 09:00): a tick then computes their next occurrence once
 * instead of twice per schedule, which was most of the tick's time in Node.
 */
function rememberNext(compiled: CompiledTiming): CompiledTiming {
  const memo = new Map<number, Date | null>();
  return {
    timing: compiled.timing,
    upcoming: (after, count) => compiled.upcoming(after, count),
    describe: (language) => compiled.describe(language),
    nextAfter(after) {
      const key = after.getTime();
      let next = memo.get(key);
      if (next === undefined) {
        next = compiled.nextAfter(after);
        if (memo.size >= NEXT_MEMO_LIMIT) memo.clear();
        memo.set(key, next);
      }
      // A copy: callers own the Date they get.
      return next === null ? null : new Date(next.getTime());
    },
  };
}
