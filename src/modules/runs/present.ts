import type { DownloadRow } from '../artifacts/repo.ts';
import type { AttemptRow, RunDeliveryRow, RunLabels, RunRow } from './repo.ts';

const n = (v: string | null) => (v === null ? null : Number(v));
const iso = (d: Date | null) => d?.toISOString() ?? null;

/**
 * 100 when done; while running, the share of the rows the last identical run
 * produced (held below 100 until the run really ends); null when unknown.
 */
function percentOf(row: RunRow): number | null {
  if (row.status === 'succeeded') return 100;
  if (row.status !== 'running' || row.expected_rows === null) return null;
  const expected = Number(row.expected_rows);
  if (expected <= 0) return null;
  return Math.min(99, Math.floor((Number(row.progress_rows) * 100) / expected));
}

/** Where a run failed, by its error code: the query (source, SQL, connection) or writing the file. */
export function errorStageOf(code: string | null): 'query' | 'file' | null {
  if (code === null) return null;
  if (['query', 'transient', 'connection', 'network', 'invalid', 'notfound', 'unprocessable'].includes(code))
    return 'query';
  if (code === 'storage' || code === 'data') return 'file';
  return null;
}

function presentDelivery(d: RunDeliveryRow) {
  return {
    id: d.id,
    destinationId: d.destination_id,
    destinationName: d.destination_name,
    destinationType: d.destination_type,
    status: d.status,
    attempts: d.attempts,
    maxAttempts: d.max_attempts,
    createdAt: d.created_at.toISOString(),
    startedAt: iso(d.started_at),
    finishedAt: iso(d.finished_at),
    nextAttemptAt: d.status === 'queued' ? iso(d.next_attempt_at) : null,
    receipt: d.receipt,
    error: d.error,
  };
}

/** A failure in the API's words: the message, its code, the stage and the place in the SQL. */
function failureFields(row: Pick<RunRow, 'error' | 'error_code'> | null) {
  return {
    error: row?.error ?? null,
    errorCode: row?.error_code ?? null,
    errorStage: errorStageOf(row?.error_code ?? null),
    errorLocation: errorLocationOf(row?.error_code ?? null, row?.error ?? null),
  };
}

/** The place in the report's SQL a query error names ("… (line 3, column 8)"), as execute.ts writes it. */
export function errorLocationOf(
  code: string | null,
  error: string | null,
): { line: number; column: number } | null {
  if (code !== 'query' || !error) return null;
  const m = /\(line (\d+), column (\d+)\)$/.exec(error);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
}

/** The file of a run as its page needs it: whether it can still be downloaded, and until when. */
export interface FileState {
  state: 'available' | 'expired';
  expiresAt: string;
}

export function presentRun(
  row: RunRow,
  extra: {
    attempts?: AttemptRow[];
    downloads?: DownloadRow[];
    hasFile?: boolean;
    labels?: RunLabels | undefined;
    nextAttemptAt?: Date | null;
    file?: FileState | null;
    deliveries?: RunDeliveryRow[] | undefined;
  } = {},
) {
  const deliveries = extra.deliveries ?? [];
  const labels = extra.labels;
  const ended = row.status !== 'queued' && row.status !== 'running';
  const lastFailure =
    row.status === 'queued' && row.attempts > 0 && row.error !== null
      ? { attempt: row.attempts, ...failureFields(row), error: row.error }
      : null;
  return {
    id: row.id,
    status: row.status,
    trigger: row.trigger,
    scheduleId: row.schedule_id,
    scheduleName: labels?.scheduleName ?? null,
    scheduleTimeZone: labels?.scheduleTimeZone ?? null,
    createdBy:
      labels?.createdById && labels.createdByName
        ? { id: labels.createdById, name: labels.createdByName }
        : null,
    reportId: row.report_id,
    reportName: row.report_name,
    connectionId: row.report_snapshot?.connectionId ?? null,
    format: row.format,
    formatOptions: row.format_options,
    parameters: row.parameters,
    timezone: row.time_zone,
    scheduledFor: iso(row.scheduled_for),
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    durationMs:
      row.started_at && row.finished_at ? row.finished_at.getTime() - row.started_at.getTime() : null,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    progress: {
      rows: Number(row.progress_rows),
      bytes: Number(row.progress_bytes),
      percent: percentOf(row),
      expectedRows: n(row.expected_rows),
    },
    rowCount: n(row.row_count),
    fileName: row.file_name,
    fileSize: n(row.file_size),
    contentType: row.content_type,
    checksum: row.checksum ? `sha256:${row.checksum}` : null,
    warnings: row.warnings ?? [],
    cancelRequested: row.cancel_requested_at !== null,
    // The run's own error is its outcome: none while it may still succeed. A run
    // queued again after a failed attempt shows that attempt's error apart.
    ...failureFields(ended ? row : null),
    retrying: lastFailure !== null,
    lastFailure,
    nextAttemptAt: iso(extra.nextAttemptAt ?? null),
    destinationIds: row.destination_ids ?? [],
    burst: presentBurst(row),
    deliveries: deliveries.map(presentDelivery),
    deliverySummary: {
      total: deliveries.length,
      succeeded: deliveries.filter((d) => d.status === 'succeeded').length,
      failed: deliveries.filter((d) => d.status === 'failed').length,
      pending: deliveries.filter((d) => d.status === 'queued' || d.status === 'sending').length,
    },
    ...(extra.hasFile === undefined ? {} : { hasFile: extra.hasFile }),
    ...(extra.file === undefined ? {} : { file: extra.file }),
    ...(extra.attempts
      ? {
          attemptHistory: extra.attempts.map((a) => ({
            number: a.number,
            worker: a.worker,
            status: a.status,
            startedAt: a.started_at.toISOString(),
            finishedAt: iso(a.finished_at),
            error: a.error,
          })),
        }
      : {}),
    ...(extra.downloads
      ? {
          downloads: extra.downloads.map((d) => ({
            via: d.via,
            actorType: d.actor_type,
            actorId: d.actor_id,
            ip: d.ip,
            userAgent: d.user_agent,
            range: d.range,
            at: d.created_at.toISOString(),
          })),
        }
      : {}),
  };
}
export type RunView = ReturnType<typeof presentRun>;

/** A burst's lead (its recipients query, how many runs it made) or one recipient's run; null otherwise. */
function presentBurst(row: RunRow) {
  if (row.recipient !== null)
    return {
      role: 'recipient' as const,
      leadRunId: row.burst_id,
      recipient: row.recipient,
      recipients: null,
    };
  if (row.recipients_sql !== null)
    return { role: 'lead' as const, leadRunId: null, recipient: null, recipients: row.burst_size };
  return null;
}
