import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { csvEncoder, defaultCsvOptions } from '../src/engine/formats/text-formats.ts';
import { exportCopyToStream } from '../src/engine/pipeline.ts';
import { createPostgresSource } from '../src/engine/sources/postgres.ts';
import { defaultReadLimits } from '../src/engine/sources/types.ts';
import { countingSink, peakRssMb, runVariants } from './lib.ts';

// Ferry's CSV path (server-side cursor → typed values → CSV encoder) against
// PostgreSQL's own COPY … TO STDOUT (FORMAT csv) on the same table, each in its
// own process so peak RSS is per variant. Output goes to a byte-counting sink.

const BASE_URL =
  process.env['BENCH_DATABASE_URL'] ??
  process.env['TEST_DATABASE_URL'] ??
  'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const DB = `ferry_bench_${ROWS}`;
const QUERY = 'SELECT * FROM bench_rows';

function url(db: string): string {
  const u = new URL(BASE_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

async function prepare(): Promise<void> {
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB]);
  if (exists.rows.length === 0) await admin.query(`CREATE DATABASE ${DB}`);
  const c = new pg.Client({ connectionString: url(DB) });
  await c.connect();
  const table = await c.query("SELECT to_regclass('bench_rows') IS NOT NULL AS ok");
  if (!table.rows[0].ok) {
    await c.query(`CREATE TABLE bench_rows AS
      SELECT i AS id, 'customer ' || i || CASE WHEN i % 10 = 0 THEN ', "quoted"' ELSE '' END AS name,
             (i % 1000) * 1.25 - 300 AS amount, i::bigint * 7919 AS big, i % 3 = 0 AS flag,
             date '2020-01-01' + (i % 2000) AS day, timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second' AS at
        FROM generate_series(1, ${ROWS}) AS i`);
  }
  await c.end();
  await admin.end();
}

async function runVariant(variant: string): Promise<void> {
  const started = performance.now();
  const { stream: sink, bytes } = countingSink();
  if (variant === 'copy') {
    const client = new pg.Client({ connectionString: url(DB) });
    await client.connect();
    await pipeline(client.query(copyTo(`COPY (${QUERY}) TO STDOUT WITH (FORMAT csv, HEADER)`)), sink);
    await client.end();
  } else if (variant === 'ferry-copy' || variant === 'ferry-copy-param') {
    const source = createPostgresSource({ connectionString: url(DB) });
    const options = { ...defaultCsvOptions, lineEnding: '\n' as const };
    const signal = new AbortController().signal;
    // The same rows through a report parameter (every id is above 0).
    const query =
      variant === 'ferry-copy' ? { sql: QUERY, values: [] } : { sql: `${QUERY} WHERE id > $1`, values: [0] };
    const copy = await source.copyCsv!(query, options, signal);
    if (!copy) throw new Error('the COPY fast path declined the benchmark query');
    await exportCopyToStream({
      source: copy.stream,
      text: { ...options, rewrites: copy.rewrites },
      bom: false,
      compression: { kind: 'none' },
      out: sink,
      signal,
      limits: { maxRows: 1e12, maxBytes: 1e15 },
    });
    await source.close();
  } else {
    const source = createPostgresSource({ connectionString: url(DB) });
    const stream = await source.openRows({ sql: QUERY, values: [] }, new AbortController().signal, {
      batchSize: defaultReadLimits.batchSize,
    });
    const encode = csvEncoder({ ...defaultCsvOptions, lineEnding: '\n' });
    async function* chunks() {
      for await (const text of encode(stream.columns, stream.batches)) yield Buffer.from(text);
    }
    await pipeline(chunks(), sink);
    await source.close();
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ variant, seconds, bytes: bytes(), rss: peakRssMb() }));
}

export async function run(): Promise<void> {
  await prepare();
  const results = runVariants<{ variant: string; seconds: number; bytes: number; rss: number }>(
    import.meta.filename,
    ['copy', 'ferry', 'ferry-copy', 'ferry-copy-param'],
  );
  const reference = results[0]!;
  process.stdout.write(`CSV export of ${ROWS.toLocaleString('en')} rows × 7 columns (PostgreSQL)\n`);
  process.stdout.write('variant                     rows/s      MB      peak RSS  ratio vs COPY\n');
  for (const r of results) {
    const label =
      {
        copy: 'COPY TO STDOUT (reference)',
        ferry: 'Ferry row path (cursor)',
        'ferry-copy': 'Ferry COPY fast path',
        'ferry-copy-param': '… with a report parameter',
      }[r.variant] ?? r.variant;
    process.stdout.write(
      `${label.padEnd(26)}  ${Math.round(ROWS / r.seconds)
        .toLocaleString('en')
        .padStart(
          9,
        )}  ${(r.bytes / 1e6).toFixed(1).padStart(6)}  ${r.rss.toFixed(0).padStart(6)} MB  ${(reference.seconds / r.seconds).toFixed(2)}\n`,
    );
  }
}

if (['copy', 'ferry', 'ferry-copy', 'ferry-copy-param'].includes(process.argv[2] ?? ''))
  await runVariant(process.argv[2]!);
