import type Holidays from 'date-holidays';
import { Invalid, NotFound } from '../lib/errors.ts';
import { lazyModule } from '../lib/lazy-module.ts';
import { isoDate } from '../lib/zoned-time.ts';

// Business calendars: which local dates are working days in a country (and
// optionally one of its states or provinces), from date-holidays' rules.
//
// What counts as a day off:
// - Saturday and Sunday.
// - Holidays of type "public" only. date-holidays also lists "bank" (banks
//   closed, e.g. Christmas Eve afternoon in Germany), "school", "optional"
//   (taken by some employees, e.g. Christmas Eve in the US) and "observance"
//   (named days such as Mother's Day); offices are open on those, so a report
//   due on a business day still goes out.
// - Substitute ("observed") days, e.g. Friday 2026-07-03 in the US for a
//   Saturday Independence Day: date-holidays marks them "public" and offices
//   are closed, so they count.
// - A holiday covering only part of a day counts for that day when it covers
//   more than half of it: an afternoon off (China's 12:00 Women's Day) leaves a
//   business day, a holiday that begins at the previous evening's sunset
//   (Islamic holidays) counts from its first full date.
//
// Dates are local calendar dates: the caller passes year/month/day as they are
// in the schedule's time zone and that exact date is looked up. date-holidays'
// own instants (start/end in the country's zone) are not compared with the
// caller's clock, so neither the process time zone nor the schedule's can
// shift a holiday onto the neighbouring date.

export interface BusinessCalendar {
  /** ISO 3166-1 alpha-2 country code, e.g. "DE". */
  country: string;
  /** A subdivision code as date-holidays names it, e.g. "BY" (Bavaria) or "CA" (California). */
  region?: string | undefined;
}

export interface Calendar {
  /** The spec with codes in canonical (upper) case. */
  readonly spec: Readonly<BusinessCalendar>;
  isBusinessDay(year: number, month: number, day: number): boolean;
  /** The name of the public holiday on that date, if any (to explain a skipped run). */
  findHoliday(year: number, month: number, day: number): string | undefined;
  /** The day number (1–31) of the month's last business day. */
  lastBusinessDayOfMonth(year: number, month: number): number;
}

export interface CalendarCode {
  code: string;
  name: string;
}

const DAY_MS = 86_400_000;
// Loaded when a schedule first uses a holiday calendar (~30 MB of memory).
const holidaysLibrary = lazyModule<typeof Holidays>('date-holidays');
const HALF_DAY_MS = DAY_MS / 2;
const CALENDAR_LIST_HINT = 'GET /api/v1/calendars lists the supported codes';
// Holiday rules never change at run time, so lists are shared between compiled
// calendars; the bound keeps a long-running scheduler's memory flat.
const MAX_CACHED_YEARS = 512;
const holidayCache = new Map<string, Map<string, string>>();

export function compileCalendar(spec: BusinessCalendar): Calendar {
  const canonical = validateSpec(spec);
  const holidays = canonical.region
    ? new (holidaysLibrary())(canonical.country, canonical.region)
    : new (holidaysLibrary())(canonical.country);
  const cacheKey = `${canonical.country}/${canonical.region ?? ''}`;
  const holidaysOf = (year: number) => readHolidayDates(holidays, `${cacheKey}/${year}`, year);

  const findHoliday = (year: number, month: number, day: number) => {
    assertDate(year, month, day);
    return holidaysOf(year).get(isoDate(year, month, day));
  };
  // The holiday lookup validates the date, so it runs before the weekend check.
  const isBusinessDay = (year: number, month: number, day: number) =>
    findHoliday(year, month, day) === undefined && !isWeekend(year, month, day);

  return {
    spec: Object.freeze(canonical),
    isBusinessDay,
    findHoliday,
    lastBusinessDayOfMonth: (year, month) => lastBusinessDayIn(year, month, isBusinessDay),
  };
}

export function listCountries(): CalendarCode[] {
  return toSortedCodes(new (holidaysLibrary())().getCountries('en'));
}

export function listRegions(country: string): CalendarCode[] {
  const code = country.trim().toUpperCase();
  const metadata = new (holidaysLibrary())();
  if (!Object.hasOwn(metadata.getCountries(), code)) throw new NotFound(`Country code "${country}"`);
  return toSortedCodes(metadata.getStates(code, 'en') ?? {});
}

function validateSpec(spec: BusinessCalendar): BusinessCalendar {
  const metadata = new (holidaysLibrary())();
  const country = spec.country.trim().toUpperCase();
  const countries = metadata.getCountries('en');
  if (!Object.hasOwn(countries, country)) {
    throw Invalid.field(
      'calendar.country',
      `${JSON.stringify(spec.country)} is not a supported country (ISO 3166-1 alpha-2 such as DE or US); ${CALENDAR_LIST_HINT}`,
    );
  }
  if (spec.region === undefined || spec.region.trim() === '') return { country };
  const region = spec.region.trim().toUpperCase();
  const regions = metadata.getStates(country, 'en') ?? {};
  if (!Object.hasOwn(regions, region)) {
    const known = Object.keys(regions);
    throw Invalid.field(
      'calendar.region',
      known.length === 0
        ? `${countries[country]} (${country}) has no regional calendars; leave calendar.region out`
        : `${JSON.stringify(spec.region)} is not a region of ${countries[country]} (${country}); ${CALENDAR_LIST_HINT}`,
    );
  }
  return { country, region };
}

/** Local dates ("YYYY-MM-DD") of the year's public holidays, with their names. */
function readHolidayDates(holidays: Holidays, cacheKey: string, year: number): Map<string, string> {
  const cached = holidayCache.get(cacheKey);
  if (cached) return cached;
  const dates = new Map<string, string>();
  const prefix = `${year}-`;
  // A holiday that starts late in December can run into January.
  for (const holiday of [...holidays.getHolidays(year - 1), ...holidays.getHolidays(year)]) {
    if (holiday.type !== 'public') continue;
    for (const date of listCoveredDates(holiday.date, holiday.end.getTime() - holiday.start.getTime())) {
      if (date.startsWith(prefix) && !dates.has(date)) dates.set(date, holiday.name);
    }
  }
  if (holidayCache.size >= MAX_CACHED_YEARS) {
    const oldest = holidayCache.keys().next().value;
    if (oldest !== undefined) holidayCache.delete(oldest);
  }
  holidayCache.set(cacheKey, dates);
  return dates;
}

/**
 * The local dates a holiday covers for more than half a day. `local` is
 * date-holidays' wall-clock start, "2026-12-24 14:00:00", with an offset for
 * holidays that begin before their date ("2026-03-20 00:00:00 -0600" begins
 * at 18:00 the evening before). The arithmetic runs on wall-clock time written
 * as UTC, so no time zone is consulted.
 */
function listCoveredDates(local: string, durationMs: number): string[] {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?: ([+-])(\d{2})(\d{2}))?$/.exec(local);
  if (!match) return [local.slice(0, 10)];
  const [, y, mo, d, h, mi, s, sign, oh, om] = match;
  const offsetMs = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000 : 0;
  const start = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + offsetMs;
  const end = start + durationMs;
  const dates: string[] = [];
  for (let dayStart = Math.floor(start / DAY_MS) * DAY_MS; dayStart < end; dayStart += DAY_MS) {
    const covered = Math.min(end, dayStart + DAY_MS) - Math.max(start, dayStart);
    if (covered > HALF_DAY_MS) dates.push(new Date(dayStart).toISOString().slice(0, 10));
  }
  return dates;
}

/** The last day of the month that `isBusinessDay` accepts. */
export function lastBusinessDayIn(
  year: number,
  month: number,
  isBusinessDay: (year: number, month: number, day: number) => boolean,
): number {
  for (let day = daysInMonth(year, month); day >= 1; day--) {
    if (isBusinessDay(year, month, day)) return day;
  }
  throw new Error(`No business day in ${year}-${month}`);
}

export function isWeekend(year: number, month: number, day: number): boolean {
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return weekday === 0 || weekday === 6;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function assertDate(year: number, month: number, day: number): void {
  const isValid =
    Number.isInteger(year) &&
    Number.isInteger(month) &&
    Number.isInteger(day) &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month);
  if (!isValid) throw new RangeError(`Not a calendar date: ${year}-${month}-${day}`);
}

function toSortedCodes(names: Record<string, string>): CalendarCode[] {
  return Object.entries(names)
    .map(([code, name]) => ({ code, name }))
    .sort((a, b) => a.code.localeCompare(b.code));
}
