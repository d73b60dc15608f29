import {
  Alert,
  Anchor,
  Button,
  Grid,
  Group,
  Paper,
  Select,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError, api, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { DestinationPicker } from '../../components/DestinationPicker';
import { FormatOptionsFields } from '../../components/FormatOptions';
import { applyProblem } from '../../components/forms';
import { PageHeader } from '../../components/PageHeader';
import { ParameterInputs } from '../../components/ParameterInputs';
import { PermissionGate } from '../../components/PermissionGate';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { ErrorAlert, FullPageError, FullPageLoader } from '../../components/states';
import { userZone } from '../../components/time';
import { useT } from '../../i18n';
import {
  isAutoPaused,
  type PreviewBody,
  type ReportItem,
  SCHEDULES_KEY,
  type Schedule,
  type ScheduleBody,
  useCronPreview,
  useReportList,
  useSchedule,
} from './api';
import { BurstField } from './BurstField';
import { OptionsSection } from './OptionsSection';
import { RunStartedPanel, ScheduleActions, ScheduleTabs } from './ScheduleActions';
import { SummaryPanel } from './SummaryPanel';
import {
  MODES,
  type Mode,
  stateFromSchedule,
  TIME_PATTERN,
  type TimingState,
  timingBody,
  usesCalendar,
} from './timing';
import { WhenSection } from './WhenSection';

export type EditorValues = TimingState & {
  name: string;
  reportId: string;
  parameters: Record<string, unknown>;
  format: string;
  formatOptions: Record<string, unknown>;
  timezone: string;
  calendarCountry: string;
  calendarRegion: string;
  condition: Schedule['condition'];
  missedPolicy: Schedule['missedPolicy'];
  overlapPolicy: Schedule['overlapPolicy'];
  emailOnFailure: boolean;
  notifyEmails: string[];
  autoPause: boolean;
  pauseAfterFailures: number;
  destinationIds: string[];
  burst: boolean;
  recipientsSql: string;
};

const DEFAULT_TIMING: TimingState = {
  mode: 'daily',
  time: '09:00',
  minute: 0,
  weekday: 'monday',
  day: 1,
  month: 1,
  cron: '0 9 * * *',
};

// API field paths that name an editor field of another name.
const FIELD_OF: Array<[string, keyof EditorValues]> = [
  ['preset.time', 'time'],
  ['preset.minute', 'minute'],
  ['preset.weekday', 'weekday'],
  ['preset.day', 'day'],
  ['preset.month', 'month'],
  ['preset.kind', 'mode'],
  ['preset', 'mode'],
  ['calendar.country', 'calendarCountry'],
  ['calendar.region', 'calendarRegion'],
  ['calendar', 'calendarCountry'],
  ['notify.emails', 'notifyEmails'],
  ['notify.pauseAfterFailures', 'pauseAfterFailures'],
  ['destinationIds', 'destinationIds'],
  ['recipientsSql', 'recipientsSql'],
];

/** The API's error with its paths renamed to the editor's fields (`notify.emails.1` → `notifyEmails`). */
function toEditorPaths(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  const errors = error.errors.map((e) => {
    const hit = FIELD_OF.find(
      ([p]) => e.path === p || e.path.startsWith(`${p}.`) || e.path.startsWith(`${p}[`),
    );
    return hit ? { ...e, path: hit[1] } : e;
  });
  return new ApiError(error.status, {
    title: error.title,
    detail: error.detail,
    errors,
    requestId: error.requestId,
  });
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function initialValues(source: Schedule | undefined, search: URLSearchParams): EditorValues {
  const zone = userZone();
  if (source) {
    return {
      ...stateFromSchedule(source.preset, source.cron, DEFAULT_TIMING),
      name: source.name,
      reportId: source.reportId,
      parameters: source.parameters,
      format: source.format,
      formatOptions: source.formatOptions,
      timezone: source.timezone,
      calendarCountry: source.calendar?.country ?? '',
      calendarRegion: source.calendar?.region ?? '',
      condition: source.condition,
      missedPolicy: source.missedPolicy,
      overlapPolicy: source.overlapPolicy,
      emailOnFailure: source.notify.emails.length > 0,
      notifyEmails: source.notify.emails,
      autoPause: source.notify.pauseAfterFailures > 0,
      pauseAfterFailures: source.notify.pauseAfterFailures || 5,
      destinationIds: source.destinationIds,
      burst: source.recipientsSql !== null,
      recipientsSql: source.recipientsSql ?? '',
    };
  }
  const mode = search.get('preset');
  return {
    ...DEFAULT_TIMING,
    ...(mode && (MODES as readonly string[]).includes(mode) ? { mode: mode as Mode } : {}),
    ...(mode === 'weekdays' ? { time: '08:00' } : {}),
    name: '',
    reportId: search.get('reportId') ?? '',
    parameters: {},
    format: 'csv',
    formatOptions: {},
    timezone: zone,
    calendarCountry: '',
    calendarRegion: '',
    condition: 'always',
    missedPolicy: 'latest',
    overlapPolicy: 'skip',
    emailOnFailure: false,
    notifyEmails: [],
    autoPause: true,
    pauseAfterFailures: 5,
    destinationIds: [],
    burst: false,
    recipientsSql: '',
  };
}

/** The body the API takes for the editor's values. */
function toBody(v: EditorValues): ScheduleBody {
  const calendar =
    usesCalendar(v.mode) && v.calendarCountry
      ? { country: v.calendarCountry, ...(v.calendarRegion ? { region: v.calendarRegion } : {}) }
      : null;
  return {
    name: v.name.trim(),
    reportId: v.reportId,
    parameters: v.parameters,
    format: v.format as ScheduleBody['format'],
    formatOptions: v.formatOptions,
    ...timingBody(v),
    timezone: v.timezone,
    calendar,
    condition: v.condition,
    missedPolicy: v.missedPolicy,
    overlapPolicy: v.overlapPolicy,
    notify: {
      emails: v.emailOnFailure ? v.notifyEmails : [],
      pauseAfterFailures: v.autoPause ? v.pauseAfterFailures : 0,
    },
    destinationIds: v.destinationIds,
    recipientsSql: v.burst && v.recipientsSql.trim() !== '' ? v.recipientsSql : null,
  };
}

/** /schedules/new and /schedules/:id: one page, the form left and a live summary right. */
export function EditorPage() {
  const { id } = useParams();
  const t = useT();
  const canWrite = useCan('schedules:write');
  // Whoever may read schedules opens one (read only without write); a new one needs write.
  return (
    <PermissionGate
      allowed={id !== undefined || canWrite}
      title={t('schedules.new')}
      crumbs={[{ label: t('nav.schedules'), to: '/schedules' }]}
    >
      <ScheduleEditor id={id} canWrite={canWrite} />
    </PermissionGate>
  );
}

/** The schedule (or the one to duplicate, ?from=<id>) and the reports, then the form. */
function ScheduleEditor({ id, canWrite }: { id: string | undefined; canWrite: boolean }) {
  const [search] = useSearchParams();
  const t = useT();
  const duplicateOf = id ? undefined : (search.get('from') ?? undefined);
  const schedule = useSchedule(id ?? duplicateOf);
  const reports = useReportList();

  if (schedule.isError) return <FullPageError error={schedule.error} onRetry={() => schedule.refetch()} />;
  if (reports.isError) return <FullPageError error={reports.error} onRetry={() => reports.refetch()} />;
  if ((schedule.isPending && (id || duplicateOf)) || reports.isPending) return <FullPageLoader />;
  const source = schedule.data;
  return (
    <EditorForm
      // A new form for another schedule (or after a duplicate was saved).
      key={id ?? `new:${duplicateOf ?? ''}`}
      schedule={id ? source : undefined}
      source={
        source && duplicateOf ? { ...source, name: t('schedules.copyOf', { name: source.name }) } : source
      }
      reports={reports.data}
      canWrite={canWrite}
      search={search}
    />
  );
}

function EditorForm({
  schedule,
  source,
  reports,
  canWrite,
  search,
}: {
  schedule: Schedule | undefined;
  source: Schedule | undefined;
  reports: ReportItem[];
  canWrite: boolean;
  search: URLSearchParams;
}) {
  const t = useT();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [formError, setFormError] = useState<unknown>(null);
  const form = useForm<EditorValues>({
    mode: 'controlled',
    initialValues: initialValues(source, search),
    validate: {
      name: (v) => (v.trim() === '' ? t('field.required') : null),
      reportId: (v) => (v ? null : t('schedules.what.reportRequired')),
      time: (v, values) =>
        values.mode === 'hourly' || values.mode === 'custom' || TIME_PATTERN.test(v)
          ? null
          : t('schedules.when.timeInvalid'),
      minute: (v, values) =>
        values.mode !== 'hourly' || (Number.isInteger(v) && v >= 0 && v <= 59)
          ? null
          : t('schedules.when.minuteInvalid'),
      day: (v, values) =>
        !['monthly', 'quarterly', 'yearly'].includes(values.mode) ||
        (Number.isInteger(v) && v >= 1 && v <= 31)
          ? null
          : t('schedules.when.dayInvalid'),
      cron: (v, values) =>
        values.mode !== 'custom' || v.trim() !== '' ? null : t('schedules.when.cronRequired'),
      timezone: (v) => (v ? null : t('schedules.when.zoneRequired')),
      notifyEmails: (v, values) => {
        if (!values.emailOnFailure) return null;
        if (v.length === 0) return t('schedules.options.emailsRequired');
        const bad = v.find((e) => !EMAIL.test(e));
        return bad ? t('schedules.options.emailInvalid', { address: bad }) : null;
      },
      pauseAfterFailures: (v, values) =>
        !values.autoPause || (Number.isInteger(v) && v >= 1 && v <= 100)
          ? null
          : t('schedules.options.pauseInvalid'),
    },
  });
  const values = form.getValues();
  const report = reports.find((r) => r.id === values.reportId);
  const readOnly = !canWrite;

  // The live summary: asked again 300 ms after the timing stops changing.
  const previewBody = useMemo<PreviewBody | null>(() => {
    if (values.mode === 'custom' && values.cron.trim() === '') return null;
    if (values.mode !== 'custom' && values.mode !== 'hourly' && !TIME_PATTERN.test(values.time)) return null;
    const calendar =
      usesCalendar(values.mode) && values.calendarCountry
        ? {
            country: values.calendarCountry,
            ...(values.calendarRegion ? { region: values.calendarRegion } : {}),
          }
        : null;
    return { ...timingBody(values), timezone: values.timezone || 'UTC', calendar, count: 5 };
  }, [values]);
  const [debounced] = useDebouncedValue(previewBody, 300);
  const preview = useCronPreview(debounced);
  const firstRun = preview.data?.next[0];

  const save = useMutation({
    mutationFn: async ({ runAfter }: { runAfter: boolean }) => {
      const body = toBody(form.getValues());
      const saved = schedule
        ? await unwrap(api.PATCH('/api/v1/schedules/{id}', { params: { path: { id: schedule.id } }, body }))
        : await unwrap(api.POST('/api/v1/schedules', { body }));
      const run = runAfter
        ? await unwrap(api.POST('/api/v1/schedules/{id}/run', { params: { path: { id: saved.id } } })).then(
            (started) => ({ started, failed: null }),
            (err: unknown) => ({ started: null, failed: err }),
          )
        : null;
      return { saved, run };
    },
    onSuccess: ({ saved, run }) => {
      queryClient.invalidateQueries({ queryKey: SCHEDULES_KEY });
      queryClient.setQueryData([...SCHEDULES_KEY, 'one', saved.id], saved);
      form.resetDirty(form.getValues());
      notifications.show({ color: 'green', message: t('state.saved') });
      if (run?.failed) {
        setFormError(run.failed);
        if (!schedule) navigate(`/schedules/${saved.id}`, { replace: true });
        return;
      }
      if (run?.started) navigate(`/schedules/${saved.id}?run=${run.started.id}`, { replace: !schedule });
      else if (!schedule) navigate(`/schedules/${saved.id}`, { replace: true });
    },
    onError: (err) => {
      const unmatched = applyProblem(form, toEditorPaths(err));
      const fieldErrors = err instanceof ApiError ? err.errors.length - unmatched.length : 0;
      setFormError(fieldErrors > 0 && unmatched.length === 0 ? null : err);
    },
  });

  const submit = (runAfter: boolean) =>
    form.onSubmit(
      () => {
        setFormError(null);
        save.mutate({ runAfter });
      },
      () => setFormError(null),
    );

  const title = schedule ? schedule.name : t('schedules.new');
  const errors = form.errors as Record<string, string>;
  return (
    <>
      <PageHeader
        title={title}
        crumbs={[{ label: t('nav.schedules'), to: '/schedules' }]}
        actions={schedule ? <ScheduleActions schedule={schedule} /> : undefined}
      />
      {schedule ? <ScheduleTabs id={schedule.id} current="settings" /> : null}
      {readOnly ? <ReadOnlyNotice /> : null}
      {schedule ? <RunStartedPanel /> : null}
      {schedule && isAutoPaused(schedule) ? (
        <AutoPausedBanner schedule={schedule} canWrite={canWrite} />
      ) : null}
      <form onSubmit={submit(false)} noValidate aria-label={title}>
        <Grid gap="lg">
          <Grid.Col span={{ base: 12, md: 7 }}>
            <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0, minWidth: 0 }}>
              <Stack gap="lg">
                <Section title={t('schedules.what.title')} step={1}>
                  <TextInput label={t('schedules.field.name')} required {...form.getInputProps('name')} />
                  <Select
                    label={t('schedules.what.report')}
                    placeholder={t('schedules.what.reportPlaceholder')}
                    required
                    searchable
                    nothingFoundMessage={t('schedules.what.noReports')}
                    data={reports.map((r) => ({ value: r.id, label: r.name }))}
                    {...form.getInputProps('reportId')}
                    value={values.reportId || null}
                    onChange={(v) => {
                      form.setFieldValue('reportId', v ?? '');
                      form.setFieldValue('parameters', {});
                      if (v && !form.getValues().name.trim()) {
                        const r = reports.find((x) => x.id === v);
                        if (r) form.setFieldValue('name', r.name);
                      }
                    }}
                  />
                  {reports.length === 0 ? (
                    <Text size="sm">
                      {t('schedules.what.noReportsHint')}{' '}
                      <Anchor component={Link} to="/reports/new">
                        {t('schedules.what.createReport')}
                      </Anchor>
                    </Text>
                  ) : null}
                  {report ? (
                    <Stack gap="xs">
                      <Text size="sm" fw={500}>
                        {t('schedules.what.parameters')}
                      </Text>
                      <ParameterInputs
                        parameters={report.parameters}
                        values={values.parameters}
                        onChange={(p) => form.setFieldValue('parameters', p)}
                        errors={errors}
                        timezone={values.timezone || 'UTC'}
                        {...(firstRun ? { at: firstRun } : {})}
                      />
                      {firstRun ? (
                        <Text size="xs" c="dimmed">
                          {t('schedules.what.parametersAsOf')}
                        </Text>
                      ) : null}
                    </Stack>
                  ) : null}
                  <FormatOptionsFields
                    format={values.format}
                    options={values.formatOptions}
                    onFormatChange={(f) => form.setFieldValue('format', f)}
                    onOptionsChange={(o) => form.setFieldValue('formatOptions', o)}
                    errors={errors}
                    reportName={report?.name ?? ''}
                    timezone={values.timezone || 'UTC'}
                    {...(firstRun ? { at: firstRun } : {})}
                  />
                </Section>
                <Section title={t('schedules.when.title')} step={2}>
                  <WhenSection form={form} preview={preview} />
                </Section>
                <Section title={t('schedules.where.title')} step={3}>
                  <DestinationPicker
                    value={values.destinationIds}
                    onChange={(ids) => form.setFieldValue('destinationIds', ids)}
                    error={errors['destinationIds']}
                    disabled={readOnly}
                  />
                  <BurstField
                    form={form}
                    error={errors['recipientsSql']}
                    parameters={report?.parameters ?? []}
                  />
                </Section>
                <Section title={t('schedules.options.title')} step={4}>
                  <OptionsSection form={form} />
                </Section>
              </Stack>
            </fieldset>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 5 }}>
            <div style={{ position: 'sticky', top: 'calc(var(--app-shell-header-height, 56px) + 16px)' }}>
              <SummaryPanel
                values={values}
                preview={preview}
                pending={previewBody === null}
                paused={schedule ? !schedule.active : false}
              />
            </div>
          </Grid.Col>
        </Grid>
        {formError ? (
          <div style={{ marginTop: 'var(--mantine-spacing-md)' }}>
            <ErrorAlert error={formError} />
          </div>
        ) : null}
        {canWrite ? (
          <Group mt="lg" gap="sm">
            <Button type="submit" loading={save.isPending && !save.variables?.runAfter}>
              {t('action.save')}
            </Button>
            <Button
              variant="light"
              loading={save.isPending && save.variables?.runAfter === true}
              onClick={() => submit(true)()}
            >
              {t('schedules.saveAndRun')}
            </Button>
            <Button variant="subtle" component={Link} to="/schedules">
              {t('action.cancel')}
            </Button>
          </Group>
        ) : null}
      </form>
    </>
  );
}

function Section({ title, step, children }: { title: string; step: number; children: React.ReactNode }) {
  const id = `schedule-section-${step}`;
  return (
    <Paper withBorder p="md" component="section" aria-labelledby={id}>
      <Title order={2} size="h4" id={id} mb="sm">
        {step}. {title}
      </Title>
      <Stack gap="md">{children}</Stack>
    </Paper>
  );
}

function AutoPausedBanner({ schedule, canWrite }: { schedule: Schedule; canWrite: boolean }) {
  const t = useT();
  const queryClient = useQueryClient();
  const resume = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/v1/schedules/{id}/resume', { params: { path: { id: schedule.id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: SCHEDULES_KEY }),
  });
  return (
    <Alert
      color="orange"
      title={t('schedules.autoPaused.title')}
      // Orange words on the light orange background miss 4.5:1 contrast.
      styles={{ title: { color: 'var(--mantine-color-text)' } }}
      mb="md"
      role="alert"
    >
      <Stack gap="xs">
        <Text size="sm">{t('schedules.autoPaused.text', { count: schedule.consecutiveFailures })}</Text>
        {schedule.lastRun ? (
          <Anchor component={Link} to={`/runs/${schedule.lastRun.id}`} size="sm">
            {t('schedules.autoPaused.lastRun')}
          </Anchor>
        ) : null}
        {resume.error ? <ErrorAlert error={resume.error} /> : null}
        {canWrite ? (
          <Group>
            <Button size="xs" color="orange" loading={resume.isPending} onClick={() => resume.mutate()}>
              {t('schedules.action.resume')}
            </Button>
          </Group>
        ) : null}
      </Stack>
    </Alert>
  );
}
