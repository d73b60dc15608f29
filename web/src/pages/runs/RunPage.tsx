import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useEffect } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, errorMessage, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { PageHeader } from '../../components/PageHeader';
import { isActiveRun, type Run, RunProgress, runKey, useLiveRun } from '../../components/run-live';
import { StatusBadge } from '../../components/StatusBadge';
import { FullPageError, FullPageLoader } from '../../components/states';
import { useFormat, ZonedTime } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { DeliveriesSection, PartlyDelivered } from './Deliveries';
import { RunErrorCard, SkipNotice } from './RunOutcome';
import { failureOf, isSkipped, shownStatus, triggerText } from './shared';

export function RunPage() {
  const { id } = useParams();
  const t = useT();
  const live = useLiveRun(id);
  useDeliveriesWatch(live.run);
  if (live.isPending) return <FullPageLoader />;
  if (!live.run) return <FullPageError error={live.error} onRetry={live.refetch} />;
  const run = live.run;
  const status = shownStatus(run);
  return (
    <>
      <PageHeader
        title={t('runs.run.title', { report: run.reportName })}
        crumbs={[{ label: t('nav.runs'), to: '/runs' }]}
        actions={<RunActions run={run} />}
      />
      <Stack gap="md">
        <Facts run={run} />
        <Paper withBorder p="md" component="section" aria-labelledby="run-live-title">
          <Title order={2} size="h4" mb="sm" id="run-live-title">
            {t('runs.run.progress')}
          </Title>
          <Stack gap="sm">
            <RunProgress run={{ ...run, status: status as Run['status'] }} mode={live.mode} />
            <StageStrip run={run} />
          </Stack>
        </Paper>
        {run.status === 'failed' || run.retrying ? <RunErrorCard run={run} /> : null}
        {status === 'partly_delivered' ? <PartlyDelivered run={run} /> : null}
        {isSkipped(run.status) ? <SkipNotice run={run} /> : null}
        {run.status === 'cancelled' ? (
          <Alert color="gray" title={t('status.cancelled')}>
            {t('runs.run.cancelledText')}
          </Alert>
        ) : null}
        {run.deliveries.length > 0 ? <DeliveriesSection run={run} /> : null}
        {run.status === 'succeeded' || run.file ? <FileSection run={run} /> : null}
        <Attempts run={run} />
      </Stack>
    </>
  );
}

const DELIVERY_POLL_MS = 2_000;

/**
 * Deliveries go on after the run has ended (and its event stream closed): while
 * one is queued or sending, the run is asked for again every 2 s.
 */
function useDeliveriesWatch(run: Run | undefined) {
  const queryClient = useQueryClient();
  const waiting = run !== undefined && !isActiveRun(run.status) && run.deliverySummary.pending > 0;
  const runId = run?.id;
  useEffect(() => {
    if (!waiting || !runId) return;
    const timer = setInterval(
      () => void queryClient.invalidateQueries({ queryKey: runKey(runId) }),
      DELIVERY_POLL_MS,
    );
    return () => clearInterval(timer);
  }, [waiting, runId, queryClient]);
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed" component="dt">
        {label}
      </Text>
      <Text size="sm" component="dd" m={0}>
        {children}
      </Text>
    </div>
  );
}

function Facts({ run }: { run: Run }) {
  const t = useT();
  const f = useFormat();
  return (
    <Paper withBorder p="md" component="section" aria-label={t('runs.run.facts')}>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="sm" component="dl" m={0}>
        <Fact label={t('runs.col.report')}>
          {run.reportId ? (
            <Anchor component={Link} to={`/reports/${run.reportId}`}>
              {run.reportName}
            </Anchor>
          ) : (
            `${run.reportName} ${t('runs.run.reportDeleted')}`
          )}
        </Fact>
        <Fact label={t('runs.run.schedule')}>
          {run.scheduleId && run.scheduleName ? (
            <Anchor component={Link} to={`/schedules/${run.scheduleId}`}>
              {run.scheduleName}
            </Anchor>
          ) : run.scheduleId ? (
            t('runs.run.scheduleDeleted')
          ) : (
            t('runs.run.noSchedule')
          )}
        </Fact>
        <Fact label={t('runs.col.trigger')}>{triggerText(t, run)}</Fact>
        {run.burst?.role === 'lead' ? (
          <Fact label={t('runs.burst.recipients')}>
            {run.burst.recipients === null ? (
              t('runs.burst.reading')
            ) : (
              <Anchor component={Link} to={`/runs?burst=${run.id}`}>
                {t('runs.burst.count', { count: run.burst.recipients })}
              </Anchor>
            )}
          </Fact>
        ) : null}
        {run.burst?.role === 'recipient' ? (
          <Fact label={t('runs.burst.recipient')}>
            {run.burst.recipient}
            {run.burst.leadRunId ? (
              <>
                {' · '}
                <Anchor component={Link} to={`/runs?burst=${run.burst.leadRunId}`}>
                  {t('runs.burst.siblings')}
                </Anchor>
              </>
            ) : null}
          </Fact>
        ) : null}
        {run.scheduledFor ? (
          <Fact label={t('runs.col.scheduledFor')}>
            <ZonedTime iso={run.scheduledFor} zone={run.scheduleTimeZone ?? run.timezone} />
          </Fact>
        ) : null}
        <Fact label={t('runs.col.created')}>
          <time dateTime={run.createdAt}>{f.dateTime(run.createdAt, undefined, true)}</time>
        </Fact>
        <Fact label={t('runs.run.started')}>
          {run.startedAt ? (
            <time dateTime={run.startedAt}>{f.dateTime(run.startedAt, undefined, true)}</time>
          ) : (
            '–'
          )}
        </Fact>
        <Fact label={t('runs.run.finished')}>
          {run.finishedAt ? (
            <time dateTime={run.finishedAt}>{f.dateTime(run.finishedAt, undefined, true)}</time>
          ) : (
            '–'
          )}
        </Fact>
        <Fact label={t('runs.col.duration')}>{f.duration(run.durationMs)}</Fact>
        <Fact label={t('runs.run.format')}>{run.format.toUpperCase()}</Fact>
      </SimpleGrid>
    </Paper>
  );
}

type StageState = 'waiting' | 'active' | 'done' | 'failed' | 'skipped';
const STAGE_LOOK: Record<StageState, { color: string; icon: string; variant: string }> = {
  waiting: { color: 'gray', icon: '○', variant: 'outline' },
  active: { color: 'blue', icon: '▶', variant: 'light' },
  done: { color: 'green', icon: '✓', variant: 'light' },
  failed: { color: 'red', icon: '✕', variant: 'filled' },
  skipped: { color: 'gray', icon: '–', variant: 'light' },
};

type Stage = 'query' | 'file' | 'deliver';

/** The Deliver stage: waiting for the file, then from the deliveries (any pending: active; any failed: failed). */
function deliverState(run: Run): StageState {
  const { pending, failed, total } = run.deliverySummary;
  if (isActiveRun(run.status) || run.retrying) return 'waiting';
  if (total === 0) return run.status === 'failed' ? 'waiting' : 'skipped';
  if (pending > 0) return 'active';
  return failed > 0 ? 'failed' : 'done';
}

/** Query → File (→ Deliver, when the run has destinations): where the run is, or where it stopped. */
function StageStrip({ run }: { run: Run }) {
  const t = useT();
  const delivers = run.destinationIds.length > 0 || run.deliveries.length > 0;
  const stages: Stage[] = delivers ? ['query', 'file', 'deliver'] : ['query', 'file'];
  const writing = run.progress.bytes > 0 || run.progress.rows > 0;
  const stateOf = (stage: Stage): StageState => {
    if (stage === 'deliver') return deliverState(run);
    if (run.status === 'succeeded') return 'done';
    if (run.status === 'running')
      return stage === 'query' ? (writing ? 'done' : 'active') : writing ? 'active' : 'waiting';
    if (run.status === 'failed' || run.retrying) {
      const at = failureOf(run).errorStage ?? 'query';
      if (stage === at) return 'failed';
      return stage === 'query' ? 'done' : 'waiting';
    }
    if (run.status === 'skipped_condition') return stage === 'query' ? 'done' : 'skipped';
    if (isSkipped(run.status) || run.status === 'cancelled') return 'skipped';
    return 'waiting';
  };
  return (
    <Group
      component="ol"
      gap={6}
      aria-label={t('runs.stage.label')}
      style={{ listStyle: 'none', padding: 0, margin: 0 }}
      data-testid="run-stages"
    >
      {stages.map((stage, i) => {
        const state = stateOf(stage);
        const look = STAGE_LOOK[state];
        return (
          <Group component="li" gap={6} key={stage} data-stage={stage} data-state={state}>
            {i > 0 ? (
              <Text c="dimmed" aria-hidden="true">
                →
              </Text>
            ) : null}
            <Badge
              color={look.color}
              variant={look.variant}
              // The word in the text colour: green or orange words miss 4.5:1 contrast.
              {...(look.variant === 'light' ? { c: 'var(--mantine-color-text)' } : {})}
              leftSection={<span aria-hidden="true">{look.icon}</span>}
            >
              {t(`runs.stage.${stage}` as MessageKey)}
              <VisuallyHidden>{`: ${t(`runs.stageState.${state}` as MessageKey)}`}</VisuallyHidden>
            </Badge>
          </Group>
        );
      })}
    </Group>
  );
}

function RunActions({ run }: { run: Run }) {
  const t = useT();
  const canWrite = useCan('runs:write');
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: runKey(run.id) });
    void queryClient.invalidateQueries({ queryKey: ['runs'] });
  };
  const fail = (error: unknown) => notifications.show({ color: 'red', message: errorMessage(error) });
  const cancel = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/runs/{id}/cancel', { params: { path: { id: run.id } } })),
    onSuccess: refresh,
    onError: fail,
  });
  const retry = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/runs/{id}/retry', { params: { path: { id: run.id } } })),
    onSuccess: refresh,
    onError: fail,
  });
  const again = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/exports', {
          body: {
            reportId: run.reportId ?? '',
            format: run.format as 'csv',
            formatOptions: run.formatOptions,
            parameters: run.parameters,
            timezone: run.timezone,
          },
        }),
      ),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ['runs'] });
      navigate(`/runs/${created.id}`);
    },
    onError: fail,
  });
  if (!canWrite) return null;
  const active = isActiveRun(run.status);
  return (
    <>
      {active && !run.cancelRequested ? (
        <ConfirmButton
          title={t('runs.action.cancelTitle')}
          text={t('runs.action.cancelText')}
          confirmLabel={t('runs.action.cancel')}
          onConfirm={() => cancel.mutateAsync().catch(() => undefined)}
          loading={cancel.isPending}
        >
          {t('runs.action.cancel')}
        </ConfirmButton>
      ) : null}
      {active && run.cancelRequested ? (
        <Button variant="light" color="orange" disabled>
          {t('status.cancelling')}
        </Button>
      ) : null}
      {run.status === 'failed' ? (
        <Button variant="light" onClick={() => retry.mutate()} loading={retry.isPending}>
          {t('runs.action.retry')}
        </Button>
      ) : null}
      {run.reportId ? (
        <Button variant="default" onClick={() => again.mutate()} loading={again.isPending}>
          {t('runs.action.runAgain')}
        </Button>
      ) : null}
    </>
  );
}

function FileSection({ run }: { run: Run }) {
  const t = useT();
  const f = useFormat();
  const canDownload = useCan('runs:download');
  const link = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/runs/{id}/link', {
          params: { path: { id: run.id } },
          body: { ttlSeconds: 86_400 },
        }),
      ),
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });
  const expired = run.file?.state === 'expired';
  const params = Object.entries(run.parameters ?? {});
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="run-file-title">
      <Title order={2} size="h4" mb="sm" id="run-file-title">
        {t('runs.file.title')}
      </Title>
      <Stack gap="sm">
        {expired && run.file ? (
          <Alert color="gray" data-testid="run-file-expired">
            {t('runs.file.expired', { date: f.dateTime(run.file.expiresAt) })}
          </Alert>
        ) : null}
        {!run.file && run.status === 'succeeded' ? <Alert color="gray">{t('runs.file.gone')}</Alert> : null}
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm" component="dl" m={0}>
          <Fact label={t('runs.file.name')}>
            <span style={{ overflowWrap: 'anywhere' }}>{run.fileName ?? '–'}</span>
          </Fact>
          <Fact label={t('runs.col.size')}>{f.bytes(run.fileSize)}</Fact>
          <Fact label={t('runs.col.rows')}>{run.rowCount === null ? '–' : f.number(run.rowCount)}</Fact>
          {run.file && !expired ? (
            <Fact label={t('runs.file.keptUntil')}>{f.dateTime(run.file.expiresAt)}</Fact>
          ) : null}
        </SimpleGrid>
        {run.checksum ? (
          <div>
            <Text size="xs" c="dimmed">
              {t('runs.file.checksum')}
            </Text>
            <Group gap="xs" wrap="nowrap">
              <Code style={{ overflowWrap: 'anywhere' }}>{run.checksum}</Code>
              <CopyButton value={run.checksum}>
                {({ copied, copy }) => (
                  <Button size="compact-xs" variant="subtle" color={copied ? 'teal' : 'gray'} onClick={copy}>
                    {copied ? t('action.copied') : t('runs.file.copyChecksum')}
                  </Button>
                )}
              </CopyButton>
            </Group>
          </div>
        ) : null}
        <div>
          <Text size="xs" c="dimmed">
            {t('runs.file.parameters', { zone: run.timezone })}
          </Text>
          {params.length === 0 ? (
            <Text size="sm">{t('runs.file.noParameters')}</Text>
          ) : (
            <Table withTableBorder={false} verticalSpacing={2} aria-label={t('runs.file.parametersLabel')}>
              <Table.Tbody>
                {params.map(([name, value]) => (
                  <Table.Tr key={name}>
                    <Table.Td>
                      <Code>{name}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                        {typeof value === 'string' ? value : JSON.stringify(value)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </div>
        {run.hasFile && canDownload ? (
          <Group gap="xs">
            <Button component="a" href={`/api/v1/runs/${run.id}/download`} download>
              {t('runs.file.download')}
            </Button>
            <Button variant="light" onClick={() => link.mutate()} loading={link.isPending}>
              {t('runs.file.copyLink')}
            </Button>
          </Group>
        ) : null}
        {link.data ? (
          <Group gap="xs" align="flex-end" wrap="nowrap">
            <TextInput
              style={{ flex: 1 }}
              label={t('runs.file.link')}
              description={t('runs.file.linkExpires', { date: f.dateTime(link.data.expiresAt) })}
              value={link.data.url}
              readOnly
              onFocus={(e) => e.currentTarget.select()}
            />
            <CopyButton value={link.data.url}>
              {({ copied, copy }) => (
                <Button
                  variant={copied ? 'filled' : 'default'}
                  color={copied ? 'teal' : undefined}
                  onClick={copy}
                >
                  {copied ? t('action.copied') : t('action.copy')}
                </Button>
              )}
            </CopyButton>
          </Group>
        ) : null}
      </Stack>
    </Paper>
  );
}

function Attempts({ run }: { run: Run }) {
  const t = useT();
  const f = useFormat();
  const attempts = run.attemptHistory ?? [];
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="run-attempts-title">
      <Title order={2} size="h4" mb="sm" id="run-attempts-title">
        {t('runs.attempts.title')}
      </Title>
      {attempts.length === 0 ? (
        <Text size="sm" c="dimmed">
          {isSkipped(run.status) ? t('runs.attempts.noneSkipped') : t('runs.attempts.none')}
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={720}>
          <Table verticalSpacing="xs" aria-labelledby="run-attempts-title">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('runs.attempts.number')}</Table.Th>
                <Table.Th>{t('runs.col.status')}</Table.Th>
                <Table.Th>{t('runs.attempts.worker')}</Table.Th>
                <Table.Th>{t('runs.run.started')}</Table.Th>
                <Table.Th>{t('runs.run.finished')}</Table.Th>
                <Table.Th>{t('runs.attempts.error')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {attempts.map((a) => (
                <Table.Tr key={a.number}>
                  <Table.Td>{a.number}</Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>
                    {a.status === 'lost' ? (
                      <Badge
                        color="orange"
                        variant="light"
                        c="var(--mantine-color-text)"
                        leftSection={<span aria-hidden="true">?</span>}
                      >
                        {t('runs.attempts.lost')}
                      </Badge>
                    ) : (
                      <StatusBadge status={a.status} size="sm" />
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                      {a.worker}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{f.dateTime(a.startedAt, undefined, true)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{a.finishedAt ? f.dateTime(a.finishedAt, undefined, true) : '–'}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                      {a.error ?? '–'}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Paper>
  );
}
