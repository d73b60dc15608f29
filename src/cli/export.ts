import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createContext } from '../app/context.ts';
import { loadConfig } from '../config.ts';
import { type ExportFormat, exportFormats } from '../engine/formats/registry.ts';
import { newId } from '../lib/ids.ts';
import { createLogger } from '../lib/log.ts';
import { getArtifactForRun } from '../modules/artifacts/repo.ts';
import { executeRunAttempt } from '../modules/runs/execute.ts';
import { presentRun } from '../modules/runs/present.ts';
import { getRunById, insertRun } from '../modules/runs/repo.ts';
import { UsageError } from './index.ts';

/** `ferry export --report <id> --format csv --out <file>`: one export now, in this process, with progress on a terminal. */
export async function runExport(
  overrides: { port?: number | undefined; dataDir?: string | undefined },
  args: { report: string | undefined; format: string | undefined; out: string | undefined },
): Promise<number> {
  if (!args.report || !/^[0-9a-f-]{36}$/i.test(args.report))
    throw new UsageError('--report must be a report id (UUID)');
  const format = (args.format ?? 'csv') as ExportFormat;
  if (!exportFormats.includes(format))
    throw new UsageError(`--format must be one of ${exportFormats.join(', ')}`);
  if (!args.out) throw new UsageError('--out <file> is required');
  const config = loadConfig(process.env, overrides);
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const ctx = await createContext(config, { roles: new Set(), log });
  try {
    const report = await ctx.db.query<{
      id: string;
      tenant_id: string;
      name: string;
      connection_id: string;
      sql: string | null;
      spec: unknown;
      parameters: unknown[];
    }>('SELECT id, tenant_id, name, connection_id, sql, spec, parameters FROM reports WHERE id = $1', [
      args.report,
    ]);
    const row = report.rows[0];
    if (!row) {
      process.stderr.write(`ferry: no report ${args.report}\n`);
      return 2;
    }
    const runId = newId();
    await insertRun(ctx.db, {
      id: runId,
      tenantId: row.tenant_id,
      reportId: row.id,
      trigger: 'cli',
      format,
      formatOptions: {},
      parameters: {},
      timeZone: 'UTC',
      snapshot: { connectionId: row.connection_id, sql: row.sql, spec: row.spec, parameters: row.parameters },
      reportName: row.name,
      maxAttempts: 1,
      createdBy: null,
      now: ctx.clock.now(),
    });
    const tty = process.stderr.isTTY;
    const started = Date.now();
    const progress = setInterval(async () => {
      const r = await getRunById(ctx.db, runId).catch(() => undefined);
      if (!r || !tty) return;
      // A bar when the last identical run tells how many rows to expect; a counter otherwise.
      const { percent } = presentRun(r).progress;
      const bar =
        percent === null ? '' : `[${'#'.repeat(Math.round(percent / 5)).padEnd(20, '-')}] ${percent}% `;
      process.stderr.write(
        `\r${r.status}: ${bar}${Number(r.progress_rows).toLocaleString('en')} rows, ${(Number(r.progress_bytes) / 1e6).toFixed(1)} MB   `,
      );
    }, 500);
    try {
      await executeRunAttempt(ctx, { runId, attempt: 1 });
    } finally {
      clearInterval(progress);
      if (tty) process.stderr.write('\n');
    }
    const run = await getRunById(ctx.db, runId);
    const artifact = await getArtifactForRun(ctx.db, row.tenant_id, runId);
    if (run?.status !== 'succeeded' || !artifact) {
      process.stderr.write(`ferry: the export failed: ${run?.error ?? 'unknown error'}\n`);
      return 1;
    }
    await pipeline(await ctx.storage.read(artifact.key), createWriteStream(args.out));
    process.stderr.write(
      `Wrote ${args.out}: ${Number(run.row_count).toLocaleString('en')} rows, ${Number(run.file_size).toLocaleString('en')} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s (run ${runId})\n`,
    );
    return 0;
  } finally {
    await ctx.close();
  }
}
