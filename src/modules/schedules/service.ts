import { parseAddressList } from '../../delivery/email.ts';
import type { ExportFormat } from '../../engine/formats/registry.ts';
import { Conflict, Invalid, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import type { DescriptionLanguage } from '../../timing/describe.ts';
import { describeOccurrences, timingWarnings } from '../../timing/insights.ts';
import type { CompiledTiming, DayRule } from '../../timing/occurrences.ts';
import { TimingError } from '../../timing/occurrences.ts';
import { type Preset, presetToTiming } from '../../timing/presets.ts';
import { compileDefinition } from '../../timing/timing.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { checkDestinationIds } from '../destinations/service.ts';
import { resolveValues } from '../reports/parameters.ts';
import { getReport } from '../reports/repo.ts';
import { checkRecipientsQuery } from '../reports/service.ts';
import { presentRun, type RunView } from '../runs/present.ts';
import { lastRunsOfSchedules, scheduleHasActiveRun } from '../runs/repo.ts';
import { checkFormat, insertQueuedRun } from '../runs/service.ts';
import { startsExample } from './example.ts';
import { presentSchedule, type ScheduleView } from './present.ts';
import {
  databaseNow,
  deleteSchedule,
  getSchedule,
  insertSchedule,
  listSchedules,
  lockSchedule,
  pauseSchedule,
  resumeSchedule,
  type ScheduleFields,
  type ScheduleRow,
  updateSchedule,
} from './repo.ts';

export interface ScheduleInput {
  name?: string | undefined;
  reportId?: string | undefined;
  parameters?: Record<string, unknown> | undefined;
  format?: ExportFormat | undefined;
  formatOptions?: Record<string, unknown> | undefined;
  cron?: string | undefined;
  preset?: Preset | undefined;
  timezone?: string | undefined;
  calendar?: { country: string; region?: string | undefined } | null | undefined;
  destinationIds?: string[] | undefined;
  condition?: ScheduleFields['condition'] | undefined;
  missedPolicy?: ScheduleFields['missedPolicy'] | undefined;
  missedCap?: number | undefined;
  overlapPolicy?: ScheduleFields['overlapPolicy'] | undefined;
  active?: boolean | undefined;
  notify?: { emails?: string[] | undefined; pauseAfterFailures?: number | undefined } | undefined;
  recipientsSql?: string | null | undefined;
}

function asInvalid(err: unknown): never {
  if (err instanceof TimingError) throw Invalid.field(err.field, err.message);
  throw err;
}

/** The timing part of an input: a cron expression, or a preset turned into one. */
function timingOf(
  input: ScheduleInput,
  base: ScheduleRow | null,
): Pick<ScheduleFields, 'cron' | 'preset' | 'dayRule'> {
  if (input.cron !== undefined && input.preset !== undefined)
    throw Invalid.field('preset', 'give either cron or preset, not both');
  try {
    if (input.preset !== undefined) {
      const t = presetToTiming(input.preset);
      return { cron: t.cron, preset: { ...input.preset }, dayRule: t.dayRule };
    }
  } catch (err) {
    asInvalid(err);
  }
  if (input.cron !== undefined) return { cron: input.cron, preset: null, dayRule: null };
  if (base) return { cron: base.cron, preset: base.preset, dayRule: base.day_rule };
  throw Invalid.field('cron', 'is required (or give a preset such as {"kind":"daily","time":"09:00"})');
}

/** Validates a whole definition (S14 and the report's parameters) and compiles its timing. */
async function resolveDefinition(
  deps: Deps,
  tenantId: string,
  input: ScheduleInput,
  base: ScheduleRow | null,
  now: Date,
): Promise<{ fields: ScheduleFields; timing: CompiledTiming }> {
  const reportId = input.reportId ?? base?.report_id;
  if (!reportId) throw Invalid.field('reportId', 'is required');
  const report = await getReport(deps.db, tenantId, reportId);
  if (!report) throw Invalid.field('reportId', 'no report with this id');
  const name = (input.name ?? base?.name ?? '').trim();
  if (name === '') throw Invalid.field('name', 'is required');
  const format = (input.format ?? base?.format) as ExportFormat | undefined;
  if (!format) throw Invalid.field('format', 'is required');
  const formatOptions = input.formatOptions ?? base?.format_options ?? {};
  checkFormat(format, formatOptions);
  const timing = timingOf(input, base);
  const timeZone = input.timezone ?? base?.time_zone ?? 'UTC';
  const calendar = input.calendar !== undefined ? input.calendar : (base?.calendar ?? null);
  let compiled: CompiledTiming;
  try {
    compiled = compileDefinition(
      { cron: timing.cron, time_zone: timeZone, calendar, day_rule: timing.dayRule as DayRule | null },
      now,
    );
  } catch (err) {
    asInvalid(err);
  }
  const parameters = input.parameters ?? base?.parameters ?? {};
  // Relative dates are checked as the schedule will evaluate them: in its zone.
  resolveValues(report.parameters, parameters, { now, timeZone, lastSuccessfulRunAt: null });
  const destinationIds = input.destinationIds ?? base?.destination_ids ?? [];
  await checkDestinationIds(deps, tenantId, destinationIds);
  const given = input.recipientsSql !== undefined ? input.recipientsSql : (base?.recipients_sql ?? null);
  const recipientsSql = given === null || given.trim() === '' ? null : given.trim();
  if (recipientsSql !== null) await checkRecipientsQuery(deps, tenantId, report.connection_id, recipientsSql);
  const notifyEmails = parseAddressList(input.notify?.emails ?? base?.notify_emails ?? [], 'notify.emails');
  if (notifyEmails.length > 20) throw Invalid.field('notify.emails', 'at most 20 addresses');
  return {
    fields: {
      reportId,
      name,
      parameters,
      format,
      formatOptions,
      cron: timing.cron.trim().split(/\s+/).join(' '),
      preset: timing.preset,
      timeZone,
      calendar: calendar
        ? { country: calendar.country, ...(calendar.region ? { region: calendar.region } : {}) }
        : null,
      dayRule: timing.dayRule,
      condition: input.condition ?? base?.condition ?? 'always',
      missedPolicy: input.missedPolicy ?? base?.missed_policy ?? 'latest',
      missedCap: input.missedCap ?? base?.missed_cap ?? 100,
      overlapPolicy: input.overlapPolicy ?? base?.overlap_policy ?? 'skip',
      destinationIds,
      notifyEmails,
      pauseAfterFailures: input.notify?.pauseAfterFailures ?? base?.pause_after_failures ?? 5,
      recipientsSql,
    },
    timing: compiled!,
  };
}

async function view(
  deps: Deps,
  tenantId: string,
  rows: ScheduleRow[],
  language: DescriptionLanguage,
): Promise<ScheduleView[]> {
  const last = await lastRunsOfSchedules(
    deps.db,
    tenantId,
    rows.map((r) => r.id),
  );
  return rows.map((row) => presentSchedule(row, last.get(row.id) ?? null, language));
}

export async function createSchedule(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: ScheduleInput,
  language: DescriptionLanguage = 'en',
): Promise<ScheduleView> {
  const now = await databaseNow(deps.db);
  const { fields, timing } = await resolveDefinition(deps, actor.tenantId, input, null, now);
  const active = input.active ?? true;
  const id = newId();
  const row = await deps.db.transaction(async (tx) => {
    const created = await insertSchedule(tx, {
      ...fields,
      id,
      tenantId: actor.tenantId,
      ownerId: actor.userId,
      nextRunAt: timing.nextAfter(now)!,
      now,
    });
    const result = active
      ? created
      : ((await pauseSchedule(tx, actor.tenantId, id, 'Created paused', now)) ?? created);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'schedule.created',
      targetType: 'schedule',
      targetId: id,
      details: { name: fields.name, cron: fields.cron, timezone: fields.timeZone },
    });
    return result;
  });
  return (await view(deps, actor.tenantId, [row], language))[0]!;
}

export async function getTenantSchedule(
  deps: Deps,
  actor: Principal,
  id: string,
  language: DescriptionLanguage = 'en',
): Promise<ScheduleView> {
  const row = await getSchedule(deps.db, actor.tenantId, id);
  if (!row) throw new NotFound('Schedule');
  return (await view(deps, actor.tenantId, [row], language))[0]!;
}

export async function listTenantSchedules(
  deps: Deps,
  actor: Principal,
  q: {
    reportId?: string | undefined;
    active?: boolean | undefined;
    cursor?: string | undefined;
    limit: number;
  },
  language: DescriptionLanguage = 'en',
): Promise<Page<ScheduleView>> {
  const cursor = decodeCursor(q.cursor, { at: 'number', id: 'uuid' });
  const rows = await listSchedules(
    deps.db,
    actor.tenantId,
    q,
    cursor ? { createdAt: new Date(cursor.at), id: cursor.id } : null,
    q.limit + 1,
  );
  const page = toPage(
    rows,
    q.limit,
    (r) => r,
    (r) => ({ at: r.created_at.getTime(), id: r.id }),
  );
  return {
    items: await view(deps, actor.tenantId, page.items, language),
    nextCursor: page.nextCursor,
  };
}

const timingChanged = (a: ScheduleRow, f: ScheduleFields) =>
  a.cron !== f.cron ||
  a.time_zone !== f.timeZone ||
  a.day_rule !== f.dayRule ||
  JSON.stringify(a.calendar) !== JSON.stringify(f.calendar);

export async function updateTenantSchedule(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
  input: ScheduleInput,
  language: DescriptionLanguage = 'en',
): Promise<ScheduleView> {
  const current = await getSchedule(deps.db, actor.tenantId, id);
  if (!current) throw new NotFound('Schedule');
  const now = await databaseNow(deps.db);
  const { fields, timing } = await resolveDefinition(deps, actor.tenantId, input, current, now);
  const row = await deps.db.transaction(async (tx) => {
    const locked = await lockSchedule(tx, actor.tenantId, id);
    if (!locked) throw new NotFound('Schedule');
    // A new timing counts from now, under the row lock: the scheduler can never fire the old definition after this commits.
    const changed = timingChanged(locked, fields);
    let updated = await updateSchedule(tx, actor.tenantId, id, {
      ...fields,
      nextRunAt: changed ? timing.nextAfter(now) : locked.next_run_at,
      now,
      timingChanged: changed,
    });
    if (input.active === undefined && (await startsExample(tx, locked, fields.destinationIds)))
      updated = await resumeSchedule(tx, actor.tenantId, id, timing.nextAfter(now), now);
    else if (input.active !== undefined && input.active !== locked.active)
      updated = input.active
        ? await resumeSchedule(tx, actor.tenantId, id, timing.nextAfter(now), now)
        : ((await pauseSchedule(tx, actor.tenantId, id, 'Paused by a user', now)) ?? updated);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'schedule.updated',
      targetType: 'schedule',
      targetId: id,
      details: { fields: Object.keys(input) },
    });
    return updated;
  });
  return (await view(deps, actor.tenantId, [row], language))[0]!;
}

export async function deleteTenantSchedule(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const row = await lockSchedule(tx, actor.tenantId, id);
    if (!row) throw new NotFound('Schedule');
    // Its runs stay in the history (schedule_id becomes null); a queued or running one finishes.
    await deleteSchedule(tx, actor.tenantId, id);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'schedule.deleted',
      targetType: 'schedule',
      targetId: id,
      details: { name: row.name },
    });
  });
}

/** S6: pause stops new runs; resume counts from the first occurrence after now (no burst). */
export async function setScheduleState(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
  active: boolean,
  language: DescriptionLanguage = 'en',
): Promise<ScheduleView> {
  const now = await databaseNow(deps.db);
  const row = await deps.db.transaction(async (tx) => {
    const locked = await lockSchedule(tx, actor.tenantId, id);
    if (!locked) throw new NotFound('Schedule');
    if (locked.active === active)
      throw new Conflict(active ? 'The schedule is already active' : 'The schedule is already paused');
    const updated = active
      ? await resumeSchedule(tx, actor.tenantId, id, compileDefinition(locked, now).nextAfter(now), now)
      : ((await pauseSchedule(tx, actor.tenantId, id, 'Paused by a user', now)) ?? locked);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: active ? 'schedule.resumed' : 'schedule.paused',
      targetType: 'schedule',
      targetId: id,
    });
    return updated;
  });
  return (await view(deps, actor.tenantId, [row], language))[0]!;
}

/** S7: a manual run now; 409 while a run is active; next_run_at is not moved. */
export async function runScheduleNow(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<RunView> {
  const now = await databaseNow(deps.db);
  const run = await deps.db.transaction(async (tx) => {
    const schedule = await lockSchedule(tx, actor.tenantId, id);
    if (!schedule) throw new NotFound('Schedule');
    if (await scheduleHasActiveRun(tx, id))
      throw new Conflict('A run of this schedule is queued or running; wait for it or cancel it');
    const report = await getReport(tx, actor.tenantId, schedule.report_id);
    if (!report) throw new NotFound('Report');
    const runId = newId();
    const created = await insertQueuedRun(deps, tx, report, {
      id: runId,
      tenantId: actor.tenantId,
      scheduleId: id,
      trigger: 'manual',
      format: schedule.format,
      formatOptions: schedule.format_options,
      parameters: schedule.parameters,
      timeZone: schedule.time_zone,
      createdBy: actor.userId,
      now,
      destinationIds: schedule.destination_ids,
      recipientsSql: schedule.recipients_sql,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'schedule.run_now',
      targetType: 'schedule',
      targetId: id,
      details: { runId },
    });
    return created;
  });
  return presentRun(run);
}

/** POST /cron/preview: the description (in `language`), next occurrences with their DST facts and warnings; or a 400 naming the field. */
export async function previewTiming(
  deps: Deps,
  input: {
    cron?: string | undefined;
    preset?: Preset | undefined;
    timezone?: string | undefined;
    calendar?: { country: string; region?: string | undefined } | null | undefined;
    from?: string | undefined;
    count?: number | undefined;
  },
  language: DescriptionLanguage = 'en',
) {
  const timing = timingOf(input, null);
  const from = input.from ? new Date(input.from) : await databaseNow(deps.db);
  if (Number.isNaN(from.getTime())) throw Invalid.field('from', 'must be an ISO-8601 instant');
  const timeZone = input.timezone ?? 'UTC';
  let compiled: CompiledTiming;
  try {
    compiled = compileDefinition(
      {
        cron: timing.cron,
        time_zone: timeZone,
        calendar: input.calendar ?? null,
        day_rule: timing.dayRule as DayRule | null,
      },
      from,
    );
  } catch (err) {
    asInvalid(err);
  }
  const count = input.count ?? 5;
  const next = compiled!.upcoming(from, Math.max(count, 6));
  const shown = next.slice(0, count);
  return {
    cron: timing.dayRule ? null : timing.cron,
    description: compiled!.describe(language),
    next: shown.map((d) => d.toISOString()),
    occurrences: describeOccurrences(timing.cron, timeZone, shown),
    warnings: timingWarnings(timing.cron, next),
  };
}
