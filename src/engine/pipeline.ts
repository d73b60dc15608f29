import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import yazl from 'yazl';
import { type CopyCsvText, copyCsvFramer } from './copy-csv-text.ts';
import { type Encoder, type ExportWarning, ExportWarnings } from './formats/text-formats.ts';
import { microsOf, type RowStream, type Value } from './sources/types.ts';

// Rows → encoder → (gzip or zip) → storage writer, with backpressure, progress, limits and a
// checksum of the bytes written. No database, no HTTP: streams and a signal.

export class ExportLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportLimitError';
  }
}

export interface ExportLimits {
  maxRows: number;
  maxBytes: number;
}

export interface ExportResult {
  rows: number;
  bytes: number;
  sha256: string;
  /** SHA-256 of the rows' values (when asked for): equal results give equal hashes in any format. */
  dataSha256?: string;
  /** What the writer had to change in values its format cannot carry, counted per kind. */
  warnings?: ExportWarning[];
}

/** Feeds a batch of values into a hash, each tagged with its type and length so no two results collide by concatenation. */
export function hashValues(hash: ReturnType<typeof createHash>, batch: Value[][]): void {
  for (const row of batch) {
    for (const v of row) {
      if (v === null || v === undefined) hash.update('\u0000N');
      else if (typeof v === 'string') hash.update(`\u0000S${v.length}:${v}`);
      else if (v instanceof Date) hash.update(`\u0000D${v.getTime()}${microsOf(v) ? `.${microsOf(v)}` : ''}`);
      else if (Buffer.isBuffer(v)) hash.update(`\u0000X${v.length}:`).update(v);
      else if (typeof v === 'object') hash.update(`\u0000J${JSON.stringify(v)}`);
      else hash.update(`\u0000${typeof v}${String(v)}`);
    }
    hash.update('\u0000R');
  }
}

/**
 * The source's items until it ends or the signal aborts. On abort the pending
 * read is abandoned at once: a driver whose stream never settles after its
 * connection is destroyed must not hold the export, its worker slot or its job.
 */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
  });
  aborted.catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      signal.throwIfAborted();
      const pending = it.next();
      // Abandoned on abort: whatever it settles with later is of no interest.
      pending.catch(() => {});
      const next = await Promise.race([pending, aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Stopped early: the source cleans up (closes its cursor, destroys its stream).
    // After an abort it may be stuck in a read, so that clean-up is not waited for.
    const closing = it.return?.();
    if (signal.aborted) closing?.catch(() => {});
    else await closing;
  }
}

const rowLimitError = (limits: ExportLimits) =>
  new ExportLimitError(`The export exceeds the limit of ${limits.maxRows.toLocaleString('en')} rows`);

/** Bytes written so far and their hash, shared by both export paths. */
interface Meter {
  bytes: number;
  readonly hash: ReturnType<typeof createHash>;
}

/**
 * The stages both export paths end with: compress (gzip, or a zip with one
 * entry), then count, limit and hash the bytes that reach `out`.
 */
async function compressAndWrite(
  source: AsyncIterable<Buffer>,
  o: {
    compression: ExportToStreamOptions['compression'];
    out: Writable;
    signal: AbortSignal;
    limits: ExportLimits;
  },
  meter: Meter,
): Promise<void> {
  const measure = new Transform({
    transform(chunk: Buffer, _enc, done) {
      meter.bytes += chunk.length;
      if (meter.bytes > o.limits.maxBytes) {
        done(
          new ExportLimitError(
            `The export exceeds the limit of ${(o.limits.maxBytes / 1e6).toLocaleString('en')} MB`,
          ),
        );
        return;
      }
      meter.hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    if (o.compression.kind === 'gzip')
      await pipeline(source, createGzip(), measure, o.out, { signal: o.signal });
    else if (o.compression.kind === 'zip')
      await pipeline(zipped(source, o.compression.entryName), measure, o.out, { signal: o.signal });
    else await pipeline(source, measure, o.out, { signal: o.signal });
  } catch (err) {
    // The caller aborts its storage writer, which removes the partial file.
    throw o.signal.aborted ? (o.signal.reason ?? err) : err;
  }
}

export interface ExportToStreamOptions {
  rows: RowStream;
  encoder: Encoder;
  /** gzip the stream, or put the file in a zip archive under this entry name. */
  compression: { kind: 'none' } | { kind: 'gzip' } | { kind: 'zip'; entryName: string };
  /** Where the file's bytes go (a storage writer); ended when the export completes. */
  out: Writable;
  signal: AbortSignal;
  limits: ExportLimits;
  onProgress?: (progress: { rows: number; bytes: number }) => void;
  /** Also hash the rows' values (for "deliver only when changed"). */
  hashRows?: boolean;
}

export async function exportToStream(o: ExportToStreamOptions): Promise<ExportResult> {
  let rows = 0;
  const meter: Meter = { bytes: 0, hash: createHash('sha256') };
  const dataHash = o.hashRows ? createHash('sha256') : null;
  async function* counted(): AsyncGenerator<Value[][]> {
    for await (const batch of untilAborted(o.rows.batches, o.signal)) {
      rows += batch.length;
      if (rows > o.limits.maxRows) throw rowLimitError(o.limits);
      if (dataHash) hashValues(dataHash, batch);
      yield batch;
      o.onProgress?.({ rows, bytes: meter.bytes });
    }
  }
  const warnings = new ExportWarnings();
  async function* encoded(): AsyncGenerator<Buffer> {
    for await (const chunk of o.encoder(o.rows.columns, counted(), warnings))
      yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  }
  await compressAndWrite(encoded(), o, meter);
  o.onProgress?.({ rows, bytes: meter.bytes });
  return {
    rows,
    bytes: meter.bytes,
    sha256: meter.hash.digest('hex'),
    ...(dataHash ? { dataSha256: dataHash.digest('hex') } : {}),
    warnings: warnings.list(),
  };
}

/** The file as the one entry of a zip archive, streamed (yazl; ZIP64 past 4 GB). */
async function* zipped(source: AsyncIterable<Buffer>, entryName: string): AsyncGenerator<Buffer> {
  const zip = new yazl.ZipFile();
  const entry = new PassThrough();
  zip.addReadStream(entry, entryName);
  zip.end();
  const feeding = pipeline(source, entry).catch((err: unknown) =>
    (zip.outputStream as unknown as { destroy(e: unknown): void }).destroy(err),
  );
  try {
    for await (const chunk of zip.outputStream as unknown as AsyncIterable<Buffer>) yield chunk;
  } finally {
    // Stopped early: end the feeding pipeline instead of waiting for it forever.
    entry.destroy();
    await feeding;
  }
}

export interface CopyExportOptions {
  source: NodeJS.ReadableStream;
  /** The CSV options and, per column, what differs from the server's text (copy-csv-text.ts). */
  text: CopyCsvText;
  bom: boolean;
  compression: ExportToStreamOptions['compression'];
  out: Writable;
  signal: AbortSignal;
  limits: ExportLimits;
  onProgress?: (progress: { rows: number; bytes: number }) => void;
}

/**
 * The server-written CSV (COPY) to storage: counts rows and turns LF into CRLF
 * outside quoted fields, adds the BOM, compresses, limits and hashes, exactly as
 * the row path does, without parsing a single value in JavaScript.
 */
export async function exportCopyToStream(o: CopyExportOptions): Promise<ExportResult> {
  const framer = copyCsvFramer(o.text);
  let lines = 0;
  const meter: Meter = { bytes: 0, hash: createHash('sha256') };
  const rows = () => Math.max(0, lines - (o.text.header ? 1 : 0));
  async function* withLineEnds(): AsyncGenerator<Buffer> {
    let first = true;
    const framed = async function* () {
      for await (const chunk of untilAborted(o.source as AsyncIterable<Buffer>, o.signal))
        yield framer.push(chunk);
      yield framer.end();
    };
    for await (const { out: text, records } of framed()) {
      lines += records;
      if (text.length === 0) continue;
      if (rows() > o.limits.maxRows) throw rowLimitError(o.limits);
      const out = first && o.bom ? Buffer.concat([BOM, text]) : text;
      first = false;
      o.onProgress?.({ rows: rows(), bytes: meter.bytes });
      yield out;
    }
    // An empty result without a header still gets its BOM.
    if (first && o.bom) yield BOM;
  }
  await compressAndWrite(withLineEnds(), o, meter);
  o.onProgress?.({ rows: rows(), bytes: meter.bytes });
  return { rows: rows(), bytes: meter.bytes, sha256: meter.hash.digest('hex') };
}

const BOM = Buffer.from('\uFEFF');
