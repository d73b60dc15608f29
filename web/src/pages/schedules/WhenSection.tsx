import { Alert, Group, NumberInput, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { useMemo, useState } from 'react';
import { ApiError } from '../../api/client';
import { type MessageKey, useI18n, useT } from '../../i18n';
import { type PreviewState, useCalendars } from './api';
import type { EditorValues } from './EditorPage';
import {
  allZones,
  MODES,
  type Mode,
  presetOfCron,
  TIME_PATTERN,
  usesCalendar,
  WEEKDAYS,
  type Weekday,
  zoneOffset,
} from './timing';

/** The preview's error for the timing, as the message the server gave (it names the field). */
export function previewError(preview: PreviewState): { path: string; message: string } | null {
  const err = preview.error;
  if (!err) return null;
  if (err instanceof ApiError && err.errors[0]) return err.errors[0];
  return { path: '', message: err instanceof Error ? err.message : String(err) };
}

export function WhenSection({
  form,
  preview,
}: {
  form: UseFormReturnType<EditorValues>;
  preview: PreviewState;
}) {
  const t = useT();
  const { locale } = useI18n();
  const v = form.getValues();
  const [switched, setSwitched] = useState<Mode | null>(null);
  const problem = previewError(preview);
  // The preview's error belongs to the field it names; a saved error from the API wins.
  const errorFor = (field: keyof EditorValues, paths: string[]) =>
    (form.errors[field] as string | undefined) ??
    (problem && paths.includes(problem.path) ? problem.message : undefined);

  const setMode = (mode: Mode) => {
    setSwitched(null);
    // Custom starts from the expression of the preset it replaces.
    if (mode === 'custom' && preview.data?.cron && !preview.fetching)
      form.setFieldValue('cron', preview.data.cron);
    form.setFieldValue('mode', mode);
  };

  const needsTime = v.mode !== 'hourly' && v.mode !== 'custom';
  const needsDay = v.mode === 'monthly' || v.mode === 'quarterly' || v.mode === 'yearly';
  const months = useMemo(
    () =>
      Array.from({ length: 12 }, (_, i) => ({
        value: String(i + 1),
        label: new Intl.DateTimeFormat(locale, { month: 'long', timeZone: 'UTC' }).format(
          new Date(Date.UTC(2026, i, 1)),
        ),
      })),
    [locale],
  );

  return (
    <Stack gap="md">
      <Select
        label={t('schedules.when.repeat')}
        data={MODES.map((m) => ({ value: m, label: t(`schedules.mode.${m}` as MessageKey) }))}
        allowDeselect={false}
        {...form.getInputProps('mode')}
        onChange={(m) => m && setMode(m as Mode)}
        error={errorFor('mode', ['preset', 'preset.kind'])}
      />
      {switched ? (
        <Alert color="blue" variant="light" role="status" p="xs">
          <Text size="sm">
            {t('schedules.when.switched', { preset: t(`schedules.mode.${switched}` as MessageKey) })}
          </Text>
        </Alert>
      ) : null}
      <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="md">
        {v.mode === 'hourly' ? (
          <NumberInput
            label={t('schedules.when.minute')}
            description={t('schedules.when.minuteHelp')}
            min={0}
            max={59}
            allowDecimal={false}
            allowNegative={false}
            {...form.getInputProps('minute')}
            error={errorFor('minute', ['preset.minute'])}
          />
        ) : null}
        {needsTime ? (
          <TextInput
            label={t('schedules.when.time')}
            description={t('schedules.when.timeHelp')}
            placeholder="09:00"
            inputMode="numeric"
            maxLength={5}
            required
            {...form.getInputProps('time')}
            error={
              errorFor('time', ['preset.time']) ??
              (v.time.length === 5 && !TIME_PATTERN.test(v.time)
                ? t('schedules.when.timeInvalid')
                : undefined)
            }
          />
        ) : null}
        {v.mode === 'weekly' ? (
          <Select
            label={t('schedules.when.weekday')}
            data={WEEKDAYS.map((d) => ({ value: d, label: t(`schedules.weekday.${d}` as MessageKey) }))}
            allowDeselect={false}
            {...form.getInputProps('weekday')}
            onChange={(d) => d && form.setFieldValue('weekday', d as Weekday)}
            error={errorFor('weekday', ['preset.weekday'])}
          />
        ) : null}
        {v.mode === 'yearly' ? (
          <Select
            label={t('schedules.when.month')}
            data={months}
            allowDeselect={false}
            value={String(v.month)}
            onChange={(m) => m && form.setFieldValue('month', Number(m))}
            error={errorFor('month', ['preset.month'])}
          />
        ) : null}
        {needsDay ? (
          <NumberInput
            label={t('schedules.when.day')}
            description={t('schedules.when.dayHelp')}
            min={1}
            max={31}
            allowDecimal={false}
            allowNegative={false}
            {...form.getInputProps('day')}
            error={errorFor('day', ['preset.day'])}
          />
        ) : null}
      </SimpleGrid>
      {v.mode === 'custom' ? (
        <Stack gap={4}>
          <TextInput
            label={t('schedules.when.cron')}
            description={t('schedules.when.cronHelp')}
            placeholder="0 9 * * 1-5"
            autoComplete="off"
            spellCheck={false}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            {...form.getInputProps('cron')}
            onBlur={() => {
              // A preset-shaped expression goes back to the preset (easier to read and change).
              const preset = presetOfCron(form.getValues().cron, form.getValues());
              if (preset && preset.mode !== 'custom') {
                form.setValues(preset);
                setSwitched(preset.mode);
              }
            }}
            error={errorFor('cron', ['cron'])}
          />
          {!problem && preview.data ? (
            <Text size="sm" c="dimmed" aria-live="polite">
              {preview.data.description}
            </Text>
          ) : null}
          <Text size="xs" c="dimmed">
            {t('schedules.when.cronOr')}
          </Text>
        </Stack>
      ) : preview.data?.cron && !problem ? (
        <Text size="xs" c="dimmed">
          {t('schedules.when.asCron')}{' '}
          <Text span ff="monospace" size="xs">
            {preview.data.cron}
          </Text>
        </Text>
      ) : null}
      <ZoneSelect
        value={v.timezone}
        onChange={(z) => form.setFieldValue('timezone', z)}
        error={errorFor('timezone', ['timezone'])}
      />
      {usesCalendar(v.mode) ? (
        <CalendarPicker
          country={v.calendarCountry}
          region={v.calendarRegion}
          onChange={(country, region) => {
            form.setFieldValue('calendarCountry', country);
            form.setFieldValue('calendarRegion', region);
          }}
          countryError={errorFor('calendarCountry', ['calendar', 'calendar.country'])}
          regionError={errorFor('calendarRegion', ['calendar.region'])}
          mode={v.mode}
        />
      ) : null}
    </Stack>
  );
}

let zoneOptionsCache: { at: number; options: Array<{ value: string; label: string }> } | null = null;

/** Every zone with its UTC offset now; worked out once an hour (400+ zones). */
function zoneOptions() {
  const now = Date.now();
  if (!zoneOptionsCache || now - zoneOptionsCache.at > 3_600_000) {
    const at = new Date(now);
    zoneOptionsCache = {
      at: now,
      options: allZones().map((z) => ({
        value: z,
        label: `${z.replaceAll('_', ' ')} (${zoneOffset(z, at)})`,
      })),
    };
  }
  return zoneOptionsCache.options;
}

function ZoneSelect({
  value,
  onChange,
  error,
}: {
  value: string;
  onChange(zone: string): void;
  error: string | undefined;
}) {
  const t = useT();
  const data = useMemo(zoneOptions, []);
  return (
    <Select
      label={t('schedules.when.zone')}
      description={t('schedules.when.zoneHelp')}
      required
      searchable
      limit={100}
      data={data}
      value={value || null}
      onChange={(z) => z && onChange(z)}
      allowDeselect={false}
      nothingFoundMessage={t('schedules.when.zoneNone')}
      error={error}
    />
  );
}

function CalendarPicker({
  country,
  region,
  onChange,
  countryError,
  regionError,
  mode,
}: {
  country: string;
  region: string;
  onChange(country: string, region: string): void;
  countryError: string | undefined;
  regionError: string | undefined;
  mode: Mode;
}) {
  const t = useT();
  const countries = useCalendars();
  const regions = useCalendars(country || undefined);
  const regionList = country ? (regions.data ?? []) : [];
  return (
    <Stack gap={4}>
      <Group grow align="flex-start" wrap="wrap" gap="md">
        <Select
          label={t('schedules.when.calendar')}
          description={
            mode === 'last_business_day'
              ? t('schedules.when.calendarHelpLast')
              : t('schedules.when.calendarHelp')
          }
          placeholder={t('schedules.when.calendarNone')}
          searchable
          clearable
          data={(countries.data ?? []).map((c) => ({ value: c.code, label: `${c.name} (${c.code})` }))}
          value={country || null}
          onChange={(c) => onChange(c ?? '', '')}
          error={countryError ?? (countries.error ? t('schedules.when.calendarError') : undefined)}
          style={{ minWidth: 200 }}
        />
        {country && regionList.length > 0 ? (
          <Select
            label={t('schedules.when.region')}
            description={t('schedules.when.regionHelp')}
            placeholder={t('schedules.when.regionAll')}
            searchable
            clearable
            data={regionList.map((r) => ({ value: r.code, label: `${r.name} (${country}-${r.code})` }))}
            value={region || null}
            onChange={(r) => onChange(country, r ?? '')}
            error={regionError}
            style={{ minWidth: 200 }}
          />
        ) : null}
      </Group>
    </Stack>
  );
}
