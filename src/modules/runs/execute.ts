import { type ExportFormat, type FormatSpec, resolveFormat } from '../../engine/formats/registry.ts';
import { ExportLimitError, exportCopyToStream, exportToStream } from '../../engine/pipeline.ts';
import { toSourceError } from '../../engine/sources/postgres.ts';
import { defaultReadLimits, SourceQueryError } from '../../engine/sources/types.ts';
import type { ObjectWriter } from '../../engine/storage/storage.ts';
import { newId } from '../../lib/ids.ts';
import type { Deps } from '../deps.ts';
import type { ParameterDefinition } from '../reports/parameters.ts';
import { prepareReportQuery } from '../reports/service.ts';
import { effectiveLimits } from '../tenants/service.ts';
import { expandBurst } from './burst.ts';
import { Cancelled, LeaseLost, lineAndColumn, type QueryContext, WorkerStopping } from './failure.ts';
import type { RunJob } from './jobs.ts';
import { claimAttempt, publish, recordFailure } from './lifecycle.ts';
import { type OutputPlan, planOutput } from './output.ts';
import { heartbeatRun, lastSuccessfulRunAt, type RunRow } from './repo.ts';

// One attempt of one run, as the `run.execute` job: claim it, stream the report
// into a temporary file while heartbeating, publish the file and the result in
// one transaction, or record why not and decide whether to try again.

export const HEARTBEAT_MS = 2_000;

/**
 * Runs one attempt. `stopping` aborts when the worker shuts down: an attempt
 * still running then is handed back at once (see handBack in lifecycle.ts).
 */
export async function executeRunAttempt(deps: Deps, job: RunJob, stopping?: AbortSignal): Promise<void> {
  const attemptId = newId();
  const run = await claimAttempt(deps, job, attemptId, deps.clock.now(), stopping);
  if (!run) return;
  const controller = new AbortController();
  const onStopping = () => controller.abort(new WorkerStopping());
  stopping?.addEventListener('abort', onStopping, { once: true });
  const progress = { rows: 0, bytes: 0 };
  const stopBeating = startHeartbeat(deps, run, attemptId, progress, controller);
  let deadline: NodeJS.Timeout | undefined;
  let writer: ObjectWriter | undefined;
  // Where in the report's SQL a database error points, once the query is prepared.
  const queryContext: QueryContext = {};
  try {
    const limits = await effectiveLimits(deps, run.tenant_id);
    queryContext.maxRunSeconds = limits.maxRunSeconds;
    const overtime = new ExportLimitError(`The run took longer than the limit of ${limits.maxRunSeconds} s`);
    deadline = setTimeout(() => controller.abort(overtime), limits.maxRunSeconds * 1000);
    const readLimits = { timeoutMs: limits.maxRunSeconds * 1000, batchSize: defaultReadLimits.batchSize };
    if (run.recipients_sql !== null) {
      // A burst's lead: it makes its recipients' runs rather than a file.
      await expandBurst(deps, run, attemptId, controller.signal, readLimits);
      return;
    }
    const { prepared, format } = await prepareAttempt(deps, run);
    queryContext.names = prepared.parameterNames;
    const source = await openResult(run, prepared, format, controller.signal, readLimits, queryContext);
    const output = planOutput(run, job.attempt, format);
    writer = await deps.storage.writer(output.key, output.contentType);
    const result = await writeFile(source, format, output, writer, controller.signal, {
      limits: { maxRows: limits.maxExportRows, maxBytes: limits.maxExportBytes },
      onProgress: (p) => Object.assign(progress, p),
      hashRows: run.condition === 'changed',
    });
    await writer.commit();
    writer = undefined;
    await publish(deps, run, attemptId, output, result);
    deps.log.info(
      { runId: run.id, attempt: job.attempt, rows: result.rows, bytes: result.bytes },
      'run succeeded',
    );
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    // The partial file goes before the run is seen as finished (S10: a cancelled run leaves nothing).
    if (writer) {
      await writer.abort();
      writer = undefined;
    }
    await recordFailure(deps, run, attemptId, job.attempt, reason, queryContext);
  } finally {
    stopBeating();
    clearTimeout(deadline);
    stopping?.removeEventListener('abort', onStopping);
    if (writer) await writer.abort();
    // Whatever happened, the source's cursor and connection are let go.
    if (!controller.signal.aborted) controller.abort(new Error('The attempt has ended'));
  }
}

/**
 * Heartbeats the attempt with its progress. S9: an attempt that could not heartbeat
 * for a whole lease (its process was stopped, or the database unreachable) may
 * already have been declared lost and retried elsewhere: it stops rather than
 * compete with the newer attempt. A cancel asked for stops it too (S10).
 */
function startHeartbeat(
  deps: Deps,
  run: RunRow,
  attemptId: string,
  progress: { rows: number; bytes: number },
  controller: AbortController,
): () => void {
  let lastBeat = performance.now();
  const beat = setInterval(() => {
    if (performance.now() - lastBeat > deps.config.runLeaseSeconds * 1000) {
      controller.abort(new LeaseLost());
      return;
    }
    heartbeatRun(deps.db, run.id, attemptId, progress.rows, progress.bytes)
      .then((state) => {
        if (state === null) controller.abort(new LeaseLost());
        else if (state.cancelRequested) controller.abort(new Cancelled());
        else lastBeat = performance.now();
      })
      .catch((err) => deps.log.warn({ err, runId: run.id }, 'heartbeat failed'));
  }, HEARTBEAT_MS);
  return () => clearInterval(beat);
}

type PreparedQuery = Awaited<ReturnType<typeof prepareReportQuery>>;

/** The run's snapshotted report as a query with its values, and its format (the PDF header lists the values). */
async function prepareAttempt(
  deps: Deps,
  run: RunRow,
): Promise<{ prepared: PreparedQuery; format: FormatSpec }> {
  const snapshot = run.report_snapshot;
  const at = run.scheduled_for ?? run.created_at;
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
      now: at,
      timeZone: run.time_zone,
      lastSuccessfulRunAt: await lastSuccessfulRunAt(deps.db, run.tenant_id, run.report_id, at),
    },
  );
  // Defaults filled in, relative dates resolved: the values the query runs with.
  const format = resolveFormat(run.format as ExportFormat, run.format_options, {
    timeZone: run.time_zone,
    title: run.report_name,
    parameters: prepared.parameters,
    generatedAt: deps.clock.now(),
  });
  return { prepared, format };
}

type ReadLimits = { timeoutMs: number; batchSize: number };
type ResultSource =
  | { kind: 'copy'; copy: NonNullable<Awaited<ReturnType<NonNullable<PreparedQuery['source']['copyCsv']>>>> }
  | { kind: 'rows'; rows: Awaited<ReturnType<PreparedQuery['source']['openRows']>> };

/**
 * Opens the query's result. PostgreSQL writes the CSV itself when every value's text
 * can be made exactly Ferry's (no bound parameters, known types): several times
 * faster. Otherwise rows are read, and a database error's position then maps back
 * into the report's SQL (the COPY path wraps the query, so its positions point elsewhere).
 */
async function openResult(
  run: RunRow,
  prepared: PreparedQuery,
  format: FormatSpec,
  signal: AbortSignal,
  readLimits: ReadLimits,
  queryContext: QueryContext,
): Promise<ResultSource> {
  const reportSql = run.report_snapshot.sql;
  // "Deliver only when changed" compares the rows' values, which the COPY path does not see.
  if (format.csv && prepared.source.copyCsv && run.condition !== 'changed') {
    const copy = await prepared.source
      .copyCsv(prepared.query, format.csv, signal, readLimits)
      .catch((err: unknown) => {
        // An error at a place in the SQL (found before any row is read): the row
        // path below meets it again, at a position that maps into the report's SQL.
        if (err instanceof SourceQueryError && err.position !== undefined && reportSql) return null;
        throw err;
      });
    if (copy) return { kind: 'copy', copy };
  }
  if (reportSql)
    queryContext.locate = (position) => lineAndColumn(reportSql, prepared.originalPosition(position));
  return { kind: 'rows', rows: await prepared.source.openRows(prepared.query, signal, readLimits) };
}

/** Streams the result through the format (and compression) into the attempt's file. */
function writeFile(
  source: ResultSource,
  format: FormatSpec,
  output: OutputPlan,
  writer: ObjectWriter,
  signal: AbortSignal,
  o: {
    limits: { maxRows: number; maxBytes: number };
    onProgress: (p: { rows: number; bytes: number }) => void;
    hashRows: boolean;
  },
) {
  const common = {
    compression: output.compression,
    out: writer.stream,
    signal,
    limits: o.limits,
    onProgress: o.onProgress,
  };
  if (source.kind === 'copy' && format.csv)
    return exportCopyToStream({
      ...common,
      source: source.copy.stream,
      text: { ...format.csv, rewrites: source.copy.rewrites },
      bom: format.csv.bom,
    }).catch((err: unknown) => {
      throw toSourceError(err);
    });
  if (source.kind !== 'rows') throw new Error('A COPY result needs a CSV format');
  return exportToStream({ ...common, rows: source.rows, encoder: format.encoder, hashRows: o.hashRows });
}
