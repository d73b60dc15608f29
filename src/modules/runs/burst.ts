import { isValidEmailAddress } from '../../delivery/email-address.ts';
import { type Column, SourceQueryError, type Value } from '../../engine/sources/types.ts';
import { Invalid, Unprocessable } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import type { Deps } from '../deps.ts';
import { type ParameterDefinition, resolveValues } from '../reports/parameters.ts';
import { prepareReportQuery } from '../reports/service.ts';
import { enqueueNewRuns } from './jobs.ts';
import { announceOutcome, endCancelled } from './lifecycle.ts';
import {
  completeBurstLead,
  finishAttempt,
  insertRecipientRuns,
  isCancelRequested,
  type RunRow,
} from './repo.ts';

// Bursting (issue 17, part 12): a schedule's recipients query names who gets the
// report and with which parameter values. The burst's lead run reads it through
// the same read-only gate as a report, then makes one queued run per recipient
// (the report with that recipient's values, its e-mail to that address only)
// and ends; each recipient's run is an ordinary run with its own file,
// attempts and deliveries.

/** More recipients than this is a query that forgot its WHERE: the burst fails rather than mail thousands. */
export const MAX_RECIPIENTS = 1000;
const EMAIL_COLUMN = 'email';

export interface Recipient {
  id: string;
  email: string;
  parameters: Record<string, unknown>;
}

type Warning = { code: string; message: string; count: number };

/** A value from the recipients query as a parameter would be given it in a request. */
function parameterValue(value: Value, def: ParameterDefinition): unknown {
  if (value instanceof Date)
    return def.type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && (def.type === 'number' || def.type === 'integer') && value.trim() !== '')
    return Number(value);
  return value;
}

/**
 * Checks the columns of the recipients query against the report: an `email`
 * column, and every other column a parameter of the report. Wrong columns fail
 * the whole burst (every row would be wrong the same way).
 */
function checkColumns(columns: Column[], defs: ParameterDefinition[]): { emailAt: number } {
  const names = columns.map((c) => c.name);
  const emailAt = names.findIndex((n) => n.toLowerCase() === EMAIL_COLUMN);
  if (emailAt < 0)
    throw new Unprocessable(
      `The recipients query has no "email" column (it returned: ${names.join(', ') || 'no columns'})`,
    );
  const known = new Set(defs.map((d) => d.name));
  const unknown = names.filter((n, i) => i !== emailAt && !known.has(n));
  if (unknown.length > 0)
    throw new Unprocessable(
      `The recipients query returned ${unknown.map((n) => `"${n}"`).join(', ')}, which the report has no parameter for` +
        ` (its parameters: ${defs.map((d) => d.name).join(', ') || 'none'}). Return "email" and parameter columns only.`,
    );
  return { emailAt };
}

/**
 * Reads the recipients: at most MAX_RECIPIENTS valid rows. A row without a valid
 * address or with a parameter value the report refuses is left out and counted
 * in the lead's warnings (naming the first rows), never sent with wrong values;
 * an address listed twice with the same values gets one run.
 */
export async function readRecipients(
  deps: Deps,
  run: RunRow,
  signal: AbortSignal,
  limits: { timeoutMs: number; batchSize: number },
): Promise<{ recipients: Recipient[]; warnings: Warning[] }> {
  const snapshot = run.report_snapshot;
  const defs = snapshot.parameters as ParameterDefinition[];
  const at = run.scheduled_for ?? run.created_at;
  const ctx = { now: at, timeZone: run.time_zone, lastSuccessfulRunAt: null };
  let prepared: Awaited<ReturnType<typeof prepareReportQuery>>;
  try {
    prepared = await prepareReportQuery(
      deps,
      run.tenant_id,
      { connectionId: snapshot.connectionId, sql: run.recipients_sql, parameters: [] },
      {},
      ctx,
    );
  } catch (err) {
    if (err instanceof Invalid) throw new Unprocessable(`The recipients query is not valid: ${err.message}`);
    throw err;
  }
  const stream = await prepared.source.openRows(prepared.query, signal, limits).catch((err: unknown) => {
    if (err instanceof SourceQueryError) err.message = `The recipients query failed: ${err.message}`;
    throw err;
  });
  const { emailAt } = checkColumns(stream.columns, defs);
  const byName = new Map(defs.map((d) => [d.name, d]));
  const recipients: Recipient[] = [];
  const seen = new Set<string>();
  const badAddress: number[] = [];
  const badValues: string[] = [];
  let rowNumber = 0;
  try {
    for await (const batch of stream.batches) {
      for (const row of batch) {
        rowNumber++;
        const raw = row[emailAt];
        const email = typeof raw === 'string' ? raw.trim() : '';
        if (!isValidEmailAddress(email)) {
          badAddress.push(rowNumber);
          continue;
        }
        const given: Record<string, unknown> = {};
        stream.columns.forEach((c, i) => {
          if (i !== emailAt && row[i] !== null) given[c.name] = parameterValue(row[i]!, byName.get(c.name)!);
        });
        const parameters = { ...run.parameters, ...given };
        try {
          resolveValues(defs, parameters, ctx);
        } catch (err) {
          if (!(err instanceof Invalid)) throw err;
          badValues.push(`row ${rowNumber} (${email}): ${err.message}`);
          continue;
        }
        const key = `${email.toLowerCase()}\u0000${JSON.stringify(parameters)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (recipients.length === MAX_RECIPIENTS)
          throw new Unprocessable(
            `The recipients query returned more than ${MAX_RECIPIENTS} recipients; a burst sends to at most ${MAX_RECIPIENTS}`,
          );
        recipients.push({ id: newId(), email, parameters });
      }
    }
  } finally {
    await stream.close?.();
  }
  const warnings: Warning[] = [];
  if (badAddress.length > 0)
    warnings.push({
      code: 'recipient_address',
      message: `Left out ${badAddress.length} row(s) without a valid e-mail address (rows ${listed(badAddress.map(String))})`,
      count: badAddress.length,
    });
  if (badValues.length > 0)
    warnings.push({
      code: 'recipient_parameters',
      message: `Left out ${badValues.length} row(s) whose values the report refuses: ${listed(badValues)}`,
      count: badValues.length,
    });
  return { recipients, warnings };
}

const listed = (items: string[]) => items.slice(0, 5).join('; ') + (items.length > 5 ? '; …' : '');

/**
 * The lead's attempt: read the recipients, then in one transaction make their
 * runs, queue them and end the lead; a cancel asked for meanwhile wins (S10).
 */
export async function expandBurst(
  deps: Deps,
  run: RunRow,
  attemptId: string,
  signal: AbortSignal,
  limits: { timeoutMs: number; batchSize: number },
): Promise<void> {
  const { recipients, warnings } = await readRecipients(deps, run, signal, limits);
  signal.throwIfAborted();
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const ended = await completeBurstLead(tx, run.id, attemptId, {
      recipients: recipients.length,
      warnings,
      now,
    });
    if (!ended) {
      if (await isCancelRequested(tx, run.id)) await endCancelled(tx, run.id, attemptId, now);
      return;
    }
    await insertRecipientRuns(tx, run, recipients, now);
    await enqueueNewRuns(
      deps,
      tx,
      recipients.map((r) => ({ id: r.id, tenantId: run.tenant_id })),
    );
    await finishAttempt(tx, attemptId, 'succeeded', null, now);
    // The lead has no file: its destinations are its recipients' runs' to deliver to.
    await announceOutcome(deps, tx, { run: { ...run, destination_ids: [] }, status: 'succeeded' });
  });
  deps.log.info({ runId: run.id, recipients: recipients.length }, 'burst expanded');
}
