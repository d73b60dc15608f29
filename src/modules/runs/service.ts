import type { Tx } from '../../db/db.ts';
import { DEFAULT_FILE_NAME, FileNameError, renderFileName } from '../../engine/formats/file-name.ts';
import {
  compressionOf,
  type ExportFormat,
  FormatOptionError,
  resolveFormat,
} from '../../engine/formats/registry.ts';
import { Conflict, Invalid, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { isValidTimeZone } from '../../lib/zoned-time.ts';
import { getArtifactForRun, listDownloads } from '../artifacts/repo.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { checkDestinationIds } from '../destinations/service.ts';
import { resolveValues } from '../reports/parameters.ts';
import { getReport, type ReportRow } from '../reports/repo.ts';
import { enqueueRunAttempt } from './jobs.ts';
import { presentRun, type RunView } from './present.ts';
import {
  deleteFinishedRun,
  deliveriesOfRuns,
  getRun,
  insertRun,
  listAttempts,
  listRuns,
  nextAttemptAt,
  type RunFilter,
  type RunRow,
  requestCancel,
  requeueFailedRun,
  runLabels,
} from './repo.ts';

export interface ExportRequest {
  reportId: string;
  parameters?: Record<string, unknown> | undefined;
  format: ExportFormat;
  formatOptions?: Record<string, unknown> | undefined;
  timezone?: string | undefined;
  destinationIds?: string[] | undefined;
}

/** Checks a format and its options as a run would use them; Invalid names the option at fault. */
export function checkFormat(format: ExportFormat, options: Record<string, unknown>): void {
  try {
    resolveFormat(format, options);
    compressionOf(options);
    const template = options['fileName'];
    if (template !== undefined) {
      if (typeof template !== 'string' || template.length > 200)
        throw new FormatOptionError('formatOptions.fileName', 'must be text of at most 200 characters');
      renderFileName(template, {
        report: 'r',
        runId: '00000000',
        ext: 'csv',
        at: new Date(),
        timeZone: 'UTC',
      });
    }
  } catch (err) {
    if (err instanceof FormatOptionError)
      throw Invalid.field(err.path, err.message.slice(err.path.length + 1));
    if (err instanceof FileNameError) throw Invalid.field('formatOptions.fileName', err.message);
    throw err;
  }
}

/** A one-off export: checked now (report, parameters, format), run by a worker. Answers with the queued run. */
export async function createExport(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  request: ExportRequest,
  trigger: 'api' | 'manual' = 'api',
): Promise<RunView> {
  const report = await getReport(deps.db, actor.tenantId, request.reportId);
  if (!report) throw Invalid.field('reportId', 'no report with this id');
  const timeZone = request.timezone ?? 'UTC';
  if (!isValidTimeZone(timeZone))
    throw Invalid.field('timezone', `"${timeZone}" is not an IANA time zone such as Europe/Berlin`);
  const formatOptions = request.formatOptions ?? {};
  checkFormat(request.format, formatOptions);
  const destinationIds = request.destinationIds ?? [];
  await checkDestinationIds(deps, actor.tenantId, destinationIds);
  const parameters = request.parameters ?? {};
  // Wrong or missing parameters fail the request, not the run.
  resolveValues(report.parameters, parameters, {
    now: deps.clock.now(),
    timeZone,
    lastSuccessfulRunAt: null,
  });
  const id = newId();
  const now = deps.clock.now();
  const run = await deps.db.transaction(async (tx) => {
    const created = await insertQueuedRun(deps, tx, report, {
      id,
      tenantId: actor.tenantId,
      trigger,
      format: request.format,
      formatOptions,
      parameters,
      timeZone,
      createdBy: actor.userId,
      now,
      destinationIds,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'run.created',
      targetType: 'run',
      targetId: id,
      details: { report: report.name, format: request.format },
    });
    return created;
  });
  return presentRun(run);
}

/** A queued run of a report (snapshotted as it is now) and its first job, in the caller's transaction: both exist or neither. */
export async function insertQueuedRun(
  deps: Deps,
  tx: Tx,
  report: ReportRow,
  r: {
    id: string;
    tenantId: string;
    trigger: 'api' | 'manual';
    format: string;
    formatOptions: Record<string, unknown>;
    parameters: Record<string, unknown>;
    timeZone: string;
    createdBy: string | null;
    now: Date;
    scheduleId?: string;
    destinationIds?: string[];
    recipientsSql?: string | null;
  },
): Promise<RunRow> {
  const created = await insertRun(tx, { ...r, reportId: report.id, maxAttempts: 3 });
  if (!created) throw new NotFound('Report');
  await enqueueRunAttempt(deps, tx, { id: r.id, tenantId: r.tenantId }, 1);
  return created;
}

/**
 * `ferry export`: a run of any tenant's report for the operator at the terminal,
 * with one attempt and no job: the command runs it in its own process.
 */
export async function createOperatorExport(
  deps: Deps,
  report: ReportRow,
  request: { format: ExportFormat; parameters: Record<string, unknown> },
): Promise<RunRow> {
  const run = await insertRun(deps.db, {
    id: newId(),
    tenantId: report.tenant_id,
    reportId: report.id,
    trigger: 'cli',
    format: request.format,
    formatOptions: {},
    parameters: request.parameters,
    timeZone: 'UTC',
    maxAttempts: 1,
    createdBy: null,
    now: deps.clock.now(),
  });
  if (!run) throw new NotFound('Report');
  return run;
}

/** A run as the API shows it, without its attempts and downloads (for the CLI's progress). */
export async function readRun(deps: Deps, tenantId: string, id: string): Promise<RunView> {
  return presentRun(await loadRun(deps, tenantId, id));
}

async function loadRun(deps: Deps, tenantId: string, id: string) {
  const run = await getRun(deps.db, tenantId, id);
  if (!run) throw new NotFound('Run');
  return run;
}

export async function getTenantRun(deps: Deps, actor: Principal, id: string): Promise<RunView> {
  const run = await loadRun(deps, actor.tenantId, id);
  const waiting = run.status === 'queued' && run.attempts > 0 && run.error !== null;
  const [attempts, downloads, artifact, labels, next, deliveries] = await Promise.all([
    listAttempts(deps.db, id),
    listDownloads(deps.db, actor.tenantId, id),
    getArtifactForRun(deps.db, actor.tenantId, id),
    runLabels(deps.db, actor.tenantId, [id]),
    waiting ? nextAttemptAt(deps.db, id, run.attempts + 1) : null,
    deliveriesOfRuns(deps.db, actor.tenantId, [id]),
  ]);
  const available = Boolean(artifact && !artifact.deleted_at && artifact.expires_at > deps.clock.now());
  return presentRun(run, {
    attempts,
    downloads,
    hasFile: available,
    labels: labels.get(id),
    nextAttemptAt: next,
    deliveries: deliveries.get(id),
    file: artifact
      ? { state: available ? 'available' : 'expired', expiresAt: artifact.expires_at.toISOString() }
      : null,
  });
}

export async function listTenantRuns(
  deps: Deps,
  actor: Principal,
  q: RunFilter & { cursor?: string | undefined; limit: number },
): Promise<Page<RunView>> {
  const cursor = decodeCursor(q.cursor, { at: 'number', id: 'uuid' });
  const rows = await listRuns(
    deps.db,
    actor.tenantId,
    q,
    cursor ? { createdAt: new Date(cursor.at), id: cursor.id } : null,
    q.limit + 1,
  );
  const shown = rows.slice(0, q.limit).map((r) => r.id);
  const [labels, deliveries] = await Promise.all([
    runLabels(deps.db, actor.tenantId, shown),
    deliveriesOfRuns(deps.db, actor.tenantId, shown),
  ]);
  return toPage(
    rows,
    q.limit,
    (r) => presentRun(r, { labels: labels.get(r.id), deliveries: deliveries.get(r.id) }),
    (r) => ({ at: r.created_at.getTime(), id: r.id }),
  );
}

export async function cancelRun(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<RunView> {
  const run = await deps.db.transaction(async (tx) => {
    const updated = await requestCancel(tx, actor.tenantId, id, deps.clock.now());
    if (!updated) {
      const current = await getRun(tx, actor.tenantId, id);
      if (!current) throw new NotFound('Run');
      throw new Conflict(`The run is ${current.status}; only a queued or running run can be cancelled`);
    }
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'run.cancelled',
      targetType: 'run',
      targetId: id,
    });
    return updated;
  });
  return presentRun(run);
}

export async function retryRun(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<RunView> {
  const run = await deps.db.transaction(async (tx) => {
    const updated = await requeueFailedRun(tx, actor.tenantId, id);
    if (!updated) {
      const current = await getRun(tx, actor.tenantId, id);
      if (!current) throw new NotFound('Run');
      throw new Conflict(`The run is ${current.status}; only a failed run can be retried`);
    }
    await enqueueRunAttempt(deps, tx, { id, tenantId: actor.tenantId }, updated.attempts + 1);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'run.retried',
      targetType: 'run',
      targetId: id,
    });
    return updated;
  });
  return presentRun(run);
}

/** Deletes a finished run and its file; active runs must be cancelled first. */
export async function deleteRun(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  const key = await deps.db.transaction(async (tx) => {
    const run = await getRun(tx, actor.tenantId, id);
    if (!run) throw new NotFound('Run');
    const artifact = await getArtifactForRun(tx, actor.tenantId, id);
    if (!(await deleteFinishedRun(tx, actor.tenantId, id)))
      throw new Conflict(`The run is ${run.status}; cancel it before deleting it`);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'run.deleted',
      targetType: 'run',
      targetId: id,
      details: { report: run.report_name },
    });
    return artifact && !artifact.deleted_at ? artifact.key : null;
  });
  // The row is gone first: a crash here leaves an orphan file, never a row pointing at nothing.
  if (key) await deps.storage.remove(key);
}

export { DEFAULT_FILE_NAME };
