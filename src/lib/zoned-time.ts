// Calendar maths in an IANA time zone with Intl only: the local date of an
// instant, and the instant of a local wall-clock time (DST-aware).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function localParts(instant: Date, timeZone: string): LocalDateTime {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts['year']),
    month: Number(parts['month']),
    day: Number(parts['day']),
    hour: Number(parts['hour']),
    minute: Number(parts['minute']),
    second: Number(parts['second']),
  };
}

function utcParts(instant: Date): LocalDateTime {
  return {
    year: instant.getUTCFullYear(),
    month: instant.getUTCMonth() + 1,
    day: instant.getUTCDate(),
    hour: instant.getUTCHours(),
    minute: instant.getUTCMinutes(),
    second: instant.getUTCSeconds(),
  };
}

const QUARTER_HOUR = 900_000;

/**
 * localParts for many instants in one zone (a file's worth of timestamps).
 * Intl formatting costs microseconds per call; here the zone's offset is looked
 * up once per quarter hour of time and reused, unless it changes within that
 * quarter hour (a transition), where every instant is formatted exactly.
 */
export function localPartsIn(timeZone: string): (instant: Date) => LocalDateTime {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return utcParts;
  const offsets = new Map<number, number | null>();
  return (instant) => {
    const ms = instant.getTime();
    if (!Number.isFinite(ms)) return localParts(instant, timeZone);
    const bucket = Math.floor(ms / QUARTER_HOUR);
    let offset = offsets.get(bucket);
    if (offset === undefined) {
      const start = offsetMs(new Date(bucket * QUARTER_HOUR), timeZone);
      const end = offsetMs(new Date(bucket * QUARTER_HOUR + QUARTER_HOUR - 1), timeZone);
      offset = start === end ? start : null;
      if (offsets.size >= 50_000) offsets.clear();
      offsets.set(bucket, offset);
    }
    return offset === null ? localParts(instant, timeZone) : utcParts(new Date(ms + offset));
  };
}

/** Offset of the zone from UTC at an instant, in milliseconds. */
export function offsetMs(instant: Date, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/**
 * The instant a local wall-clock time happens in the zone. A time in a
 * spring-forward gap resolves to the first valid instant after it; a time in a
 * repeated fall-back hour resolves to its first occurrence.
 */
export function zonedToUtc(local: LocalDateTime, timeZone: string): Date {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  const candidates = new Set<number>();
  for (const probe of [wall - 36 * 3_600_000, wall, wall + 36 * 3_600_000]) {
    candidates.add(wall - offsetMs(new Date(probe), timeZone));
  }
  const exact = [...candidates].filter((t) => {
    const p = localParts(new Date(t), timeZone);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) === wall;
  });
  if (exact.length > 0) return new Date(Math.min(...exact));
  // In a gap the wall time does not exist: find the first instant whose local
  // time is past it (the moment the clock jumps), to the second.
  const localWall = (t: number) => {
    const q = localParts(new Date(t), timeZone);
    return Date.UTC(q.year, q.month - 1, q.day, q.hour, q.minute, q.second);
  };
  const bounds = [...candidates].sort((a, b) => a - b);
  let lo = bounds[0]!;
  let hi = bounds.at(-1)!;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (localWall(mid) >= wall) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

/** 'YYYY-MM-DD' of a date triple. */
export function isoDate(year: number, month: number, day: number): string {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
