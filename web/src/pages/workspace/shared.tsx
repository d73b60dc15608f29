import '@mantine/dates/styles.css';
import 'dayjs/locale/de';
import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';
import { DatesProvider } from '@mantine/dates';
import type { UseFormReturnType } from '@mantine/form';
import { useInfiniteQuery } from '@tanstack/react-query';
import { type ReactNode, useMemo } from 'react';
import { ApiError, errorMessage } from '../../api/client';
import type { Me } from '../../app/session';
import { applyProblem } from '../../components/forms';
import { useI18n, useT } from '../../i18n';

export type Role = Me['role'];

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };
export const ROLES: Role[] = ['owner', 'admin', 'editor', 'viewer'];

/** Whether a holder of `mine` may grant or act on `other` (no one hands out more than they hold). */
export function roleCovers(mine: Role, other: Role): boolean {
  return RANK[mine] >= RANK[other];
}

/** The roles the caller may give to a member, an invitation or a key, highest first. */
export function grantableRoles(mine: Role): Role[] {
  return ROLES.filter((r) => roleCovers(mine, r));
}

/** Role choices for a Select, each with what the role may do. */
export function useRoleOptions(mine: Role) {
  const t = useT();
  return grantableRoles(mine).map((r) => ({ value: r, label: t(`role.${r}`) }));
}

/** How date pickers show a day: 31.03.2026 in German, 31 Mar 2026 in English. */
export function useDateFormat(): string {
  return useI18n().language === 'de' ? 'DD.MM.YYYY' : 'D MMM YYYY';
}

/** Date pickers in the user's language, Monday first. */
export function LocalDates({ children }: { children: ReactNode }) {
  const { language } = useI18n();
  return <DatesProvider settings={{ locale: language, firstDayOfWeek: 1 }}>{children}</DatesProvider>;
}

/**
 * A secret shown once (an API key): the value, a copy button and a plain
 * warning that it will not be shown again. Closes only by its button.
 */
export function SecretOnceModal({
  opened,
  title,
  secret,
  intro,
  children,
  onClose,
}: {
  opened: boolean;
  title: string;
  secret: string;
  intro?: ReactNode;
  children?: ReactNode;
  onClose: () => void;
}) {
  const t = useT();
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={title}
      centered
      size="lg"
      closeOnClickOutside={false}
      closeOnEscape={false}
      withCloseButton={false}
    >
      <Stack gap="md">
        {intro ? <Text size="sm">{intro}</Text> : null}
        <Alert
          color="orange"
          role="alert"
          title={t('workspace.secret.onceTitle')}
          // Orange words on the light orange background miss 4.5:1 contrast.
          styles={{ title: { color: 'var(--mantine-color-text)' } }}
        >
          {t('workspace.secret.onceText')}
        </Alert>
        <Code
          block
          data-testid="api-key-secret"
          aria-label={t('workspace.secret.label')}
          style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}
        >
          {secret}
        </Code>
        {children}
        <Group justify="space-between">
          <CopyButton value={secret}>
            {({ copied, copy }) => (
              <Button variant={copied ? 'filled' : 'light'} color={copied ? 'teal' : 'blue'} onClick={copy}>
                {copied ? t('action.copied') : t('workspace.secret.copy')}
              </Button>
            )}
          </CopyButton>
          <Button variant="default" onClick={onClose}>
            {t('workspace.secret.done')}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** A copy button for a value shown in a row (a link, an id). */
export function CopyValue({ value, label }: { value: string; label: string }) {
  const t = useT();
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Button size="xs" variant="light" color={copied ? 'teal' : 'blue'} onClick={copy} aria-label={label}>
          {copied ? t('action.copied') : t('action.copy')}
        </Button>
      )}
    </CopyButton>
  );
}

interface PageOf<T> {
  items: T[];
  nextCursor: string | null;
}

/** A cursor-paged list: its items so far, and whether and how to load more. */
export function usePagedList<T>(
  queryKey: readonly unknown[],
  fetchPage: (cursor: string | undefined) => Promise<PageOf<T>>,
  enabled = true,
) {
  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled,
  });
  const items = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);
  return { query, items };
}

/** "Load more" under a paged list, while there is more. */
export function LoadMore({
  query,
}: {
  query: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => unknown };
}) {
  const t = useT();
  if (!query.hasNextPage) return null;
  return (
    <Group justify="center" mt="md">
      <Button variant="default" loading={query.isFetchingNextPage} onClick={() => query.fetchNextPage()}>
        {t('action.loadMore')}
      </Button>
    </Group>
  );
}

/**
 * Puts an API error's field errors next to the form's fields; returns what to
 * show above the form: the errors that match no field, or the problem's detail
 * when it names no field.
 */
export function problemMessages<T extends Record<string, unknown>>(
  form: UseFormReturnType<T>,
  error: unknown,
  aliases: Record<string, string> = {},
): string[] {
  const rest = applyProblem(form, error, aliases);
  if (error instanceof ApiError && error.errors.length > 0) return rest;
  return [errorMessage(error)];
}

/** The API's messages that belong to no field of the form, above it. */
export function FormErrors({ messages }: { messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <Alert color="red" role="alert">
      {messages.map((m) => (
        <div key={m}>{m}</div>
      ))}
    </Alert>
  );
}
