import { randomInt } from 'node:crypto';
import { AccountingDataError } from '../../engine/formats/accounting/mapping.ts';
import { ExportLimitError } from '../../engine/pipeline.ts';
import { nameParameters } from '../../engine/sources/sql-text.ts';
import { SourceConnectError, SourceQueryError } from '../../engine/sources/types.ts';
import { AppError, describeError } from '../../lib/errors.ts';

// Why an attempt ended without a file, and whether waiting can help (S8): the
// error classes an attempt is stopped with, and the classification of any
// other error into a message for the tenant, a code and retryable or not.

const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 5 * 60_000;

/** Exponential backoff with full jitter (S8): never zero, capped. */
export function retryDelayMs(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.max(1_000, randomInt(0, ceiling + 1));
}

export const LOST_MESSAGE = 'The worker stopped responding (no heartbeat)';

export class Cancelled extends Error {
  constructor() {
    super('Cancelled by a user');
    this.name = 'Cancelled';
  }
}
export class LeaseLost extends Error {
  constructor() {
    super('This attempt no longer holds the run');
    this.name = 'LeaseLost';
  }
}

export class WorkerStopping extends Error {
  constructor() {
    super('The worker shut down before the export finished');
    this.name = 'WorkerStopping';
  }
}

export interface Failure {
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

/**
 * S8: only failures that can go away on their own retry — the network, the
 * server going away, locks and timeouts. A bad query, a missing table, wrong
 * credentials, a limit, or anything unrecognised fails at once.
 */
export function classifyFailure(err: unknown, context: QueryContext = {}): Failure {
  const cause = err instanceof AppError && err.cause ? err.cause : err;
  if (err instanceof ExportLimitError) return { message: err.message, code: 'limit', retryable: false };
  // A row the accounting format cannot take: the same rows fail again, so no retry.
  if (err instanceof AccountingDataError)
    return { message: `The file cannot be made: ${err.message}`, code: 'data', retryable: false };
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
