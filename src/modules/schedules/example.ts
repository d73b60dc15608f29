import type { Executor } from '../../db/db.ts';
import { newId } from '../../lib/ids.ts';
import { presetToTiming } from '../../timing/presets.ts';
import { compileDefinition } from '../../timing/timing.ts';
import { getDestinations } from '../destinations/repo.ts';
import { insertReport } from '../reports/repo.ts';
import { findTemplate } from '../reports/templates.ts';
import { insertSchedule, pauseSchedule, type ScheduleRow } from './repo.ts';

// What report builders give a new workspace: a report that works on the demo
// data and a schedule that shows what a schedule is. The example is a weekly
// "Usage summary" PDF, paused because it has nowhere to go yet; choosing an
// e-mail destination for it under "Where" starts it.

export const EXAMPLE_PAUSED_REASON =
  'An example: it starts once you choose an e-mail destination for it under "Where"';
const TEMPLATE = 'weekly-usage-summary';
const PRESET = { kind: 'weekly' as const, weekday: 'monday' as const, time: '08:00' };

/** Adds the example report and its paused schedule to a new tenant, in the tenant's transaction. */
export async function provisionExampleSchedule(
  tx: Executor,
  t: { tenantId: string; ownerId: string; demoConnectionId: string; now: Date },
): Promise<void> {
  const template = findTemplate(TEMPLATE);
  if (!template) throw new Error(`the ${TEMPLATE} template is missing`);
  const report = await insertReport(tx, {
    id: newId(),
    tenantId: t.tenantId,
    connectionId: t.demoConnectionId,
    name: 'Usage summary',
    description: template.description,
    sql: template.sql,
    spec: null,
    parameters: template.parameters,
    templateKey: template.key,
    createdBy: t.ownerId,
  });
  const timing = presetToTiming(PRESET);
  const compiled = compileDefinition(
    { cron: timing.cron, time_zone: 'UTC', calendar: null, day_rule: timing.dayRule },
    t.now,
  );
  const id = newId();
  await insertSchedule(tx, {
    id,
    tenantId: t.tenantId,
    ownerId: t.ownerId,
    nextRunAt: compiled.nextAfter(t.now)!,
    now: t.now,
    reportId: report.id,
    name: 'Usage summary every Monday',
    parameters: {},
    format: 'pdf',
    formatOptions: {},
    cron: timing.cron,
    preset: { ...PRESET },
    timeZone: 'UTC',
    calendar: null,
    dayRule: timing.dayRule,
    condition: 'always',
    missedPolicy: 'latest',
    missedCap: 100,
    overlapPolicy: 'skip',
    destinationIds: [],
    notifyEmails: [],
    pauseAfterFailures: 5,
    recipientsSql: null,
  });
  await pauseSchedule(tx, t.tenantId, id, EXAMPLE_PAUSED_REASON, t.now);
}

/** Whether an edit starts the paused example: it is still waiting, and now has an e-mail destination. */
export async function startsExample(
  tx: Executor,
  locked: ScheduleRow,
  destinationIds: string[],
): Promise<boolean> {
  if (locked.active || locked.paused_reason !== EXAMPLE_PAUSED_REASON || destinationIds.length === 0)
    return false;
  const destinations = await getDestinations(tx, locked.tenant_id, destinationIds);
  return destinations.some((d) => d.type === 'email');
}
