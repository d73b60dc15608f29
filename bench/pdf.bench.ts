import { pdfEncoder } from '../src/engine/formats/pdf.ts';
import { csvEncoder, defaultCsvOptions, type Encoder } from '../src/engine/formats/text-formats.ts';
import { textOf } from '../src/engine/formats/values.ts';
import type { Column, Value } from '../src/engine/sources/types.ts';
import { peakRssMb, runVariants } from './lib.ts';

// The PDF writer's layout speed, without a database: the same generated rows
// (the shape of the CSV benchmark's table) through
// - csv: Ferry's CSV encoder, the reference every format is compared with;
// - pdfkit-cells: pdfkit's own text() for every cell, as Ferry drew tables
//   before (the reference for the PDF writer's speed-up);
// - pdf: Ferry's PDF writer; pdf-scripts: the same with Greek, Cyrillic, CJK,
//   Arabic, Hebrew and emoji in the text column (font fallback at work).
// Each in its own process, so peak RSS is its own.

const ROWS = Number(process.env['BENCH_PDF_ROWS'] ?? 20_000);
const BATCH = 2_000;
const variants = ['csv', 'pdfkit-cells', 'pdf', 'pdf-scripts'] as const;
type Variant = (typeof variants)[number];

const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'name', type: 'string', dbType: 'text' },
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'big', type: 'bigint', dbType: 'int8' },
  { name: 'flag', type: 'boolean', dbType: 'bool' },
  { name: 'day', type: 'date', dbType: 'date' },
  { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
];

const SCRIPTS = ['Zürich', 'Αθήνα', 'Москва', '東京都', '北京市', '서울', 'القاهرة', 'ירושלים', '🚀🎉'];

function* batches(scripts: boolean): Generator<Value[][]> {
  for (let start = 1; start <= ROWS; start += BATCH) {
    const batch: Value[][] = [];
    for (let i = start; i < Math.min(start + BATCH, ROWS + 1); i++) {
      const name = scripts
        ? `${SCRIPTS[i % SCRIPTS.length]} ${i}`
        : `customer ${i}${i % 10 === 0 ? ', "quoted"' : ''}`;
      batch.push([
        i,
        name,
        ((i % 1000) * 1.25 - 300).toFixed(2),
        BigInt(i) * 7919n,
        i % 3 === 0,
        new Date(Date.UTC(2020, 0, 1 + (i % 2000))).toISOString().slice(0, 10),
        new Date(Date.UTC(2020, 0, 1) + i * 1000),
      ]);
    }
    yield batch;
  }
}

async function* asBatches(scripts: boolean): AsyncGenerator<Value[][]> {
  yield* batches(scripts);
}

/** pdfkit's text() per cell with width, ellipsis and alignment: the layout Ferry's PDF writer replaced. */
const pdfkitCells: Encoder = async function* (cols, input) {
  const { default: PDFDocument } = await import('pdfkit');
  const { createRequire } = await import('node:module');
  const font = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSansCondensed.ttf');
  const doc = new PDFDocument({ size: 'A4', margin: 36, fontLayoutCache: false });
  doc.registerFont('body', font);
  doc.font('body').fontSize(8);
  const width = (doc.page.width - 72) / cols.length;
  const producing = (async () => {
    let y = 36;
    for await (const batch of input) {
      for (const row of batch) {
        if (y + 13 > doc.page.height - 36) {
          doc.addPage();
          y = 36;
        }
        for (let i = 0; i < row.length; i++) {
          doc.text(textOf(row[i]!, cols[i]!.type), 36 + i * width + 2, y + 2, {
            width: width - 4,
            height: 13,
            lineBreak: false,
            ellipsis: true,
          });
        }
        y += 13;
      }
    }
    doc.end();
  })();
  for await (const chunk of doc as AsyncIterable<Buffer>) yield chunk;
  await producing;
};

async function runVariant(variant: Variant): Promise<void> {
  const encoder =
    variant === 'csv'
      ? csvEncoder(defaultCsvOptions)
      : variant === 'pdfkit-cells'
        ? pdfkitCells
        : pdfEncoder({
            title: 'Benchmark',
            parameters: { region: 'North', from: '2026-01-01' },
            generatedAt: new Date(),
            timeZone: 'UTC',
            landscape: false,
            rowCap: ROWS,
          });
  const started = performance.now();
  let bytes = 0;
  for await (const chunk of encoder(columns, asBatches(variant === 'pdf-scripts'))) bytes += chunk.length;
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ variant, seconds, bytes, rss: peakRssMb() }));
}

export async function run(): Promise<void> {
  const results = runVariants<{ variant: Variant; seconds: number; bytes: number; rss: number }>(
    import.meta.filename,
    variants,
  );
  const rate = (v: Variant) => ROWS / results.find((r) => r.variant === v)!.seconds;
  process.stdout.write(
    `PDF layout, ${ROWS.toLocaleString('en')} generated rows × 7 columns (row cap raised to match)\n`,
  );
  process.stdout.write('variant          rows/s       MB   peak RSS  vs CSV  vs pdfkit-cells\n');
  for (const r of results) {
    const perSecond = ROWS / r.seconds;
    process.stdout.write(
      `${r.variant.padEnd(13)}  ${Math.round(perSecond).toLocaleString('en').padStart(9)}  ${(r.bytes / 1e6)
        .toFixed(1)
        .padStart(
          7,
        )}  ${r.rss.toFixed(0).padStart(6)} MB  ${(perSecond / rate('csv')).toFixed(3).padStart(6)}  ${(perSecond / rate('pdfkit-cells')).toFixed(1).padStart(8)}×\n`,
    );
  }
}

if (variants.includes(process.argv[2] as Variant)) await runVariant(process.argv[2] as Variant);
