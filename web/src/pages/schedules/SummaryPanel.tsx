import {
  Alert,
  Badge,
  Group,
  Loader,
  Paper,
  Stack,
  Text,
  Title,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { useFormat, ZonedTime } from '../../components/time';
import { useT } from '../../i18n';
import type { PreviewState } from './api';
import type { EditorValues } from './EditorPage';
import { previewError } from './WhenSection';

/** The live summary beside the editor: the sentence, the next five runs with DST notes, and warnings. */
export function SummaryPanel({
  values,
  preview,
  pending,
  paused = false,
}: {
  values: EditorValues;
  preview: PreviewState;
  pending: boolean;
  /** A saved schedule that is paused: these times apply once it is resumed. */
  paused?: boolean;
}) {
  const t = useT();
  const f = useFormat();
  const problem = previewError(preview);
  const data = problem ? undefined : preview.data;
  const zone = values.timezone || 'UTC';
  return (
    <Paper withBorder p="md" component="aside" aria-labelledby="schedule-summary-title">
      <Stack gap="md">
        <Group justify="space-between" wrap="nowrap">
          <Title order={2} size="h4" id="schedule-summary-title">
            {t('schedules.summary.title')}
          </Title>
          {preview.fetching ? (
            <span>
              <Loader size="xs" />
              <VisuallyHidden>{t('state.loading')}</VisuallyHidden>
            </span>
          ) : null}
        </Group>
        <Text
          data-testid="cron-description"
          role="status"
          aria-live="polite"
          fw={problem ? 400 : 500}
          c={problem ? 'red' : undefined}
          data-error={problem ? 'true' : undefined}
        >
          {problem
            ? t('schedules.summary.invalid', { message: problem.message })
            : pending
              ? t('schedules.summary.incomplete')
              : (data?.description ?? t('state.loading'))}
        </Text>
        <Stack gap={6}>
          <Text size="sm" fw={500} id="next-runs-title">
            {t('schedules.summary.nextRuns')}
          </Text>
          {paused ? (
            // Orange words on white miss 4.5:1 contrast: the note is in the text colour, in bold.
            <Text size="sm" fw={600}>
              {t('schedules.summary.paused')}
            </Text>
          ) : null}
          {data && data.occurrences.length > 0 ? (
            <Stack
              component="ol"
              gap={8}
              data-testid="next-runs"
              aria-labelledby="next-runs-title"
              m={0}
              pl="md"
            >
              {data.occurrences.map((o) => (
                <li key={o.at}>
                  <Stack gap={2}>
                    <ZonedTime iso={o.at} zone={zone} />
                    {o.offsetChange || o.requestedTime ? (
                      <Group gap={6} wrap="wrap">
                        {o.offsetChange ? (
                          <Tooltip
                            label={t('schedules.summary.dstTooltip', {
                              from: `UTC${o.offsetChange.from}`,
                              to: `UTC${o.offsetChange.to}`,
                            })}
                          >
                            <Badge
                              color="yellow"
                              variant="light"
                              c="var(--mantine-color-text)"
                              size="sm"
                              tabIndex={0}
                            >
                              {t('schedules.summary.dst')}
                            </Badge>
                          </Tooltip>
                        ) : null}
                        {o.requestedTime ? (
                          <Text size="xs" fw={600}>
                            {t('schedules.summary.gap', {
                              requested: o.requestedTime,
                              actual: f.time(o.at, zone),
                            })}
                          </Text>
                        ) : null}
                      </Group>
                    ) : null}
                  </Stack>
                </li>
              ))}
            </Stack>
          ) : (
            <Text size="sm" c="dimmed" data-testid="next-runs">
              {problem || pending ? '–' : data ? t('schedules.summary.noRuns') : t('state.loading')}
            </Text>
          )}
        </Stack>
        {data && data.warnings.length > 0 ? (
          <Stack gap="xs">
            {data.warnings.map((w) => (
              <Alert
                key={w.code}
                color="yellow"
                variant="light"
                p="xs"
                title={t('schedules.summary.warning')}
                // Yellow words on the light yellow background miss 4.5:1 contrast.
                styles={{ title: { color: 'var(--mantine-color-text)' } }}
              >
                <Text size="sm">
                  {w.code === 'short_months'
                    ? t('schedules.warning.short_months', { day: w.day ?? 31 })
                    : w.code === 'frequent'
                      ? t('schedules.warning.frequent', { minutes: w.minutes ?? 1 })
                      : t('schedules.warning.day_or_weekday')}
                </Text>
              </Alert>
            ))}
          </Stack>
        ) : null}
      </Stack>
    </Paper>
  );
}
