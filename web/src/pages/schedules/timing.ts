import type { BodyOf } from '../../api/client';

// The editor's "When" section: a preset picked by a person, or a cron
// expression, and how each turns into what the API takes.

export type Preset = NonNullable<BodyOf<'/api/v1/cron/preview', 'post'>['preset']>;
export type Weekday = NonNullable<Preset['weekday']>;

export const MODES = [
  'hourly',
  'daily',
  'weekdays',
  'weekly',
  'monthly',
  'last_day',
  'last_business_day',
  'quarterly',
  'yearly',
  'custom',
] as const;
export type Mode = (typeof MODES)[number];

export const WEEKDAYS: Weekday[] = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
];
// Cron numbers Sunday 0 … Saturday 6.
const CRON_WEEKDAYS: Weekday[] = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
];

export type TimingState = {
  mode: Mode;
  /** "HH:MM", 24 hours (all modes but hourly and custom). */
  time: string;
  /** Minute past the hour (hourly). */
  minute: number;
  weekday: Weekday;
  /** Day of the month 1–31 (monthly, quarterly, yearly). */
  day: number;
  /** 1–12 (yearly). */
  month: number;
  cron: string;
};

/** Modes where a holiday calendar makes sense: the days themselves are business days. */
export const usesCalendar = (mode: Mode) =>
  mode === 'weekdays' || mode === 'last_business_day' || mode === 'custom';

export const TIME_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** The API's timing: a preset, or a cron expression for Custom. */
export function timingBody(s: TimingState): { preset: Preset } | { cron: string } {
  const time = s.time;
  switch (s.mode) {
    case 'custom':
      return { cron: s.cron };
    case 'hourly':
      return { preset: { kind: 'hourly', minute: s.minute } };
    case 'daily':
    case 'weekdays':
      return { preset: { kind: s.mode, time } };
    case 'weekly':
      return { preset: { kind: 'weekly', time, weekday: s.weekday } };
    case 'monthly':
      return { preset: { kind: 'monthly', time, day: s.day } };
    case 'last_day':
      return { preset: { kind: 'monthly', time, day: 'last' } };
    case 'last_business_day':
      return { preset: { kind: 'monthly', time, day: 'last_business_day' } };
    case 'quarterly':
      return { preset: { kind: 'quarterly', time, day: s.day } };
    case 'yearly':
      return { preset: { kind: 'yearly', time, day: s.day, month: s.month } };
  }
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The editor's state for a saved schedule: its preset when it has one, else its cron expression. */
export function stateFromSchedule(
  preset: Preset | null,
  cron: string | null,
  base: TimingState,
): TimingState {
  if (!preset) return { ...base, mode: 'custom', cron: cron ?? base.cron };
  // A preset no cron can say (last business day) has none: custom starts from the default.
  const s: TimingState = { ...base, cron: cron ?? base.cron };
  if (preset.time) s.time = preset.time;
  if (preset.minute !== undefined) s.minute = preset.minute;
  if (preset.weekday) s.weekday = preset.weekday;
  if (typeof preset.day === 'number') s.day = preset.day;
  if (preset.month !== undefined) s.month = preset.month;
  if (preset.kind === 'monthly' && preset.day === 'last') s.mode = 'last_day';
  else if (preset.kind === 'monthly' && preset.day === 'last_business_day') s.mode = 'last_business_day';
  else s.mode = preset.kind;
  return s;
}

const int = (v: string, min: number, max: number): number | null => {
  if (!/^\d{1,2}$/.test(v)) return null;
  const n = Number(v);
  return n >= min && n <= max ? n : null;
};

/**
 * The preset an expression is the shape of (so the editor can switch back to
 * it), or null: "0 9 * * 1-5" is Weekdays at 09:00, "30 * * * *" is Hourly.
 */
export function presetOfCron(cron: string, base: TimingState): TimingState | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return null;
  const [m, h, dom, mon, dow] = fields as [string, string, string, string, string];
  const minute = int(m, 0, 59);
  if (minute === null) return null;
  if (h === '*' && dom === '*' && mon === '*' && dow === '*')
    return { ...base, mode: 'hourly', minute, cron };
  const hour = int(h, 0, 23);
  if (hour === null) return null;
  const time = `${pad(hour)}:${pad(minute)}`;
  const at = { ...base, time, cron };
  if (dom === '*' && mon === '*') {
    if (dow === '*') return { ...at, mode: 'daily' };
    if (dow === '1-5') return { ...at, mode: 'weekdays' };
    const wd = int(dow, 0, 7);
    if (wd !== null) return { ...at, mode: 'weekly', weekday: CRON_WEEKDAYS[wd % 7]! };
    return null;
  }
  if (dow !== '*') return null;
  if (dom === 'L' && mon === '*') return { ...at, mode: 'last_day' };
  const day = int(dom, 1, 31);
  if (day === null) return null;
  if (mon === '*') return { ...at, mode: 'monthly', day };
  if (mon === '1,4,7,10') return { ...at, mode: 'quarterly', day };
  const month = int(mon, 1, 12);
  if (month !== null) return { ...at, mode: 'yearly', day, month };
  return null;
}

/** Every IANA zone the browser knows, UTC included. */
export function allZones(): string[] {
  const zones = Intl.supportedValuesOf('timeZone');
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}

/** The zone's UTC offset now, e.g. "UTC+01:00". */
export function zoneOffset(zone: string, at = new Date()): string {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
      .formatToParts(at)
      .find((p) => p.type === 'timeZoneName')?.value;
    if (!part || part === 'GMT') return 'UTC+00:00';
    return part.replace('GMT', 'UTC');
  } catch {
    return '';
  }
}
