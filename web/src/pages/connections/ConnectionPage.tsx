import {
  Alert,
  Button,
  Checkbox,
  Fieldset,
  Group,
  List,
  NumberInput,
  Paper,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Tabs,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError, api, type BodyOf, type ResponseOf, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { applyProblem } from '../../components/forms';
import { PageHeader } from '../../components/PageHeader';
import { PermissionGate } from '../../components/PermissionGate';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { schemaKey } from '../../components/SchemaBrowser';
import { ErrorAlert, FullPageError, FullPageLoader } from '../../components/states';
import { useT } from '../../i18n';
import { ConnectionSchema } from './ConnectionSchema';
import { type Connection, typeLabel } from './shared';

type ServerType = 'postgres' | 'mysql' | 'sqlite';
type Config = BodyOf<'/api/v1/connections', 'post'>['config'];
type TestResult = ResponseOf<'/api/v1/connections/test', 'post'>;

const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];
const DEFAULT_PORTS: Record<'postgres' | 'mysql', number> = { postgres: 5432, mysql: 3306 };
const URL_START = /^(postgres|postgresql|mysql|mariadb):\/\//i;

type Values = {
  name: string;
  type: ServerType;
  form: 'fields' | 'url';
  url: string;
  host: string;
  port: number | string;
  database: string;
  user: string;
  password: string;
  sslmode: SslMode;
  ca: string;
  path: string;
  allowPrivilegedUser: boolean;
};

// The API names fields by their place in the body: config.host is the form's host.
const ALIASES: Record<string, string> = {
  'config.url': 'url',
  'config.host': 'host',
  'config.port': 'port',
  'config.database': 'database',
  'config.user': 'user',
  'config.password': 'password',
  'config.sslmode': 'sslmode',
  'config.ssl': 'sslmode',
  'config.tls': 'ca',
  'config.tls.ca': 'ca',
  'config.path': 'path',
};

function initialValues(c: Connection | undefined): Values {
  const config = c?.config ?? {};
  const type = (c && c.type !== 'demo' ? c.type : 'postgres') as ServerType;
  return {
    name: c?.name ?? '',
    type,
    form: config.url ? 'url' : 'fields',
    url: config.url ?? '',
    host: config.host ?? '',
    port: config.port ?? (type === 'sqlite' ? '' : DEFAULT_PORTS[type]),
    database: config.database ?? '',
    user: config.user ?? '',
    password: '',
    sslmode: (config.sslmode as SslMode | undefined) ?? 'prefer',
    ca: config.tls?.ca ?? '',
    path: config.path ?? '',
    allowPrivilegedUser: c?.allowPrivilegedUser ?? false,
  };
}

/** The config to send: secrets only when typed (an empty password keeps the stored one). */
function configOf(v: Values, saved: Connection | undefined): Config {
  if (v.type === 'sqlite') return { path: v.path.trim() };
  const config: Config = {};
  if (v.form === 'url') {
    // An unchanged URL is left out, so the server keeps it with its stored password.
    if (!saved || v.url.trim() !== (saved.config.url ?? '')) config.url = v.url.trim();
  } else {
    config.host = v.host.trim();
    config.port = Number(v.port);
    config.database = v.database.trim();
    config.user = v.user.trim();
    config.sslmode = v.sslmode;
  }
  if (v.password) config.password = v.password;
  const hadCa = Boolean(saved?.config.tls?.ca);
  if (v.ca.trim()) config.tls = { ca: v.ca.trim() };
  else if (hadCa) config.tls = { ca: null };
  return config;
}

export function ConnectionPage() {
  const { id } = useParams();
  const t = useT();
  const canWrite = useCan('connections:write');
  const connection = useQuery({
    queryKey: ['connection', id],
    queryFn: () => unwrap(api.GET('/api/v1/connections/{id}', { params: { path: { id: id ?? '' } } })),
    enabled: id !== undefined,
  });
  if (id === undefined)
    return (
      <PermissionGate
        allowed={canWrite}
        title={t('connections.new.title')}
        crumbs={[{ label: t('nav.connections'), to: '/connections' }]}
      >
        <ConnectionEditor />
      </PermissionGate>
    );
  if (connection.isPending) return <FullPageLoader />;
  if (connection.isError)
    return <FullPageError error={connection.error} onRetry={() => connection.refetch()} />;
  return <ConnectionEditor key={connection.data.updatedAt} saved={connection.data} />;
}

function ConnectionEditor({ saved }: { saved?: Connection }) {
  const t = useT();
  const canWrite = useCan('connections:write');
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') === 'schema' ? 'schema' : 'settings';
  const isDemo = saved?.type === 'demo';
  const editable = canWrite && !isDemo;
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const [testResult, setTestResult] = useState<TestResult | null>(null);

  const form = useForm<Values>({
    mode: 'controlled',
    initialValues: initialValues(saved),
    validate: {
      name: (v) => (v.trim() ? null : t('field.required')),
      url: (v, all) =>
        all.type !== 'sqlite' && all.form === 'url' && (!saved || v.trim() !== (saved.config.url ?? ''))
          ? !v.trim()
            ? t('field.required')
            : URL_START.test(v.trim())
              ? null
              : t('connections.validate.url')
          : null,
      host: (v, all) =>
        all.type !== 'sqlite' && all.form === 'fields' && !v.trim() ? t('field.required') : null,
      port: (v, all) => {
        if (all.type === 'sqlite' || all.form !== 'fields') return null;
        const n = Number(v);
        return Number.isInteger(n) && n >= 1 && n <= 65535 ? null : t('connections.validate.port');
      },
      database: (v, all) =>
        all.type !== 'sqlite' && all.form === 'fields' && !v.trim() ? t('field.required') : null,
      user: (v, all) =>
        all.type !== 'sqlite' && all.form === 'fields' && !v.trim() ? t('field.required') : null,
      ca: (v, all) =>
        all.type !== 'sqlite' && all.sslmode === 'verify-ca' && !v.trim()
          ? t('connections.validate.ca')
          : null,
      path: (v, all) => (all.type === 'sqlite' && !v.trim() ? t('field.required') : null),
    },
  });
  const values = form.getValues();

  const onProblem = (error: unknown) => {
    const rest = applyProblem(form, error, ALIASES);
    setUnmatched(rest);
  };

  const save = useMutation({
    mutationFn: async (v: Values) => {
      const config = configOf(v, saved);
      if (!saved) {
        const body: BodyOf<'/api/v1/connections', 'post'> = { name: v.name.trim(), type: v.type, config };
        if (v.allowPrivilegedUser) body.allowPrivilegedUser = true;
        return unwrap(api.POST('/api/v1/connections', { body }));
      }
      return unwrap(
        api.PATCH('/api/v1/connections/{id}', {
          params: { path: { id: saved.id } },
          body: {
            name: v.name.trim(),
            config,
            ...(v.allowPrivilegedUser !== saved.allowPrivilegedUser
              ? { allowPrivilegedUser: v.allowPrivilegedUser }
              : {}),
          },
        }),
      );
    },
    onSuccess: (result) => {
      setUnmatched([]);
      notifications.show({ color: 'green', message: t('state.saved') });
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
      queryClient.setQueryData(['connection', result.id], result);
      void queryClient.invalidateQueries({ queryKey: schemaKey(result.id) });
      if (!saved) navigate(`/connections/${result.id}`, { replace: true });
    },
    onError: onProblem,
  });

  const test = useMutation({
    mutationFn: async (): Promise<TestResult> => {
      if (saved && !form.isDirty()) {
        return unwrap(api.POST('/api/v1/connections/{id}/test', { params: { path: { id: saved.id } } }));
      }
      const v = form.getValues();
      return unwrap(
        api.POST('/api/v1/connections/test', { body: { type: v.type, config: configOf(v, undefined) } }),
      );
    },
    onMutate: () => setTestResult(null),
    onSuccess: (result) => setTestResult(result),
    onError: (error) => {
      applyProblem(form, error, ALIASES);
    },
  });

  const remove = useMutation({
    mutationFn: () =>
      unwrap(api.DELETE('/api/v1/connections/{id}', { params: { path: { id: saved?.id ?? '' } } })),
    onSuccess: () => {
      notifications.show({ color: 'green', message: t('state.deleted') });
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
      navigate('/connections');
    },
  });

  const runTest = () => {
    // Unsaved settings are checked like a save; saved ones are tested as stored.
    if (saved && !form.isDirty()) return test.mutate();
    if (!form.validate().hasErrors) test.mutate();
  };

  const title = saved ? saved.name : t('connections.new.title');
  const server = values.type !== 'sqlite';
  const typeOptions = (['postgres', 'mysql', 'sqlite'] as const).map((x) => ({
    value: x,
    label: typeLabel(t, x),
  }));
  const testNeedsPassword =
    saved?.hasPassword &&
    form.isDirty() &&
    !values.password &&
    (values.form === 'fields' || values.url !== saved.config.url);

  const settings = (
    <form noValidate onSubmit={form.onSubmit((v) => save.mutate(v))} aria-label={t('connections.form.label')}>
      <Stack gap="md">
        {unmatched.length > 0 ? (
          <Alert color="red" role="alert">
            {unmatched.join('\n')}
          </Alert>
        ) : null}
        {save.isError && !(save.error instanceof ApiError && save.error.errors.length > 0) ? (
          <ErrorAlert error={save.error} />
        ) : null}
        <Fieldset legend={t('connections.form.general')} disabled={!editable}>
          <Stack gap="sm">
            <TextInput label={t('connections.field.name')} required {...form.getInputProps('name')} />
            <Select
              label={t('connections.field.type')}
              data={typeOptions}
              allowDeselect={false}
              disabled={Boolean(saved) || !editable}
              {...form.getInputProps('type')}
              onChange={(v) => {
                if (!v) return;
                form.setFieldValue('type', v as ServerType);
                if (v !== 'sqlite') form.setFieldValue('port', DEFAULT_PORTS[v as 'postgres' | 'mysql']);
              }}
            />
          </Stack>
        </Fieldset>
        {server ? (
          <Fieldset legend={t('connections.form.server')} disabled={!editable}>
            <Stack gap="sm">
              <SegmentedControl
                aria-label={t('connections.form.how')}
                data={[
                  { value: 'fields', label: t('connections.form.fields') },
                  { value: 'url', label: t('connections.form.url') },
                ]}
                disabled={!editable}
                {...form.getInputProps('form')}
              />
              {values.form === 'url' ? (
                <TextInput
                  label={t('connections.field.url')}
                  description={t('connections.field.urlHelp')}
                  placeholder={
                    values.type === 'mysql'
                      ? 'mysql://reader@db.example.com:3306/sales'
                      : 'postgres://reader@db.example.com:5432/sales?sslmode=require'
                  }
                  required
                  autoComplete="off"
                  {...form.getInputProps('url')}
                />
              ) : (
                <>
                  <Group align="flex-start" wrap="wrap" gap="sm">
                    <TextInput
                      label={t('connections.field.host')}
                      placeholder="db.example.com"
                      required
                      autoComplete="off"
                      style={{ flex: '1 1 220px' }}
                      {...form.getInputProps('host')}
                    />
                    <NumberInput
                      label={t('connections.field.port')}
                      min={1}
                      max={65535}
                      allowDecimal={false}
                      required
                      w={140}
                      {...form.getInputProps('port')}
                    />
                  </Group>
                  <TextInput
                    label={t('connections.field.database')}
                    required
                    autoComplete="off"
                    {...form.getInputProps('database')}
                  />
                  <TextInput
                    label={t('connections.field.user')}
                    description={t('connections.field.userHelp')}
                    required
                    autoComplete="off"
                    {...form.getInputProps('user')}
                  />
                </>
              )}
              <PasswordInput
                label={t('connections.field.password')}
                description={
                  saved?.hasPassword
                    ? t('connections.field.passwordKeep')
                    : t('connections.field.passwordHelp')
                }
                autoComplete="new-password"
                {...form.getInputProps('password')}
              />
              {values.form === 'fields' ? (
                <Select
                  label={t('connections.field.sslmode')}
                  description={t(`connections.ssl.${values.sslmode}`)}
                  data={SSL_MODES.map((m) => ({ value: m, label: m }))}
                  allowDeselect={false}
                  {...form.getInputProps('sslmode')}
                />
              ) : null}
              {values.sslmode === 'verify-ca' || values.sslmode === 'verify-full' || values.ca ? (
                <Textarea
                  label={t('connections.field.ca')}
                  description={t('connections.field.caHelp')}
                  placeholder="-----BEGIN CERTIFICATE-----"
                  autosize
                  minRows={3}
                  maxRows={10}
                  styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                  {...form.getInputProps('ca')}
                />
              ) : null}
              {testResult?.isPrivilegedUser || saved?.allowPrivilegedUser || hasPrivilegeError(save.error) ? (
                <Checkbox
                  label={t('connections.field.allowPrivileged')}
                  description={t('connections.field.allowPrivilegedHelp')}
                  {...form.getInputProps('allowPrivilegedUser', { type: 'checkbox' })}
                />
              ) : null}
            </Stack>
          </Fieldset>
        ) : (
          <Fieldset legend={t('connections.form.file')} disabled={!editable}>
            <TextInput
              label={t('connections.field.path')}
              description={t('connections.field.pathHelp')}
              placeholder="sales.db"
              required
              {...form.getInputProps('path')}
            />
          </Fieldset>
        )}
        <TestOutcome result={testResult} error={test.error} />
        {testNeedsPassword ? (
          <Text size="xs" c="dimmed">
            {t('connections.test.needsPassword')}
          </Text>
        ) : null}
        <Group justify="space-between" wrap="wrap">
          <Group gap="xs">
            <Button variant="default" onClick={runTest} loading={test.isPending}>
              {saved && !form.isDirty() ? t('connections.test.saved') : t('connections.test.unsaved')}
            </Button>
            {editable ? (
              <Button type="submit" loading={save.isPending}>
                {t('action.save')}
              </Button>
            ) : null}
          </Group>
          {saved && editable ? (
            <ConfirmButton
              title={t('confirm.deleteTitle', { name: saved.name })}
              text={t('connections.delete.text')}
              confirmLabel={t('action.delete')}
              onConfirm={() => remove.mutateAsync().catch(() => undefined)}
              loading={remove.isPending}
            >
              {t('action.delete')}
            </ConfirmButton>
          ) : null}
        </Group>
        {remove.isError ? (
          <ErrorAlert
            error={remove.error}
            title={
              remove.error instanceof ApiError && remove.error.status === 409
                ? t('connections.delete.inUse')
                : undefined
            }
          />
        ) : null}
      </Stack>
    </form>
  );

  const demo = (
    <Stack gap="md">
      <Alert color="grape" title={t('connections.demo.title')}>
        {t('connections.demo.text')}
      </Alert>
      <TestOutcome result={testResult} error={test.error} />
      <Group>
        <Button variant="default" onClick={() => test.mutate()} loading={test.isPending}>
          {t('connections.test.saved')}
        </Button>
      </Group>
    </Stack>
  );

  return (
    <>
      <PageHeader
        title={title}
        description={saved ? typeLabel(t, saved.type) : t('connections.new.description')}
        crumbs={[{ label: t('nav.connections'), to: '/connections' }]}
      />
      {!canWrite && saved ? <ReadOnlyNotice /> : null}
      {saved && saved.privilegeWarnings.length > 0 ? (
        <Alert
          color="orange"
          title={t('connections.privileged.title')}
          // Orange words on the light orange background miss 4.5:1 contrast.
          styles={{ title: { color: 'var(--mantine-color-text)' } }}
          mb="md"
        >
          <List size="sm">
            {saved.privilegeWarnings.map((w) => (
              <List.Item key={w}>{w}</List.Item>
            ))}
          </List>
        </Alert>
      ) : null}
      {saved ? (
        <Tabs
          value={tab}
          onChange={(v) => setParams(v === 'schema' ? { tab: 'schema' } : {}, { replace: true })}
          keepMounted={false}
        >
          <Tabs.List mb="md">
            <Tabs.Tab value="settings">{t('connections.tab.settings')}</Tabs.Tab>
            <Tabs.Tab value="schema">{t('connections.tab.schema')}</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="settings">
            <Paper withBorder p="md" maw={760}>
              {isDemo ? demo : settings}
            </Paper>
          </Tabs.Panel>
          <Tabs.Panel value="schema">
            <ConnectionSchema connectionId={saved.id} />
          </Tabs.Panel>
        </Tabs>
      ) : (
        <Paper withBorder p="md" maw={760}>
          {settings}
        </Paper>
      )}
    </>
  );
}

function hasPrivilegeError(error: unknown): boolean {
  return error instanceof ApiError && error.errors.some((e) => e.path === 'allowPrivilegedUser');
}

/** The test's answer: server version and latency, what the user may do beyond reading; or the exact error. */
function TestOutcome({ result, error }: { result: TestResult | null; error: unknown }) {
  const t = useT();
  if (result)
    return (
      <Alert
        color="green"
        title={t('connections.test.ok')}
        // Green words on the light green background miss 4.5:1 contrast.
        styles={{ title: { color: 'var(--mantine-color-text)' } }}
        data-testid="connection-test-result"
        role="status"
      >
        <Text size="sm">{t('connections.test.version', { version: result.version })}</Text>
        <Text size="sm">{t('connections.test.latency', { ms: result.latencyMs })}</Text>
        {result.privilegeWarnings.length > 0 ? (
          <>
            <Text size="sm" mt="xs" fw={600}>
              {result.isPrivilegedUser ? t('connections.test.privileged') : t('connections.test.warnings')}
            </Text>
            <List size="sm">
              {result.privilegeWarnings.map((w) => (
                <List.Item key={w}>{w}</List.Item>
              ))}
            </List>
          </>
        ) : null}
      </Alert>
    );
  if (error)
    return (
      <div data-testid="connection-test-result">
        <ErrorAlert error={error} title={t('connections.test.failed')} />
      </div>
    );
  return null;
}
