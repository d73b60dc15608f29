import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Modal,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, errorMessage, type ResponseOf, unwrap } from '../../api/client';
import { useCan, useSession } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { PageHeader } from '../../components/PageHeader';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { useT } from '../../i18n';
import {
  CopyValue,
  FormErrors,
  LoadMore,
  problemMessages,
  type Role,
  roleCovers,
  usePagedList,
  useRoleOptions,
} from './shared';

type Member = ResponseOf<'/api/v1/members', 'get'>['items'][number];
type Invitation = ResponseOf<'/api/v1/invitations', 'get'>['items'][number];
type CreatedInvitation = ResponseOf<'/api/v1/members', 'post'>;

const MEMBERS = ['workspace', 'members'] as const;
const INVITATIONS = ['workspace', 'invitations', 'pending'] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function MembersPage() {
  const t = useT();
  const write = useCan('members:write');
  const [inviting, setInviting] = useState(false);
  const [invited, setInvited] = useState<CreatedInvitation | null>(null);
  return (
    <>
      <PageHeader
        title={t('nav.members')}
        description={t('workspace.members.description')}
        actions={
          write ? <Button onClick={() => setInviting(true)}>{t('workspace.members.invite')}</Button> : null
        }
      />
      {write ? null : <ReadOnlyNotice />}
      <MembersTable write={write} />
      <InvitationsSection write={write} />
      <InviteModal
        opened={inviting}
        onClose={() => setInviting(false)}
        onInvited={(created) => {
          setInviting(false);
          setInvited(created);
        }}
      />
      <InvitedModal invitation={invited} onClose={() => setInvited(null)} />
    </>
  );
}

function MembersTable({ write }: { write: boolean }) {
  const t = useT();
  const f = useFormat();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const [problem, setProblem] = useState<unknown>(null);
  const { query, items } = usePagedList(MEMBERS, (cursor) =>
    unwrap(api.GET('/api/v1/members', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
  );
  const roleOptions = useRoleOptions(me.role);
  const changeRole = useMutation({
    mutationFn: (v: { id: string; role: Role }) =>
      unwrap(api.PATCH('/api/v1/members/{id}', { params: { path: { id: v.id } }, body: { role: v.role } })),
    onMutate: () => setProblem(null),
    onSuccess: (member) => {
      notifications.show({
        color: 'green',
        message: t('workspace.members.roleChanged', { name: member.name || member.email }),
      });
      return queryClient.invalidateQueries({ queryKey: MEMBERS });
    },
    onError: (error) => setProblem(error),
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/v1/members/{id}', { params: { path: { id } } })),
    onMutate: () => setProblem(null),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: MEMBERS }),
    onError: (error) => setProblem(error),
  });

  if (query.isPending) return <SectionLoader />;
  if (query.isError) return <ErrorAlert error={query.error} onRetry={() => query.refetch()} />;

  const manageable = (m: Member) => write && roleCovers(me.role, m.role);
  return (
    <Stack gap="xs">
      {problem ? (
        <Alert
          color="red"
          role="alert"
          title={t('workspace.members.changeFailed')}
          withCloseButton
          closeButtonLabel={t('action.close')}
          onClose={() => setProblem(null)}
        >
          {errorMessage(problem)}
        </Alert>
      ) : null}
      <Table.ScrollContainer minWidth={640}>
        <Table verticalSpacing="sm" aria-label={t('nav.members')}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('workspace.members.member')}</Table.Th>
              <Table.Th>{t('workspace.field.role')}</Table.Th>
              <Table.Th>{t('workspace.members.joined')}</Table.Th>
              {write ? (
                <Table.Th>
                  <VisuallyHidden>{t('workspace.field.actions')}</VisuallyHidden>
                </Table.Th>
              ) : null}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((m) => {
              const you = m.id === me.user?.id;
              const who = m.name || m.email;
              return (
                <Table.Tr key={m.id}>
                  <Table.Td>
                    <Group gap={6} wrap="nowrap">
                      <Text size="sm" fw={500}>
                        {m.name || m.email}
                      </Text>
                      {you ? (
                        <Badge size="xs" variant="light">
                          {t('workspace.members.you')}
                        </Badge>
                      ) : null}
                    </Group>
                    {m.name ? (
                      <Text size="xs" c="dimmed">
                        {m.email}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    {manageable(m) ? (
                      <Select
                        size="xs"
                        w={150}
                        aria-label={t('workspace.members.roleOf', { name: who })}
                        data={roleOptions}
                        value={m.role}
                        allowDeselect={false}
                        disabled={changeRole.isPending && changeRole.variables?.id === m.id}
                        onChange={(role) =>
                          role && role !== m.role && changeRole.mutate({ id: m.id, role: role as Role })
                        }
                      />
                    ) : (
                      <Badge variant="light" color={m.role === 'owner' ? 'grape' : 'gray'}>
                        {t(`role.${m.role}`)}
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{f.date(m.joinedAt)}</Text>
                  </Table.Td>
                  {write ? (
                    <Table.Td>
                      {manageable(m) ? (
                        <ConfirmButton
                          size="xs"
                          aria-label={t('workspace.members.removeNamed', { name: who })}
                          title={t('workspace.members.removeTitle', { name: who })}
                          text={
                            you ? t('workspace.members.removeSelfText') : t('workspace.members.removeText')
                          }
                          confirmLabel={t('workspace.members.remove')}
                          loading={remove.isPending}
                          onConfirm={() => remove.mutateAsync(m.id).catch(() => undefined)}
                        >
                          {t('workspace.members.remove')}
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

function deliveryText(t: ReturnType<typeof useT>, inv: Invitation): { text: string; color: string } {
  switch (inv.emailDelivery.status) {
    case 'sent':
      return { text: t('workspace.invitations.mailSent'), color: 'green' };
    case 'failed':
      return { text: t('workspace.invitations.mailFailed'), color: 'red' };
    case 'not_configured':
      return { text: t('workspace.invitations.mailOff'), color: 'gray' };
    default:
      return { text: t('workspace.invitations.mailPending'), color: 'blue' };
  }
}

function InvitationsSection({ write }: { write: boolean }) {
  const t = useT();
  const f = useFormat();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const { query, items } = usePagedList(INVITATIONS, (cursor) =>
    unwrap(
      api.GET('/api/v1/invitations', {
        params: { query: { status: 'pending', limit: 100, ...(cursor ? { cursor } : {}) } },
      }),
    ),
  );
  const withdraw = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/v1/invitations/{id}', { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: INVITATIONS }),
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });
  return (
    <Stack gap="xs" mt="xl">
      <Title order={2} size="h3">
        {t('workspace.invitations.title')}
      </Title>
      {query.isPending ? (
        <SectionLoader />
      ) : query.isError ? (
        <ErrorAlert error={query.error} onRetry={() => query.refetch()} />
      ) : items.length === 0 ? (
        <Text c="dimmed" size="sm">
          {write ? t('workspace.invitations.emptyWrite') : t('workspace.invitations.empty')}
        </Text>
      ) : (
        <>
          <Table.ScrollContainer minWidth={720}>
            <Table verticalSpacing="sm" aria-label={t('workspace.invitations.title')}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('workspace.field.email')}</Table.Th>
                  <Table.Th>{t('workspace.field.role')}</Table.Th>
                  <Table.Th>{t('workspace.invitations.invitedBy')}</Table.Th>
                  <Table.Th>{t('workspace.invitations.expires')}</Table.Th>
                  <Table.Th>{t('workspace.invitations.delivery')}</Table.Th>
                  {write ? (
                    <Table.Th>
                      <VisuallyHidden>{t('workspace.field.actions')}</VisuallyHidden>
                    </Table.Th>
                  ) : null}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((inv) => {
                  const mail = deliveryText(t, inv);
                  return (
                    <Table.Tr key={inv.id}>
                      <Table.Td>
                        <Text size="sm">{inv.email}</Text>
                        <Text size="xs" c="dimmed">
                          {t('workspace.invitations.sentAt', { time: f.dateTime(inv.createdAt) })}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{t(`role.${inv.role}`)}</Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{inv.invitedBy.label}</Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{f.dateTime(inv.expiresAt)}</Text>
                        <Text size="xs" c="dimmed">
                          {f.relative(inv.expiresAt)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={mail.color} c="var(--mantine-color-text)">
                          {mail.text}
                        </Badge>
                        {inv.emailDelivery.error ? (
                          <Text size="xs" c="dimmed">
                            {inv.emailDelivery.error}
                          </Text>
                        ) : null}
                      </Table.Td>
                      {write ? (
                        <Table.Td>
                          {roleCovers(me.role, inv.role) ? (
                            <ConfirmButton
                              size="xs"
                              aria-label={t('workspace.invitations.withdrawNamed', { email: inv.email })}
                              title={t('workspace.invitations.withdrawTitle', { email: inv.email })}
                              text={t('workspace.invitations.withdrawText')}
                              confirmLabel={t('workspace.invitations.withdraw')}
                              loading={withdraw.isPending}
                              onConfirm={() => withdraw.mutateAsync(inv.id).catch(() => undefined)}
                            >
                              {t('workspace.invitations.withdraw')}
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
        </>
      )}
    </Stack>
  );
}

function InviteModal({
  opened,
  onClose,
  onInvited,
}: {
  opened: boolean;
  onClose: () => void;
  onInvited: (created: CreatedInvitation) => void;
}) {
  const t = useT();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const roleOptions = useRoleOptions(me.role);
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const form = useForm({
    mode: 'controlled',
    initialValues: { email: '', role: 'viewer' as Role, name: '' },
    validate: {
      email: (v) =>
        !v.trim() ? t('field.required') : EMAIL.test(v.trim()) ? null : t('workspace.field.emailInvalid'),
      role: (v) => (v ? null : t('field.required')),
    },
  });
  const invite = useMutation({
    mutationFn: (v: typeof form.values) =>
      unwrap(
        api.POST('/api/v1/members', {
          body: { email: v.email.trim(), role: v.role, ...(v.name.trim() ? { name: v.name.trim() } : {}) },
        }),
      ),
    onMutate: () => setUnmatched([]),
    onSuccess: (created) => {
      form.reset();
      onInvited(created);
      return queryClient.invalidateQueries({ queryKey: INVITATIONS });
    },
    onError: (error) => {
      // "already a member" belongs next to the address.
      if (error instanceof ApiError && error.status === 409) form.setFieldError('email', error.detail);
      else setUnmatched(problemMessages(form, error));
    },
  });
  return (
    <Modal opened={opened} onClose={onClose} title={t('workspace.members.inviteTitle')} centered>
      <form onSubmit={form.onSubmit((v) => invite.mutate(v))} noValidate>
        <Stack gap="sm">
          <Text size="sm" c="dimmed">
            {t('workspace.members.inviteHelp')}
          </Text>
          <FormErrors messages={unmatched} />
          <TextInput
            label={t('workspace.field.email')}
            type="email"
            autoComplete="off"
            required
            data-autofocus
            {...form.getInputProps('email')}
          />
          <Select
            label={t('workspace.field.role')}
            description={t('workspace.members.roleHelp')}
            data={roleOptions}
            allowDeselect={false}
            required
            {...form.getInputProps('role')}
          />
          <TextInput
            label={t('workspace.members.nameOptional')}
            description={t('workspace.members.nameHelp')}
            {...form.getInputProps('name')}
          />
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('action.cancel')}
            </Button>
            <Button type="submit" loading={invite.isPending}>
              {t('workspace.members.sendInvite')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** After inviting: the link to pass on, whether the e-mail went out, and what the invitee does. */
function InvitedModal({
  invitation,
  onClose,
}: {
  invitation: CreatedInvitation | null;
  onClose: () => void;
}) {
  const t = useT();
  const f = useFormat();
  const inv = invitation;
  const status = inv?.emailDelivery.status;
  return (
    <Modal opened={inv !== null} onClose={onClose} title={t('workspace.invited.title')} centered size="lg">
      {inv ? (
        <Stack gap="sm">
          <Alert
            color={status === 'sent' ? 'green' : status === 'failed' ? 'red' : 'blue'}
            // Green words on the light green background miss 4.5:1 contrast.
            styles={{ title: { color: 'var(--mantine-color-text)' } }}
            title={
              status === 'sent'
                ? t('workspace.invited.sent', { email: inv.email })
                : status === 'failed'
                  ? t('workspace.invited.failed', { email: inv.email })
                  : t('workspace.invited.notSent', { email: inv.email })
            }
          >
            {status === 'failed' && inv.emailDelivery.error ? (
              <Text size="sm">{inv.emailDelivery.error}</Text>
            ) : null}
            <Text size="sm">
              {status === 'sent' ? t('workspace.invited.linkAlso') : t('workspace.invited.passLink')}
            </Text>
          </Alert>
          <Text size="sm" fw={500}>
            {t('workspace.invited.link')}
          </Text>
          <Code
            block
            data-testid="invitation-link"
            style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}
          >
            {inv.acceptUrl}
          </Code>
          <Group>
            <CopyValue value={inv.acceptUrl} label={t('workspace.invited.copyLink')} />
          </Group>
          <Text size="sm">
            {t('workspace.invited.next', {
              role: t(`role.${inv.role}`),
              time: f.dateTime(inv.expiresAt),
            })}
          </Text>
          <Text size="xs" c="dimmed">
            {t('workspace.invited.once')}
          </Text>
          <Group justify="flex-end">
            <Button onClick={onClose}>{t('action.close')}</Button>
          </Group>
        </Stack>
      ) : null}
    </Modal>
  );
}
