import type { ResponseOf } from '../../api/client';
import type { Translate } from '../../i18n';

export type RunItem = ResponseOf<'/api/v1/runs', 'get'>['items'][number];

/**
 * The status a person reads: a run queued again after a failed attempt is
 * "Retrying", a running run asked to stop is "Cancelling", a run whose file was
 * made but a destination did not get it is "Partly delivered" (its own status
 * stays succeeded).
 */
export function shownStatus(
  run: Pick<RunItem, 'status' | 'retrying' | 'cancelRequested'> & {
    deliverySummary?: RunItem['deliverySummary'];
  },
): string {
  if (run.retrying) return 'retrying';
  if (run.cancelRequested && (run.status === 'running' || run.status === 'queued')) return 'cancelling';
  if (run.status === 'succeeded' && (run.deliverySummary?.failed ?? 0) > 0) return 'partly_delivered';
  return run.status;
}

export type Failure = Pick<RunItem, 'error' | 'errorCode' | 'errorStage' | 'errorLocation'>;

/** The failure a run shows: its own once it has ended, the failed attempt's while it waits to retry. */
export function failureOf(run: Failure & Pick<RunItem, 'lastFailure'>): Failure {
  return run.lastFailure ?? run;
}

/** "Schedule", "Manually by Ann", "API key", "Command line". */
export function triggerText(t: Translate, run: Pick<RunItem, 'trigger' | 'createdBy'>): string {
  switch (run.trigger) {
    case 'schedule':
      return t('runs.trigger.schedule');
    case 'manual':
      return run.createdBy
        ? t('runs.trigger.manualBy', { name: run.createdBy.name })
        : t('runs.trigger.manual');
    case 'api':
      return t('runs.trigger.api');
    case 'cli':
      return t('runs.trigger.cli');
    default:
      return run.trigger;
  }
}

export const TRIGGERS = ['schedule', 'manual', 'api', 'cli'] as const;
export const STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'skipped_missed',
  'skipped_overlap',
  'skipped_condition',
] as const;

export const isSkipped = (status: string) => status.startsWith('skipped_');
