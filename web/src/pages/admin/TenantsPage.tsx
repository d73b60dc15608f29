import {
  Button,
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  Stack,
  Table,
  Text,
  TextInput,
  VisuallyHidden,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, type ResponseOf, unwrap } from '../../api/client';
import { PageHeader } from '../../components/PageHeader';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { type Formatter, useFormat } from '../../components/time';
import { useT } from '../../i18n';
import { FormErrors, LoadMore, problemMessages, SecretOnceModal, usePagedList } from '../workspace/shared';

type Created = ResponseOf<'/api/v1/admin/tenants', 'post'> & { name: string; email: string };

const TENANTS = ['admin', 'tenants'] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function TenantsPage() {
  const t = useT();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);
  return (
    <>
      <PageHeader
        title={t('nav.tenants')}
        description={t('workspace.tenants.description')}
        actions={<Button onClick={() => setCreating(true)}>{t('workspace.tenants.create')}</Button>}
      />
      <TenantsTable onCreate={() => setCreating(true)} />
      <CreateTenantModal
        opened={creating}
        onClose={() => setCreating(false)}
        onCreated={(c) => {
          setCreating(false);
          setCreated(c);
        }}
      />
      {created ? (
        <SecretOnceModal
          opened
          title={t('workspace.tenants.createdTitle', { name: created.name })}
          secret={created.apiKey}
          intro={t('workspace.tenants.createdIntro', { email: created.email })}
          onClose={() => setCreated(null)}
        />
      ) : null}
    </>
  );
}

function TenantsTable({ onCreate }: { onCreate: () => void }) {
  const t = useT();
  const f = useFormat();
  const [params, setParams] = useSearchParams();
  const { query, items } = usePagedList(TENANTS, (cursor) =>
    unwrap(
      api.GET('/api/v1/admin/tenants', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }),
    ),
  );
  // The limits dialog is part of the address (?limits=<id>), so it survives a reload.
  const limitsOf = params.get('limits');
  const setLimitsOf = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id) next.set('limits', id);
    else next.delete('limits');
    setParams(next, { replace: true });
  };
  if (query.isPending) return <SectionLoader />;
  if (query.isError) return <ErrorAlert error={query.error} onRetry={() => query.refetch()} />;
  if (items.length === 0) {
    return (
      <EmptyState title={t('workspace.tenants.emptyTitle')} text={t('workspace.tenants.emptyText')}>
        <Button onClick={onCreate}>{t('workspace.tenants.create')}</Button>
      </EmptyState>
    );
  }
  const selected = items.find((x) => x.id === limitsOf) ?? null;
  return (
    <>
      <Table.ScrollContainer minWidth={620}>
        <Table verticalSpacing="sm" aria-label={t('nav.tenants')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('workspace.field.name')}</Table.Th>
              <Table.Th>{t('workspace.tenants.slug')}</Table.Th>
              <Table.Th ta="right">{t('workspace.tenants.members')}</Table.Th>
              <Table.Th>{t('workspace.tenants.created')}</Table.Th>
              <Table.Th>
                <VisuallyHidden>{t('workspace.field.actions')}</VisuallyHidden>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((x) => (
              <Table.Tr key={x.id}>
                <Table.Td>
                  <Text size="sm" fw={500}>
                    {x.name}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace">
                    {x.slug}
                  </Text>
                </Table.Td>
                <Table.Td ta="right">{x.memberCount === undefined ? '–' : f.number(x.memberCount)}</Table.Td>
                <Table.Td>{f.date(x.createdAt)}</Table.Td>
                <Table.Td>
                  <Button
                    size="xs"
                    variant="light"
                    aria-label={t('workspace.tenants.limitsOf', { name: x.name })}
                    onClick={() => setLimitsOf(x.id)}
                  >
                    {t('workspace.tenants.limits')}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <LoadMore query={query} />
      <Modal
        opened={limitsOf !== null}
        onClose={() => setLimitsOf(null)}
        title={t('workspace.tenants.limitsTitle', { name: selected?.name ?? '' })}
        centered
        size="lg"
      >
        {limitsOf ? <LimitsForm tenantId={limitsOf} onDone={() => setLimitsOf(null)} f={f} /> : null}
      </Modal>
    </>
  );
}

type LimitField = 'maxExportRows' | 'maxExportBytes' | 'maxRunSeconds';
const LIMIT_MAX: Record<LimitField, number> = {
  maxExportRows: 10_000_000_000,
  maxExportBytes: 10_000_000_000_000,
  maxRunSeconds: 7 * 86_400,
};

function LimitsForm({ tenantId, onDone, f }: { tenantId: string; onDone: () => void; f: Formatter }) {
  const t = useT();
  const queryClient = useQueryClient();
  const key = ['admin', 'tenants', tenantId, 'limits'];
  const limits = useQuery({
    queryKey: key,
    queryFn: () =>
      unwrap(api.GET('/api/v1/admin/tenants/{id}/limits', { params: { path: { id: tenantId } } })),
  });
  if (limits.isPending) return <SectionLoader />;
  if (limits.isError) return <ErrorAlert error={limits.error} onRetry={() => limits.refetch()} />;
  return (
    <LimitsEditor
      initial={limits.data}
      tenantId={tenantId}
      f={f}
      onSaved={(saved) => {
        queryClient.setQueryData(key, saved);
        notifications.show({ color: 'green', message: t('state.saved') });
        onDone();
      }}
      onCancel={onDone}
    />
  );
}

type Limits = ResponseOf<'/api/v1/admin/tenants/{id}/limits', 'get'>;

function LimitsEditor({
  initial,
  tenantId,
  f,
  onSaved,
  onCancel,
}: {
  initial: Limits;
  tenantId: string;
  f: Formatter;
  onSaved: (limits: Limits) => void;
  onCancel: () => void;
}) {
  const t = useT();
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const check = (field: LimitField) => (v: number | string | null) => {
    if (v === null || v === '') return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) return t('workspace.tenants.limitPositive');
    return n > LIMIT_MAX[field] ? t('workspace.tenants.limitMax', { max: f.number(LIMIT_MAX[field]) }) : null;
  };
  const form = useForm({
    mode: 'controlled',
    initialValues: {
      maxExportRows: initial.maxExportRows as number | string | null,
      maxExportBytes: initial.maxExportBytes as number | string | null,
      maxRunSeconds: initial.maxRunSeconds as number | string | null,
    },
    validate: {
      maxExportRows: check('maxExportRows'),
      maxExportBytes: check('maxExportBytes'),
      maxRunSeconds: check('maxRunSeconds'),
    },
  });
  const toLimit = (v: number | string | null) => (v === null || v === '' ? null : Number(v));
  const save = useMutation({
    mutationFn: (v: typeof form.values) =>
      unwrap(
        api.PUT('/api/v1/admin/tenants/{id}/limits', {
          params: { path: { id: tenantId } },
          body: {
            maxExportRows: toLimit(v.maxExportRows),
            maxExportBytes: toLimit(v.maxExportBytes),
            maxRunSeconds: toLimit(v.maxRunSeconds),
          },
        }),
      ),
    onMutate: () => setUnmatched([]),
    onSuccess: onSaved,
    onError: (error) => setUnmatched(problemMessages(form, error)),
  });
  const field = (name: LimitField, label: string, show: (n: number) => string) => {
    const value = form.values[name];
    const own = value !== null && value !== '';
    return (
      <NumberInput
        label={label}
        description={
          own
            ? t('workspace.tenants.limitOwn', { value: show(Number(value)) })
            : t('workspace.tenants.limitDefault', { value: show(initial.effective[name]) })
        }
        placeholder={t('workspace.tenants.instanceDefault', { value: f.number(initial.effective[name]) })}
        min={1}
        max={LIMIT_MAX[name]}
        allowDecimal={false}
        clampBehavior="none"
        allowNegative={false}
        thousandSeparator={f.locale.startsWith('de') ? '.' : ','}
        decimalSeparator={f.locale.startsWith('de') ? ',' : '.'}
        {...form.getInputProps(name)}
      />
    );
  };
  return (
    <form onSubmit={form.onSubmit((v) => save.mutate(v))} noValidate>
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          {t('workspace.tenants.limitsHelp')}
        </Text>
        <FormErrors messages={unmatched} />
        {field('maxExportRows', t('workspace.tenants.maxRows'), (n) => f.number(n))}
        {field('maxExportBytes', t('workspace.tenants.maxBytes'), (n) => f.bytes(n))}
        {field('maxRunSeconds', t('workspace.tenants.maxSeconds'), (n) => f.duration(n * 1000))}
        <Group justify="space-between" mt="sm">
          <Button
            variant="subtle"
            onClick={() => form.setValues({ maxExportRows: null, maxExportBytes: null, maxRunSeconds: null })}
          >
            {t('workspace.tenants.useDefaults')}
          </Button>
          <Group gap="xs">
            <Button variant="default" onClick={onCancel}>
              {t('action.cancel')}
            </Button>
            <Button type="submit" loading={save.isPending}>
              {t('action.save')}
            </Button>
          </Group>
        </Group>
      </Stack>
    </form>
  );
}

function CreateTenantModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (created: Created) => void;
}) {
  const t = useT();
  const queryClient = useQueryClient();
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const form = useForm({
    mode: 'controlled',
    initialValues: { name: '', ownerEmail: '', ownerName: '', ownerPassword: '' },
    validate: {
      name: (v) => (!v.trim() ? t('field.required') : v.length > 200 ? t('workspace.field.tooLong') : null),
      ownerEmail: (v) =>
        !v.trim() ? t('field.required') : EMAIL.test(v.trim()) ? null : t('workspace.field.emailInvalid'),
      ownerPassword: (v) => (v && v.length < 8 ? t('workspace.tenants.passwordShort') : null),
    },
  });
  const create = useMutation({
    mutationFn: (v: typeof form.values) =>
      unwrap(
        api.POST('/api/v1/admin/tenants', {
          body: {
            name: v.name.trim(),
            ownerEmail: v.ownerEmail.trim(),
            ...(v.ownerName.trim() ? { ownerName: v.ownerName.trim() } : {}),
            ...(v.ownerPassword ? { ownerPassword: v.ownerPassword } : {}),
          },
        }),
      ),
    onMutate: () => setUnmatched([]),
    onSuccess: (result, v) => {
      form.reset();
      onCreated({ ...result, name: v.name.trim(), email: v.ownerEmail.trim() });
      return queryClient.invalidateQueries({ queryKey: TENANTS });
    },
    // The server names the owner's password `password` (it is shared with the first-run setup).
    onError: (error) => setUnmatched(problemMessages(form, error, { password: 'ownerPassword' })),
  });
  return (
    <Modal opened={opened} onClose={onClose} title={t('workspace.tenants.createTitle')} centered>
      <form onSubmit={form.onSubmit((v) => create.mutate(v))} noValidate>
        <Stack gap="sm">
          <FormErrors messages={unmatched} />
          <TextInput
            label={t('workspace.tenants.name')}
            required
            data-autofocus
            {...form.getInputProps('name')}
          />
          <TextInput
            label={t('workspace.tenants.ownerEmail')}
            description={t('workspace.tenants.ownerEmailHelp')}
            type="email"
            autoComplete="off"
            required
            {...form.getInputProps('ownerEmail')}
          />
          <TextInput label={t('workspace.tenants.ownerName')} {...form.getInputProps('ownerName')} />
          <PasswordInput
            label={t('workspace.tenants.ownerPassword')}
            description={t('workspace.tenants.ownerPasswordHelp')}
            autoComplete="new-password"
            {...form.getInputProps('ownerPassword')}
          />
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('action.cancel')}
            </Button>
            <Button type="submit" loading={create.isPending}>
              {t('workspace.tenants.createSubmit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
