import type { DayRule } from './occurrences.ts';
import { TimingError } from './occurrences.ts';

// The point-and-click forms of a schedule's timing, each turned into a cron
// expression (and, for "last business day", a day rule croner cannot express).

export const presetKinds = [
  'hourly',
  'daily',
  'weekdays',
  'weekly',
  'monthly',
  'quarterly',
  'yearly',
] as const;
export type PresetKind = (typeof presetKinds)[number];
export const weekdays = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
] as const;

export interface Preset {
  kind: PresetKind;
  /** Local time "HH:MM" (all kinds but hourly). */
  time?: string | undefined;
  /** Minute past the hour (hourly). */
  minute?: number | undefined;
  /** weekly */
  weekday?: (typeof weekdays)[number] | undefined;
  /** monthly, quarterly, yearly: 1–31, "last", or (monthly) "last_business_day". */
  day?: number | 'last' | 'last_business_day' | undefined;
  /** yearly: 1–12 */
  month?: number | undefined;
}

function parseTime(time: string | undefined): { hour: number; minute: number } {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time ?? '');
  if (!m) throw new TimingError('preset.time', 'must be a local time "HH:MM" between 00:00 and 23:59');
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

function dayField(day: Preset['day'], kind: PresetKind): string {
  if (day === undefined) return '1';
  if (day === 'last') return 'L';
  if (day === 'last_business_day') {
    if (kind !== 'monthly')
      throw new TimingError('preset.day', '"last_business_day" is available for monthly schedules');
    return '*';
  }
  if (!Number.isInteger(day) || day < 1 || day > 31)
    throw new TimingError('preset.day', 'must be 1–31, "last" or "last_business_day"');
  return String(day);
}

/** The cron expression (and day rule) of a preset; throws TimingError naming the preset field. */
export function presetToTiming(preset: Preset): { cron: string; dayRule: DayRule | null } {
  if (preset.kind === 'hourly') {
    const minute = preset.minute ?? 0;
    if (!Number.isInteger(minute) || minute < 0 || minute > 59)
      throw new TimingError('preset.minute', 'must be a whole minute 0–59');
    return { cron: `${minute} * * * *`, dayRule: null };
  }
  const { hour, minute } = parseTime(preset.time);
  const at = `${minute} ${hour}`;
  switch (preset.kind) {
    case 'daily':
      return { cron: `${at} * * *`, dayRule: null };
    case 'weekdays':
      return { cron: `${at} * * 1-5`, dayRule: null };
    case 'weekly': {
      const index = weekdays.indexOf(preset.weekday ?? ('' as never));
      if (index < 0) throw new TimingError('preset.weekday', `must be one of ${weekdays.join(', ')}`);
      return { cron: `${at} * * ${index}`, dayRule: null };
    }
    case 'monthly':
      return {
        cron: `${at} ${dayField(preset.day, 'monthly')} * *`,
        dayRule: preset.day === 'last_business_day' ? 'last_business_day' : null,
      };
    case 'quarterly':
      return { cron: `${at} ${dayField(preset.day, 'quarterly')} 1,4,7,10 *`, dayRule: null };
    case 'yearly': {
      const month = preset.month ?? 1;
      if (!Number.isInteger(month) || month < 1 || month > 12)
        throw new TimingError('preset.month', 'must be a month number 1–12');
      return { cron: `${at} ${dayField(preset.day, 'yearly')} ${month} *`, dayRule: null };
    }
    default:
      throw new TimingError('preset.kind', `must be one of ${presetKinds.join(', ')}`);
  }
}
