import { Anchor, Button, Card, Group, Stack, Table, Text, VisuallyHidden } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { Link, useParams, useSearchParams } from 'react-router';
import { PageHeader } from '../../components/PageHeader';
import { StatusBadge } from '../../components/StatusBadge';
import {
  EmptyState,
  ErrorAlert,
  FullPageError,
  FullPageLoader,
  SectionLoader,
} from '../../components/states';
import { useFormat, ZonedTime } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { type Run, type Schedule, useSchedule, useScheduleRuns } from './api';
import { RunStartedPanel, ScheduleActions, ScheduleTabs } from './ScheduleActions';

/** /schedules/:id/history: the schedule's runs, newest first; ?cursor= pages on. */
export function HistoryPage() {
  const { id = '' } = useParams();
  const t = useT();
  const schedule = useSchedule(id);
  if (schedule.isPending) return <FullPageLoader />;
  if (schedule.isError) return <FullPageError error={schedule.error} onRetry={() => schedule.refetch()} />;
  return (
    <>
      <PageHeader
        title={schedule.data.name}
        description={schedule.data.description}
        crumbs={[{ label: t('nav.schedules'), to: '/schedules' }]}
        actions={<ScheduleActions schedule={schedule.data} />}
      />
      <ScheduleTabs id={id} current="history" />
      <RunStartedPanel />
      <RunList schedule={schedule.data} />
    </>
  );
}

function RunList({ schedule }: { schedule: Schedule }) {
  const t = useT();
  const [search, setSearch] = useSearchParams();
  const cursor = search.get('cursor') ?? undefined;
  const runs = useScheduleRuns(schedule.id, cursor);
  const narrow = useMediaQuery('(max-width: 48em)');
  if (runs.isPending) return <SectionLoader />;
  if (runs.isError) return <ErrorAlert error={runs.error} onRetry={() => runs.refetch()} />;
  const page = (next: string | null) => {
    const params = new URLSearchParams(search);
    if (next) params.set('cursor', next);
    else params.delete('cursor');
    setSearch(params);
  };
  if (runs.data.items.length === 0)
    return (
      <EmptyState title={t('schedules.history.empty')} text={t('schedules.history.emptyText')}>
        {cursor ? (
          <Button variant="light" onClick={() => page(null)}>
            {t('schedules.history.newest')}
          </Button>
        ) : null}
      </EmptyState>
    );
  return (
    <Stack gap="md">
      {narrow ? (
        <Stack gap="sm">
          {runs.data.items.map((r) => (
            <RunCard key={r.id} run={r} zone={schedule.timezone} />
          ))}
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('schedules.history.status')}</Table.Th>
                <Table.Th>{t('schedules.history.scheduledFor')}</Table.Th>
                <Table.Th>{t('schedules.history.trigger')}</Table.Th>
                <Table.Th>{t('schedules.history.duration')}</Table.Th>
                <Table.Th>{t('schedules.history.rows')}</Table.Th>
                <Table.Th>{t('schedules.history.size')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {runs.data.items.map((r) => (
                <RunRow key={r.id} run={r} zone={schedule.timezone} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Group gap="sm">
        {cursor ? (
          <Button variant="default" onClick={() => page(null)}>
            {t('schedules.history.newest')}
          </Button>
        ) : null}
        {runs.data.nextCursor ? (
          <Button variant="default" onClick={() => page(runs.data.nextCursor)} loading={runs.isFetching}>
            {t('schedules.history.older')}
          </Button>
        ) : null}
      </Group>
    </Stack>
  );
}

function When({ run, zone }: { run: Run; zone: string }) {
  // A manual run has no scheduled time: when it was started, in the schedule's zone.
  return <ZonedTime iso={run.scheduledFor ?? run.createdAt} zone={zone} relative={false} />;
}

function RunRow({ run, zone }: { run: Run; zone: string }) {
  const t = useT();
  const f = useFormat();
  return (
    <Table.Tr data-run={run.id}>
      <Table.Td>
        <Anchor component={Link} to={`/runs/${run.id}`}>
          <VisuallyHidden>{t('schedules.history.open')} </VisuallyHidden>
          <StatusBadge status={run.status} size="sm" />
        </Anchor>
      </Table.Td>
      <Table.Td>
        <When run={run} zone={zone} />
      </Table.Td>
      <Table.Td>
        <Text size="sm">{t(`schedules.trigger.${run.trigger}` as MessageKey)}</Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm">{f.duration(run.durationMs)}</Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm">{run.rowCount === null ? '–' : f.number(run.rowCount)}</Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm">{f.bytes(run.fileSize)}</Text>
      </Table.Td>
    </Table.Tr>
  );
}

function RunCard({ run, zone }: { run: Run; zone: string }) {
  const t = useT();
  const f = useFormat();
  return (
    <Card withBorder padding="sm" data-run={run.id}>
      <Stack gap={6}>
        <Group justify="space-between" wrap="nowrap">
          <Anchor component={Link} to={`/runs/${run.id}`}>
            <VisuallyHidden>{t('schedules.history.open')} </VisuallyHidden>
            <StatusBadge status={run.status} size="sm" />
          </Anchor>
          <Text size="xs" c="dimmed">
            {t(`schedules.trigger.${run.trigger}` as MessageKey)}
          </Text>
        </Group>
        <When run={run} zone={zone} />
        <Text size="xs" c="dimmed">
          {[
            f.duration(run.durationMs),
            run.rowCount === null ? null : t('schedules.history.rowCount', { count: f.number(run.rowCount) }),
            run.fileSize === null ? null : f.bytes(run.fileSize),
          ]
            .filter(Boolean)
            .join(' · ')}
        </Text>
      </Stack>
    </Card>
  );
}
