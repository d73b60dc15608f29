import {
  bindParameters,
  checkReadOnlySql,
  nameParameters,
  stripTrailingSemicolons,
} from '../../engine/sources/sql-text.ts';
import {
  type BoundQuery,
  type Column,
  ReadLimitError,
  type Source,
  SourceQueryError,
} from '../../engine/sources/types.ts';
import { Conflict, type FieldError, Invalid, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { isValidTimeZone } from '../../lib/zoned-time.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import { getConnection, getDemoConnection } from '../connections/repo.ts';
import { sourceProblem } from '../connections/service.ts';
import type { Deps } from '../deps.ts';
import { type BuilderSpec, compileSpec } from './builder.ts';
import {
  type ParameterDefinition,
  pgParameterTypes,
  resolveValues,
  validateDefinitions,
  valuesForDialect,
} from './parameters.ts';
import { presentCell, presentReport, type ReportView } from './present.ts';
import { type CutValue, createPreviewCap, PREVIEW_READ_BYTES } from './preview-cap.ts';
import type { EvaluationContext } from './relative-dates.ts';
import {
  deleteReport,
  getReport,
  getReportOfAnyTenant,
  insertReport,
  listReports,
  type ReportFields,
  type ReportRow,
  updateReport,
} from './repo.ts';
import { findTemplate } from './templates.ts';

export interface ReportDefinition {
  connectionId: string;
  sql?: string | null | undefined;
  spec?: BuilderSpec | null | undefined;
  parameters?: ParameterDefinition[] | undefined;
}

export interface PreparedQuery {
  source: Source;
  query: BoundQuery;
  /** Maps a database error position back into the report's SQL. */
  originalPosition: (position: number) => number;
  /** The parameter values it runs with: given or default, relative dates resolved. */
  parameters: Record<string, unknown>;
  /** The {{name}} of each bound value ($1 is parameterNames[0]), for error messages. */
  parameterNames: string[];
}

async function loadSource(deps: Deps, tenantId: string, connectionId: string) {
  const connection = await getConnection(deps.db, tenantId, connectionId);
  // Another tenant's connection is indistinguishable from a missing one.
  if (!connection) throw Invalid.field('connectionId', 'no connection with this id');
  return { connection, source: deps.sources.get(connection) };
}

/** The SQL a report runs (its own, or compiled from its builder spec) with the {{names}} it uses. */
async function reportSql(
  deps: Deps,
  connectionRow: Parameters<Deps['sources']['schema']>[0],
  source: Source,
  def: ReportDefinition,
) {
  if ((def.sql == null) === (def.spec == null))
    throw Invalid.field('sql', 'give either sql or a builder spec, not both or neither');
  if (def.sql != null) {
    const sql = stripTrailingSemicolons(def.sql);
    try {
      return { sql, builderValues: {}, names: await checkReadOnlySql(sql, source.dialect) };
    } catch (err) {
      throw sourceProblem(err);
    }
  }
  let tables: Awaited<ReturnType<Deps['sources']['schema']>>['tables'];
  try {
    tables = (await deps.sources.schema(connectionRow, false)).tables;
  } catch (err) {
    throw sourceProblem(err, 'Reading the schema for the builder failed');
  }
  const compiled = compileSpec(def.spec!, tables, source.dialect);
  return { sql: compiled.sql, builderValues: compiled.values, names: compiled.parameterNames };
}

/** Checks a definition before it is saved: connection, read-only SQL or valid spec, parameter declarations. */
async function validateDefinition(deps: Deps, tenantId: string, def: ReportDefinition): Promise<void> {
  const { connection, source } = await loadSource(deps, tenantId, def.connectionId);
  const { names } = await reportSql(deps, connection, source, def);
  validateDefinitions(def.parameters ?? [], names);
}

/**
 * A schedule's recipients query (bursting), checked when the schedule is saved:
 * read-only SQL on the report's connection, without parameters of its own.
 */
export async function checkRecipientsQuery(
  deps: Deps,
  tenantId: string,
  connectionId: string,
  sql: string,
): Promise<void> {
  const { source } = await loadSource(deps, tenantId, connectionId);
  let names: string[];
  try {
    names = await checkReadOnlySql(stripTrailingSemicolons(sql), source.dialect);
  } catch (err) {
    const problem = sourceProblem(err);
    throw problem instanceof Invalid ? Invalid.field('recipientsSql', problem.message) : problem;
  }
  if (names.length > 0)
    throw Invalid.field(
      'recipientsSql',
      `takes no parameters ({{${names[0]}}}); it returns each recipient's values as columns instead`,
    );
}

/** Resolves parameter values and binds them: what preview and the export engine run. */
export async function prepareReportQuery(
  deps: Deps,
  tenantId: string,
  def: ReportDefinition,
  given: Record<string, unknown>,
  ctx: EvaluationContext,
): Promise<PreparedQuery> {
  if (!isValidTimeZone(ctx.timeZone))
    throw Invalid.field('timezone', `"${ctx.timeZone}" is not an IANA time zone such as Europe/Berlin`);
  const { connection, source } = await loadSource(deps, tenantId, def.connectionId);
  const { sql, builderValues, names } = await reportSql(deps, connection, source, def);
  const defs = def.parameters ?? [];
  validateDefinitions(defs, names);
  const resolved = resolveValues(defs, given, ctx);
  const values = valuesForDialect(resolved, defs, source.dialect);
  try {
    const bound = await bindParameters(
      sql,
      source.dialect,
      { ...values, ...builderValues },
      pgParameterTypes(defs),
    );
    return {
      source,
      query: { sql: bound.sql, values: bound.values },
      originalPosition: bound.originalPosition,
      parameters: resolved,
      parameterNames: bound.names,
    };
  } catch (err) {
    throw sourceProblem(err);
  }
}

export interface PreviewResult {
  columns: Column[];
  rows: unknown[][];
  rowCount: number;
  /** More rows than shown. */
  truncated: boolean;
  /** What ended the preview early: the row limit or the byte cap (preview-cap.ts). */
  truncatedBy: 'rows' | 'bytes' | null;
  /** Values shown cut (their first bytes). */
  cutValues: CutValue[];
  elapsedMs: number;
  /** The parameter values it ran with (relative dates resolved). */
  parameters: Record<string, unknown>;
}

export interface PreviewLimits {
  rows: number;
  /** The wall-clock deadline (FERRY_PREVIEW_SECONDS). */
  seconds: number;
  /** Aborts when whoever asked is gone (the HTTP client closed the request). */
  signal?: AbortSignal | undefined;
}

/** The preview's deadline passed: the statement was stopped on the server. */
class PreviewDeadline extends SourceQueryError {
  constructor(seconds: number) {
    super(`The preview ran longer than ${seconds} s and was stopped`, { code: 'timeout' });
  }
}

/**
 * The first rows of a report, within a deadline and a byte cap. On the deadline
 * (or when the caller goes away) the answer comes at once; the source stops the
 * statement on its server meanwhile (session-stop.ts).
 */
export async function runPreview(prepared: PreparedQuery, limits: PreviewLimits): Promise<PreviewResult> {
  const started = performance.now();
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(new PreviewDeadline(limits.seconds)), limits.seconds * 1000);
  const callerGone = () => abort.abort(limits.signal?.reason);
  limits.signal?.addEventListener('abort', callerGone, { once: true });
  try {
    if (limits.signal?.aborted) callerGone();
    const result = await untilAborted(readPreview(prepared, limits, abort.signal), abort.signal);
    return { ...result, elapsedMs: Math.round(performance.now() - started), parameters: prepared.parameters };
  } catch (err) {
    if (err instanceof SourceQueryError && err.position !== undefined) {
      throw sourceProblem(
        new SourceQueryError(nameParameters(err.message, prepared.parameterNames), {
          position: prepared.originalPosition(err.position),
          code: err.code,
          cause: err,
        }),
      );
    }
    if (err instanceof SourceQueryError) {
      throw sourceProblem(
        new SourceQueryError(nameParameters(err.message, prepared.parameterNames), {
          code: err.code,
          cause: err,
        }),
      );
    }
    throw sourceProblem(err);
  } finally {
    clearTimeout(deadline);
    limits.signal?.removeEventListener('abort', callerGone);
    // Whatever happened, the source's cursor and connection are let go.
    abort.abort();
  }
}

async function readPreview(
  prepared: PreparedQuery,
  limits: PreviewLimits,
  signal: AbortSignal,
): Promise<Omit<PreviewResult, 'elapsedMs' | 'parameters'>> {
  // More than a preview reads from the source (a huge value): what was read is shown, if anything was.
  const tooLarge = () =>
    new SourceQueryError(
      `The first rows of the result are larger than the ${PREVIEW_READ_BYTES / 1_000_000} MB a preview reads; leave out the largest columns or cut them in the SQL`,
      { code: 'limit' },
    );
  const stream = await prepared.source
    .openRows(prepared.query, signal, {
      batchSize: limits.rows + 1,
      // The server's own timeout is a backstop: Ferry's deadline comes first and stops the statement itself.
      timeoutMs: limits.seconds * 1000 + 1000,
      maxBytes: PREVIEW_READ_BYTES,
    })
    .catch((err: unknown) => {
      throw err instanceof ReadLimitError ? tooLarge() : err;
    });
  const cap = createPreviewCap();
  let truncatedBy: PreviewResult['truncatedBy'] = null;
  try {
    reading: for await (const batch of stream.batches) {
      for (const row of batch) {
        if (cap.rows.length >= limits.rows) truncatedBy = 'rows';
        else if (!cap.add(row)) truncatedBy = 'bytes';
        if (truncatedBy) break reading;
      }
    }
  } catch (err) {
    if (!(err instanceof ReadLimitError)) throw err;
    if (cap.rows.length === 0) throw tooLarge();
    truncatedBy = 'bytes';
  }
  return {
    columns: stream.columns,
    rows: cap.rows.map((r) => r.map(presentCell)),
    rowCount: cap.rows.length,
    truncated: truncatedBy !== null,
    truncatedBy,
    cutValues: cap.cutValues,
  };
}

/** The work's outcome, or the signal's reason as soon as it aborts (the work then ends on its own). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export interface PreviewOptions {
  parameters?: Record<string, unknown> | undefined;
  limit?: number | undefined;
  timezone?: string | undefined;
  /** Aborts when the HTTP client goes away: the preview stops on the server too. */
  signal?: AbortSignal | undefined;
}

function contextFor(deps: Deps, timezone: string | undefined): EvaluationContext {
  return { now: deps.clock.now(), timeZone: timezone ?? 'UTC', lastSuccessfulRunAt: null };
}

async function loadReport(deps: Deps, tenantId: string, id: string) {
  const row = await getReport(deps.db, tenantId, id);
  if (!row) throw new NotFound('Report');
  return row;
}

export async function previewSavedReport(
  deps: Deps,
  actor: Principal,
  id: string,
  options: PreviewOptions,
): Promise<PreviewResult> {
  const row = await loadReport(deps, actor.tenantId, id);
  const def = { connectionId: row.connection_id, sql: row.sql, spec: row.spec, parameters: row.parameters };
  return previewUnsavedReport(deps, actor, def, options);
}

export async function previewUnsavedReport(
  deps: Deps,
  actor: Principal,
  def: ReportDefinition,
  options: PreviewOptions,
): Promise<PreviewResult> {
  return runPreview(
    await prepareReportQuery(
      deps,
      actor.tenantId,
      def,
      options.parameters ?? {},
      contextFor(deps, options.timezone),
    ),
    { rows: options.limit ?? 100, seconds: deps.config.previewSeconds, signal: options.signal },
  );
}

/**
 * What each parameter would be bound to, as a run at `at` in `timezone` would
 * resolve it, with a message per parameter whose value is missing or wrong.
 */
export function resolveParameterValues(
  deps: Deps,
  defs: ParameterDefinition[],
  given: Record<string, unknown>,
  timezone: string | undefined,
  at: string | undefined,
): { values: Record<string, unknown>; errors: FieldError[] } {
  const timeZone = timezone ?? 'UTC';
  if (!isValidTimeZone(timeZone))
    throw Invalid.field('timezone', `"${timeZone}" is not an IANA time zone such as Europe/Berlin`);
  const ctx: EvaluationContext = {
    now: at ? new Date(at) : deps.clock.now(),
    timeZone,
    lastSuccessfulRunAt: null,
  };
  const values: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  for (const def of defs) {
    const value = given[def.name];
    try {
      Object.assign(values, resolveValues([def], value === undefined ? {} : { [def.name]: value }, ctx));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      values[def.name] = null;
      errors.push(...(err.errors ?? []));
    }
  }
  return { values, errors };
}

export async function listTenantReports(
  deps: Deps,
  actor: Principal,
  q: { cursor?: string | undefined; limit: number; q?: string | undefined },
): Promise<Page<ReportView>> {
  const cursor = decodeCursor(q.cursor, { id: 'uuid' });
  const search = q.q?.trim() || undefined;
  const rows = await listReports(deps.db, actor.tenantId, cursor?.id, q.limit + 1, search);
  return toPage(rows, q.limit, presentReport, (r) => ({ id: r.id }));
}

export async function getTenantReport(deps: Deps, actor: Principal, id: string): Promise<ReportView> {
  return presentReport(await loadReport(deps, actor.tenantId, id));
}

export interface ReportInput extends ReportDefinition {
  name: string;
  description?: string | undefined;
}

function fieldsOf(input: ReportInput): ReportFields {
  return {
    connectionId: input.connectionId,
    name: input.name,
    description: input.description ?? '',
    sql: input.sql ?? null,
    spec: input.spec ?? null,
    parameters: input.parameters ?? [],
  };
}

export async function createTenantReport(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: ReportInput,
  templateKey: string | null = null,
): Promise<ReportView> {
  await validateDefinition(deps, actor.tenantId, input);
  const id = newId();
  const row = await deps.db.transaction(async (tx) => {
    const created = await insertReport(tx, {
      ...fieldsOf(input),
      id,
      tenantId: actor.tenantId,
      templateKey,
      createdBy: actor.userId,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'report.created',
      targetType: 'report',
      targetId: id,
      details: { name: input.name, ...(templateKey ? { template: templateKey } : {}) },
    });
    return created;
  });
  return presentReport(row);
}

export async function updateTenantReport(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
  patch: Partial<ReportInput>,
): Promise<ReportView> {
  const current = await loadReport(deps, actor.tenantId, id);
  // Switching between SQL and builder: setting one clears the other.
  const merged: ReportInput = {
    name: patch.name ?? current.name,
    description: patch.description ?? current.description,
    connectionId: patch.connectionId ?? current.connection_id,
    sql: patch.sql !== undefined ? patch.sql : patch.spec != null ? null : current.sql,
    spec: patch.spec !== undefined ? patch.spec : patch.sql != null ? null : current.spec,
    parameters: patch.parameters ?? current.parameters,
  };
  await validateDefinition(deps, actor.tenantId, merged);
  const row = await deps.db.transaction(async (tx) => {
    const updated = await updateReport(tx, actor.tenantId, id, { ...fieldsOf(merged), at: deps.clock.now() });
    if (!updated) throw new NotFound('Report');
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'report.updated',
      targetType: 'report',
      targetId: id,
      details: { fields: Object.keys(patch) },
    });
    return updated;
  });
  return presentReport(row);
}

export async function deleteTenantReport(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const current = await getReport(tx, actor.tenantId, id);
    if (!current) throw new NotFound('Report');
    // Schedules would go with the report (a cascade): make the user delete them on purpose.
    const schedules = await tx.query<{ name: string }>(
      'SELECT name FROM schedules WHERE tenant_id = $1 AND report_id = $2 ORDER BY name LIMIT 6',
      [actor.tenantId, id],
    );
    if (schedules.rows.length > 0)
      throw new Conflict(
        `The report is used by schedules (${schedules.rows
          .slice(0, 5)
          .map((s) => `"${s.name}"`)
          .join(', ')}${schedules.rows.length > 5 ? ', …' : ''}); delete them first`,
      );
    if (!(await deleteReport(tx, actor.tenantId, id))) throw new NotFound('Report');
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'report.deleted',
      targetType: 'report',
      targetId: id,
      details: { name: current.name },
    });
  });
}

export async function useTemplate(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  key: string,
  name?: string,
): Promise<ReportView> {
  const template = findTemplate(key);
  if (!template) throw new NotFound('Template');
  const demo = await getDemoConnection(deps.db, actor.tenantId);
  if (!demo) throw new NotFound('Demo connection');
  return createTenantReport(
    deps,
    actor,
    origin,
    {
      name: name ?? template.name,
      description: template.description,
      connectionId: demo.id,
      sql: template.sql,
      parameters: template.parameters,
    },
    template.key,
  );
}

/** A report of any tenant, for the operator's own commands (`ferry export`); NotFound when there is none. */
export async function findReportForOperator(deps: Pick<Deps, 'db'>, id: string): Promise<ReportRow> {
  const report = await getReportOfAnyTenant(deps.db, id);
  if (!report) throw new NotFound('Report');
  return report;
}
