import {
  ActionIcon,
  Anchor,
  Button,
  CloseButton,
  Group,
  Menu,
  Modal,
  Paper,
  Tabs,
  Text,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { errorMessage } from '../../api/client';
import { useCan } from '../../app/session';
import { ConfirmButton } from '../../components/ConfirmButton';
import { RunProgress, useLiveRun } from '../../components/run-live';
import { ErrorAlert } from '../../components/states';
import { useT } from '../../i18n';
import { isBusy, type Schedule, useScheduleActions } from './api';

/** Run now: the started run appears in a live panel (?run= in the address); 409 says a run is still going. */
export function useRunNow() {
  const t = useT();
  const [search, setSearch] = useSearchParams();
  const { runNow } = useScheduleActions();
  const start = (id: string) =>
    runNow.mutate(id, {
      onSuccess: (run) => {
        const next = new URLSearchParams(search);
        next.set('run', run.id);
        setSearch(next);
      },
      onError: (err) =>
        notifications.show({
          color: isBusy(err) ? 'yellow' : 'red',
          title: isBusy(err) ? t('schedules.runNow.busyTitle') : t('schedules.runNow.failed'),
          message: isBusy(err) ? t('schedules.runNow.busy') : errorMessage(err),
        }),
    });
  return { start, pendingFor: runNow.isPending ? runNow.variables : undefined };
}

/** The run started with Run now, live, until closed. */
export function RunStartedPanel() {
  const t = useT();
  const [search, setSearch] = useSearchParams();
  const runId = search.get('run') ?? undefined;
  const live = useLiveRun(runId);
  if (!runId) return null;
  const close = () => {
    const next = new URLSearchParams(search);
    next.delete('run');
    setSearch(next, { replace: true });
  };
  return (
    <Paper withBorder p="md" mb="md" aria-labelledby="run-started-title" component="section">
      <Group justify="space-between" mb="xs" wrap="nowrap">
        <Text fw={500} id="run-started-title">
          {t('schedules.runNow.started', { report: live.run?.reportName ?? '' })}
        </Text>
        <Group gap="xs" wrap="nowrap">
          <Anchor component={Link} to={`/runs/${runId}`} size="sm">
            {t('schedules.runNow.open')}
          </Anchor>
          <CloseButton aria-label={t('action.close')} onClick={close} />
        </Group>
      </Group>
      {live.error ? <ErrorAlert error={live.error} onRetry={live.refetch} /> : null}
      {live.run ? <RunProgress run={live.run} mode={live.mode} /> : null}
    </Paper>
  );
}

/** Settings and History of one schedule, each its own address. */
export function ScheduleTabs({ id, current }: { id: string; current: 'settings' | 'history' }) {
  const t = useT();
  const navigate = useNavigate();
  return (
    <Tabs
      value={current}
      onChange={(v) => navigate(v === 'history' ? `/schedules/${id}/history` : `/schedules/${id}`)}
      mb="md"
    >
      <Tabs.List>
        <Tabs.Tab value="settings">{t('schedules.tab.settings')}</Tabs.Tab>
        <Tabs.Tab value="history">{t('schedules.tab.history')}</Tabs.Tab>
      </Tabs.List>
    </Tabs>
  );
}

/** The page header's actions for one schedule: run now, pause/resume, duplicate, delete. */
export function ScheduleActions({ schedule }: { schedule: Schedule }) {
  const t = useT();
  const navigate = useNavigate();
  const canRun = useCan('runs:write');
  const canWrite = useCan('schedules:write');
  const { setActive, remove } = useScheduleActions();
  const runNow = useRunNow();
  return (
    <>
      {canRun ? (
        <Button
          variant="light"
          loading={runNow.pendingFor === schedule.id}
          onClick={() => runNow.start(schedule.id)}
        >
          {t('schedules.action.runNow')}
        </Button>
      ) : null}
      {canWrite ? (
        <>
          <Button
            variant="default"
            loading={setActive.isPending}
            onClick={() => setActive.mutate({ id: schedule.id, active: !schedule.active })}
          >
            {schedule.active ? t('schedules.action.pause') : t('schedules.action.resume')}
          </Button>
          <Button variant="default" component={Link} to={`/schedules/new?from=${schedule.id}`}>
            {t('schedules.action.duplicate')}
          </Button>
          <ConfirmButton
            title={t('confirm.deleteTitle', { name: schedule.name })}
            text={t('schedules.delete.text')}
            confirmLabel={t('action.delete')}
            loading={remove.isPending}
            onConfirm={() =>
              remove.mutateAsync(schedule.id).then(
                () => {
                  notifications.show({ color: 'green', message: t('state.deleted') });
                  navigate('/schedules');
                },
                (err: unknown) => notifications.show({ color: 'red', message: errorMessage(err) }),
              )
            }
          >
            {t('action.delete')}
          </ConfirmButton>
        </>
      ) : null}
      {setActive.error ? <ErrorAlert error={setActive.error} /> : null}
    </>
  );
}

/** The ⋯ menu of a row in the list. */
export function RowMenu({ schedule }: { schedule: Schedule }) {
  const t = useT();
  const navigate = useNavigate();
  const canRun = useCan('runs:write');
  const canWrite = useCan('schedules:write');
  const { setActive, remove } = useScheduleActions();
  const runNow = useRunNow();
  const [deleting, setDeleting] = useState(false);
  return (
    <>
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <ActionIcon
            variant="subtle"
            color="gray"
            aria-label={t('schedules.list.menu', { name: schedule.name })}
            loading={runNow.pendingFor === schedule.id || setActive.isPending}
          >
            <span aria-hidden="true">⋯</span>
          </ActionIcon>
        </Menu.Target>
        <Menu.Dropdown>
          {canRun ? (
            <Menu.Item onClick={() => runNow.start(schedule.id)}>{t('schedules.action.runNow')}</Menu.Item>
          ) : null}
          {canWrite ? (
            <>
              <Menu.Item
                onClick={() =>
                  setActive.mutate(
                    { id: schedule.id, active: !schedule.active },
                    { onError: (err) => notifications.show({ color: 'red', message: errorMessage(err) }) },
                  )
                }
              >
                {schedule.active ? t('schedules.action.pause') : t('schedules.action.resume')}
              </Menu.Item>
              <Menu.Item onClick={() => navigate(`/schedules/new?from=${schedule.id}`)}>
                {t('schedules.action.duplicate')}
              </Menu.Item>
            </>
          ) : null}
          <Menu.Item onClick={() => navigate(`/schedules/${schedule.id}/history`)}>
            {t('schedules.action.history')}
          </Menu.Item>
          {canWrite ? (
            <>
              <Menu.Divider />
              <Menu.Item color="red" onClick={() => setDeleting(true)}>
                {t('action.delete')}
              </Menu.Item>
            </>
          ) : null}
        </Menu.Dropdown>
      </Menu>
      <Modal
        opened={deleting}
        onClose={() => setDeleting(false)}
        title={t('confirm.deleteTitle', { name: schedule.name })}
        centered
      >
        <Text size="sm">{t('schedules.delete.text')}</Text>
        {remove.error ? <ErrorAlert error={remove.error} /> : null}
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={() => setDeleting(false)}>
            {t('action.cancel')}
          </Button>
          <Button
            color="red"
            loading={remove.isPending}
            onClick={() =>
              remove.mutate(schedule.id, {
                onSuccess: () => {
                  setDeleting(false);
                  notifications.show({ color: 'green', message: t('state.deleted') });
                },
              })
            }
          >
            {t('action.delete')}
          </Button>
        </Group>
      </Modal>
    </>
  );
}
