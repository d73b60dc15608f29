import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  Spoiler,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, errorMessage, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { type Run, runKey } from '../../components/run-live';
import { useFormat } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { TYPE_ICON, typeLabel } from '../destinations/shared';
import type { RunItem } from './shared';

type Delivery = Run['deliveries'][number];

// A delivery's status: icon, colour and word; a failed one is never shown by colour alone.
const LOOK: Record<Delivery['status'], { color: string; icon: string }> = {
  queued: { color: 'gray', icon: '◷' },
  sending: { color: 'blue', icon: '▶' },
  succeeded: { color: 'green', icon: '✓' },
  failed: { color: 'red', icon: '✕' },
};

export function DeliveryBadge({ status }: { status: Delivery['status'] }) {
  const t = useT();
  const look = LOOK[status];
  return (
    <Badge
      color={look.color}
      variant="light"
      c="var(--mantine-color-text)"
      size="sm"
      leftSection={<span aria-hidden="true">{look.icon}</span>}
      data-delivery-status={status}
    >
      {t(`deliveries.status.${status}` as MessageKey)}
    </Badge>
  );
}

/** "2 ✓ 1 ✗" in the runs list, with the words for screen readers and in the tooltip. */
export function DeliveryCount({ summary }: { summary: RunItem['deliverySummary'] }) {
  const t = useT();
  if (summary.total === 0)
    return (
      <Text size="sm" c="dimmed">
        –
      </Text>
    );
  const words = t('deliveries.count', {
    ok: summary.succeeded,
    failed: summary.failed,
    pending: summary.pending,
  });
  return (
    <Tooltip label={words} withArrow>
      <Text
        size="sm"
        component="span"
        aria-label={words}
        data-testid="delivery-count"
        style={{ whiteSpace: 'nowrap' }}
      >
        {summary.succeeded} ✓{summary.failed > 0 ? ` ${summary.failed} ✗` : ''}
        {summary.pending > 0 ? ` ${summary.pending} ◷` : ''}
      </Text>
    </Tooltip>
  );
}

/** "File ready · 2 of 3 destinations delivered", with Retry failed deliveries (same file, no new query). */
export function PartlyDelivered({ run }: { run: Run }) {
  const t = useT();
  const canWrite = useCan('runs:write');
  const retry = useRetry(run);
  const failed = run.deliveries.filter((d) => d.status === 'failed');
  const { succeeded, total } = run.deliverySummary;
  return (
    <Alert
      color="orange"
      title={t('deliveries.summary', { succeeded, total })}
      styles={{ title: { color: 'var(--mantine-color-text)' } }}
      data-testid="run-partly-delivered"
    >
      <Stack gap="xs">
        <Text size="sm">{t('deliveries.summaryText')}</Text>
        {canWrite && failed.length > 0 ? (
          <Group>
            <Button
              size="xs"
              variant="light"
              color="orange"
              c="var(--mantine-color-text)"
              loading={retry.isPending}
              onClick={() => retry.mutate(failed.map((d) => d.id))}
            >
              {t('deliveries.retryFailed')}
            </Button>
          </Group>
        ) : null}
      </Stack>
    </Alert>
  );
}

function useRetry(run: Run) {
  const t = useT();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (ids: string[]) => {
      for (const deliveryId of ids)
        await unwrap(
          api.POST('/api/v1/runs/{id}/deliveries/{deliveryId}/retry', {
            params: { path: { id: run.id, deliveryId } },
          }),
        );
    },
    onSuccess: () => {
      notifications.show({ color: 'green', message: t('deliveries.retried') });
      void queryClient.invalidateQueries({ queryKey: runKey(run.id) });
      void queryClient.invalidateQueries({ queryKey: ['runs'] });
    },
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });
}

function When({ d }: { d: Delivery }) {
  const t = useT();
  const f = useFormat();
  const time = (iso: string) => f.dateTime(iso, undefined, true);
  return (
    <Stack gap={0}>
      {d.startedAt ? (
        <Text size="xs">{t('deliveries.started', { time: time(d.startedAt) })}</Text>
      ) : (
        <Text size="xs">{t('deliveries.queuedAt', { time: time(d.createdAt) })}</Text>
      )}
      {d.finishedAt ? <Text size="xs">{t('deliveries.finished', { time: time(d.finishedAt) })}</Text> : null}
      {d.nextAttemptAt && d.status === 'queued' ? (
        <Text size="xs">{t('deliveries.nextAttempt', { time: time(d.nextAttemptAt) })}</Text>
      ) : null}
    </Stack>
  );
}

function Answer({ d }: { d: Delivery }) {
  const t = useT();
  const details = d.receipt && Object.keys(d.receipt.details).length > 0 ? d.receipt.details : null;
  return (
    <Stack gap={4}>
      {d.receipt ? (
        <Text size="sm" style={{ overflowWrap: 'anywhere' }} data-testid="delivery-receipt">
          {d.receipt.summary}
        </Text>
      ) : null}
      {d.error ? (
        <Text
          size="sm"
          c="var(--mantine-color-error)"
          style={{ overflowWrap: 'anywhere' }}
          data-testid="delivery-error"
        >
          {d.error}
        </Text>
      ) : null}
      {d.status === 'failed' && d.attempts >= d.maxAttempts ? (
        <Text size="xs" c="dimmed">
          {t('deliveries.gaveUp', { n: d.attempts })}
        </Text>
      ) : null}
      {details ? (
        <Spoiler maxHeight={0} showLabel={t('deliveries.details')} hideLabel={t('action.close')}>
          <Code block>{JSON.stringify(details, null, 2)}</Code>
        </Spoiler>
      ) : null}
      {!d.receipt && !d.error ? (
        <Text size="sm" c="dimmed">
          –
        </Text>
      ) : null}
    </Stack>
  );
}

/** Each destination of the run: status, attempts "2 of 5", timings, the peer's answer or the error, Retry. */
export function DeliveriesSection({ run }: { run: Run }) {
  const t = useT();
  const canWrite = useCan('runs:write');
  const retry = useRetry(run);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="run-deliveries-title">
      <Title order={2} size="h4" mb="sm" id="run-deliveries-title">
        {t('deliveries.title')}
      </Title>
      <Table.ScrollContainer minWidth={760}>
        <Table verticalSpacing="xs" aria-labelledby="run-deliveries-title">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('deliveries.col.destination')}</Table.Th>
              <Table.Th>{t('deliveries.col.status')}</Table.Th>
              <Table.Th>{t('deliveries.col.attempts')}</Table.Th>
              <Table.Th>{t('deliveries.col.when')}</Table.Th>
              <Table.Th>{t('deliveries.col.answer')}</Table.Th>
              {canWrite ? (
                <Table.Th>
                  <VisuallyHidden>{t('deliveries.retry')}</VisuallyHidden>
                </Table.Th>
              ) : null}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {run.deliveries.map((d) => (
              <Table.Tr key={d.id} data-delivery={d.destinationName} data-status={d.status}>
                <Table.Td>
                  {d.destinationId ? (
                    <Anchor component={Link} to={`/destinations/${d.destinationId}`} size="sm">
                      {d.destinationName}
                    </Anchor>
                  ) : (
                    <Text size="sm">
                      {d.destinationName} {t('deliveries.deleted')}
                    </Text>
                  )}
                  <Text size="xs" c="dimmed">
                    <span aria-hidden="true">
                      {TYPE_ICON[d.destinationType as keyof typeof TYPE_ICON] ?? ''}{' '}
                    </span>
                    {typeLabel(t, d.destinationType)}
                  </Text>
                </Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  <DeliveryBadge status={d.status} />
                </Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  <Text size="sm" data-testid="delivery-attempts">
                    {t('deliveries.attempts', { n: d.attempts, max: d.maxAttempts })}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <When d={d} />
                </Table.Td>
                <Table.Td>
                  <Answer d={d} />
                </Table.Td>
                {canWrite ? (
                  <Table.Td>
                    {d.status === 'failed' ? (
                      <Button
                        size="xs"
                        variant="light"
                        loading={retry.isPending && retry.variables?.includes(d.id)}
                        onClick={() => retry.mutate([d.id])}
                        aria-label={t('deliveries.retryLabel', { name: d.destinationName })}
                      >
                        {t('deliveries.retry')}
                      </Button>
                    ) : null}
                  </Table.Td>
                ) : null}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}
