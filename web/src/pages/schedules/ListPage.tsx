import {
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { Link, useSearchParams } from 'react-router';
import { errorMessage } from '../../api/client';
import { useCan } from '../../app/session';
import { PageHeader } from '../../components/PageHeader';
import { StatusBadge } from '../../components/StatusBadge';
import { EmptyState, ErrorAlert, FullPageLoader } from '../../components/states';
import { useFormat, ZonedTime } from '../../components/time';
import { useT } from '../../i18n';
import {
  isAutoPaused,
  type ReportItem,
  type Schedule,
  useReportList,
  useScheduleActions,
  useSchedules,
} from './api';
import { RowMenu, RunStartedPanel } from './ScheduleActions';

/** /schedules: every schedule with its sentence, next and last run, health and an active switch. */
export function ListPage() {
  const t = useT();
  const canWrite = useCan('schedules:write');
  const canReadReports = useCan('reports:read');
  const [search, setSearch] = useSearchParams();
  const query = search.get('q') ?? '';
  const schedules = useSchedules();
  const reports = useReportList(canReadReports);
  const narrow = useMediaQuery('(max-width: 48em)');

  const setQuery = (q: string) => {
    const next = new URLSearchParams(search);
    if (q) next.set('q', q);
    else next.delete('q');
    setSearch(next, { replace: true });
  };

  const header = (
    <PageHeader
      title={t('nav.schedules')}
      description={t('schedules.list.description')}
      actions={
        canWrite ? (
          <Button component={Link} to="/schedules/new">
            {t('schedules.new')}
          </Button>
        ) : undefined
      }
    />
  );
  if (schedules.isPending) return <FullPageLoader />;
  if (schedules.isError)
    return (
      <>
        {header}
        <ErrorAlert error={schedules.error} onRetry={() => schedules.refetch()} />
      </>
    );
  const reportById = new Map((reports.data ?? []).map((r) => [r.id, r]));
  const all = schedules.data;
  const needle = query.trim().toLowerCase();
  const shown = needle
    ? all.filter(
        (s) =>
          s.name.toLowerCase().includes(needle) ||
          (reportById.get(s.reportId)?.name.toLowerCase().includes(needle) ?? false),
      )
    : all;

  return (
    <>
      {header}
      <RunStartedPanel />
      {all.length === 0 ? (
        <EmptyState
          title={canWrite ? t('schedules.empty.title') : t('schedules.empty.viewerTitle')}
          text={canWrite ? t('schedules.empty.text') : t('schedules.empty.viewerText')}
        >
          {canWrite ? (
            <>
              <Button component={Link} to="/schedules/new?preset=daily" variant="light">
                {t('schedules.empty.daily')}
              </Button>
              <Button component={Link} to="/schedules/new?preset=weekdays" variant="light">
                {t('schedules.empty.weekdays')}
              </Button>
              <Button component={Link} to="/schedules/new?preset=monthly" variant="light">
                {t('schedules.empty.monthly')}
              </Button>
            </>
          ) : null}
        </EmptyState>
      ) : (
        <Stack gap="md">
          <TextInput
            type="search"
            label={t('action.search')}
            placeholder={t('schedules.list.search')}
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
            maw={420}
          />
          {shown.length === 0 ? (
            <EmptyState title={t('state.noResults')}>
              <Button variant="light" onClick={() => setQuery('')}>
                {t('action.clearFilters')}
              </Button>
            </EmptyState>
          ) : narrow ? (
            <Stack gap="sm">
              {shown.map((s) => (
                <ScheduleCard key={s.id} schedule={s} report={reportById.get(s.reportId)} />
              ))}
            </Stack>
          ) : (
            <Table.ScrollContainer minWidth={960}>
              <Table verticalSpacing="sm" highlightOnHover>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('schedules.field.name')}</Table.Th>
                    <Table.Th>{t('schedules.col.when')}</Table.Th>
                    <Table.Th>{t('schedules.col.next')}</Table.Th>
                    <Table.Th>{t('schedules.col.last')}</Table.Th>
                    <Table.Th>{t('schedules.col.health')}</Table.Th>
                    <Table.Th>{t('schedules.col.active')}</Table.Th>
                    <Table.Th>
                      <VisuallyHidden>{t('schedules.col.actions')}</VisuallyHidden>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {shown.map((s) => (
                    <Table.Tr key={s.id} data-schedule={s.id}>
                      <Table.Td>
                        <NameCell schedule={s} report={reportById.get(s.reportId)} />
                      </Table.Td>
                      <Table.Td maw={260}>
                        <Text size="sm">{s.description}</Text>
                      </Table.Td>
                      <Table.Td>
                        <NextRun schedule={s} />
                      </Table.Td>
                      <Table.Td miw={150}>
                        <LastRun schedule={s} />
                      </Table.Td>
                      <Table.Td miw={120}>
                        <Health schedule={s} />
                      </Table.Td>
                      <Table.Td>
                        <ActiveSwitch schedule={s} />
                      </Table.Td>
                      <Table.Td>
                        <RowMenu schedule={s} />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Stack>
      )}
    </>
  );
}

function NameCell({ schedule, report }: { schedule: Schedule; report: ReportItem | undefined }) {
  const t = useT();
  return (
    <Stack gap={2}>
      <Anchor component={Link} to={`/schedules/${schedule.id}`} fw={500}>
        {schedule.name}
      </Anchor>
      <Group gap={6} wrap="wrap">
        <Text size="xs" c="dimmed">
          {report ? (
            <Anchor component={Link} to={`/reports/${report.id}`} size="xs" c="dimmed">
              {report.name}
            </Anchor>
          ) : (
            t('schedules.list.reportUnknown')
          )}
        </Text>
        <Badge size="xs" variant="outline" color="gray">
          {schedule.format.toUpperCase()}
        </Badge>
      </Group>
    </Stack>
  );
}

function NextRun({ schedule }: { schedule: Schedule }) {
  const t = useT();
  if (!schedule.active)
    return (
      <Text size="sm" c="dimmed">
        {t('schedules.list.pausedNoRun')}
      </Text>
    );
  if (!schedule.nextRunAt)
    return (
      <Text size="sm" c="dimmed">
        {t('schedules.summary.noRuns')}
      </Text>
    );
  return <ZonedTime iso={schedule.nextRunAt} zone={schedule.timezone} />;
}

function LastRun({ schedule }: { schedule: Schedule }) {
  const t = useT();
  const f = useFormat();
  const last = schedule.lastRun;
  if (!last)
    return (
      <Text size="sm" c="dimmed">
        {t('schedules.list.noRunYet')}
      </Text>
    );
  const at = last.finishedAt ?? last.scheduledFor ?? last.createdAt;
  return (
    <Stack gap={2} align="flex-start">
      <Anchor component={Link} to={`/runs/${last.id}`}>
        <VisuallyHidden>{t('schedules.list.lastRunLink', { name: schedule.name })} </VisuallyHidden>
        <StatusBadge status={last.status} size="sm" />
      </Anchor>
      <Tooltip label={f.dateTime(at)}>
        <Text size="xs" c="dimmed" tabIndex={0}>
          {f.relative(at)}
        </Text>
      </Tooltip>
    </Stack>
  );
}

function Health({ schedule }: { schedule: Schedule }) {
  const t = useT();
  if (isAutoPaused(schedule))
    return (
      <Tooltip label={schedule.pausedReason ?? ''} multiline maw={320}>
        <Badge color="orange" variant="light" c="var(--mantine-color-text)" tabIndex={0}>
          {t('schedules.health.autoPaused')}
        </Badge>
      </Tooltip>
    );
  if (schedule.consecutiveFailures > 0)
    return (
      <Badge color="red" variant="light">
        {t('schedules.health.failures', { count: schedule.consecutiveFailures })}
      </Badge>
    );
  if (!schedule.lastRun)
    return (
      <Text size="sm" c="dimmed">
        –
      </Text>
    );
  return (
    <Text size="sm" c="dimmed">
      {t('schedules.health.ok')}
    </Text>
  );
}

function ActiveSwitch({ schedule }: { schedule: Schedule }) {
  const t = useT();
  const canWrite = useCan('schedules:write');
  const { setActive } = useScheduleActions();
  const checked = setActive.isPending ? (setActive.variables?.active ?? schedule.active) : schedule.active;
  return (
    <Switch
      checked={checked}
      disabled={!canWrite || setActive.isPending}
      aria-label={t('schedules.list.activeLabel', { name: schedule.name })}
      label={checked ? t('schedules.state.active') : t('schedules.state.paused')}
      onChange={(e) =>
        setActive.mutate(
          { id: schedule.id, active: e.currentTarget.checked },
          { onError: (err) => notifications.show({ color: 'red', message: errorMessage(err) }) },
        )
      }
    />
  );
}

function ScheduleCard({ schedule, report }: { schedule: Schedule; report: ReportItem | undefined }) {
  const t = useT();
  return (
    <Card withBorder padding="sm" data-schedule={schedule.id}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <NameCell schedule={schedule} report={report} />
          <RowMenu schedule={schedule} />
        </Group>
        <Text size="sm">{schedule.description}</Text>
        <div>
          <Text size="xs" c="dimmed">
            {t('schedules.col.next')}
          </Text>
          <NextRun schedule={schedule} />
        </div>
        <Group justify="space-between" wrap="wrap" gap="xs">
          <div>
            <Text size="xs" c="dimmed">
              {t('schedules.col.last')}
            </Text>
            <LastRun schedule={schedule} />
          </div>
          <Health schedule={schedule} />
        </Group>
        <ActiveSwitch schedule={schedule} />
      </Stack>
    </Card>
  );
}
