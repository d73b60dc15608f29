import {
  Anchor,
  Button,
  Group,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, type QueryOf, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { PageHeader } from '../../components/PageHeader';
import { StatusBadge } from '../../components/StatusBadge';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { DeliveryCount } from './Deliveries';
import { type RunItem, STATUSES, shownStatus, TRIGGERS, triggerText } from './shared';

const PAGE = 50;
const FILTERS = ['schedule', 'report', 'status', 'trigger', 'from', 'to', 'failed', 'burst'] as const;
type Filter = (typeof FILTERS)[number];

/** Midnight of a yyyy-MM-dd day in the viewer's zone, as an instant (plus `days`). */
function dayStart(day: string, days = 0): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function useFilters() {
  const [params, setParams] = useSearchParams();
  const get = (name: Filter) => params.get(name) ?? '';
  const set = (name: Filter, value: string | null) =>
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  const active = FILTERS.some((f) => params.has(f));
  const clear = () => setParams(new URLSearchParams(), { replace: true });
  return { get, set, active, clear };
}

export function RunsListPage() {
  const t = useT();
  const filters = useFilters();
  const canExport = useCan('runs:write');

  const query: QueryOf<'/api/v1/runs', 'get'> = { limit: PAGE };
  const schedule = filters.get('schedule');
  const report = filters.get('report');
  const status = filters.get('status');
  const trigger = filters.get('trigger');
  const from = dayStart(filters.get('from'));
  const to = dayStart(filters.get('to'), 1);
  const failedOnly = filters.get('failed') === '1';
  const burst = filters.get('burst');
  if (schedule) query.scheduleId = schedule;
  if (burst) query.burstId = burst;
  if (report) query.reportId = report;
  if ((STATUSES as readonly string[]).includes(status)) query.status = status as (typeof STATUSES)[number];
  if ((TRIGGERS as readonly string[]).includes(trigger)) query.trigger = trigger as (typeof TRIGGERS)[number];
  if (from) query.from = from;
  if (to) query.to = to;
  if (failedOnly) query.failedOnly = true;
  const rangeWrong = Boolean(from && to && from >= to);

  const runs = useInfiniteQuery({
    queryKey: ['runs', query],
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET('/api/v1/runs', {
          params: { query: pageParam ? { ...query, cursor: pageParam } : query },
        }),
      ),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: !rangeWrong,
    // Runs change while one looks: a list with active runs keeps itself current.
    refetchInterval: (q) =>
      q.state.data?.pages.some((p) => p.items.some((r) => ['queued', 'running'].includes(r.status)))
        ? 5_000
        : false,
  });
  const schedules = useQuery({
    queryKey: ['schedules', 'names'],
    queryFn: () => unwrap(api.GET('/api/v1/schedules', { params: { query: { limit: 500 } } })),
  });
  const reports = useQuery({
    queryKey: ['reports', 'names'],
    queryFn: () => unwrap(api.GET('/api/v1/reports', { params: { query: { limit: 500 } } })),
  });

  const items = runs.data?.pages.flatMap((p) => p.items) ?? [];
  const none = !runs.isPending && !runs.isError && items.length === 0;

  return (
    <>
      <PageHeader title={t('nav.runs')} description={t('runs.list.description')} />
      <Paper withBorder p="sm" mb="md" component="section" aria-label={t('runs.filters.label')}>
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
          <Select
            label={t('runs.filters.schedule')}
            placeholder={t('runs.filters.any')}
            data={(schedules.data?.items ?? []).map((s) => ({ value: s.id, label: s.name }))}
            value={schedule || null}
            onChange={(v) => filters.set('schedule', v)}
            searchable
            clearable
            nothingFoundMessage={t('runs.filters.nothingFound')}
          />
          <Select
            label={t('runs.filters.report')}
            placeholder={t('runs.filters.any')}
            data={(reports.data?.items ?? []).map((r) => ({ value: r.id, label: r.name }))}
            value={report || null}
            onChange={(v) => filters.set('report', v)}
            searchable
            clearable
            nothingFoundMessage={t('runs.filters.nothingFound')}
          />
          <Select
            label={t('runs.filters.status')}
            placeholder={t('runs.filters.any')}
            data={STATUSES.map((s) => ({ value: s, label: t(`status.${s}` as MessageKey) }))}
            value={status || null}
            onChange={(v) => filters.set('status', v)}
            clearable
          />
          <Select
            label={t('runs.filters.trigger')}
            placeholder={t('runs.filters.any')}
            data={TRIGGERS.map((x) => ({ value: x, label: t(`runs.trigger.${x}` as MessageKey) }))}
            value={trigger || null}
            onChange={(v) => filters.set('trigger', v)}
            clearable
          />
          <TextInput
            type="date"
            label={t('runs.filters.from')}
            value={filters.get('from')}
            onChange={(e) => filters.set('from', e.currentTarget.value)}
            max={filters.get('to') || undefined}
          />
          <TextInput
            type="date"
            label={t('runs.filters.to')}
            value={filters.get('to')}
            onChange={(e) => filters.set('to', e.currentTarget.value)}
            min={filters.get('from') || undefined}
            error={rangeWrong ? t('runs.filters.rangeWrong') : undefined}
          />
          <Switch
            mt={{ base: 0, md: 30 }}
            label={t('runs.filters.failedOnly')}
            checked={failedOnly}
            onChange={(e) => filters.set('failed', e.currentTarget.checked ? '1' : null)}
          />
          {burst ? (
            <Text size="sm" mt={{ base: 0, md: 30 }} data-testid="burst-filter">
              {t('runs.burst.filter')}{' '}
              <Anchor component={Link} to={`/runs/${burst}`}>
                {t('runs.burst.lead')}
              </Anchor>
            </Text>
          ) : null}
          {filters.active ? (
            <Group align="flex-end">
              <Button variant="subtle" onClick={filters.clear}>
                {t('action.clearFilters')}
              </Button>
            </Group>
          ) : null}
        </SimpleGrid>
      </Paper>

      {runs.isPending && !rangeWrong ? <SectionLoader /> : null}
      {runs.isError ? <ErrorAlert error={runs.error} onRetry={() => runs.refetch()} /> : null}
      {none && filters.active ? (
        <EmptyState title={t('state.noResults')} text={t('runs.list.noMatch')}>
          <Button variant="light" onClick={filters.clear}>
            {t('action.clearFilters')}
          </Button>
        </EmptyState>
      ) : null}
      {none && !filters.active ? (
        <EmptyState title={t('runs.list.empty')} text={t('runs.list.emptyText')}>
          <Button component={Link} to="/reports">
            {canExport ? t('runs.list.exportNow') : t('runs.list.toReports')}
          </Button>
        </EmptyState>
      ) : null}
      {items.length > 0 ? (
        <Stack gap="sm">
          <RunsTable runs={items} />
          {runs.hasNextPage ? (
            <Group justify="center">
              <Button variant="light" onClick={() => runs.fetchNextPage()} loading={runs.isFetchingNextPage}>
                {t('action.loadMore')}
              </Button>
            </Group>
          ) : null}
        </Stack>
      ) : null}
    </>
  );
}

function RunsTable({ runs }: { runs: RunItem[] }) {
  const t = useT();
  const f = useFormat();
  return (
    <Table.ScrollContainer minWidth={860}>
      <Table striped highlightOnHover verticalSpacing="xs" aria-label={t('runs.list.tableLabel')}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('runs.col.status')}</Table.Th>
            <Table.Th>{t('runs.col.report')}</Table.Th>
            <Table.Th>{t('runs.col.when')}</Table.Th>
            <Table.Th>{t('runs.col.trigger')}</Table.Th>
            <Table.Th ta="right">{t('runs.col.duration')}</Table.Th>
            <Table.Th ta="right">{t('runs.col.rows')}</Table.Th>
            <Table.Th ta="right">{t('runs.col.size')}</Table.Th>
            <Table.Th>{t('runs.col.deliveries')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {runs.map((run) => {
            const zone = run.scheduleTimeZone ?? undefined;
            const at = run.scheduledFor ?? run.createdAt;
            return (
              <Table.Tr key={run.id} data-run-id={run.id}>
                <Table.Td>
                  <StatusBadge status={shownStatus(run)} size="sm" />
                </Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/runs/${run.id}`} fw={500} size="sm">
                    {run.reportName}
                  </Anchor>
                  <Text size="xs" c="dimmed">
                    {run.format.toUpperCase()}
                    {run.scheduleName ? ` · ${run.scheduleName}` : ''}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Tooltip label={`${new Date(at).toISOString().replace('.000Z', 'Z')} (UTC)`} withArrow>
                    <Text size="sm" component="span">
                      <time dateTime={at}>{f.dateTime(at, zone)}</time>
                    </Text>
                  </Tooltip>
                  <Text size="xs" c="dimmed">
                    {run.scheduledFor ? t('runs.col.scheduledFor') : t('runs.col.created')}
                    {zone && zone !== f.zone ? ` · ${zone}` : ''}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{triggerText(t, run)}</Text>
                </Table.Td>
                <Table.Td ta="right">
                  <Text size="sm">{f.duration(run.durationMs)}</Text>
                </Table.Td>
                <Table.Td ta="right">
                  <Text size="sm">{run.rowCount === null ? '–' : f.number(run.rowCount)}</Text>
                </Table.Td>
                <Table.Td ta="right">
                  <Text size="sm">{f.bytes(run.fileSize)}</Text>
                </Table.Td>
                <Table.Td>
                  <DeliveryCount summary={run.deliverySummary} />
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
