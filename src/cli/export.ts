import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createContext } from '../app/context.ts';
import { loadConfig } from '../config.ts';
import { type ExportFormat, exportFormats } from '../engine/formats/registry.ts';
import { Invalid } from '../lib/errors.ts';
import { createCommandLogger } from '../lib/log.ts';
import { type ParameterDefinition, resolveValues } from '../modules/reports/parameters.ts';
import { findReportForOperator } from '../modules/reports/service.ts';
import { executeRunAttempt } from '../modules/runs/execute.ts';
import { readRunFile } from '../modules/runs/files.ts';
import { createOperatorExport, readRun } from '../modules/runs/service.ts';
import { UsageError } from './usage.ts';

/**
 * `--param name=value` pairs, typed by the report's declarations: a number
 * stays text for the declared type to read, `true`/`false` become booleans, a
 * list is comma-separated. Unknown names and bad values are usage errors, found
 * before any run is created.
 */
export function cliParameters(pairs: string[], defs: ParameterDefinition[]): Record<string, unknown> {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const given: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--param must be name=value (got "${pair}")`);
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const def = byName.get(name);
    if (!def) {
      const known = defs.map((d) => d.name).join(', ') || 'none';
      throw new UsageError(`--param ${name}: the report has no such parameter (it has: ${known})`);
    }
    given[name] =
      def.type === 'boolean'
        ? value === 'true'
          ? true
          : value === 'false'
            ? false
            : value
        : def.type === 'list'
          ? value === ''
            ? []
            : value.split(',').map((v) => v.trim())
          : value;
  }
  try {
    resolveValues(defs, given, { now: new Date(), timeZone: 'UTC', lastSuccessfulRunAt: null }, 'param');
  } catch (err) {
    if (err instanceof Invalid)
      throw new UsageError(
        (err.errors ?? []).map((e) => `--${e.path.replace('.', ' ')} ${e.message}`).join('; ') || err.message,
      );
    throw err;
  }
  return given;
}

/** `ferry export --report <id> --format csv --out <file>`: one export now, in this process, with progress on a terminal. */
export async function runExport(
  overrides: { port?: number | undefined; dataDir?: string | undefined },
  args: {
    report: string | undefined;
    format: string | undefined;
    out: string | undefined;
    params?: string[];
  },
): Promise<number> {
  if (!args.report || !/^[0-9a-f-]{36}$/i.test(args.report))
    throw new UsageError('--report must be a report id (UUID)');
  const format = (args.format ?? 'csv') as ExportFormat;
  if (!exportFormats.includes(format))
    throw new UsageError(`--format must be one of ${exportFormats.join(', ')}`);
  if (!args.out) throw new UsageError('--out <file> is required');
  const config = loadConfig(process.env, overrides);
  // The terminal gets the progress line and the result in words, not JSON log lines
  // (LOG_LEVEL set explicitly still applies).
  const log = createCommandLogger(process.env['LOG_LEVEL'] ? config.logLevel : 'silent');
  const ctx = await createContext(config, { roles: new Set(), log });
  try {
    const report = await findReportForOperator(ctx, args.report).catch(() => null);
    if (!report) {
      process.stderr.write(`ferry: no report ${args.report}\n`);
      return 2;
    }
    // Checked before the run exists: a usage error leaves no failed run behind.
    const parameters = cliParameters(args.params ?? [], report.parameters as ParameterDefinition[]);
    const { id: runId } = await createOperatorExport(ctx, report, { format, parameters });
    const tty = process.stderr.isTTY;
    const started = Date.now();
    const progress = setInterval(async () => {
      const r = await readRun(ctx, report.tenant_id, runId).catch(() => undefined);
      if (!r || !tty) return;
      // A bar when the last identical run tells how many rows to expect; a counter otherwise.
      const { percent, rows, bytes } = r.progress;
      const bar =
        percent === null ? '' : `[${'#'.repeat(Math.round(percent / 5)).padEnd(20, '-')}] ${percent}% `;
      process.stderr.write(
        `\r${r.status}: ${bar}${rows.toLocaleString('en')} rows, ${(bytes / 1e6).toFixed(1)} MB   `,
      );
    }, 500);
    try {
      await executeRunAttempt(ctx, { runId, attempt: 1 });
    } finally {
      clearInterval(progress);
      if (tty) process.stderr.write('\n');
    }
    const run = await readRun(ctx, report.tenant_id, runId);
    if (run.status !== 'succeeded') {
      process.stderr.write(`ferry: the export failed: ${run.error ?? 'unknown error'}\n`);
      return 1;
    }
    await pipeline(await readRunFile(ctx, report.tenant_id, runId), createWriteStream(args.out));
    process.stderr.write(
      `Wrote ${args.out}: ${(run.rowCount ?? 0).toLocaleString('en')} rows, ${(run.fileSize ?? 0).toLocaleString('en')} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s (run ${runId})\n`,
    );
    return 0;
  } finally {
    await ctx.close();
  }
}
