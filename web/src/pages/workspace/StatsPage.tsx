import '@mantine/charts/styles.css';
import { BarChart, LineChart } from '@mantine/charts';
import {
  Anchor,
  Button,
  Group,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import dayjs from 'dayjs';
import { type ReactNode, useId, useMemo } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type ResponseOf, unwrap } from '../../api/client';
import { PageHeader } from '../../components/PageHeader';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { type Formatter, useFormat, userZone } from '../../components/time';
import { useT } from '../../i18n';

type Stats = ResponseOf<'/api/v1/stats', 'get'>;
type ReportRow = Stats['byReport'][number];

const PERIODS = ['7', '30', '90'] as const;
type Period = (typeof PERIODS)[number];
const TOPS = ['runs', 'failures', 'duration'] as const;
type Top = (typeof TOPS)[number];

function percent(f: Formatter, rate: number): string {
  return new Intl.NumberFormat(f.locale, { style: 'percent', maximumFractionDigits: 1 }).format(rate);
}

export function StatsPage() {
  const t = useT();
  const f = useFormat();
  const [params, setParams] = useSearchParams();
  const period: Period = (PERIODS as readonly string[]).includes(params.get('days') ?? '')
    ? (params.get('days') as Period)
    : '30';
  const top: Top = (TOPS as readonly string[]).includes(params.get('top') ?? '')
    ? (params.get('top') as Top)
    : 'runs';
  const setParam = (key: string, value: string, fallback: string) => {
    const next = new URLSearchParams(params);
    if (value === fallback) next.delete(key);
    else next.set(key, value);
    setParams(next, { replace: true });
  };
  const zone = userZone();
  // Whole calendar days in the user's zone: today and the days before it.
  const from = dayjs()
    .startOf('day')
    .subtract(Number(period) - 1, 'day')
    .toISOString();
  const to = dayjs().add(1, 'day').startOf('day').toISOString();
  const stats = useQuery({
    queryKey: ['workspace', 'stats', from, to, zone],
    queryFn: () => unwrap(api.GET('/api/v1/stats', { params: { query: { from, to, zone } } })),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <PageHeader
        title={t('nav.stats')}
        description={t('workspace.stats.description', { zone })}
        actions={
          <SegmentedControl
            aria-label={t('workspace.stats.period')}
            value={period}
            onChange={(v) => setParam('days', v, '30')}
            data={PERIODS.map((p) => ({ value: p, label: t('workspace.stats.lastDays', { days: p }) }))}
          />
        }
      />
      {stats.isPending ? (
        <SectionLoader />
      ) : stats.isError ? (
        <ErrorAlert error={stats.error} onRetry={() => stats.refetch()} />
      ) : stats.data.total.runs === 0 ? (
        <EmptyState
          title={t('workspace.stats.emptyTitle', { days: period })}
          text={t('workspace.stats.emptyText')}
        >
          <Button component={Link} to="/reports">
            {t('workspace.stats.toReports')}
          </Button>
        </EmptyState>
      ) : (
        <Stack gap="lg" style={{ opacity: stats.isPlaceholderData ? 0.6 : 1 }}>
          <Summary stats={stats.data} f={f} />
          <PerDay stats={stats.data} f={f} />
          <ByFormat stats={stats.data} f={f} />
          <TopReports rows={stats.data.byReport} top={top} onTop={(v) => setParam('top', v, 'runs')} f={f} />
        </Stack>
      )}
    </>
  );
}

function Tile({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={700}>
        {value}
      </Text>
      {hint ? (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      ) : null}
    </Paper>
  );
}

function Summary({ stats, f }: { stats: Stats; f: Formatter }) {
  const t = useT();
  const s = stats.total;
  const skipped = s.statuses.skipped_missed + s.statuses.skipped_overlap + s.statuses.skipped_condition;
  return (
    <SimpleGrid
      cols={{ base: 2, sm: 4 }}
      spacing="sm"
      component="section"
      aria-label={t('workspace.stats.summary')}
    >
      <Tile
        label={t('workspace.stats.runs')}
        value={f.number(s.runs)}
        hint={t('workspace.stats.runsHint', { succeeded: f.number(s.succeeded), skipped: f.number(skipped) })}
      />
      <Tile
        label={t('workspace.stats.failureRate')}
        value={percent(f, s.failureRate)}
        hint={t('workspace.stats.failedHint', { failed: f.number(s.failed) })}
      />
      <Tile label={t('workspace.stats.rows')} value={f.number(s.rows)} hint={f.bytes(s.bytes)} />
      <Tile
        label={t('workspace.stats.duration')}
        value={f.duration(s.durationP50Ms)}
        hint={t('workspace.stats.p95Hint', { p95: f.duration(s.durationP95Ms) })}
      />
    </SimpleGrid>
  );
}

/** A chart with its heading; the heading names the chart for assistive technology. */
function ChartCard({ title, note, children }: { title: string; note?: string; children: ReactNode }) {
  const id = useId();
  return (
    <Paper withBorder p="md" component="figure" m={0} aria-labelledby={id}>
      <Title order={2} size="h4" id={id} mb={note ? 2 : 'sm'}>
        {title}
      </Title>
      {note ? (
        <Text size="xs" c="dimmed" mb="sm">
          {note}
        </Text>
      ) : null}
      {children}
    </Paper>
  );
}

function dayLabel(f: Formatter, key: string): string {
  return new Intl.DateTimeFormat(f.locale, { timeZone: 'UTC', day: '2-digit', month: '2-digit' }).format(
    new Date(`${key}T12:00:00Z`),
  );
}

function PerDay({ stats, f }: { stats: Stats; f: Formatter }) {
  const t = useT();
  const data = useMemo(
    () =>
      stats.byDay.map((d) => ({
        day: dayLabel(f, d.key),
        succeeded: d.statuses.succeeded,
        failed: d.statuses.failed,
        skipped: d.statuses.skipped_missed + d.statuses.skipped_overlap + d.statuses.skipped_condition,
        cancelled: d.statuses.cancelled,
        active: d.statuses.queued + d.statuses.running,
        p50: d.durationP50Ms,
        p95: d.durationP95Ms,
        failureRate: d.runs === 0 ? null : Math.round(d.failureRate * 1000) / 10,
      })),
    [stats.byDay, f],
  );
  const number = (v: number) => f.number(v);
  return (
    <>
      <ChartCard title={t('workspace.stats.perDay')} note={t('workspace.stats.perDayNote')}>
        <BarChart
          h={280}
          data={data}
          dataKey="day"
          type="stacked"
          withLegend
          legendProps={{ verticalAlign: 'bottom' }}
          valueFormatter={number}
          series={[
            { name: 'succeeded', label: t('status.succeeded'), color: 'green.6' },
            { name: 'failed', label: t('status.failed'), color: 'red.6' },
            { name: 'skipped', label: t('workspace.stats.skipped'), color: 'gray.5' },
            { name: 'cancelled', label: t('status.cancelled'), color: 'orange.5' },
            { name: 'active', label: t('workspace.stats.active'), color: 'blue.5' },
          ]}
        />
      </ChartCard>
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
        <ChartCard title={t('workspace.stats.durations')} note={t('workspace.stats.durationsNote')}>
          <LineChart
            h={240}
            data={data}
            dataKey="day"
            withLegend
            legendProps={{ verticalAlign: 'bottom' }}
            connectNulls
            valueFormatter={(v) => f.duration(v)}
            yAxisProps={{ width: 70 }}
            series={[
              { name: 'p50', label: t('workspace.stats.p50'), color: 'blue.6' },
              { name: 'p95', label: t('workspace.stats.p95'), color: 'violet.6' },
            ]}
          />
        </ChartCard>
        <ChartCard title={t('workspace.stats.failureRatePerDay')} note={t('workspace.stats.failureRateNote')}>
          <LineChart
            h={240}
            data={data}
            dataKey="day"
            connectNulls
            unit="%"
            yAxisProps={{ domain: [0, 100] }}
            valueFormatter={(v) =>
              `${new Intl.NumberFormat(f.locale, { maximumFractionDigits: 1 }).format(v)}`
            }
            series={[{ name: 'failureRate', label: t('workspace.stats.failureRate'), color: 'red.6' }]}
          />
        </ChartCard>
      </SimpleGrid>
    </>
  );
}

function ByFormat({ stats, f }: { stats: Stats; f: Formatter }) {
  const t = useT();
  const data = stats.byFormat.map((r) => ({
    format: r.key.toUpperCase(),
    rows: r.rows,
    bytes: r.bytes,
    runs: r.runs,
  }));
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
      <ChartCard title={t('workspace.stats.rowsByFormat')}>
        <BarChart
          h={220}
          data={data}
          dataKey="format"
          valueFormatter={(v) => f.number(v)}
          yAxisProps={{ width: 70 }}
          series={[{ name: 'rows', label: t('workspace.stats.rows'), color: 'teal.6' }]}
        />
      </ChartCard>
      <ChartCard title={t('workspace.stats.bytesByFormat')}>
        <BarChart
          h={220}
          data={data}
          dataKey="format"
          valueFormatter={(v) => f.bytes(v)}
          yAxisProps={{ width: 70, tickFormatter: (v: number) => f.bytes(v) }}
          series={[{ name: 'bytes', label: t('workspace.stats.bytes'), color: 'indigo.6' }]}
        />
      </ChartCard>
    </SimpleGrid>
  );
}

function TopReports({
  rows,
  top,
  onTop,
  f,
}: {
  rows: ReportRow[];
  top: Top;
  onTop: (top: Top) => void;
  f: Formatter;
}) {
  const t = useT();
  const sorted = useMemo(() => {
    const by: Record<Top, (r: ReportRow) => number> = {
      runs: (r) => r.runs,
      failures: (r) => r.failed,
      duration: (r) => r.durationP95Ms ?? -1,
    };
    return rows
      .filter((r) =>
        top === 'failures' ? r.failed > 0 : top === 'duration' ? r.durationP95Ms !== null : true,
      )
      .sort((a, b) => by[top](b) - by[top](a) || a.key.localeCompare(b.key))
      .slice(0, 10);
  }, [rows, top]);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="top-reports">
      <Group justify="space-between" mb="sm" wrap="wrap">
        <Title order={2} size="h4" id="top-reports">
          {t('workspace.stats.topReports')}
        </Title>
        <SegmentedControl
          size="xs"
          aria-label={t('workspace.stats.topBy')}
          value={top}
          onChange={(v) => onTop(v as Top)}
          data={[
            { value: 'runs', label: t('workspace.stats.byRuns') },
            { value: 'failures', label: t('workspace.stats.byFailures') },
            { value: 'duration', label: t('workspace.stats.byDuration') },
          ]}
        />
      </Group>
      {sorted.length === 0 ? (
        <Text size="sm" c="dimmed">
          {top === 'failures' ? t('workspace.stats.noFailures') : t('workspace.stats.noDurations')}
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={620}>
          <Table verticalSpacing="xs" aria-labelledby="top-reports">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('workspace.stats.report')}</Table.Th>
                <Table.Th ta="right">{t('workspace.stats.runs')}</Table.Th>
                <Table.Th ta="right">{t('status.failed')}</Table.Th>
                <Table.Th ta="right">{t('workspace.stats.failureRate')}</Table.Th>
                <Table.Th ta="right">{t('workspace.stats.p50')}</Table.Th>
                <Table.Th ta="right">{t('workspace.stats.p95')}</Table.Th>
                <Table.Th ta="right">{t('workspace.stats.rows')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sorted.map((r) => (
                <Table.Tr key={`${r.key}:${r.reportId ?? ''}`}>
                  <Table.Td>
                    {r.reportId ? (
                      <Anchor component={Link} to={`/reports/${r.reportId}`} size="sm">
                        {r.key}
                      </Anchor>
                    ) : (
                      <Text size="sm">
                        {r.key}{' '}
                        <Text span size="xs" c="dimmed">
                          {t('workspace.stats.deleted')}
                        </Text>
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td ta="right">{f.number(r.runs)}</Table.Td>
                  <Table.Td ta="right" c={r.failed > 0 ? 'red.8' : undefined}>
                    {f.number(r.failed)}
                  </Table.Td>
                  <Table.Td ta="right">{percent(f, r.failureRate)}</Table.Td>
                  <Table.Td ta="right">{f.duration(r.durationP50Ms)}</Table.Td>
                  <Table.Td ta="right">{f.duration(r.durationP95Ms)}</Table.Td>
                  <Table.Td ta="right">{f.number(r.rows)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Paper>
  );
}
