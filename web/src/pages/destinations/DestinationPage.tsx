import {
  Alert,
  Anchor,
  Badge,
  Button,
  Checkbox,
  Code,
  Fieldset,
  Group,
  List,
  NumberInput,
  Paper,
  PasswordInput,
  Select,
  Spoiler,
  Stack,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { type GetInputPropsReturnType, useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError, api, type ResponseOf, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { applyProblem } from '../../components/forms';
import { PageHeader } from '../../components/PageHeader';
import { PermissionGate } from '../../components/PermissionGate';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { ErrorAlert, FullPageError, FullPageLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { type MessageKey, type Translate, useT } from '../../i18n';
import { initialValues, parseHeaders, secretsOf, settingsOf, type Values } from './form';
import {
  DESTINATION_TYPES,
  type Destination,
  type DestinationType,
  destinationsKey,
  destinationTypesKey,
  type FieldSpec,
  requiredOf,
  SECRETS,
  SETTINGS,
  type SecretSpec,
  TYPE_ICON,
  typeLabel,
} from './shared';

type TestResult = ResponseOf<'/api/v1/destinations/{id}/test', 'post'>;

const label = (t: Translate, name: string) => t(`destinations.field.${name}` as MessageKey);
const isType = (v: string | null): v is DestinationType =>
  v !== null && (DESTINATION_TYPES as string[]).includes(v);

export function DestinationPage() {
  const { id } = useParams();
  const t = useT();
  const [params] = useSearchParams();
  const canWrite = useCan('destinations:write');
  const destination = useQuery({
    queryKey: ['destination', id],
    queryFn: () => unwrap(api.GET('/api/v1/destinations/{id}', { params: { path: { id: id ?? '' } } })),
    enabled: id !== undefined,
  });
  if (id === undefined) {
    const type = params.get('type');
    return (
      <PermissionGate
        allowed={canWrite}
        title={t('destinations.new.title')}
        crumbs={[{ label: t('nav.destinations'), to: '/destinations' }]}
      >
        <DestinationEditor initialType={isType(type) ? type : 'email'} />
      </PermissionGate>
    );
  }
  if (destination.isPending) return <FullPageLoader />;
  if (destination.isError)
    return <FullPageError error={destination.error} onRetry={() => destination.refetch()} />;
  return (
    <DestinationEditor
      key={destination.data.updatedAt}
      saved={destination.data}
      initialType={destination.data.type}
    />
  );
}

function useRequired(type: DestinationType) {
  const types = useQuery({
    queryKey: destinationTypesKey,
    queryFn: () => unwrap(api.GET('/api/v1/destination-types')),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const info = types.data?.items.find((x) => x.type === type);
  return { settings: requiredOf(info?.settings), secrets: new Set(info?.requiredSecrets ?? []) };
}

/** Field errors the form can tell before asking the server: required, numbers, header lines, addresses. */
function validator(t: Translate, required: Set<string>, saved: Destination | undefined) {
  return (v: Values) => {
    const errors: Record<string, string> = {};
    if (!v.name.trim()) errors['name'] = t('field.required');
    for (const spec of SETTINGS[v.type]) {
      const value = v.settings[spec.name];
      const path = `settings.${spec.name}`;
      if (typeof value !== 'string') continue;
      const s = value.trim();
      if (!s) {
        if (required.has(spec.name)) errors[path] = t('field.required');
        continue;
      }
      if (spec.kind === 'integer' && !/^\d+$/.test(s)) errors[path] = t('destinations.validate.integer');
      if (spec.kind === 'headers' && !parseHeaders(s)) errors[path] = t('destinations.validate.headers');
      if (spec.kind === 'list' && v.type === 'email') {
        const bad = s
          .split(/[\n,;]/)
          .map((x) => x.trim())
          .find((x) => x && !/^[^@\s]+@[^@\s]+$/.test(x));
        if (bad) errors[path] = t('destinations.validate.email', { value: bad });
      }
    }
    // A new destination needs its required secrets; a saved one keeps the stored ones.
    for (const spec of SECRETS[v.type]) {
      const typed = (v.secrets[spec.name] ?? '').trim();
      const stored = saved?.secretsSet.includes(spec.name) && !v.remove[spec.name];
      if (!typed && !stored && required.has(`secret:${spec.name}`))
        errors[`secrets.${spec.name}`] = t('field.required');
    }
    return errors;
  };
}

function DestinationEditor({ saved, initialType }: { saved?: Destination; initialType: DestinationType }) {
  const t = useT();
  const f = useFormat();
  const canWrite = useCan('destinations:write');
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const [type, setType] = useState<DestinationType>(initialType);
  const required = useRequired(type);
  const requiredAll = new Set([...required.settings, ...[...required.secrets].map((s) => `secret:${s}`)]);
  const form = useForm<Values>({
    mode: 'controlled',
    initialValues: initialValues(saved, initialType),
    validate: validator(t, requiredAll, saved),
  });
  const values = form.getValues();

  const changeType = (next: string | null) => {
    if (!isType(next) || next === type) return;
    setType(next);
    form.setValues({ ...initialValues(undefined, next), name: values.name });
  };

  const save = useMutation({
    mutationFn: async (v: Values) => {
      const settings = settingsOf(v, saved);
      const secrets = secretsOf(v);
      if (!saved)
        return unwrap(
          api.POST('/api/v1/destinations', {
            body: { name: v.name.trim(), type: v.type, settings, ...(secrets ? { secrets } : {}) },
          }),
        );
      return unwrap(
        api.PATCH('/api/v1/destinations/{id}', {
          params: { path: { id: saved.id } },
          body: { name: v.name.trim(), settings, ...(secrets ? { secrets } : {}) },
        }),
      );
    },
    onSuccess: (result) => {
      setUnmatched([]);
      notifications.show({ color: 'green', message: t('state.saved') });
      void queryClient.invalidateQueries({ queryKey: destinationsKey });
      queryClient.setQueryData(['destination', result.id], result);
      if (!saved) navigate(`/destinations/${result.id}`, { replace: true });
    },
    onError: (error) => setUnmatched(applyProblem(form, error)),
  });

  const test = useMutation({
    mutationFn: (): Promise<TestResult> =>
      unwrap(api.POST('/api/v1/destinations/{id}/test', { params: { path: { id: saved?.id ?? '' } } })),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: destinationsKey }),
  });

  const remove = useMutation({
    mutationFn: () =>
      unwrap(api.DELETE('/api/v1/destinations/{id}', { params: { path: { id: saved?.id ?? '' } } })),
    onSuccess: () => {
      notifications.show({ color: 'green', message: t('state.deleted') });
      void queryClient.invalidateQueries({ queryKey: destinationsKey });
      navigate('/destinations');
    },
  });

  const dirty = form.isDirty();
  const settingSpecs = SETTINGS[type];
  const secretSpecs = SECRETS[type];
  // Errors about the settings or secrets as a whole (the workspace's allowed
  // recipients, "give the secrets again") belong to no one field.
  const objectErrors = [form.errors['settings'], form.errors['secrets']].filter(
    (e): e is string => typeof e === 'string',
  );
  return (
    <>
      <PageHeader
        title={saved ? saved.name : t('destinations.new.title')}
        description={saved ? typeLabel(t, saved.type) : t('destinations.new.description')}
        crumbs={[{ label: t('nav.destinations'), to: '/destinations' }]}
      />
      {!canWrite && saved ? <ReadOnlyNotice /> : null}
      <Paper withBorder p="md" maw={760}>
        <form
          noValidate
          onSubmit={form.onSubmit((v) => save.mutate(v))}
          aria-label={t('destinations.form.label')}
        >
          <Stack gap="md">
            {unmatched.length > 0 ? (
              <Alert color="red" role="alert">
                {unmatched.join('\n')}
              </Alert>
            ) : null}
            {save.isError && !(save.error instanceof ApiError && save.error.errors.length > 0) ? (
              <ErrorAlert error={save.error} />
            ) : null}
            {objectErrors.length > 0 ? (
              <Alert color="red" role="alert" data-testid="destination-form-error">
                {objectErrors.join('\n')}
              </Alert>
            ) : null}
            <Fieldset legend={t('destinations.form.general')} disabled={!canWrite}>
              <Stack gap="sm">
                <TextInput label={t('destinations.field.name')} required {...form.getInputProps('name')} />
                <Select
                  label={t('destinations.field.type')}
                  data={DESTINATION_TYPES.map((x) => ({ value: x, label: typeLabel(t, x) }))}
                  allowDeselect={false}
                  disabled={Boolean(saved) || !canWrite}
                  value={type}
                  onChange={changeType}
                  leftSection={<span aria-hidden="true">{TYPE_ICON[type]}</span>}
                />
              </Stack>
            </Fieldset>
            {settingSpecs.length > 0 ? (
              <Fieldset legend={t('destinations.form.settings')} disabled={!canWrite}>
                <Stack gap="sm">
                  {settingSpecs.map((spec) => (
                    <SettingInput
                      key={spec.name}
                      spec={spec}
                      required={required.settings.has(spec.name)}
                      inputProps={form.getInputProps(`settings.${spec.name}`, {
                        type: spec.kind === 'boolean' ? 'checkbox' : 'input',
                      })}
                    />
                  ))}
                </Stack>
              </Fieldset>
            ) : null}
            {secretSpecs.length > 0 ? (
              <Fieldset legend={t('destinations.form.secrets')} disabled={!canWrite}>
                <Stack gap="sm">
                  <Text size="sm" c="dimmed">
                    {t('destinations.form.secretsText')}
                  </Text>
                  {secretSpecs.map((spec) => (
                    <SecretInput
                      key={spec.name}
                      spec={spec}
                      isSet={Boolean(saved?.secretsSet.includes(spec.name))}
                      required={required.secrets.has(spec.name)}
                      removed={Boolean(values.remove[spec.name])}
                      onRemove={(r) => form.setFieldValue(`remove.${spec.name}`, r)}
                      editable={canWrite}
                      inputProps={form.getInputProps(`secrets.${spec.name}`)}
                    />
                  ))}
                </Stack>
              </Fieldset>
            ) : null}
            {saved ? <TestOutcome result={test.data ?? null} error={test.error} saved={saved} /> : null}
            {saved && canWrite && dirty ? (
              <Text size="xs" c="dimmed">
                {t('destinations.test.saveFirst')}
              </Text>
            ) : null}
            {canWrite ? (
              <Group justify="space-between" wrap="wrap">
                <Group gap="xs">
                  {saved ? (
                    <Button
                      variant="default"
                      onClick={() => test.mutate()}
                      loading={test.isPending}
                      disabled={dirty}
                    >
                      {t('destinations.test.send')}
                    </Button>
                  ) : null}
                  <Button type="submit" loading={save.isPending}>
                    {t('action.save')}
                  </Button>
                </Group>
                {saved ? (
                  <ConfirmButton
                    title={t('confirm.deleteTitle', { name: saved.name })}
                    text={t('destinations.delete.text')}
                    confirmLabel={t('action.delete')}
                    onConfirm={() => remove.mutateAsync().catch(() => undefined)}
                    loading={remove.isPending}
                  >
                    {t('action.delete')}
                  </ConfirmButton>
                ) : null}
              </Group>
            ) : null}
            {remove.isError ? (
              <ErrorAlert
                error={remove.error}
                title={
                  remove.error instanceof ApiError && remove.error.status === 409
                    ? t('destinations.delete.inUse')
                    : undefined
                }
              />
            ) : null}
            {saved ? <UsedBy destination={saved} /> : null}
            {saved?.lastTest && !test.data && !test.error ? (
              <Text size="xs" c="dimmed">
                {t('destinations.test.at', { time: f.dateTime(saved.lastTest.at) })}:{' '}
                {saved.lastTest.ok ? t('destinations.lastTest.ok') : t('destinations.lastTest.failed')} ·{' '}
                {saved.lastTest.message}
              </Text>
            ) : null}
          </Stack>
        </form>
      </Paper>
    </>
  );
}

type InputProps = GetInputPropsReturnType;

function SettingInput({
  spec,
  required,
  inputProps,
}: {
  spec: FieldSpec;
  required: boolean;
  inputProps: InputProps;
}) {
  const t = useT();
  const common = {
    label: label(t, spec.name),
    description: spec.kind === 'list' ? t('destinations.form.onePerLine') : undefined,
    required,
  };
  const help = spec.help ? t(spec.help) : undefined;
  const description = [common.description, help].filter(Boolean).join(' ') || undefined;
  switch (spec.kind) {
    case 'boolean':
      return <Checkbox label={common.label} {...inputProps} />;
    case 'choice':
      return (
        <Select
          {...common}
          description={description}
          clearable={!required}
          // Left empty, the server's default applies: the first choice.
          placeholder={t(Object.values(spec.choices ?? {})[0] ?? 'destinations.sse.none')}
          data={Object.entries(spec.choices ?? {}).map(([value, key]) => ({ value, label: t(key) }))}
          {...inputProps}
          value={(inputProps.value as string) || null}
          onChange={(v) => inputProps.onChange(v ?? '')}
        />
      );
    case 'integer':
      return (
        <NumberInput
          {...common}
          description={description}
          allowDecimal={false}
          allowNegative={false}
          {...inputProps}
          onChange={(v) => inputProps.onChange(String(v))}
        />
      );
    case 'list':
    case 'headers':
    case 'textarea':
      return (
        <Textarea
          {...common}
          description={description}
          autosize
          minRows={2}
          maxRows={10}
          {...inputProps}
          styles={
            spec.kind === 'headers' ? { input: { fontFamily: 'var(--mantine-font-family-monospace)' } } : {}
          }
        />
      );
    default:
      return <TextInput {...common} description={description} {...inputProps} />;
  }
}

/**
 * A write-only field: never filled in with the stored value. A set secret says so
 * (and may be removed when the type does not require it); typing replaces it.
 */
function SecretInput({
  spec,
  isSet,
  required,
  removed,
  onRemove,
  editable,
  inputProps,
}: {
  spec: SecretSpec;
  isSet: boolean;
  required: boolean;
  removed: boolean;
  onRemove: (removed: boolean) => void;
  editable: boolean;
  inputProps: InputProps;
}) {
  const t = useT();
  const help = spec.help ? t(spec.help) : undefined;
  const state = removed ? t('destinations.secret.removed') : isSet ? t('destinations.secret.set') : undefined;
  const description = [help, spec.kind === 'list' ? t('destinations.form.onePerLine') : undefined, state]
    .filter(Boolean)
    .join(' ');
  const labelNode = (
    <Group gap={6} component="span">
      <span>{label(t, spec.name)}</span>
      {isSet && !removed ? (
        <Badge
          size="xs"
          variant="light"
          color="green"
          c="var(--mantine-color-text)"
          data-secret-set={spec.name}
        >
          {t('destinations.secret.setPlaceholder')}
        </Badge>
      ) : null}
    </Group>
  );
  const placeholder = isSet && !removed ? t('destinations.secret.setPlaceholder') : undefined;
  const props = {
    label: labelNode,
    description: description || undefined,
    required: required && !isSet,
    placeholder,
    autoComplete: 'new-password',
    ...inputProps,
  };
  return (
    <Stack gap={4}>
      {spec.kind === 'password' ? (
        <PasswordInput {...props} />
      ) : (
        <Textarea
          {...props}
          autosize
          minRows={2}
          maxRows={8}
          spellCheck={false}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
      )}
      {isSet && editable && !required ? (
        <Group>
          <Button
            size="compact-xs"
            variant="subtle"
            color={removed ? 'gray' : 'red'}
            onClick={() => onRemove(!removed)}
          >
            {removed ? t('destinations.secret.keep') : t('destinations.secret.remove')}
          </Button>
        </Group>
      ) : null}
    </Stack>
  );
}

function UsedBy({ destination }: { destination: Destination }) {
  const t = useT();
  return (
    <div>
      <Text size="sm" fw={600}>
        {t('destinations.usedBy.title')}
      </Text>
      {destination.usedBy.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('destinations.usedBy.none')}
        </Text>
      ) : (
        <List size="sm">
          {destination.usedBy.map((s) => (
            <List.Item key={s.id}>
              <Anchor component={Link} to={`/schedules/${s.id}`}>
                {s.name}
              </Anchor>
            </List.Item>
          ))}
        </List>
      )}
    </div>
  );
}

/** The test's outcome: what the receiver answered, or why it failed; details folded. */
function TestOutcome({
  result,
  error,
  saved,
}: {
  result: TestResult | null;
  error: unknown;
  saved: Destination;
}) {
  const t = useT();
  if (error)
    return (
      <div data-testid="destination-test-result" data-ok="false">
        <ErrorAlert error={error} title={t('destinations.test.failed')} />
      </div>
    );
  if (!result) return null;
  const details = Object.keys(result.details).length > 0 ? JSON.stringify(result.details, null, 2) : null;
  return (
    <Alert
      color={result.ok ? 'green' : 'red'}
      title={result.ok ? t('destinations.test.ok') : t('destinations.test.failed')}
      styles={{ title: { color: 'var(--mantine-color-text)' } }}
      role={result.ok ? 'status' : 'alert'}
      data-testid="destination-test-result"
      data-ok={String(result.ok)}
      aria-label={`${typeLabel(t, saved.type)}: ${saved.name}`}
    >
      <Text size="sm" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
        {result.message}
      </Text>
      {details ? (
        <Spoiler maxHeight={0} showLabel={t('deliveries.details')} hideLabel={t('action.close')} mt="xs">
          <Code block>{details}</Code>
        </Spoiler>
      ) : null}
    </Alert>
  );
}
