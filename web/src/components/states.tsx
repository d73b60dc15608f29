import { Alert, Button, Center, Group, Loader, Stack, Text, Title, VisuallyHidden } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError, errorMessage } from '../api/client';
import { useT } from '../i18n';

/** A spinner for a whole page while its data loads. */
export function FullPageLoader() {
  const t = useT();
  return (
    <Center h="60vh" role="status" aria-live="polite">
      <Stack align="center" gap="xs">
        <Loader />
        <Text c="dimmed" size="sm">
          {t('state.loading')}
        </Text>
      </Stack>
    </Center>
  );
}

/** A loader inside a page section. */
export function SectionLoader() {
  const t = useT();
  return (
    <Center py="xl" role="status" aria-live="polite">
      {/* A Loader is a plain span: the words are for screen readers, not an aria-label on it. */}
      <Loader size="sm" />
      <VisuallyHidden>{t('state.loading')}</VisuallyHidden>
    </Center>
  );
}

/** The error of a request in words: the API's detail, its request id, and a retry button. */
export function ErrorAlert({
  error,
  onRetry,
  title,
}: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}) {
  const t = useT();
  const problem = error instanceof ApiError ? error : undefined;
  return (
    <Alert color="red" title={title ?? problem?.title ?? t('state.error')} role="alert">
      <Stack gap="xs">
        <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
          {errorMessage(error)}
        </Text>
        {problem?.retryAfter ? (
          <Text size="sm">{t('error.retryAfter', { seconds: problem.retryAfter })}</Text>
        ) : null}
        {problem?.requestId ? (
          <Text size="xs" c="dimmed">
            {t('error.requestId', { id: problem.requestId })}
          </Text>
        ) : null}
        {onRetry ? (
          <Group>
            <Button size="xs" variant="light" color="red" onClick={onRetry}>
              {t('action.retry')}
            </Button>
          </Group>
        ) : null}
      </Stack>
    </Alert>
  );
}

/** A page whose main request failed: a 404 reads as "not found", anything else as the error. */
export function FullPageError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (error instanceof ApiError && error.status === 404) return <NotFoundState />;
  return (
    <Center py="xl">
      <div style={{ maxWidth: 640, width: '100%' }}>
        <ErrorAlert error={error} {...(onRetry ? { onRetry } : {})} />
      </div>
    </Center>
  );
}

export function NotFoundState() {
  const t = useT();
  return (
    <Center py="xl">
      <Stack align="center" gap="sm" maw={520}>
        <Title order={2}>{t('state.notFound')}</Title>
        <Text c="dimmed" ta="center">
          {t('state.notFoundText')}
        </Text>
        <Button component={Link} to="/" variant="light">
          {t('nav.reports')}
        </Button>
      </Stack>
    </Center>
  );
}

/** What an empty list says, with what to do next. */
export function EmptyState({
  title,
  text,
  children,
}: {
  title: string;
  text?: string;
  children?: ReactNode;
}) {
  return (
    <Center py="xl">
      <Stack align="center" gap="sm" maw={560}>
        <Title order={3} ta="center">
          {title}
        </Title>
        {text ? (
          <Text c="dimmed" ta="center">
            {text}
          </Text>
        ) : null}
        {children ? <Group justify="center">{children}</Group> : null}
      </Stack>
    </Center>
  );
}
