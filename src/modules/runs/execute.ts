import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import type { Tx } from '../../db/db.ts';
import { compressionOf, type ExportFormat, resolveFormat } from '../../engine/formats/registry.ts';
import {
  ExportLimitError,
  type ExportResult,
  exportCopyToStream,
  exportToStream,
} from '../../engine/pipeline.ts';
import { toSourceError } from '../../engine/sources/postgres.ts';
import { nameParameters } from '../../engine/sources/sql-text.ts';
import { defaultReadLimits, SourceConnectError, SourceQueryError } from '../../engine/sources/types.ts';
import type { ObjectWriter } from '../../engine/storage/storage.ts';
import { AppError, describeError } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { insertArtifact } from '../artifacts/repo.ts';
import type { Deps } from '../deps.ts';
import type { ParameterDefinition } from '../reports/parameters.ts';
import { prepareReportQuery } from '../reports/service.ts';
import { recordScheduleFailure, recordScheduleSuccess } from '../schedules/outcomes.ts';
import { effectiveLimits } from '../tenants/service.ts';
import { DEFAULT_FILE_NAME, renderFileName } from './file-name.ts';
import { deferRunAttempt, enqueueRunAttempt, type RunJob } from './jobs.ts';
import {
  claimRun,
  completeRun,
  countRunningRuns,
  endRun,
  findLostRuns,
  finishAttempt,
  heartbeatRun,
  insertAttempt,
  isCancelRequested,
  lastDeliveredDataChecksum,
  lastSuccessfulRunAt,
  lockLeasedRun,
  lockTenantRunSlots,
  type RunRow,
  skipRunForCondition,
} from './repo.ts';

// One attempt of one run, as the `run.execute` job: claim it, stream the report
// into a temporary file while heartbeating, publish the file and the result in
// one transaction, or record why not and decide whether to try again.

export const HEARTBEAT_MS = 2_000;
const LOST_MESSAGE = 'The worker stopped responding (no heartbeat)';
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 5 * 60_000;
export const WORKER_ID = `${hostname()}:${process.pid}`;

/** Exponential backoff with full jitter (S8): never zero, capped. */
export function retryDelayMs(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.max(1_000, randomInt(0, ceiling + 1));
}

class Cancelled extends Error {
  constructor() {
    super('Cancelled by a user');
    this.name = 'Cancelled';
  }
}
class LeaseLost extends Error {
  constructor() {
    super('This attempt no longer holds the run');
    this.name = 'LeaseLost';
  }
}

class WorkerStopping extends Error {
  constructor() {
    super('The worker shut down before the export finished');
    this.name = 'WorkerStopping';
  }
}

/** Where an attempt's files live: `<tenant>/<run>/<attempt>/` (S10: an attempt only ever touches its own). */
const attemptPrefix = (run: { tenant_id: string; id: string }, attempt: number) =>
  `${run.tenant_id}/${run.id}/${attempt}/`;

interface Failure {
  message: string;
  code: string;
  retryable: boolean;
}

// PostgreSQL: serialization failure, deadlock, lock not available, statement
// timeout, server shutting down. MySQL/MariaDB: deadlock, lock wait timeout.
// SQLite: busy/locked, and Ferry's own deadline between batches.
const TRANSIENT_QUERY_CODES = new Set([
  '40001',
  '40P01',
  '55P03',
  '57014',
  '57P01',
  '57P02',
  '57P03',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  '5',
  '6',
  'timeout',
]);
// A wrong password or a missing database does not fix itself by waiting.
const PERMANENT_CONNECT = /^(28|3D)|^(ER_ACCESS_DENIED_ERROR|ER_BAD_DB_ERROR|ER_DBACCESS_DENIED_ERROR)$/;

/**
 * S8: only failures that can go away on their own retry — the network, the
 * server going away, locks and timeouts. A bad query, a missing table, wrong
 * credentials, a limit, or anything unrecognised fails at once.
 */
/** What a query error's text is read against: where a position is in the report's SQL, and the parameters' names. */
export interface QueryContext {
  locate?: ((position: number) => string | null) | undefined;
  /** The {{name}} of each bound value ($1 is names[0]). */
  names?: string[] | undefined;
  /** The run's time limit: the source's own statement timeout is set to it, and may fire first. */
  maxRunSeconds?: number | undefined;
}

/** The source stopped the statement at its own timeout (PostgreSQL statement_timeout, MariaDB max_statement_time, MySQL max_execution_time). */
function isStatementTimeout(cause: SourceQueryError): boolean {
  return (
    (cause.code === '57014' && /statement timeout/.test(cause.message)) ||
    cause.code === 'ER_QUERY_TIMEOUT' ||
    // MariaDB's error 1969, which mysql2 has no name for.
    /max_statement_time exceeded/.test(cause.message)
  );
}

export function classifyFailure(err: unknown, context: QueryContext = {}): Failure {
  const cause = err instanceof AppError && err.cause ? err.cause : err;
  if (err instanceof ExportLimitError) return { message: err.message, code: 'limit', retryable: false };
  if (cause instanceof SourceConnectError) {
    const code = (cause.cause as { code?: string } | undefined)?.code ?? '';
    return {
      message: `Cannot connect to the data source: ${cause.message}`,
      code: 'connection',
      retryable: !PERMANENT_CONNECT.test(code),
    };
  }
  if (cause instanceof SourceQueryError && context.maxRunSeconds !== undefined && isStatementTimeout(cause)) {
    // The same limit as Ferry's own deadline, whichever noticed first: said the same way.
    const limit = new ExportLimitError(`The run took longer than the limit of ${context.maxRunSeconds} s`);
    return { message: limit.message, code: 'limit', retryable: false };
  }
  if (cause instanceof SourceQueryError) {
    const transient = cause.code !== undefined && TRANSIENT_QUERY_CODES.has(cause.code);
    const where = cause.position !== undefined && context.locate ? context.locate(cause.position) : null;
    const message = nameParameters(cause.message, context.names ?? []);
    return {
      message: where ? `${message} (${where})` : message,
      code: transient ? 'transient' : 'query',
      retryable: transient,
    };
  }
  if (err instanceof AppError)
    return {
      message: err.message,
      code: err.code.toLowerCase(),
      retryable: err.code === 'Retryable' || err.code === 'Unavailable',
    };
  const code = (err as { code?: string })?.code;
  if (code && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|ECONNABORTED)$/.test(code)) {
    return { message: describeError(err), code: 'network', retryable: true };
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429))
    return { message: describeError(err), code: 'storage', retryable: true };
  // File-system and storage errors carry server paths: the tenant sees the kind of error only.
  if (code && /^E[A-Z]+$/.test(code))
    return { message: `The file could not be written (${code})`, code: 'storage', retryable: false };
  return { message: describeError(err), code: 'error', retryable: false };
}

/** "line 3, column 8": a 1-based character position of the report's own SQL as the editor shows it. */
export function lineAndColumn(sql: string, position: number): string | null {
  if (!Number.isInteger(position) || position < 1 || position > sql.length + 1) return null;
  const before = sql.slice(0, position - 1);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n') - 1;
  return `line ${line}, column ${column}`;
}

/**
 * Runs one attempt. `stopping` aborts when the worker shuts down: an attempt
 * still running then is handed back at once (see handBack).
 */
export async function executeRunAttempt(deps: Deps, job: RunJob, stopping?: AbortSignal): Promise<void> {
  const attemptId = newId();
  const started = deps.clock.now();
  const run = await deps.db.transaction(async (tx) => {
    // S11: a tenant at its cap of running runs waits; its job comes back shortly, behind other tenants' work.
    // So does a job picked up while this worker shuts down, for another worker to take.
    const tenantId = await lockTenantRunSlots(tx, job.runId);
    const atCap = async (id: string) => (await countRunningRuns(tx, id)) >= deps.config.tenantConcurrency;
    if (tenantId && (stopping?.aborted || (await atCap(tenantId)))) {
      await deferRunAttempt(deps, tx, { id: job.runId, tenantId }, job);
      return undefined;
    }
    const claimed = await claimRun(tx, job.runId, job.attempt, attemptId, started);
    if (claimed)
      await insertAttempt(tx, {
        id: attemptId,
        runId: job.runId,
        number: job.attempt,
        worker: WORKER_ID,
        now: started,
      });
    return claimed;
  });
  // Cancelled while queued, taken by another worker, or a stale job: nothing to do.
  if (!run) return;
  const log = deps.log.child({ runId: run.id, attempt: job.attempt });
  const controller = new AbortController();
  const onStopping = () => controller.abort(new WorkerStopping());
  stopping?.addEventListener('abort', onStopping, { once: true });
  let rows = 0;
  let bytes = 0;
  // S9: an attempt that could not heartbeat for a whole lease (its process was
  // stopped, or the database unreachable) may already have been declared lost
  // and retried elsewhere: it stops rather than compete with the newer attempt.
  let lastBeat = performance.now();
  const beat = setInterval(() => {
    if (performance.now() - lastBeat > deps.config.runLeaseSeconds * 1000) {
      controller.abort(new LeaseLost());
      return;
    }
    heartbeatRun(deps.db, run.id, attemptId, rows, bytes)
      .then((state) => {
        if (state === null) controller.abort(new LeaseLost());
        else if (state.cancelRequested) controller.abort(new Cancelled());
        else lastBeat = performance.now();
      })
      .catch((err) => log.warn({ err }, 'heartbeat failed'));
  }, HEARTBEAT_MS);
  let deadline: NodeJS.Timeout | undefined;
  let writer: ObjectWriter | undefined;
  // Where in the report's SQL a database error points, once the query is prepared.
  const queryContext: QueryContext = {};
  try {
    const limits = await effectiveLimits(deps, run.tenant_id);
    queryContext.maxRunSeconds = limits.maxRunSeconds;
    deadline = setTimeout(
      () =>
        controller.abort(
          new ExportLimitError(`The run took longer than the limit of ${limits.maxRunSeconds} s`),
        ),
      limits.maxRunSeconds * 1000,
    );
    const compression = compressionOf(run.format_options);
    const snapshot = run.report_snapshot;
    const prepared = await prepareReportQuery(
      deps,
      run.tenant_id,
      {
        connectionId: snapshot.connectionId,
        sql: snapshot.sql,
        spec: snapshot.spec as never,
        parameters: snapshot.parameters as ParameterDefinition[],
      },
      run.parameters,
      {
        now: run.scheduled_for ?? run.created_at,
        timeZone: run.time_zone,
        lastSuccessfulRunAt: await lastSuccessfulRunAt(
          deps.db,
          run.tenant_id,
          run.report_id,
          run.scheduled_for ?? run.created_at,
        ),
      },
    );
    queryContext.names = prepared.parameterNames;
    // The PDF header lists the values the query ran with: defaults filled in, relative dates resolved.
    const format = resolveFormat(run.format as ExportFormat, run.format_options, {
      timeZone: run.time_zone,
      title: run.report_name,
      parameters: prepared.parameters,
      generatedAt: deps.clock.now(),
    });
    // PostgreSQL can write the CSV itself when every value's text can be made
    // exactly Ferry's (no bound parameters, known types): several times faster.
    const readLimits = { timeoutMs: limits.maxRunSeconds * 1000, batchSize: defaultReadLimits.batchSize };
    // "Deliver only when changed" compares the rows' values, which the COPY path does not see.
    const hashRows = run.condition === 'changed';
    const copy =
      format.csv && prepared.source.copyCsv && !hashRows
        ? await prepared.source
            .copyCsv(prepared.query, format.csv, controller.signal, readLimits)
            .catch((err: unknown) => {
              // An error at a place in the SQL (found before any row is read): the row
              // path below meets it again, at a position that maps into the report's SQL.
              if (err instanceof SourceQueryError && err.position !== undefined && snapshot.sql) return null;
              throw err;
            })
        : null;
    // A position only maps back into the report's SQL on the row path: the COPY path
    // wraps the query (and inlines its values), so its positions point elsewhere.
    const reportSql = snapshot.sql;
    if (reportSql && !copy)
      queryContext.locate = (position) => lineAndColumn(reportSql, prepared.originalPosition(position));
    const stream = copy
      ? null
      : await prepared.source.openRows(prepared.query, controller.signal, readLimits);
    const fileName = renderFileName(
      (run.format_options['fileName'] as string | undefined) ?? DEFAULT_FILE_NAME,
      {
        report: run.report_name,
        runId: run.id,
        ext: format.extension,
        at: run.scheduled_for ?? run.created_at,
        timeZone: run.time_zone,
      },
    );
    const compressed =
      compression === 'gzip'
        ? {
            fileName: `${fileName}.gz`,
            contentType: 'application/gzip',
            compression: { kind: 'gzip' as const },
          }
        : compression === 'zip'
          ? {
              fileName: `${fileName}.zip`,
              contentType: 'application/zip',
              compression: { kind: 'zip' as const, entryName: fileName },
            }
          : { fileName, contentType: format.contentType, compression: { kind: 'none' as const } };
    const contentType = compressed.contentType;
    // Keyed by run and attempt: an attempt can only ever touch its own file, so a
    // stale attempt cleaning up after itself never removes the published one.
    const key = `${attemptPrefix(run, job.attempt)}${compressed.fileName}`;
    writer = await deps.storage.writer(key, contentType);
    const common = {
      compression: compressed.compression,
      out: writer.stream,
      signal: controller.signal,
      limits: { maxRows: limits.maxExportRows, maxBytes: limits.maxExportBytes },
      onProgress: (p: { rows: number; bytes: number }) => {
        rows = p.rows;
        bytes = p.bytes;
      },
    };
    const result =
      copy && format.csv
        ? await exportCopyToStream({
            ...common,
            source: copy.stream,
            text: { ...format.csv, rewrites: copy.rewrites },
            bom: format.csv.bom,
          }).catch((err: unknown) => {
            throw toSourceError(err);
          })
        : await exportToStream({ ...common, rows: stream!, encoder: format.encoder, hashRows });
    await writer.commit();
    writer = undefined;
    await publish(deps, run, attemptId, key, compressed.fileName, contentType, result);
    log.info({ rows: result.rows, bytes: result.bytes }, 'run succeeded');
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    // The partial file goes before the run is seen as finished (S10: a cancelled run leaves nothing).
    if (writer) {
      await writer.abort();
      writer = undefined;
    }
    await recordFailure(deps, run, attemptId, job.attempt, reason, queryContext);
  } finally {
    clearInterval(beat);
    clearTimeout(deadline);
    stopping?.removeEventListener('abort', onStopping);
    if (writer) await writer.abort();
    // Whatever happened, the source's cursor and connection are let go.
    if (!controller.signal.aborted) controller.abort(new Error('The attempt has ended'));
  }
}

async function publish(
  deps: Deps,
  run: RunRow,
  attemptId: string,
  key: string,
  fileName: string,
  contentType: string,
  result: ExportResult,
): Promise<void> {
  const now = deps.clock.now();
  const published = await deps.db.transaction(async (tx) => {
    const unmet = await unmetCondition(tx, run, result);
    if (unmet) {
      // The run did its work; the file is simply not wanted (scheduling issue: conditions).
      if (
        await skipRunForCondition(tx, run.id, attemptId, {
          rows: result.rows,
          dataChecksum: result.dataSha256,
          reason: unmet,
          now,
        })
      ) {
        await finishAttempt(tx, attemptId, 'succeeded', null, now);
        await recordScheduleSuccess(tx, run.schedule_id);
        return false;
      }
    }
    const ok = await completeRun(tx, run.id, attemptId, {
      rows: result.rows,
      bytes: result.bytes,
      fileName,
      contentType,
      checksum: result.sha256,
      dataChecksum: result.dataSha256,
      warnings: result.warnings,
      now,
    });
    if (!ok) {
      // Cancelled while finishing (S10): the run ends cancelled, not succeeded.
      if (await isCancelRequested(tx, run.id)) {
        await endRun(
          tx,
          run.id,
          attemptId,
          'cancelled',
          { message: 'Cancelled by a user', code: 'cancelled' },
          now,
        );
        await finishAttempt(tx, attemptId, 'cancelled', null, now);
      }
      return false;
    }
    await finishAttempt(tx, attemptId, 'succeeded', null, now);
    await recordScheduleSuccess(tx, run.schedule_id);
    await insertArtifact(tx, {
      id: newId(),
      tenantId: run.tenant_id,
      runId: run.id,
      storage: deps.storage.kind,
      key,
      fileName,
      contentType,
      size: result.bytes,
      checksum: result.sha256,
      now,
      expiresAt: new Date(now.getTime() + deps.config.artifactTtlDays * 86_400_000),
    });
    return true;
  });
  // A stale or cancelled attempt must not leave a file behind.
  if (!published) await deps.storage.remove(key);
}

/** Why a finished result is not delivered, or null when its condition holds. */
async function unmetCondition(tx: Tx, run: RunRow, result: ExportResult): Promise<string | null> {
  if (run.condition === 'has_rows' && result.rows === 0)
    return 'Not delivered: the result has no rows (condition: only when there are rows)';
  if (run.condition === 'changed' && run.schedule_id && result.dataSha256) {
    const previous = await lastDeliveredDataChecksum(tx, run.schedule_id, run.id);
    if (previous === result.dataSha256)
      return 'Not delivered: the rows are the same as in the last delivered run (condition: only when changed)';
  }
  return null;
}

async function recordFailure(
  deps: Deps,
  run: RunRow,
  attemptId: string,
  attempt: number,
  err: unknown,
  queryContext?: QueryContext,
): Promise<void> {
  const now = deps.clock.now();
  // Lost: whoever declared it so has recorded it and retried the run; if nobody
  // has yet (it noticed its own silence first), it declares itself lost.
  if (err instanceof LeaseLost) return handBack(deps, run, attemptId, LOST_MESSAGE);
  if (err instanceof WorkerStopping) return handBack(deps, run, attemptId, err.message);
  const failure = classifyFailure(err, queryContext);
  const outcome = await deps.db.transaction(async (tx) => {
    // A stale attempt that failed (its partial file removed when it was declared
    // lost, say) records nothing: the run belongs to a newer attempt.
    if (!(await lockLeasedRun(tx, run.id, attemptId))) return 'stale';
    // A cancel asked for while this attempt failed wins over any retry (S10).
    if (err instanceof Cancelled || (await isCancelRequested(tx, run.id))) {
      await endRun(
        tx,
        run.id,
        attemptId,
        'cancelled',
        { message: 'Cancelled by a user', code: 'cancelled' },
        now,
      );
      await finishAttempt(tx, attemptId, 'cancelled', null, now);
      return 'cancelled';
    }
    await finishAttempt(tx, attemptId, 'failed', failure.message, now);
    if (failure.retryable && attempt < run.max_attempts) {
      await requeue(
        deps,
        tx,
        { id: run.id, tenantId: run.tenant_id },
        attemptId,
        attempt,
        { message: failure.message, code: failure.code },
        now,
      );
      return 'retry';
    }
    await endRun(tx, run.id, attemptId, 'failed', { message: failure.message, code: failure.code }, now);
    await recordScheduleFailure(deps, tx, run);
    return 'failed';
  });
  if (outcome !== 'cancelled')
    deps.log.warn({ runId: run.id, attempt, outcome, error: failure.message }, 'run attempt failed');
}

/** Puts the run back in the queue for its next attempt, after a full-jitter backoff (S8). */
async function requeue(
  deps: Deps,
  tx: Tx,
  run: { id: string; tenantId: string },
  attemptId: string | null,
  attempt: number,
  error: { message: string; code: string },
  now: Date,
): Promise<void> {
  if (await endRun(tx, run.id, attemptId, 'queued', error, now)) {
    await enqueueRunAttempt(deps, tx, run, attempt + 1, new Date(now.getTime() + retryDelayMs(attempt)));
  }
}

/**
 * Ends the attempt holding a (locked) run as lost, then retries the run, fails it
 * when it has no attempts left, or ends it cancelled when a cancel was asked for (S9).
 */
async function declareLost(deps: Deps, tx: Tx, run: RunRow, message: string): Promise<void> {
  const now = deps.clock.now();
  const attemptId = run.lease_attempt_id;
  if (attemptId) await finishAttempt(tx, attemptId, 'lost', message, now);
  if (run.cancel_requested_at) {
    await endRun(
      tx,
      run.id,
      attemptId,
      'cancelled',
      { message: 'Cancelled by a user', code: 'cancelled' },
      now,
    );
  } else if (run.attempts < run.max_attempts) {
    await requeue(
      deps,
      tx,
      { id: run.id, tenantId: run.tenant_id },
      attemptId,
      run.attempts,
      { message, code: 'lost' },
      now,
    );
  } else {
    await endRun(tx, run.id, attemptId, 'failed', { message, code: 'lost' }, now);
    await recordScheduleFailure(deps, tx, run);
  }
}

/**
 * An attempt that stops unfinished while it may still hold the run (its worker
 * shuts down, or it was silent for a whole lease) hands the run back at once, as
 * lost, instead of leaving it to wait out its lease. Nothing when the lease is
 * gone already. The attempt has already removed its partial file.
 */
async function handBack(deps: Deps, run: RunRow, attemptId: string, message: string): Promise<void> {
  const handed = await deps.db.transaction(async (tx) => {
    const current = await lockLeasedRun(tx, run.id, attemptId);
    if (current) await declareLost(deps, tx, current, message);
    return current !== undefined;
  });
  if (handed)
    deps.log.warn({ runId: run.id, attempt: run.attempts, reason: message }, 'run attempt handed back');
}

/**
 * Runs whose worker died (no heartbeat for a lease, by the database's clock) are
 * retried, failed or cancelled (S9), and what their lost attempt wrote goes at
 * once: its partial file (a multipart upload on S3), or a file it committed but
 * never published. A lost attempt still alive (a stopped process that resumes)
 * finds its file gone and learns from its next heartbeat that it lost the run.
 */
export async function recoverLostRuns(deps: Deps): Promise<number> {
  const lost = await findLostRuns(deps.db, deps.config.runLeaseSeconds);
  let recovered = 0;
  for (const candidate of lost) {
    if (!candidate.lease_attempt_id) continue;
    const attemptId = candidate.lease_attempt_id;
    const run = await deps.db.transaction(async (tx) => {
      // Still silent, and still the same attempt, once locked: it did not heartbeat or finish meanwhile.
      const run = await lockLeasedRun(tx, candidate.id, attemptId, deps.config.runLeaseSeconds);
      if (run) await declareLost(deps, tx, run, LOST_MESSAGE);
      return run;
    });
    if (!run) continue;
    recovered++;
    await deps.storage.removeAttempt(attemptPrefix(run, run.attempts)).catch((err: unknown) =>
      // The daily sweep removes what is left.
      deps.log.warn(
        { runId: run.id, attempt: run.attempts, err: { message: (err as Error).message } },
        "could not remove a lost attempt's files",
      ),
    );
  }
  return recovered;
}
