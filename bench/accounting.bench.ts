import { pipeline } from 'node:stream/promises';
import { resolveFormat } from '../src/engine/formats/registry.ts';
import type { Column, Value } from '../src/engine/sources/types.ts';
import { countingSink, peakRssMb, runVariants } from './lib.ts';

// The accounting writers on a generated ledger (1M journal lines by default:
// balanced three-line documents, as the demo ledger has them), each in its own
// process for a clean peak RSS, against Ferry's CSV writer on the same rows as
// the reference. Memory must stay flat: the SAF-T writer spools its entries to a
// temporary file rather than holding them until the totals are known.

// Whole three-line documents only: a cut-off document would not balance (and SAF-T refuses it).
const LINES = 3 * Math.floor(Number(process.env['BENCH_LEDGER_LINES'] ?? 1_000_000) / 3);
const names = [
  'document_number',
  'document_date',
  'description',
  'line_no',
  'account',
  'contra_account',
  'account_name',
  'grouping_category',
  'grouping_code',
  'debit',
  'credit',
  'amount',
  'vat_code',
  'vat_rate',
];
const columns: Column[] = names.map((name) => ({ name, type: 'string', dbType: 'text' }));
const ACCOUNTS = ['1400', '8400', '1776'];

function line(i: number): Value[] {
  const doc = Math.floor(i / 3);
  const n = i % 3;
  const net = 50 + (doc % 9950);
  const vat = Math.round(net * 19) / 100;
  const gross = net + vat;
  const [debit, credit] = n === 0 ? [gross, 0] : n === 1 ? [0, net] : [0, vat];
  const day = String(1 + (doc % 28)).padStart(2, '0');
  return [
    `RE-${doc}`,
    `2026-10-${day}`,
    `Rechnung an Kunde ${doc % 5000} – Müller`,
    String(n + 1),
    ACCOUNTS[n]!,
    n === 0 ? '8400' : '1400',
    `Konto ${ACCOUNTS[n]}`,
    'RF-1167',
    '1500',
    debit.toFixed(2),
    credit.toFixed(2),
    (debit - credit).toFixed(2),
    n === 1 ? '3' : null,
    n === 1 ? '19.00' : null,
  ];
}

async function* batches(): AsyncGenerator<Value[][]> {
  for (let i = 0; i < LINES; i += 2000) {
    const batch: Value[][] = [];
    for (let j = i; j < Math.min(LINES, i + 2000); j++) batch.push(line(j));
    yield batch;
  }
}

const context = {
  timeZone: 'Europe/Berlin',
  generatedAt: new Date('2026-11-03T07:00:00Z'),
  parameters: { from: '2026-10-01', to: '2026-10-31' },
  title: 'Ledger',
};
const options: Record<string, Record<string, unknown>> = {
  csv: {},
  datev: { consultantNumber: 29098, clientNumber: 55003 },
  bmd: {},
  saft: {
    companyName: 'Fjord Handel AS',
    registrationNumber: '999999999',
    city: 'Oslo',
    postalCode: '0155',
    contactFirstName: 'Kari',
    contactLastName: 'Nordmann',
    telephone: '+47 22 00 00 00',
  },
};

async function runVariant(format: string): Promise<void> {
  const spec = resolveFormat(format as 'csv', options[format]!, context);
  const started = performance.now();
  const out = countingSink();
  async function* chunks() {
    for await (const c of spec.encoder(columns, batches())) yield typeof c === 'string' ? Buffer.from(c) : c;
  }
  await pipeline(chunks(), out.stream);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ format, seconds, bytes: out.bytes(), rss: peakRssMb() }));
}

export async function run(): Promise<void> {
  const results = runVariants<{ format: string; seconds: number; bytes: number; rss: number }>(
    import.meta.filename,
    ['csv', 'datev', 'bmd', 'saft'],
  );
  const reference = results[0]!;
  process.stdout.write(
    `Accounting exports of ${LINES.toLocaleString('en')} journal lines (generated, no database)\n`,
  );
  process.stdout.write(
    '| writer | lines/s | MB | peak RSS | speed vs CSV | RSS vs CSV |\n|---|---|---|---|---|---|\n',
  );
  for (const r of results)
    process.stdout.write(
      `| ${r.format === 'csv' ? 'CSV (reference)' : r.format.toUpperCase()} | ${Math.round(LINES / r.seconds).toLocaleString('en')} | ${(r.bytes / 1e6).toFixed(1)} | ${r.rss.toFixed(0)} MB | ${(reference.seconds / r.seconds).toFixed(2)} | ${(r.rss / reference.rss).toFixed(2)} |\n`,
    );
}

if (process.argv[2] && Object.hasOwn(options, process.argv[2])) await runVariant(process.argv[2]);
