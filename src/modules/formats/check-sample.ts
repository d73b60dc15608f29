import { AccountingDataError } from '../../engine/formats/accounting/mapping.ts';
import { type ExportFormat, FormatOptionError, resolveFormat } from '../../engine/formats/registry.ts';
import { ExportWarnings } from '../../engine/formats/text-formats.ts';
import type { Value } from '../../engine/sources/types.ts';
import { NotFound } from '../../lib/errors.ts';
import type { Principal } from '../auth-context.ts';
import { sourceProblem } from '../connections/service.ts';
import type { Deps } from '../deps.ts';
import type { ParameterDefinition } from '../reports/parameters.ts';
import { getReport } from '../reports/repo.ts';
import { prepareReportQuery } from '../reports/service.ts';
import { invalidFormatOptions } from './check-options.ts';

// "Validate": a report's first rows through a format's writer, without a file.
// It finds what a run would fail on (an unmapped field, a date outside the
// period, an account too long), with the row and field, and shows the first
// lines the file would have.

export interface FormatCheck {
  ok: boolean;
  rowsChecked: number;
  problem: { message: string; row: number | null; field: string | null } | null;
  warnings: Array<{ code: string; message: string; count: number }>;
  /** The file's first lines as text (null for binary formats: XLSX, PDF). */
  preview: string | null;
}

const PREVIEW_BYTES = 16_384;
const PREVIEW_LINES = 20;

export async function checkReportFormat(
  deps: Deps,
  actor: Principal,
  reportId: string,
  body: {
    format: ExportFormat;
    formatOptions?: Record<string, unknown> | undefined;
    parameters?: Record<string, unknown> | undefined;
    timezone?: string | undefined;
    rows?: number | undefined;
  },
  signal?: AbortSignal,
): Promise<FormatCheck> {
  const report = await getReport(deps.db, actor.tenantId, reportId);
  if (!report) throw new NotFound('Report');
  const timeZone = body.timezone ?? 'UTC';
  const now = deps.clock.now();
  const prepared = await prepareReportQuery(
    deps,
    actor.tenantId,
    {
      connectionId: report.connection_id,
      sql: report.sql,
      spec: report.spec,
      parameters: report.parameters as ParameterDefinition[],
    },
    body.parameters ?? {},
    { now, timeZone, lastSuccessfulRunAt: null },
  );
  let spec: ReturnType<typeof resolveFormat>;
  try {
    spec = resolveFormat(body.format, body.formatOptions ?? {}, {
      timeZone,
      title: report.name,
      parameters: prepared.parameters,
      generatedAt: now,
    });
  } catch (err) {
    if (err instanceof FormatOptionError) throw invalidFormatOptions(err);
    throw err;
  }
  const limit = body.rows ?? 1000;
  const abort = new AbortController();
  const deadline = setTimeout(
    () => abort.abort(new Error('The check took too long')),
    deps.config.previewSeconds * 1000,
  );
  const callerGone = () => abort.abort(signal?.reason);
  signal?.addEventListener('abort', callerGone, { once: true });
  const warnings = new ExportWarnings();
  const head: Buffer[] = [];
  let kept = 0;
  let checked = 0;
  let problem: FormatCheck['problem'] = null;
  try {
    const stream = await prepared.source.openRows(prepared.query, abort.signal, {
      timeoutMs: deps.config.previewSeconds * 1000,
      batchSize: Math.min(500, limit),
    });
    async function* sample(): AsyncGenerator<Value[][]> {
      for await (const batch of stream.batches) {
        const taken = batch.slice(0, limit - checked);
        checked += taken.length;
        yield taken;
        if (checked >= limit) return;
      }
    }
    try {
      for await (const chunk of spec.encoder(stream.columns, sample(), warnings)) {
        if (kept >= PREVIEW_BYTES) continue;
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        head.push(bytes);
        kept += bytes.length;
      }
    } catch (err) {
      if (!(err instanceof AccountingDataError)) throw err;
      problem = { message: err.message, row: err.row, field: err.field };
    } finally {
      await stream.close?.();
    }
  } catch (err) {
    throw sourceProblem(err);
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', callerGone);
    abort.abort();
  }
  return {
    ok: problem === null,
    rowsChecked: checked,
    problem,
    warnings: warnings.list(),
    preview: previewText(Buffer.concat(head), spec.contentType),
  };
}

/** The first lines as text, in the file's own character set; null for a binary file. */
function previewText(bytes: Buffer, contentType: string): string | null {
  if (!/^(text\/|application\/(json|x-ndjson|xml))/.test(contentType)) return null;
  const charset = /charset=([\w-]+)/.exec(contentType)?.[1] ?? 'utf-8';
  const text = new TextDecoder(charset).decode(bytes.subarray(0, PREVIEW_BYTES));
  return text
    .replace(/\r?\n$/, '')
    .split(/\r?\n/)
    .slice(0, PREVIEW_LINES)
    .join('\n');
}
