import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
  Grid,
  Group,
  NumberInput,
  Select,
  Stack,
  Switch,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError, api, type BodyOf, errorMessage, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { applyProblem, choicesOf } from '../../components/forms';
import { PageHeader } from '../../components/PageHeader';
import { ParameterInputs } from '../../components/ParameterInputs';
import { PermissionGate } from '../../components/PermissionGate';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { useConnectionSchema } from '../../components/SchemaBrowser';
import { ErrorAlert, FullPageError, FullPageLoader } from '../../components/states';
import { useFormat, userZone } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import {
  type ParameterDef,
  REPORTS_KEY,
  type Report,
  reportKey,
  sqlErrorLocation,
  sqlParameterNames,
  useConnections,
  useReport,
} from './api';
import { Builder, type BuilderSpec, specParameterNames } from './Builder';
import { ExportDrawer } from './ExportDrawer';
import { PreviewGrid, type PreviewResult } from './PreviewGrid';
import { SchemaPanel } from './SchemaPanel';
import { SqlEditor } from './SqlEditor';
import { TemplateDialog, useUseTemplate } from './Templates';

// Every parameter type and list item type the API takes, with its words (see choicesOf).
const PARAMETER_TYPES: Record<ParameterDef['type'], MessageKey> = {
  string: 'reports.param.type.string',
  number: 'reports.param.type.number',
  integer: 'reports.param.type.integer',
  boolean: 'reports.param.type.boolean',
  date: 'reports.param.type.date',
  datetime: 'reports.param.type.datetime',
  list: 'reports.param.type.list',
};
const LIST_ITEM_TYPES: Record<NonNullable<ParameterDef['items']>, MessageKey> = {
  string: 'reports.param.type.string',
  number: 'reports.param.type.number',
  integer: 'reports.param.type.integer',
  date: 'reports.param.type.date',
};
const PREVIEW_MAX = 100;

type Values = {
  name: string;
  description: string;
  connectionId: string;
  sql: string;
  spec: BuilderSpec | null;
  parameters: ParameterDef[];
};

type CreateBody = BodyOf<'/api/v1/reports', 'post'>;

/** A name that suggests a date gets type date when declared from the SQL. */
function guessType(name: string): ParameterDef['type'] {
  if (/(^|_)(from|to|date|day|since|until|start|end)($|_)/i.test(name)) return 'date';
  if (/(^|_)(at|time|timestamp)$/i.test(name)) return 'datetime';
  if (/(^|_)(id|count|limit|year|month|n)$/i.test(name)) return 'integer';
  return 'string';
}

function valuesOf(report: Report | undefined, connectionId: string): Values {
  return {
    name: report?.name ?? '',
    description: report?.description ?? '',
    connectionId: report?.connectionId ?? connectionId,
    sql: report?.sql ?? '',
    spec: (report?.spec as BuilderSpec | undefined) ?? null,
    parameters: report?.parameters ?? [],
  };
}

/** The declarations panel: each parameter's type, default (with relative dates) and whether it is required. */
function ParametersPanel({
  parameters,
  used,
  onChange,
  readOnly,
  errors,
}: {
  parameters: ParameterDef[];
  used: string[];
  onChange(parameters: ParameterDef[]): void;
  readOnly: boolean;
  errors: Record<string, string>;
}) {
  const t = useT();
  const declared = new Set(parameters.map((p) => p.name));
  const undeclared = used.filter((n) => !declared.has(n));
  const set = (i: number, patch: Partial<ParameterDef>) =>
    onChange(
      parameters.map((p, j) => {
        if (j !== i) return p;
        const next = { ...p, ...patch } as ParameterDef;
        for (const k of Object.keys(patch) as Array<keyof ParameterDef>)
          if (patch[k] === undefined) delete next[k];
        return next;
      }),
    );
  return (
    <Card withBorder padding="md" data-testid="parameters-panel">
      <Stack gap="sm">
        <Title order={2} size="h5">
          {t('reports.params.title')}
        </Title>
        {undeclared.map((name) => (
          <Alert key={name} color="yellow" variant="light" role="status" p="xs">
            <Group justify="space-between" gap="xs">
              <Text size="sm">{t('reports.params.undeclared', { name })}</Text>
              {readOnly ? null : (
                <Button
                  size="xs"
                  variant="light"
                  onClick={() => onChange([...parameters, { name, type: guessType(name) } as ParameterDef])}
                >
                  {t('reports.params.declare', { name })}
                </Button>
              )}
            </Group>
          </Alert>
        ))}
        {parameters.length === 0 && undeclared.length === 0 ? (
          <Text size="sm" c="dimmed">
            {t('reports.params.empty')}
          </Text>
        ) : null}
        {parameters.map((p, i) => (
          <Card key={p.name} withBorder padding="sm" data-parameter-declaration={p.name}>
            <Stack gap="xs">
              <Group justify="space-between" wrap="nowrap">
                <Group gap="xs">
                  <Text ff="monospace" fw={600}>{`{{${p.name}}}`}</Text>
                  {used.includes(p.name) ? null : (
                    <Badge color="gray" variant="light" size="sm">
                      {t('reports.params.unused')}
                    </Badge>
                  )}
                </Group>
                {readOnly ? null : (
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    aria-label={t('reports.params.remove', { name: p.name })}
                    onClick={() => onChange(parameters.filter((_, j) => j !== i))}
                  >
                    <span aria-hidden="true">✕</span>
                  </ActionIcon>
                )}
              </Group>
              {errors[`parameters.${i}.name`] ? (
                <Text size="xs" c="red">
                  {errors[`parameters.${i}.name`]}
                </Text>
              ) : null}
              <Group gap="sm" align="flex-end" wrap="wrap">
                <Select
                  label={t('reports.params.type')}
                  data={choicesOf(PARAMETER_TYPES, t)}
                  value={p.type}
                  allowDeselect={false}
                  disabled={readOnly}
                  onChange={(ty) =>
                    ty &&
                    set(i, {
                      type: ty as ParameterDef['type'],
                      default: undefined,
                      items: ty === 'list' ? 'string' : undefined,
                    })
                  }
                  style={{ flex: '1 1 150px' }}
                  aria-label={`${t('reports.params.type')} ${p.name}`}
                />
                {p.type === 'list' ? (
                  <Select
                    label={t('reports.params.items')}
                    data={choicesOf(LIST_ITEM_TYPES, t)}
                    value={p.items ?? 'string'}
                    allowDeselect={false}
                    disabled={readOnly}
                    error={errors[`parameters.${i}.items`]}
                    onChange={(ty) => ty && set(i, { items: ty as ParameterDef['items'] })}
                    style={{ flex: '1 1 140px' }}
                  />
                ) : null}
                <TextInput
                  label={t('reports.params.label')}
                  value={p.label ?? ''}
                  disabled={readOnly}
                  onChange={(e) => set(i, { label: e.currentTarget.value || undefined })}
                  style={{ flex: '1 1 150px' }}
                />
                <Switch
                  label={t('reports.params.required')}
                  checked={p.required !== false}
                  disabled={readOnly}
                  onChange={(e) => set(i, { required: e.currentTarget.checked ? undefined : false })}
                  mb={8}
                />
              </Group>
              <Stack gap={2}>
                <fieldset disabled={readOnly} style={{ border: 0, padding: 0, margin: 0 }}>
                  <ParameterInputs
                    parameters={[
                      {
                        name: p.name,
                        type: p.type,
                        required: false,
                        ...(p.items ? { items: p.items } : {}),
                        label: t('reports.params.default'),
                      } as never,
                    ]}
                    values={p.default === undefined ? {} : { [p.name]: p.default }}
                    onChange={(v) => set(i, { default: v[p.name] })}
                    errors={
                      errors[`parameters.${i}.default`]
                        ? { [p.name]: errors[`parameters.${i}.default`] as string }
                        : {}
                    }
                  />
                </fieldset>
              </Stack>
            </Stack>
          </Card>
        ))}
      </Stack>
    </Card>
  );
}

function PreviewPanel({
  report,
  values,
  dirty,
  canWrite,
  onLocate,
}: {
  report: Report | undefined;
  values: Values;
  dirty: boolean;
  canWrite: boolean;
  onLocate(offset: number): void;
}) {
  const t = useT();
  const f = useFormat();
  const [params, setParams] = useSearchParams();
  const limit = Math.min(PREVIEW_MAX, Math.max(1, Number(params.get('rows')) || PREVIEW_MAX));
  const [previewValues, setPreviewValues] = useState<Record<string, unknown>>({});
  const zone = userZone();
  const tab = params.get('tab') === 'builder' ? 'builder' : 'sql';
  const preview = useMutation({
    mutationFn: async (): Promise<PreviewResult> => {
      const common = { parameters: previewValues, limit, timezone: zone };
      if (report && !dirty)
        return unwrap(
          api.POST('/api/v1/reports/{id}/preview', { params: { path: { id: report.id } }, body: common }),
        );
      return unwrap(
        api.POST('/api/v1/reports/preview', {
          body: {
            ...common,
            report: {
              connectionId: values.connectionId,
              ...(tab === 'builder' ? { spec: values.spec, sql: null } : { sql: values.sql, spec: null }),
              parameters: values.parameters,
            },
          },
        }),
      );
    },
  });
  const result = preview.data;
  const sqlError =
    preview.error instanceof ApiError
      ? preview.error.errors.find((e) => e.path === 'sql')?.message
      : undefined;
  const location = sqlError && tab === 'sql' ? sqlErrorLocation(sqlError, values.sql) : null;
  const canRun = Boolean(values.connectionId) && (canWrite || (report && !dirty));
  return (
    <Card withBorder padding="md">
      <Stack gap="sm">
        <Group justify="space-between" wrap="wrap">
          <Title order={2} size="h5">
            {t('reports.preview')}
          </Title>
          <Group gap="xs" align="flex-end">
            <NumberInput
              label={t('reports.preview.limit')}
              value={limit}
              min={1}
              max={PREVIEW_MAX}
              allowDecimal={false}
              size="xs"
              w={130}
              onChange={(v) =>
                setParams(
                  (prev) => {
                    const next = new URLSearchParams(prev);
                    if (typeof v === 'number' && v >= 1 && v < PREVIEW_MAX) next.set('rows', String(v));
                    else next.delete('rows');
                    return next;
                  },
                  { replace: true },
                )
              }
            />
            <Button onClick={() => preview.mutate()} loading={preview.isPending} disabled={!canRun}>
              {t('reports.preview.run')}
            </Button>
          </Group>
        </Group>
        {values.parameters.length > 0 ? (
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              {t('reports.params.values')}
            </Text>
            <ParameterInputs
              parameters={values.parameters}
              values={previewValues}
              onChange={setPreviewValues}
              errors={
                preview.error instanceof ApiError
                  ? Object.fromEntries(preview.error.errors.map((e) => [e.path, e.message]))
                  : {}
              }
              timezone={zone}
            />
          </Stack>
        ) : null}
        {preview.isError ? (
          <Stack gap="xs">
            <ErrorAlert error={preview.error} title={t('reports.preview.failed')} />
            {location ? (
              <Group>
                <Button size="xs" variant="light" color="red" onClick={() => onLocate(location.offset)}>
                  {t('reports.preview.at', { line: location.line, column: location.column })}
                </Button>
              </Group>
            ) : null}
          </Stack>
        ) : null}
        {result ? (
          <Stack gap="xs">
            <Group gap="md" wrap="wrap">
              <Text size="sm" fw={500} data-testid="preview-count">
                {result.truncated
                  ? t(
                      result.truncatedBy === 'bytes'
                        ? 'reports.preview.limitedBytes'
                        : 'reports.preview.limited',
                      {
                        count: f.number(result.rowCount),
                      },
                    )
                  : t('reports.preview.rows', { count: f.number(result.rowCount) })}
              </Text>
              <Text size="sm" c="dimmed">
                {t('reports.preview.elapsed', { time: f.duration(result.elapsedMs) })}
              </Text>
            </Group>
            {result.truncated ? (
              <Text size="xs" c="dimmed">
                {t('reports.preview.limitHelp', { limit })}
              </Text>
            ) : null}
            {Object.keys(result.parameters).length > 0 ? (
              <Group gap="xs" wrap="wrap" data-testid="preview-parameters">
                <Text size="sm" c="dimmed">
                  {t('reports.preview.parameters')}
                </Text>
                {Object.entries(result.parameters).map(([name, value]) => (
                  <Badge key={name} variant="light" tt="none" data-parameter={name}>
                    {name} = {Array.isArray(value) ? value.join(', ') : String(value)}
                  </Badge>
                ))}
              </Group>
            ) : null}
            {result.rows.length === 0 ? (
              <Text size="sm" c="dimmed">
                {t('reports.preview.empty')}
              </Text>
            ) : (
              <PreviewGrid result={result} />
            )}
          </Stack>
        ) : preview.isError ? null : (
          <Text size="sm" c="dimmed">
            {t('reports.preview.hint')}
          </Text>
        )}
      </Stack>
    </Card>
  );
}

function Editor({ report }: { report: Report | undefined }) {
  const t = useT();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const canWrite = useCan('reports:write');
  const canExport = useCan('runs:write');
  const canSchedule = useCan('schedules:write');
  const readOnly = !canWrite;
  const [params, setParams] = useSearchParams();
  const connections = useConnections();
  const demo = connections.data?.items.find((c) => c.type === 'demo') ?? connections.data?.items[0];
  const form = useForm<Values>({
    mode: 'controlled',
    initialValues: valuesOf(report, ''),
    validate: {
      name: (v) => (v.trim() ? null : t('field.required')),
      connectionId: (v) => (v ? null : t('field.required')),
    },
  });
  const [topErrors, setTopErrors] = useState<string[]>([]);
  const [insert, setInsert] = useState<{ text: string } | null>(null);
  const [focusAt, setFocusAt] = useState<{ offset: number } | null>(null);
  const [exportOpen, exportDrawer] = useDisclosure(false);
  const [templatesOpen, templateDialog] = useDisclosure(false);
  const initialized = useRef(false);

  // A new report starts on the demo connection once the list is known.
  useEffect(() => {
    if (!report && !initialized.current && demo) {
      initialized.current = true;
      form.setFieldValue('connectionId', demo.id);
      form.resetDirty({ ...form.getValues(), connectionId: demo.id });
    }
  }, [report, demo, form]);

  const values = form.getValues();
  const tab = params.get('tab') === 'builder' || (!params.get('tab') && values.spec) ? 'builder' : 'sql';
  const connection = connections.data?.items.find((c) => c.id === values.connectionId);
  const schema = useConnectionSchema(values.connectionId || undefined);
  const tables = useMemo(() => schema.data?.tables ?? [], [schema.data]);
  const used = tab === 'builder' ? specParameterNames(values.spec) : sqlParameterNames(values.sql);
  const dirty = form.isDirty();
  const errors = form.errors as Record<string, string>;

  const save = useMutation({
    mutationFn: async (v: Values) => {
      const definition = {
        connectionId: v.connectionId,
        ...(tab === 'builder' ? { spec: v.spec, sql: null } : { sql: v.sql || null, spec: null }),
        parameters: v.parameters,
      };
      const body = { name: v.name.trim(), description: v.description, ...definition };
      if (report)
        return unwrap(api.PATCH('/api/v1/reports/{id}', { params: { path: { id: report.id } }, body }));
      return unwrap(api.POST('/api/v1/reports', { body: body as CreateBody }));
    },
    onSuccess: (saved) => {
      queryClient.setQueryData(reportKey(saved.id), saved);
      void queryClient.invalidateQueries({ queryKey: REPORTS_KEY });
      setTopErrors([]);
      form.setValues(valuesOf(saved, saved.connectionId));
      form.resetDirty(valuesOf(saved, saved.connectionId));
      notifications.show({ color: 'green', message: t(report ? 'reports.saved' : 'reports.created') });
      if (!report) navigate(`/reports/${saved.id}?tab=${tab}`, { replace: true });
    },
    onError: (error) => setTopErrors(applyProblem(form, error)),
  });
  const duplicate = useMutation({
    mutationFn: (r: Report) =>
      unwrap(
        api.POST('/api/v1/reports', {
          body: {
            name: t('reports.copyName', { name: r.name }).slice(0, 200),
            description: r.description,
            connectionId: r.connectionId,
            ...(r.spec ? { spec: r.spec as BuilderSpec } : { sql: r.sql ?? null }),
            parameters: r.parameters,
          },
        }),
      ),
    onSuccess: (copy) => {
      queryClient.setQueryData(reportKey(copy.id), copy);
      void queryClient.invalidateQueries({ queryKey: REPORTS_KEY });
      notifications.show({ color: 'green', message: t('reports.duplicated') });
      navigate(`/reports/${copy.id}`);
    },
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/v1/reports/{id}', { params: { path: { id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: REPORTS_KEY });
      notifications.show({ color: 'green', message: t('reports.deleted') });
      navigate('/reports');
    },
    onError: (error) =>
      notifications.show({
        color: 'red',
        title: t('reports.deleteBlocked'),
        message: errorMessage(error),
        autoClose: 10_000,
      }),
  });

  const setTab = (next: string | null) =>
    setParams(
      (prev) => {
        const p = new URLSearchParams(prev);
        p.set('tab', next === 'builder' ? 'builder' : 'sql');
        return p;
      },
      { replace: true },
    );

  const submit = form.onSubmit((v) => {
    const problems: Record<string, string> = {};
    if (tab === 'sql' && !v.sql.trim()) problems['sql'] = t('field.required');
    if (tab === 'builder' && !v.spec) problems['spec.table'] = t('field.required');
    if (Object.keys(problems).length > 0) {
      form.setErrors(problems);
      return;
    }
    save.mutate(v);
  });

  const title = report ? report.name : t('reports.newTitle');
  const actions = (
    <>
      {report && canExport ? (
        <Tooltip label={t('reports.saveFirst')} disabled={!dirty}>
          <Button variant="filled" onClick={exportDrawer.open} disabled={dirty} data-testid="export-now">
            {t('reports.exportNow')}
          </Button>
        </Tooltip>
      ) : null}
      {report && canSchedule ? (
        <Button component={Link} to={`/schedules/new?reportId=${report.id}`} variant="default">
          {t('reports.schedule')}
        </Button>
      ) : null}
      {report && canWrite ? (
        <Button variant="default" onClick={() => duplicate.mutate(report)} loading={duplicate.isPending}>
          {t('reports.duplicate')}
        </Button>
      ) : null}
      {report && canWrite ? (
        <ConfirmButton
          title={t('reports.deleteTitle', { name: report.name })}
          text={t('reports.deleteText')}
          confirmLabel={t('reports.delete')}
          onConfirm={() => remove.mutateAsync(report.id).catch(() => undefined)}
          loading={remove.isPending}
        >
          {t('reports.delete')}
        </ConfirmButton>
      ) : null}
      {!report && canWrite ? (
        <Button variant="default" onClick={templateDialog.open}>
          {t('reports.fromTemplate')}
        </Button>
      ) : null}
    </>
  );

  return (
    <>
      <PageHeader
        title={title}
        crumbs={[{ label: t('reports.title'), to: '/reports' }]}
        actions={actions}
        description={report?.description || undefined}
      />
      {readOnly ? <ReadOnlyNotice /> : null}
      <form onSubmit={submit} noValidate>
        <Grid gap="md">
          <Grid.Col span={{ base: 12, md: 8, xl: 9 }}>
            <Stack gap="md">
              {topErrors.length > 0 ? (
                <Alert color="red" role="alert" title={t('reports.fixErrors')}>
                  {topErrors.map((e) => (
                    <Text key={e} size="sm">
                      {e}
                    </Text>
                  ))}
                </Alert>
              ) : null}
              <Grid gap="sm">
                <Grid.Col span={{ base: 12, sm: 6 }}>
                  <TextInput
                    label={t('reports.name')}
                    required
                    readOnly={readOnly}
                    maxLength={200}
                    {...form.getInputProps('name')}
                  />
                </Grid.Col>
                <Grid.Col span={{ base: 12, sm: 6 }}>
                  <Select
                    label={t('reports.connection')}
                    placeholder={t('reports.connectionPlaceholder')}
                    required
                    data={(connections.data?.items ?? []).map((c) => ({
                      value: c.id,
                      label: `${c.name} (${c.type})`,
                    }))}
                    readOnly={readOnly}
                    allowDeselect={false}
                    {...form.getInputProps('connectionId')}
                  />
                </Grid.Col>
                <Grid.Col span={12}>
                  <Textarea
                    label={t('reports.descriptionField')}
                    autosize
                    minRows={1}
                    maxRows={4}
                    maxLength={5000}
                    readOnly={readOnly}
                    {...form.getInputProps('description')}
                  />
                </Grid.Col>
              </Grid>
              <Tabs value={tab} onChange={setTab} keepMounted={false}>
                <Tabs.List>
                  <Tabs.Tab value="sql">{t('reports.tab.sql')}</Tabs.Tab>
                  <Tabs.Tab value="builder">{t('reports.tab.builder')}</Tabs.Tab>
                </Tabs.List>
                <Tabs.Panel value="sql" pt="sm">
                  <Stack gap={4}>
                    {values.spec && !values.sql ? (
                      <Text size="xs" c="dimmed">
                        {t('reports.switchToSql')}
                      </Text>
                    ) : null}
                    <Text size="sm" fw={500} id="sql-label">
                      {t('reports.sql')}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {t('reports.sqlHelp')}
                    </Text>
                    <SqlEditor
                      value={values.sql}
                      onChange={(sql) => form.setFieldValue('sql', sql)}
                      label={t('reports.sql')}
                      connectionType={connection?.type}
                      tables={tables}
                      readOnly={readOnly}
                      insert={insert}
                      focusAt={focusAt}
                      placeholder="SELECT …"
                    />
                    {errors['sql'] ? (
                      <Text size="xs" c="red" role="alert">
                        {errors['sql']}
                      </Text>
                    ) : null}
                  </Stack>
                </Tabs.Panel>
                <Tabs.Panel value="builder" pt="sm">
                  <Builder
                    spec={values.spec}
                    onChange={(spec) => form.setFieldValue('spec', spec)}
                    tables={tables}
                    readOnly={readOnly}
                    errors={errors}
                  />
                </Tabs.Panel>
              </Tabs>
              <ParametersPanel
                parameters={values.parameters}
                used={used}
                onChange={(p) => form.setFieldValue('parameters', p)}
                readOnly={readOnly}
                errors={errors}
              />
              {canWrite ? (
                <Group>
                  <Button type="submit" loading={save.isPending}>
                    {report ? t('reports.save') : t('reports.create')}
                  </Button>
                  {dirty && report ? (
                    <Badge color="yellow" variant="light" c="var(--mantine-color-text)">
                      {t('reports.unsaved')}
                    </Badge>
                  ) : null}
                </Group>
              ) : null}
              <PreviewPanel
                report={report}
                values={values}
                dirty={dirty}
                canWrite={canWrite}
                onLocate={(offset) => setFocusAt({ offset })}
              />
            </Stack>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 4, xl: 3 }}>
            <Card withBorder padding="sm">
              <Stack gap="xs">
                <Title order={2} size="h5">
                  {t('reports.schema.title')}
                </Title>
                <SchemaPanel
                  connectionId={values.connectionId || undefined}
                  {...(readOnly || tab !== 'sql' ? {} : { onInsert: (text: string) => setInsert({ text }) })}
                />
              </Stack>
            </Card>
          </Grid.Col>
        </Grid>
      </form>
      {report ? <ExportDrawer report={report} opened={exportOpen} onClose={exportDrawer.close} /> : null}
      <TemplateDialog opened={templatesOpen} onClose={templateDialog.close} />
    </>
  );
}

/** /reports/:id */
export function ReportPage() {
  const { id } = useParams();
  const report = useReport(id);
  if (report.isPending) return <FullPageLoader />;
  if (report.isError) return <FullPageError error={report.error} onRetry={() => report.refetch()} />;
  return <Editor key={report.data.id} report={report.data} />;
}

/** /reports/new, or /reports/new?template=<key> to create one from a template at once. */
export function NewReportPage() {
  const t = useT();
  return (
    <PermissionGate
      allowed={useCan('reports:write')}
      title={t('reports.newTitle')}
      crumbs={[{ label: t('reports.title'), to: '/reports' }]}
    >
      <NewReport />
    </PermissionGate>
  );
}

function NewReport() {
  const [params] = useSearchParams();
  const template = params.get('template');
  const use = useUseTemplate();
  const started = useRef(false);
  useEffect(() => {
    if (template && !started.current) {
      started.current = true;
      use.mutate(template);
    }
  }, [template, use]);
  if (template) {
    if (use.isError) return <FullPageError error={use.error} />;
    return <FullPageLoader />;
  }
  return <Editor report={undefined} />;
}
