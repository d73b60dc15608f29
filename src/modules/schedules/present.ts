import type { DescriptionLanguage } from '../../timing/describe.ts';
import type { Preset } from '../../timing/presets.ts';
import { compileScheduleTiming } from '../../timing/timing.ts';
import type { ScheduleRow } from './repo.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

export interface LastRun {
  id: string;
  status: string;
  scheduled_for: Date | null;
  created_at: Date;
  finished_at: Date | null;
}

/** What leaves the API for a schedule: its definition, when it fires next (five occurrences) and in words (in `language`). */
export function presentSchedule(
  row: ScheduleRow,
  lastRun: LastRun | null,
  language: DescriptionLanguage = 'en',
) {
  const timing = compileScheduleTiming(row);
  const next = row.active ? row.next_run_at : null;
  const upcoming = next ? [next, ...timing.upcoming(next, 4)] : [];
  return {
    id: row.id,
    name: row.name,
    reportId: row.report_id,
    parameters: row.parameters,
    format: row.format,
    formatOptions: row.format_options,
    cron: row.day_rule ? null : row.cron,
    // Stored as it was given, after presetToTiming accepted it.
    preset: row.preset as Preset | null,
    timezone: row.time_zone,
    calendar: row.calendar,
    description: timing.describe(language),
    destinationIds: row.destination_ids,
    recipientsSql: row.recipients_sql,
    condition: row.condition,
    missedPolicy: row.missed_policy,
    missedCap: row.missed_cap,
    overlapPolicy: row.overlap_policy,
    active: row.active,
    pausedReason: row.active ? null : row.paused_reason,
    nextRunAt: iso(next),
    upcoming: upcoming.map((d) => d.toISOString()),
    pendingOccurrences: row.backlog.map((d) => d.toISOString()),
    lastRun: lastRun
      ? {
          id: lastRun.id,
          status: lastRun.status,
          scheduledFor: iso(lastRun.scheduled_for),
          createdAt: lastRun.created_at.toISOString(),
          finishedAt: iso(lastRun.finished_at),
        }
      : null,
    notify: { emails: row.notify_emails, pauseAfterFailures: row.pause_after_failures },
    consecutiveFailures: row.consecutive_failures,
    ownerId: row.owner_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export type ScheduleView = ReturnType<typeof presentSchedule>;
