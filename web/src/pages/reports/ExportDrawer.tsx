import { Alert, Anchor, Button, Divider, Drawer, Group, Select, Stack, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'react-router';
import { ApiError, api, type BodyOf, errorMessage, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { DestinationPicker } from '../../components/DestinationPicker';
import { FormatOptionsFields } from '../../components/FormatOptions';
import { ParameterInputs } from '../../components/ParameterInputs';
import { RunProgress, runKey, useLiveRun } from '../../components/run-live';
import { ErrorAlert } from '../../components/states';
import { useFormat, userZone } from '../../components/time';
import { useT } from '../../i18n';
import type { Report } from './api';
import { FormatCheck } from './FormatCheck';

type ExportBody = BodyOf<'/api/v1/exports', 'post'>;

function zones(): string[] {
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  const list = supported ? supported('timeZone') : [];
  return list.includes('UTC') ? list : ['UTC', ...list];
}

/** Export now: format and its options, parameters, Run; then live progress, Download or Copy link. */
export function ExportDrawer({
  report,
  opened,
  onClose,
}: {
  report: Report;
  opened: boolean;
  onClose(): void;
}) {
  const t = useT();
  const f = useFormat();
  const queryClient = useQueryClient();
  const canDownload = useCan('runs:download');
  const [format, setFormat] = useState('csv');
  const [options, setOptions] = useState<Record<string, unknown>>({});
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [timezone, setTimezone] = useState(userZone());
  const [destinationIds, setDestinationIds] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [runId, setRunId] = useState<string | undefined>(undefined);
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  const live = useLiveRun(runId);
  const zoneList = useMemo(zones, []);
  const runBlock = useRef<HTMLDivElement>(null);
  // A new run's progress is at the top of the drawer: bring it into view.
  useEffect(() => {
    if (runId) runBlock.current?.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }, [runId]);

  const start = useMutation({
    mutationFn: (body: ExportBody) => unwrap(api.POST('/api/v1/exports', { body })),
    onSuccess: (run) => {
      queryClient.setQueryData(runKey(run.id), run);
      setRunId(run.id);
      setLink(null);
      setErrors({});
    },
    onError: (error) => {
      if (error instanceof ApiError && error.errors.length > 0)
        setErrors(Object.fromEntries(error.errors.map((e) => [e.path, e.message])));
    },
  });
  const copyLink = useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST('/api/v1/runs/{id}/link', { params: { path: { id } }, body: {} })),
    onSuccess: async (result) => {
      setLink(result);
      try {
        await navigator.clipboard.writeText(result.url);
        notifications.show({
          color: 'green',
          message: t('reports.export.linkCopied', { time: f.dateTime(result.expiresAt) }),
        });
      } catch {
        // No clipboard (plain http on another host): the link is shown to copy by hand.
      }
    },
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });

  const run = live.run;
  const finished = run && !['queued', 'running', 'cancelling'].includes(run.status);
  const fileName = run?.fileName ?? '';

  const submit = () => {
    const missing: Record<string, string> = {};
    for (const p of report.parameters)
      if (p.required !== false && p.default === undefined && values[p.name] === undefined)
        missing[`parameters.${p.name}`] = t('field.required');
    setErrors(missing);
    if (Object.keys(missing).length > 0) return;
    start.mutate({
      reportId: report.id,
      format: format as ExportBody['format'],
      formatOptions: options,
      parameters: values,
      timezone,
      ...(destinationIds.length > 0 ? { destinationIds } : {}),
    });
  };

  return (
    <Drawer
      opened={opened}
      onClose={onClose}
      position="right"
      size="lg"
      // The drawer's title is its heading (an h2) already.
      title={t('reports.export.title', { name: report.name })}
      data-testid="export-drawer"
    >
      <Stack gap="lg">
        {runId ? (
          <>
            {/* Scrolled to below the drawer's sticky title, not under it. */}
            <Stack gap="sm" aria-live="polite" ref={runBlock} style={{ scrollMarginTop: 80 }}>
              {live.error ? <ErrorAlert error={live.error} onRetry={live.refetch} /> : null}
              {run ? <RunProgress run={run} mode={live.mode} /> : null}
              {run?.status === 'failed' ? (
                <Alert color="red" title={t('reports.export.failed')} role="alert">
                  <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                    {run.error}
                  </Text>
                </Alert>
              ) : null}
              {run?.status === 'cancelled' ? (
                <Alert color="gray">{t('reports.export.cancelled')}</Alert>
              ) : null}
              {run?.status === 'succeeded' && fileName ? (
                <Stack gap="xs">
                  <Text size="sm">
                    {t('reports.export.fileReady', {
                      name: fileName,
                      size: f.bytes(run.fileSize),
                      rows: f.number(run.rowCount ?? 0),
                    })}
                  </Text>
                  {canDownload ? (
                    <Group gap="xs">
                      <Button
                        component="a"
                        href={`/api/v1/runs/${run.id}/download`}
                        download={fileName}
                        data-testid="download-link"
                      >
                        {t('reports.export.download', { name: fileName })}
                      </Button>
                      <Button
                        variant="light"
                        loading={copyLink.isPending}
                        onClick={() => copyLink.mutate(run.id)}
                      >
                        {t('reports.export.copyLink')}
                      </Button>
                    </Group>
                  ) : null}
                  {link ? (
                    <Stack gap={2}>
                      <Text
                        size="xs"
                        ff="monospace"
                        style={{ wordBreak: 'break-all' }}
                        data-testid="signed-link"
                      >
                        {link.url}
                      </Text>
                      <Text size="xs" c="dimmed">
                        {t('reports.export.linkExpires', { time: f.dateTime(link.expiresAt) })}
                      </Text>
                    </Stack>
                  ) : null}
                </Stack>
              ) : null}
              <Anchor component={Link} to={`/runs/${runId}`} size="sm">
                {t('reports.export.openRun')}
              </Anchor>
            </Stack>
            <Divider />
          </>
        ) : null}
        {report.parameters.length > 0 ? (
          <Stack gap="xs">
            <Title order={3} size="h5">
              {t('reports.export.parameters')}
            </Title>
            <ParameterInputs
              parameters={report.parameters}
              values={values}
              onChange={setValues}
              errors={errors}
              timezone={timezone}
            />
          </Stack>
        ) : null}
        <Select
          label={t('reports.export.zone')}
          description={t('reports.export.zoneHelp')}
          data={zoneList}
          value={timezone}
          searchable
          allowDeselect={false}
          onChange={(z) => z && setTimezone(z)}
          error={errors['timezone']}
          limit={50}
        />
        <Stack gap="xs">
          <Title order={3} size="h5">
            {t('reports.export.format')}
          </Title>
          <FormatOptionsFields
            format={format}
            options={options}
            onFormatChange={setFormat}
            onOptionsChange={setOptions}
            errors={errors}
            reportName={report.name}
            timezone={timezone}
          />
          <FormatCheck
            reportId={report.id}
            body={{ format, formatOptions: options, parameters: values, timezone }}
          />
        </Stack>
        <DestinationPicker
          value={destinationIds}
          onChange={setDestinationIds}
          error={errors['destinationIds']}
        />
        {start.isError && !(start.error instanceof ApiError && start.error.errors.length > 0) ? (
          <ErrorAlert error={start.error} />
        ) : null}
        {start.isError && start.error instanceof ApiError && start.error.errors.length > 0 ? (
          <Alert color="red" role="alert">
            {start.error.detail}
          </Alert>
        ) : null}
        <Group>
          <Button onClick={submit} loading={start.isPending} disabled={Boolean(run && !finished)}>
            {run ? t('reports.export.again') : t('reports.export.run')}
          </Button>
        </Group>
      </Stack>
    </Drawer>
  );
}
