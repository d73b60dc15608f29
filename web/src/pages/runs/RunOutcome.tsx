import { Accordion, Alert, Anchor, Button, Code, CopyButton, Group, Stack, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import type { Run } from '../../components/run-live';
import { useFormat } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { type Failure, failureOf } from './shared';

// A failure in words (ui.md "Failures, explained"): what happened and at which
// stage, what to do (linked), the attempt and the next retry or that Ferry gave
// up, and the database's own message folded away with a copy button.

interface Advice {
  what: MessageKey;
  todo: MessageKey;
  link?: { to: string; label: MessageKey } | undefined;
}

function adviceFor(run: Run, failure: Failure): Advice {
  const report = run.reportId ? `/reports/${run.reportId}` : undefined;
  const connection = run.connectionId ? `/connections/${run.connectionId}` : undefined;
  switch (failure.errorCode) {
    case 'query':
      return {
        what: 'runs.error.query.what',
        todo: failure.errorLocation ? 'runs.error.query.todoAt' : 'runs.error.query.todo',
        link: report ? { to: report, label: 'runs.error.openReport' } : undefined,
      };
    case 'transient':
      return { what: 'runs.error.transient.what', todo: 'runs.error.transient.todo' };
    case 'connection':
      return {
        what: 'runs.error.connection.what',
        todo: 'runs.error.connection.todo',
        link: connection ? { to: connection, label: 'runs.error.openConnection' } : undefined,
      };
    case 'network':
      return {
        what: 'runs.error.network.what',
        todo: 'runs.error.network.todo',
        link: connection ? { to: connection, label: 'runs.error.openConnection' } : undefined,
      };
    case 'storage':
      return { what: 'runs.error.storage.what', todo: 'runs.error.storage.todo' };
    case 'limit':
      return {
        what: 'runs.error.limit.what',
        todo: 'runs.error.limit.todo',
        link: report ? { to: report, label: 'runs.error.openReport' } : undefined,
      };
    case 'lost':
      return { what: 'runs.error.lost.what', todo: 'runs.error.lost.todo' };
    case 'invalid':
    case 'notfound':
    case 'unprocessable':
      return {
        what: 'runs.error.prepare.what',
        todo: 'runs.error.prepare.todo',
        link: report ? { to: report, label: 'runs.error.openReport' } : undefined,
      };
    default:
      return { what: 'runs.error.other.what', todo: 'runs.error.other.todo' };
  }
}

/** Seconds until `iso`, ticking every second while in the future. */
function useSecondsUntil(iso: string | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!iso) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [iso]);
  if (!iso) return null;
  return Math.max(0, Math.ceil((new Date(iso).getTime() - now) / 1000));
}

const clock = (seconds: number) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;

/** The error card of a failed run, or of one waiting to be retried. */
export function RunErrorCard({ run }: { run: Run }) {
  const t = useT();
  const f = useFormat();
  const failure = failureOf(run);
  const advice = adviceFor(run, failure);
  const seconds = useSecondsUntil(run.retrying ? run.nextAttemptAt : null);
  const stage = failure.errorStage ? t(`runs.stage.${failure.errorStage}` as MessageKey) : null;
  const location = failure.errorLocation;
  let attemptLine: string;
  if (run.retrying) {
    attemptLine = t('runs.error.attemptOf', { n: run.attempts, m: run.maxAttempts });
  } else if (run.attempts >= run.maxAttempts && run.maxAttempts > 1) {
    attemptLine = t('runs.error.gaveUp', { m: run.attempts });
  } else {
    attemptLine = `${t('runs.error.attemptOf', { n: run.attempts, m: run.maxAttempts })} · ${t('runs.error.notRetried')}`;
  }
  return (
    <Alert
      color={run.retrying ? 'orange' : 'red'}
      title={run.retrying ? t('runs.error.titleRetrying') : t('runs.error.title')}
      // Orange words on the light orange background miss 4.5:1 contrast: the title is in the text colour.
      {...(run.retrying ? { styles: { title: { color: 'var(--mantine-color-text)' } } } : {})}
      role="alert"
      data-testid="run-error"
    >
      <Stack gap="sm">
        <div>
          <Text size="sm" fw={600}>
            {t('runs.error.whatHappened')}
          </Text>
          <Text size="sm">
            {t(advice.what)}
            {stage ? ` ${t('runs.error.atStage', { stage })}` : ''}
          </Text>
        </div>
        <div>
          <Text size="sm" fw={600}>
            {t('runs.error.whatToDo')}
          </Text>
          <Text size="sm">
            {t(advice.todo, location ? { line: location.line, column: location.column } : {})}
          </Text>
          {advice.link ? (
            // Blue on the alert's red or orange background is below 4.5:1: underlined text colour.
            <Anchor
              component={Link}
              to={advice.link.to}
              size="sm"
              c="var(--mantine-color-text)"
              underline="always"
            >
              {t(advice.link.label)}
            </Anchor>
          ) : null}
        </div>
        <Text size="sm" data-testid="run-attempts-line">
          {attemptLine}
          {run.retrying && run.nextAttemptAt && seconds !== null
            ? ` · ${t('runs.error.nextIn', { countdown: clock(seconds), time: f.time(run.nextAttemptAt) })}`
            : ''}
        </Text>
        {failure.error ? (
          <Accordion variant="contained" chevronPosition="left">
            <Accordion.Item value="details">
              <Accordion.Control>{t('runs.error.details')}</Accordion.Control>
              <Accordion.Panel>
                <Group align="flex-start" wrap="nowrap" gap="xs">
                  <Code block style={{ whiteSpace: 'pre-wrap', flex: 1, overflowWrap: 'anywhere' }}>
                    {failure.error}
                  </Code>
                  <CopyButton value={failure.error}>
                    {({ copied, copy }) => (
                      <Button size="xs" variant="light" color={copied ? 'teal' : 'gray'} onClick={copy}>
                        {copied ? t('action.copied') : t('runs.error.copy')}
                      </Button>
                    )}
                  </CopyButton>
                </Group>
                {failure.errorCode ? (
                  <Text size="xs" c="dimmed" mt={4}>
                    {t('runs.error.code', { code: failure.errorCode })}
                  </Text>
                ) : null}
              </Accordion.Panel>
            </Accordion.Item>
          </Accordion>
        ) : null}
      </Stack>
    </Alert>
  );
}

/** Why a run was skipped, in words; grey, never green. */
export function SkipNotice({ run }: { run: Run }) {
  const t = useT();
  let key: MessageKey = 'runs.skip.missed';
  if (run.status === 'skipped_overlap') key = 'runs.skip.overlap';
  if (run.status === 'skipped_condition')
    key = run.rowCount === 0 ? 'runs.skip.conditionNoRows' : 'runs.skip.conditionUnchanged';
  return (
    <Alert color="gray" title={t(`status.${run.status}` as MessageKey)} data-testid="run-skip">
      <Text size="sm">{t(key)}</Text>
    </Alert>
  );
}
