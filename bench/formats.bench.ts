import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { type ExportFormat, exportFormats, resolveFormat } from '../src/engine/formats/registry.ts';
import { createPostgresSource } from '../src/engine/sources/postgres.ts';
import { defaultReadLimits } from '../src/engine/sources/types.ts';
import { peakRssMb, runVariants } from './lib.ts';

// Every format through Ferry's whole read path (PostgreSQL cursor → typed values
// → encoder), each in its own process: rows/s and peak RSS, against the CSV
// writer measured in the same run. Uses the table the CSV benchmark creates.

const BASE_URL =
  process.env['BENCH_DATABASE_URL'] ??
  process.env['TEST_DATABASE_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const DB = `ferry_bench_${ROWS}`;

function url(): string {
  const u = new URL(BASE_URL);
  u.pathname = `/${DB}`;
  return u.toString();
}

async function runVariant(format: ExportFormat): Promise<void> {
  const source = createPostgresSource({ connectionString: url() });
  const stream = await source.openRows(
    { sql: 'SELECT * FROM bench_rows', values: [] },
    new AbortController().signal,
    { batchSize: defaultReadLimits.batchSize },
  );
  const spec = resolveFormat(format, {}, { timeZone: 'UTC', title: 'Benchmark' });
  let bytes = 0;
  let rows = 0;
  const started = performance.now();
  async function* counted() {
    for await (const batch of stream.batches) {
      rows += batch.length;
      yield batch;
    }
  }
  async function* chunks() {
    for await (const c of spec.encoder(stream.columns, counted()))
      yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  await pipeline(
    chunks(),
    new Writable({
      write(chunk, _e, done) {
        bytes += chunk.length;
        done();
      },
    }),
  );
  await source.close();
  process.stdout.write(
    JSON.stringify({
      format,
      rows,
      seconds: (performance.now() - started) / 1000,
      bytes,
      rss: peakRssMb(),
    }),
  );
}

export async function run(): Promise<void> {
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB])).rows.length > 0;
  await admin.end();
  if (!exists) {
    process.stdout.write(`skipped: run the CSV benchmark first to create ${DB}\n`);
    return;
  }
  const results = runVariants<{
    format: string;
    rows: number;
    seconds: number;
    bytes: number;
    rss: number;
  }>(import.meta.filename, exportFormats);
  const csv = results.find((r) => r.format === 'csv')!;
  process.stdout.write(
    `Every format, ${ROWS.toLocaleString('en')} rows × 7 columns from PostgreSQL (PDF stops at its 10,000-row cap)\n`,
  );
  process.stdout.write('format    rows read     rows/s       MB   peak RSS  speed vs CSV\n');
  for (const r of results) {
    process.stdout.write(
      `${r.format.padEnd(8)}  ${r.rows.toLocaleString('en').padStart(9)}  ${Math.round(r.rows / r.seconds)
        .toLocaleString('en')
        .padStart(
          9,
        )}  ${(r.bytes / 1e6).toFixed(1).padStart(7)}  ${r.rss.toFixed(0).padStart(6)} MB  ${(r.rows / r.seconds / (csv.rows / csv.seconds)).toFixed(2)}\n`,
    );
  }
}

if (exportFormats.includes(process.argv[2] as ExportFormat))
  await runVariant(process.argv[2] as ExportFormat);
