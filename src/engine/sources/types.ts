// What every source engine (PostgreSQL and the demo data, MySQL/MariaDB, SQLite) hands
// to the export pipeline: column metadata, then rows in batches, with exact types.

export const columnTypes = [
  'string',
  'integer',
  'bigint',
  'decimal',
  'float',
  'boolean',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'json',
  'uuid',
  'bytes',
  'unknown',
] as const;
export type ColumnType = (typeof columnTypes)[number];

/**
 * Values by column type:
 * - integer, float: number; bigint: bigint (exact); decimal: string (exact digits)
 * - date: 'YYYY-MM-DD'; time: 'HH:MM:SS[.ffffff]'; timestamp (no zone): 'YYYY-MM-DDTHH:MM:SS[.ffffff]'
 * - timestamptz: Date (an instant)
 * - json: the parsed value; uuid, string: string; bytes: Buffer; boolean: boolean; null: null
 */
export type Value = string | number | bigint | boolean | Date | Buffer | null | object;

export interface Column {
  name: string;
  type: ColumnType;
  /** The engine's own name for the type (e.g. "numeric(12,2)", "varchar"). */
  dbType: string;
}

export type Row = Value[];

/** A query ready for one engine: SQL with the engine's placeholders and the bound values. */
export interface BoundQuery {
  sql: string;
  values: unknown[];
}

export interface RowStream {
  columns: Column[];
  /** Batches of rows; closes the cursor when the loop ends, throws, or the signal aborts. */
  batches: AsyncIterable<Row[]>;
  /**
   * Closes the cursor whether or not the batches were ever read (an async
   * generator that never started skips its finally when returned). Where absent,
   * ending the loop or aborting is enough.
   */
  close?: () => Promise<void>;
}

export interface ReadLimits {
  /** Statement timeout in milliseconds. */
  timeoutMs: number;
  /** Rows per batch fetched from the server-side cursor. */
  batchSize: number;
  /**
   * The most bytes the read may take from the server (a preview's guard against
   * one huge value: a driver holds a whole row in memory before handing it on).
   * Beyond it the statement is stopped and the read fails with ReadLimitError.
   */
  maxBytes: number;
}

export const defaultReadLimits: ReadLimits = {
  timeoutMs: 300_000,
  batchSize: 2_000,
  maxBytes: Number.POSITIVE_INFINITY,
};

export interface TableInfo {
  schema: string | null;
  name: string;
  kind: 'table' | 'view';
  columns: Array<{ name: string; type: ColumnType; dbType: string; nullable: boolean }>;
}

export interface SourceInfo {
  version: string;
}

/** A configured data source. One instance per connection, holding its pool. */
export interface CsvCopyOptions {
  delimiter: string;
  quote: string;
  header: boolean;
  nullText: string;
  formulaProtection: boolean;
}

/**
 * How Ferry's CSV text of a column differs from the text a server's COPY writes:
 * `boolean` t/f → true/false; `timestamp` a "T" between date and time; `instant`
 * UTC text → ISO-8601 with milliseconds and "Z"; `formula` the formula-injection guard.
 */
export type CopyFieldRewrite = 'boolean' | 'timestamp' | 'instant' | 'formula';

export interface CsvCopy {
  columns: Column[];
  /** The CSV text as the server writes it: LF line endings, header first when asked. */
  stream: NodeJS.ReadableStream;
  /** Per column, what is left to rewrite in JavaScript (null: the server's text is Ferry's). */
  rewrites: Array<CopyFieldRewrite | null>;
}

export interface Source {
  readonly dialect: 'postgres' | 'mysql' | 'sqlite';
  test(): Promise<SourceInfo>;
  /**
   * Opens a cursor. Every engine's reads (this and copyCsv) pass read-gate.ts first:
   * the limits completed from defaultReadLimits, an aborted signal, the read-only check.
   */
  openRows(query: BoundQuery, signal: AbortSignal, limits?: Partial<ReadLimits>): Promise<RowStream>;
  /**
   * PostgreSQL only: the CSV written by the server itself (COPY … TO STDOUT), with
   * Ferry's value rules pushed into the query so the bytes are exactly what the
   * CSV writer would produce. Null when that cannot be guaranteed (bound
   * parameters, or a column type whose text differs); the caller then streams rows.
   */
  copyCsv?(
    query: BoundQuery,
    options: CsvCopyOptions,
    signal: AbortSignal,
    limits?: Partial<ReadLimits>,
  ): Promise<CsvCopy | null>;
  listTables(): Promise<TableInfo[]>;
  /**
   * What the connecting user may do beyond reading, asked of the server: plain-
   * language warnings, and whether it is an administrator account (PostgreSQL
   * superuser; MySQL SUPER or ALL PRIVILEGES ON *.*). Absent where the source
   * cannot write at all (SQLite opened read-only, the demo data).
   */
  privileges?(): Promise<PrivilegeReport>;
  close(): Promise<void>;
}

export interface PrivilegeReport {
  warnings: string[];
  isSuperuser: boolean;
}

/** A database error with what the user needs to fix the query. */
export class SourceQueryError extends Error {
  readonly position: number | undefined;
  readonly code: string | undefined;
  constructor(
    message: string,
    options: { position?: number | undefined; code?: string | undefined; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.name = 'SourceQueryError';
    this.position = options.position;
    this.code = options.code;
  }
}

/** The source cannot be reached (network, authentication, missing file): worth retrying or fixing the connection. */
export class SourceConnectError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'SourceConnectError';
  }
}

/** A connection that went under a read, as the error the read fails with: a connection error unless the engine knew better. */
export function connectionLost(err: Error): Error {
  return err instanceof SourceConnectError || err instanceof SourceQueryError
    ? err
    : new SourceConnectError(`The connection to the database was lost: ${err.message}`, err);
}

/** The read took more than ReadLimits.maxBytes from the server and was stopped. */
export class ReadLimitError extends Error {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`The result is larger than ${Math.round(maxBytes / 1_000_000)} MB`);
    this.name = 'ReadLimitError';
    this.maxBytes = maxBytes;
  }
}

/**
 * An instant from a database's text. Values a JavaScript Date cannot hold
 * (infinity, BC, years past 9999, MySQL zero dates) stay as the database's text
 * rather than becoming an invalid date that breaks every writer.
 */
export function instantOrText(isoLike: string, original: string): Date | string {
  const d = new Date(isoLike);
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 1 || year > 9999 || /BC$/.test(original)) return original;
  // Date parses milliseconds and cuts the rest; the microseconds ride along.
  const fraction = /[.,](\d{4,})/.exec(isoLike)?.[1];
  const micros = fraction ? Number(fraction.slice(3, 6).padEnd(3, '0')) : 0;
  return micros > 0 ? new Instant(d.getTime(), micros) : d;
}

/**
 * An instant with the microseconds that a Date cannot hold: PostgreSQL's
 * timestamptz and MySQL's TIMESTAMP(6) keep them, and text formats write them.
 * Everything that takes a Date takes it (a spreadsheet cell keeps milliseconds).
 */
export class Instant extends Date {
  /** Microseconds past the Date's millisecond, 1–999. */
  readonly micros: number;
  constructor(ms: number, micros: number) {
    super(ms);
    this.micros = micros;
  }
}

/** The microseconds past the millisecond of an instant (0 for a plain Date). */
export function microsOf(d: Date): number {
  return d instanceof Instant ? d.micros : 0;
}
