import { Group, Progress, SimpleGrid, Stack, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, type ResponseOf, unwrap } from '../api/client';
import { useT } from '../i18n';
import { StatusBadge } from './StatusBadge';
import { useFormat } from './time';

// A run kept current from its server-sent events (GET /api/v1/runs/{id}/events:
// `event: run` with the run as JSON whenever it changes; the server ends the
// stream when the run ends). If the stream cannot be had (the per-user stream
// limit answers 429, a proxy buffers, the network drops) the run is polled.

export type Run = ResponseOf<'/api/v1/runs/{id}', 'get'>;

const ACTIVE = new Set(['queued', 'running', 'cancelling']);
export const isActiveRun = (status: string | undefined): boolean =>
  status !== undefined && ACTIVE.has(status);

export const runKey = (id: string) => ['run', id] as const;

const POLL_MS = 2_000;
/** Stream errors in a row after which polling takes over. */
const MAX_STREAM_ERRORS = 3;

export interface LiveRun {
  /** The run, as last heard of (undefined while the first answer is awaited). */
  run: Run | undefined;
  error: unknown;
  isPending: boolean;
  /** How it is kept current: the event stream, polling, or not at all (it has ended). */
  mode: 'stream' | 'polling' | 'done';
  refetch(): void;
}

/**
 * The run with this id, kept current while it is queued or running: from the
 * event stream, else by polling every 2 s; the stream is closed when the run
 * ends. `runId` undefined: nothing is fetched.
 */
export function useLiveRun(runId: string | undefined): LiveRun {
  const queryClient = useQueryClient();
  // Which run fell back to polling (a new run tries its stream first).
  const [pollingFor, setPollingFor] = useState<string | undefined>(undefined);
  const polling = runId !== undefined && pollingFor === runId;
  const query = useQuery({
    queryKey: runKey(runId ?? ''),
    queryFn: () => unwrap(api.GET('/api/v1/runs/{id}', { params: { path: { id: runId ?? '' } } })),
    enabled: runId !== undefined,
    refetchInterval: (q) => (polling && isActiveRun(q.state.data?.status) ? POLL_MS : false),
  });
  const status = query.data?.status;
  const active = runId !== undefined && (status === undefined || isActiveRun(status));

  useEffect(() => {
    if (!runId || !active || polling || typeof EventSource === 'undefined') {
      if (runId && active && typeof EventSource === 'undefined') setPollingFor(runId);
      return;
    }
    const source = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/events`, {
      withCredentials: true,
    });
    let errors = 0;
    let closed = false;
    const close = () => {
      closed = true;
      source.close();
    };
    source.addEventListener('run', (event) => {
      errors = 0;
      let run: Run;
      try {
        run = JSON.parse((event as MessageEvent<string>).data) as Run;
      } catch {
        return;
      }
      queryClient.setQueryData(runKey(runId), run);
      if (!isActiveRun(run.status)) close();
    });
    source.onerror = () => {
      if (closed) return;
      errors += 1;
      // CLOSED: the server refused the stream (e.g. 429, 404) and it will not retry by itself.
      if (source.readyState === EventSource.CLOSED || errors >= MAX_STREAM_ERRORS) {
        close();
        setPollingFor(runId);
        void queryClient.invalidateQueries({ queryKey: runKey(runId) });
      }
    };
    return close;
  }, [runId, active, polling, queryClient]);

  return {
    run: query.data,
    error: query.error,
    isPending: runId !== undefined && query.isPending,
    mode: !active ? 'done' : polling ? 'polling' : 'stream',
    refetch: () => void query.refetch(),
  };
}

/** Milliseconds since `from` (until `to`, else now, ticking every second). */
function useElapsed(from: string | null | undefined, to: string | null | undefined): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!from || to) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [from, to]);
  if (!from) return null;
  return Math.max(0, (to ? new Date(to).getTime() : now) - new Date(from).getTime());
}

/** Progress of a run: bar (percent when known, else moving while it runs), rows, bytes, elapsed time, status. */
export function RunProgress({ run, mode }: { run: Run; mode?: LiveRun['mode'] }) {
  const t = useT();
  const f = useFormat();
  const elapsed = useElapsed(run.startedAt, run.finishedAt);
  const running = isActiveRun(run.status);
  const percent = run.progress.percent;
  // A partly delivered run made its file: the bar is full.
  const succeeded = run.status === 'succeeded' || (run.status as string) === 'partly_delivered';
  const value = succeeded ? 100 : (percent ?? (running ? 100 : 0));
  const rows = run.rowCount ?? run.progress.rows;
  const bytes = run.fileSize ?? run.progress.bytes;
  return (
    <Stack gap="xs" data-testid="run-progress">
      <Group justify="space-between" wrap="nowrap">
        <span data-testid="run-status" data-status={run.status}>
          <StatusBadge status={run.status} />
        </span>
        {percent !== null && running ? (
          <Text size="sm" c="dimmed">
            {t('reports.run.percent', { percent })}
          </Text>
        ) : null}
      </Group>
      {/* The progressbar is the section (the root is a plain box); its value is left out while unknown. */}
      <Progress.Root size="lg">
        <Progress.Section
          value={value}
          animated={running && percent === null}
          striped={running && percent === null}
          color={run.status === 'failed' ? 'red' : succeeded ? 'green' : running ? 'blue' : 'gray'}
          withAria={false}
          role="progressbar"
          aria-label={t('reports.run.progress')}
          aria-valuemin={0}
          aria-valuemax={100}
          {...(running && percent === null ? {} : { 'aria-valuenow': value })}
          aria-valuetext={
            running && percent === null
              ? t('reports.run.progressUnknown')
              : t('reports.run.percent', { percent: value })
          }
        />
      </Progress.Root>
      <SimpleGrid cols={3} spacing="xs">
        <div>
          <Text size="xs" c="dimmed">
            {t('reports.run.rows')}
          </Text>
          <Text size="sm" data-testid="run-rows">
            {f.number(rows)}
          </Text>
        </div>
        <div>
          <Text size="xs" c="dimmed">
            {t('reports.run.bytes')}
          </Text>
          <Text size="sm" data-testid="run-bytes">
            {f.bytes(bytes)}
          </Text>
        </div>
        <div>
          <Text size="xs" c="dimmed">
            {t('reports.run.elapsed')}
          </Text>
          <Text size="sm" data-testid="run-elapsed">
            {f.duration(elapsed)}
          </Text>
        </div>
      </SimpleGrid>
      {mode === 'polling' && running ? (
        <Text size="xs" c="dimmed">
          {t('reports.run.polling')}
        </Text>
      ) : null}
    </Stack>
  );
}
