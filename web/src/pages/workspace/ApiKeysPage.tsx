import {
  Badge,
  Button,
  Checkbox,
  Code,
  Group,
  Modal,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  VisuallyHidden,
} from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import dayjs from 'dayjs';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, errorMessage, type ResponseOf, unwrap } from '../../api/client';
import { useCan, useSession } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { PageHeader } from '../../components/PageHeader';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { useT } from '../../i18n';
import {
  FormErrors,
  LoadMore,
  LocalDates,
  problemMessages,
  type Role,
  roleCovers,
  SecretOnceModal,
  useDateFormat,
  usePagedList,
  useRoleOptions,
} from './shared';

type ApiKey = ResponseOf<'/api/v1/api-keys', 'get'>['items'][number];
type CreatedKey = ResponseOf<'/api/v1/api-keys', 'post'>;

const KEYS = ['workspace', 'api-keys'] as const;

type KeyState = 'active' | 'expired' | 'revoked';
function stateOf(k: ApiKey, now: number): KeyState {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && new Date(k.expiresAt).getTime() <= now) return 'expired';
  return 'active';
}

export function ApiKeysPage() {
  const t = useT();
  const write = useCan('api-keys:write');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  return (
    <>
      <PageHeader
        title={t('nav.apiKeys')}
        description={t('workspace.keys.description')}
        actions={
          write ? <Button onClick={() => setCreating(true)}>{t('workspace.keys.create')}</Button> : null
        }
      />
      {write ? null : <ReadOnlyNotice />}
      <KeysTable write={write} onCreate={() => setCreating(true)} />
      <CreateKeyModal
        opened={creating}
        onClose={() => setCreating(false)}
        onCreated={(key) => {
          setCreating(false);
          setCreated(key);
        }}
      />
      {created ? (
        <SecretOnceModal
          opened
          title={t('workspace.keys.createdTitle', { name: created.name })}
          secret={created.apiKey}
          intro={t('workspace.keys.createdIntro')}
          onClose={() => setCreated(null)}
        >
          <Text size="sm" c="dimmed">
            {t('workspace.keys.usage')}
          </Text>
          <Code
            block
          >{`curl -H "Authorization: Bearer $FERRY_KEY" ${window.location.origin}/api/v1/me`}</Code>
        </SecretOnceModal>
      ) : null}
    </>
  );
}

function KeysTable({ write, onCreate }: { write: boolean; onCreate: () => void }) {
  const t = useT();
  const f = useFormat();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const showRevoked = params.get('revoked') === '1';
  const { query, items } = usePagedList(KEYS, (cursor) =>
    unwrap(api.GET('/api/v1/api-keys', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
  );
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id } } })),
    onSuccess: () => {
      notifications.show({ color: 'green', message: t('workspace.keys.revoked') });
      return queryClient.invalidateQueries({ queryKey: KEYS });
    },
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });

  if (query.isPending) return <SectionLoader />;
  if (query.isError) return <ErrorAlert error={query.error} onRetry={() => query.refetch()} />;

  const now = Date.now();
  const hidden = items.filter((k) => stateOf(k, now) === 'revoked').length;
  const shown = showRevoked ? items : items.filter((k) => stateOf(k, now) !== 'revoked');
  const toggle = (
    <Switch
      label={t('workspace.keys.showRevoked', { count: hidden })}
      checked={showRevoked}
      onChange={(e) => {
        const next = new URLSearchParams(params);
        if (e.currentTarget.checked) next.set('revoked', '1');
        else next.delete('revoked');
        setParams(next, { replace: true });
      }}
    />
  );
  if (items.length === 0 || (shown.length === 0 && !query.hasNextPage)) {
    return (
      <Stack>
        {hidden > 0 ? toggle : null}
        <EmptyState
          title={t('workspace.keys.emptyTitle')}
          text={write ? t('workspace.keys.emptyWrite') : t('workspace.keys.empty')}
        >
          {write ? <Button onClick={onCreate}>{t('workspace.keys.create')}</Button> : null}
        </EmptyState>
      </Stack>
    );
  }
  const badge: Record<KeyState, { color: string; label: string }> = {
    active: { color: 'green', label: t('workspace.keys.active') },
    expired: { color: 'orange', label: t('workspace.keys.expired') },
    revoked: { color: 'gray', label: t('workspace.keys.revokedState') },
  };
  return (
    <Stack gap="xs">
      {hidden > 0 ? toggle : null}
      <Table.ScrollContainer minWidth={820}>
        <Table verticalSpacing="sm" aria-label={t('nav.apiKeys')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('workspace.field.name')}</Table.Th>
              <Table.Th>{t('workspace.field.role')}</Table.Th>
              <Table.Th>{t('workspace.keys.prefix')}</Table.Th>
              <Table.Th>{t('workspace.keys.created')}</Table.Th>
              <Table.Th>{t('workspace.keys.lastUsed')}</Table.Th>
              <Table.Th>{t('workspace.keys.expires')}</Table.Th>
              {write ? (
                <Table.Th>
                  <VisuallyHidden>{t('workspace.field.actions')}</VisuallyHidden>
                </Table.Th>
              ) : null}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((k) => {
              const state = stateOf(k, now);
              return (
                <Table.Tr key={k.id} c={state === 'active' ? undefined : 'dimmed'}>
                  <Table.Td>
                    <Group gap={6} wrap="wrap">
                      <Text size="sm" fw={500}>
                        {k.name}
                      </Text>
                      <Badge size="sm" variant="dot" color={badge[state].color}>
                        {badge[state].label}
                      </Badge>
                      {k.instanceAdmin ? (
                        <Badge size="xs" variant="light" color="grape">
                          {t('workspace.keys.instanceAdmin')}
                        </Badge>
                      ) : null}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{t(`role.${k.role}`)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Code>{k.prefix}…</Code>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{f.date(k.createdAt)}</Text>
                  </Table.Td>
                  <Table.Td>
                    {k.lastUsedAt ? (
                      <Text size="sm" title={f.dateTime(k.lastUsedAt)}>
                        {f.relative(k.lastUsedAt)}
                      </Text>
                    ) : (
                      <Text size="sm" c="dimmed">
                        {t('time.never')}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {state === 'revoked' && k.revokedAt
                        ? t('workspace.keys.revokedAt', { date: f.date(k.revokedAt) })
                        : k.expiresAt
                          ? f.dateTime(k.expiresAt)
                          : t('workspace.keys.noExpiry')}
                    </Text>
                  </Table.Td>
                  {write ? (
                    <Table.Td>
                      {state !== 'revoked' && roleCovers(me.role, k.role) ? (
                        <ConfirmButton
                          size="xs"
                          aria-label={t('workspace.keys.revokeNamed', { name: k.name })}
                          title={t('workspace.keys.revokeTitle', { name: k.name })}
                          text={t('workspace.keys.revokeText')}
                          confirmLabel={t('workspace.keys.revoke')}
                          loading={revoke.isPending}
                          onConfirm={() => revoke.mutateAsync(k.id).catch(() => undefined)}
                        >
                          {t('workspace.keys.revoke')}
                        </ConfirmButton>
                      ) : null}
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <LoadMore query={query} />
    </Stack>
  );
}

function CreateKeyModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (key: CreatedKey) => void;
}) {
  const t = useT();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const roleOptions = useRoleOptions(me.role);
  const dateFormat = useDateFormat();
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const form = useForm({
    mode: 'controlled',
    initialValues: {
      name: '',
      role: 'viewer' as Role,
      expiresAt: null as string | null,
      instanceAdmin: false,
    },
    validate: {
      name: (v) => (!v.trim() ? t('field.required') : v.length > 200 ? t('workspace.field.tooLong') : null),
      role: (v) => (v ? null : t('field.required')),
      expiresAt: (v) =>
        v && !dayjs(v).endOf('day').isAfter(dayjs()) ? t('workspace.keys.expiryPast') : null,
    },
  });
  const create = useMutation({
    mutationFn: (v: typeof form.values) =>
      unwrap(
        api.POST('/api/v1/api-keys', {
          body: {
            name: v.name.trim(),
            role: v.role,
            // Valid through the chosen day, in the user's zone.
            ...(v.expiresAt ? { expiresAt: dayjs(v.expiresAt).endOf('day').toISOString() } : {}),
            ...(v.instanceAdmin ? { instanceAdmin: true } : {}),
          },
        }),
      ),
    onMutate: () => setUnmatched([]),
    onSuccess: (key) => {
      form.reset();
      onCreated(key);
      return queryClient.invalidateQueries({ queryKey: KEYS });
    },
    onError: (error) => setUnmatched(problemMessages(form, error)),
  });
  return (
    <Modal opened={opened} onClose={onClose} title={t('workspace.keys.createTitle')} centered>
      <form onSubmit={form.onSubmit((v) => create.mutate(v))} noValidate>
        <Stack gap="sm">
          <FormErrors messages={unmatched} />
          <TextInput
            label={t('workspace.field.name')}
            description={t('workspace.keys.nameHelp')}
            required
            data-autofocus
            {...form.getInputProps('name')}
          />
          <Select
            label={t('workspace.field.role')}
            description={t('workspace.keys.roleHelp')}
            data={roleOptions}
            allowDeselect={false}
            required
            {...form.getInputProps('role')}
          />
          <LocalDates>
            <DatePickerInput
              label={t('workspace.keys.expiresOn')}
              description={t('workspace.keys.expiryHelp')}
              placeholder={t('workspace.keys.noExpiry')}
              clearable
              clearButtonProps={{ 'aria-label': t('workspace.keys.clearExpiry') }}
              minDate={dayjs().format('YYYY-MM-DD')}
              valueFormat={dateFormat}
              {...form.getInputProps('expiresAt')}
            />
          </LocalDates>
          {me.instanceAdmin ? (
            <Checkbox
              label={t('workspace.keys.instanceAdminLabel')}
              description={t('workspace.keys.instanceAdminHelp')}
              {...form.getInputProps('instanceAdmin', { type: 'checkbox' })}
            />
          ) : null}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('action.cancel')}
            </Button>
            <Button type="submit" loading={create.isPending}>
              {t('workspace.keys.createSubmit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
