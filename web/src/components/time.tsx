import { Stack, Text, Tooltip } from '@mantine/core';
import { useMemo } from 'react';
import { useI18n } from '../i18n';

// Every time carries its zone. Times are shown in the viewer's zone unless a
// schedule's zone matters; then in that zone with a second line for the viewer.

export const userZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 24 * 3600e3],
  ['month', 30 * 24 * 3600e3],
  ['week', 7 * 24 * 3600e3],
  ['day', 24 * 3600e3],
  ['hour', 3600e3],
  ['minute', 60e3],
  ['second', 1e3],
];

export interface Formatter {
  locale: string;
  zone: string;
  /** "Mon 30.03.2026 09:00 CEST" in the given zone (default: the viewer's). */
  dateTime(iso: string | Date, zone?: string, withSeconds?: boolean): string;
  date(iso: string | Date, zone?: string): string;
  time(iso: string | Date, zone?: string): string;
  /** "in 3 days", "5 minutes ago". */
  relative(iso: string | Date, now?: number): string;
  number(n: number): string;
  bytes(n: number | null | undefined): string;
  duration(ms: number | null | undefined): string;
}

export function makeFormatter(locale: string): Formatter {
  const zone = userZone();
  const cache = new Map<string, Intl.DateTimeFormat>();
  const fmt = (key: string, options: Intl.DateTimeFormatOptions) => {
    let f = cache.get(key);
    if (!f) {
      f = new Intl.DateTimeFormat(locale, options);
      cache.set(key, f);
    }
    return f;
  };
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const nf = new Intl.NumberFormat(locale);
  const toDate = (v: string | Date) => (typeof v === 'string' ? new Date(v) : v);
  return {
    locale,
    zone,
    dateTime(iso, z = zone, withSeconds = false) {
      return fmt(`dt:${z}:${withSeconds}`, {
        timeZone: z,
        weekday: 'short',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        ...(withSeconds ? { second: '2-digit' } : {}),
        hourCycle: 'h23',
        timeZoneName: 'short',
      }).format(toDate(iso));
    },
    date(iso, z = zone) {
      return fmt(`d:${z}`, { timeZone: z, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
        toDate(iso),
      );
    },
    time(iso, z = zone) {
      return fmt(`t:${z}`, { timeZone: z, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
        toDate(iso),
      );
    },
    relative(iso, now = Date.now()) {
      const diff = toDate(iso).getTime() - now;
      for (const [unit, ms] of UNITS) {
        if (Math.abs(diff) >= ms || unit === 'second') return rtf.format(Math.round(diff / ms), unit);
      }
      return '';
    },
    number(n) {
      return nf.format(n);
    },
    bytes(n) {
      if (n === null || n === undefined) return '–';
      if (n < 1024) return `${nf.format(n)} B`;
      const units = ['KB', 'MB', 'GB', 'TB'];
      let value = n / 1024;
      let i = 0;
      while (value >= 1024 && i < units.length - 1) {
        value /= 1024;
        i++;
      }
      return `${new Intl.NumberFormat(locale, { maximumFractionDigits: value < 10 ? 1 : 0 }).format(value)} ${units[i]}`;
    },
    duration(ms) {
      if (ms === null || ms === undefined) return '–';
      if (ms < 1000) return `${nf.format(Math.round(ms))} ms`;
      const s = ms / 1000;
      if (s < 60) return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(s)} s`;
      const m = Math.floor(s / 60);
      const rest = Math.round(s % 60);
      if (m < 60) return `${m} min ${rest} s`;
      return `${Math.floor(m / 60)} h ${m % 60} min`;
    },
  };
}

/** Date, number and size formatting in the user's language and zone. */
export function useFormat(): Formatter {
  const { locale } = useI18n();
  return useMemo(() => makeFormatter(locale), [locale]);
}

/**
 * A time in a schedule's zone with its abbreviation and distance ("Mon 30.03.2026
 * 09:00 CEST · in 3 days"); when the viewer's zone differs, a second line with
 * the viewer's time; UTC in the tooltip.
 */
export function ZonedTime({
  iso,
  zone,
  relative = true,
}: {
  iso: string;
  zone?: string;
  relative?: boolean;
}) {
  const { t } = useI18n();
  const f = useFormat();
  const z = zone ?? f.zone;
  const main = `${f.dateTime(iso, z)}${relative ? ` · ${f.relative(iso)}` : ''}`;
  const differs = z !== f.zone && f.time(iso, z) + f.date(iso, z) !== f.time(iso) + f.date(iso);
  return (
    <Tooltip label={`${new Date(iso).toISOString().replace('.000Z', 'Z')} (UTC)`} withArrow>
      <Stack gap={0} component="span" style={{ display: 'inline-flex' }}>
        <Text component="span" size="sm">
          <time dateTime={iso}>{main}</time>
        </Text>
        {differs ? (
          <Text component="span" size="xs" c="dimmed">
            {t('time.forYou', { time: f.dateTime(iso), zone: f.zone })}
          </Text>
        ) : null}
      </Stack>
    </Tooltip>
  );
}
