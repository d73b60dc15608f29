import { pipeline } from 'node:stream/promises';
import { defaultXlsxOptions, xlsxEncoder } from '../src/engine/formats/xlsx.ts';
import type { Column, Value } from '../src/engine/sources/types.ts';
import { countingSink, peakRssMb, runVariants } from './lib.ts';

// Ferry's XLSX writer against exceljs's streaming WorkbookWriter on the same
// generated rows (7 mixed columns), each in its own process for a clean peak RSS.

const ROWS = Number(process.env['BENCH_XLSX_ROWS'] ?? 300_000);
const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'name', type: 'string', dbType: 'text' },
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'big', type: 'bigint', dbType: 'int8' },
  { name: 'flag', type: 'boolean', dbType: 'bool' },
  { name: 'day', type: 'date', dbType: 'date' },
  { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
];

function row(i: number): Value[] {
  return [
    i,
    `customer ${i}`,
    ((i % 1000) * 1.25 - 300).toFixed(2),
    BigInt(i) * 7919n,
    i % 3 === 0,
    `2020-${String((i % 12) + 1).padStart(2, '0')}-15`,
    new Date(1_577_836_800_000 + i * 1000),
  ];
}

async function* batches(): AsyncGenerator<Value[][]> {
  for (let i = 0; i < ROWS; i += 2000) {
    const batch: Value[][] = [];
    for (let j = i; j < Math.min(ROWS, i + 2000); j++) batch.push(row(j + 1));
    yield batch;
  }
}

async function runVariant(variant: string): Promise<void> {
  // Loaded by its own variant only, so the other process's peak RSS is Ferry's alone.
  const ExcelJS = variant === 'exceljs' ? (await import('exceljs')).default : null;
  const started = performance.now();
  const out = countingSink();
  if (ExcelJS) {
    const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
      stream: out.stream,
      useSharedStrings: false,
      useStyles: true,
    });
    const ws = wb.addWorksheet('Export');
    ws.columns = columns.map((c) => ({ header: c.name, key: c.name }));
    for await (const batch of batches()) {
      for (const r of batch)
        ws.addRow(
          r.map((v, i) =>
            columns[i]!.type === 'bigint'
              ? Number(v)
              : columns[i]!.type === 'decimal'
                ? Number(v)
                : columns[i]!.type === 'date'
                  ? new Date(`${v}T00:00:00Z`)
                  : v,
          ),
        ).commit();
    }
    ws.commit();
    await wb.commit();
  } else {
    async function* chunks() {
      for await (const c of xlsxEncoder(defaultXlsxOptions)(columns, batches()))
        yield typeof c === 'string' ? Buffer.from(c) : c;
    }
    await pipeline(chunks(), out.stream);
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ variant, seconds, bytes: out.bytes(), rss: peakRssMb() }));
}

export async function run(): Promise<void> {
  const results = runVariants<{ variant: string; seconds: number; bytes: number; rss: number }>(
    import.meta.filename,
    ['exceljs', 'ferry'],
  );
  const reference = results[0]!;
  process.stdout.write(
    `XLSX export of ${ROWS.toLocaleString('en')} rows × 7 columns (generated rows, no database)\n`,
  );
  process.stdout.write(
    'variant                         rows/s      MB   peak RSS   speed vs exceljs  RSS vs exceljs\n',
  );
  for (const r of results) {
    const label = r.variant === 'exceljs' ? 'exceljs WorkbookWriter (ref.)' : 'Ferry XLSX writer';
    process.stdout.write(
      `${label.padEnd(30)}  ${Math.round(ROWS / r.seconds)
        .toLocaleString('en')
        .padStart(
          8,
        )}  ${(r.bytes / 1e6).toFixed(1).padStart(6)}  ${r.rss.toFixed(0).padStart(6)} MB  ${(reference.seconds / r.seconds).toFixed(2).padStart(8)}          ${(r.rss / reference.rss).toFixed(2)}\n`,
    );
  }
}

if (process.argv[2] === 'exceljs' || process.argv[2] === 'ferry') await runVariant(process.argv[2]);
