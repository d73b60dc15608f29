import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { type Column, Instant, type Value } from '../sources/types.ts';
import { type PdfOptions, pdfEncoder } from './pdf.ts';
import { ExportWarnings } from './text-formats.ts';

const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'customer', type: 'string', dbType: 'text' },
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
];

const baseOptions: PdfOptions = {
  title: 'Sales — März',
  parameters: { from: '2026-01-01', regions: ['North'] },
  generatedAt: new Date('2026-03-15T09:30:00Z'),
  timeZone: 'Europe/Berlin',
  landscape: false,
  rowCap: 10_000,
};

interface Extracted {
  /** Each page's text, lines as the extractor found them. */
  pages: string[];
  /** Each page's width and height in points. */
  sizes: { width: number; height: number }[];
  warnings: ExportWarnings;
}

/** Writes a PDF and reads its text back with pdf.js, an extractor independent of pdfkit. */
async function pdfText(
  cols: Column[],
  data: Value[][],
  options: Partial<PdfOptions> = {},
): Promise<Extracted> {
  async function* batches() {
    for (let i = 0; i < data.length; i += 500) yield data.slice(i, i + 500);
  }
  const chunks: Buffer[] = [];
  const warnings = new ExportWarnings();
  const encode = pdfEncoder({ ...baseOptions, ...options });
  for await (const c of encode(cols, batches(), warnings))
    chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  const bytes = Buffer.concat(chunks);
  const doc = await getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, disableFontFace: true })
    .promise;
  const pages: string[] = [];
  const sizes: Extracted['sizes'] = [];
  for (let p = 1; p <= doc.numPages; p++) {
    const page = await doc.getPage(p);
    const [, , width, height] = page.view;
    sizes.push({ width: width!, height: height! });
    const content = await page.getTextContent();
    pages.push(content.items.map((i) => ('str' in i ? i.str + (i.hasEOL ? '\n' : '') : '')).join(''));
  }
  return { pages, sizes, warnings };
}

describe('PDF writer read back by a PDF text extractor', () => {
  test('title, generated-at in the zone, parameters, header on every page, page numbers', async () => {
    const data: Value[][] = Array.from({ length: 180 }, (_, i) => [
      i + 1,
      i === 0 ? 'Zoë Müller, "Ærø" Ltd' : `customer ${i + 1}`,
      '-12.50',
      new Date('2026-03-01T10:00:00Z'),
    ]);
    const { pages } = await pdfText(columns, data);
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    assert.match(pages[0]!, /Sales — März/);
    assert.match(pages[0]!, /Generated 2026-03-15, 10:30:00 \(Europe\/Berlin\)/);
    assert.match(pages[0]!, /from = 2026-01-01/);
    assert.match(pages[0]!, /Zoë Müller, "Ærø" Ltd/);
    for (const [i, page] of pages.entries()) {
      assert.match(page, /id\s+customer\s+amount\s+at/, `header on page ${i + 1}`);
      assert.match(page, new RegExp(`page ${i + 1}\\b`));
    }
    assert.match(pages.at(-1)!, /180 rows\./);
    assert.match(pages.at(-1)!, /customer 180/);
  });

  test('every effective parameter is listed: defaults, lists, resolved relative dates, empty ones', async () => {
    const parameters = {
      from: '2026-02-01',
      to: '2026-02-28',
      regions: ['North', 'South'],
      min_qty: 5,
      include_tax: false,
      note: null,
    };
    const { pages } = await pdfText(columns, [[1, 'a', '1', null]], { parameters });
    const header = pages[0]!.replace(/\s+/g, ' ');
    for (const expected of [
      'from = 2026-02-01',
      'to = 2026-02-28',
      'regions = North, South',
      'min_qty = 5',
      'include_tax = false',
      'note = (none)',
    ])
      assert.ok(header.includes(expected), `${expected} in ${header}`);
  });

  test('every character comes back: Latin, Greek, Cyrillic, CJK, Arabic, Hebrew, emoji', async () => {
    const texts = [
      'Zürich — 日本語 — 🚀🎉',
      'Αθήνα, Ελλάδα',
      'Москва, Россия',
      'مرحبا بالعالم',
      'שלום עולם',
      '서울특별시 강남구',
      '们这是中文',
      'ひらがな カタカナ',
    ];
    const data: Value[][] = texts.map((t, i) => [i + 1, t, '1', null]);
    const { pages, warnings } = await pdfText(columns, data);
    const all = pages.join('\n');
    for (const t of texts) assert.ok(all.includes(t), `${t} in:\n${all}`);
    assert.deepEqual(warnings.list(), []);
  });

  test('every number, date and timestamp comes back whole, however narrow its column', async () => {
    const cols: Column[] = [
      { name: 'n', type: 'integer', dbType: 'int4' },
      { name: 'big', type: 'decimal', dbType: 'numeric' },
      { name: 'small', type: 'decimal', dbType: 'numeric' },
      { name: 'd', type: 'date', dbType: 'date' },
      { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
      { name: 'local', type: 'timestamp', dbType: 'timestamp' },
      { name: 'ok', type: 'boolean', dbType: 'bool' },
      { name: 'note', type: 'string', dbType: 'text' },
    ];
    const at = new Instant(Date.parse('2024-03-31T01:30:00.123Z'), 456);
    const data: Value[][] = [
      [1814, '12345678901234567.89', '-0.0001', '2026-12-31', at, '2024-03-31T01:30:00.123456', true, 'x'],
      // Longer than anything in the sample the widths came from.
      ...Array.from({ length: 600 }, (_, i): Value[] => [
        i,
        '1.5',
        '0',
        '2026-01-01',
        null,
        null,
        false,
        'y',
      ]),
      [
        -2147483648,
        '-98765432109876543210987654321.123456789',
        '0.000000000000000000001',
        '2026-10-01',
        at,
        null,
        false,
        'z',
      ],
    ];
    const { pages } = await pdfText(cols, data);
    const all = pages.join('\n');
    for (const expected of [
      '1814',
      '12345678901234567.89',
      '-0.0001',
      '2026-12-31',
      '2024-03-31T01:30:00.123456Z',
      '2024-03-31T01:30:00.123456',
      'true',
      '-2147483648',
      '-98765432109876543210987654321.123456789',
      '0.000000000000000000001',
      '2026-10-01',
    ])
      assert.ok(all.includes(expected), `${expected} in the PDF`);
    assert.ok(!all.includes('…'), 'nothing is shortened with an ellipsis');
  });

  test('long text wraps onto more lines and keeps every word', async () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const { pages } = await pdfText(columns, [[1, long, '1', null]]);
    const lines = pages[0]!.split('\n');
    for (let i = 0; i < 60; i++) assert.ok(pages[0]!.includes(`word${i}`), `word${i}`);
    assert.ok(lines.filter((l) => /word\d/.test(l)).length > 1, 'wrapped onto several lines');
  });

  test('a table wider than landscape is split into bands that repeat the key column, every value present', async () => {
    const cols: Column[] = [
      { name: 'order_no', type: 'string', dbType: 'text' },
      ...Array.from(
        { length: 29 },
        (_, i): Column => ({ name: `metric_${i + 1}`, type: 'decimal', dbType: 'numeric' }),
      ),
    ];
    const data: Value[][] = Array.from({ length: 70 }, (_, r) => [
      `ORD-${1000 + r}`,
      ...Array.from({ length: 29 }, (_, c) => `${r * 100 + c}.${String(c).padStart(2, '0')}1234567`),
    ]);
    const { pages, sizes } = await pdfText(cols, data);
    assert.ok(
      sizes.every((s) => s.width > s.height),
      'landscape pages',
    );
    const all = pages.join('\n');
    for (const row of data) for (const v of row) assert.ok(all.includes(String(v)), `${v} in the PDF`);
    for (const c of cols) assert.ok(all.includes(c.name), `${c.name} in a header`);
    // Each band's pages start with the key column.
    const bandPages = pages.filter((p) => /Columns 1, /.test(p));
    assert.ok(bandPages.length >= 4, `${bandPages.length} band pages`);
    for (const p of bandPages) assert.match(p, /order_no\s+metric_/);
    assert.match(pages[0]!, /The table has 30 columns/);
    const onPage = (p: string) => (p.match(/ORD-1\d\d\d/g) ?? []).length;
    assert.ok(
      bandPages.every((p) => onPage(p) > 0),
      'every band page shows the key column values',
    );
  });

  test('a table too wide for portrait but narrow enough for landscape turns the page', async () => {
    const cols: Column[] = Array.from(
      { length: 5 },
      (_, i): Column => ({
        name: `c${i}`,
        type: 'timestamptz',
        dbType: 'timestamptz',
      }),
    );
    const at = new Instant(Date.parse('2024-03-31T01:30:00.123Z'), 456);
    const { pages, sizes } = await pdfText(cols, [cols.map(() => at)]);
    assert.ok(sizes[0]!.width > sizes[0]!.height, 'landscape');
    assert.equal((pages[0]!.match(/2024-03-31T01:30:00\.123456Z/g) ?? []).length, 5);
    assert.ok(!/Columns 1, /.test(pages[0]!), 'no bands');
  });

  test('a character no font has is drawn as U+FFFD and counted in the warnings', async () => {
    const data: Value[][] = [
      [1, 'private \uE000 use', '1', null],
      [2, `unassigned ${String.fromCodePoint(0x2fffd)} and \u0001 control`, '1', null],
    ];
    const { pages, warnings } = await pdfText(columns, data);
    const all = pages.join('\n');
    assert.ok(all.includes('private \uFFFD use'), all);
    assert.ok(all.includes('unassigned \uFFFD and \uFFFD control'), all);
    assert.deepEqual(
      warnings.list().map((w) => [w.code, w.count]),
      [['pdf_replaced_characters', 3]],
    );
  });

  test('the row cap is stated in the document', async () => {
    const data: Value[][] = Array.from({ length: 1200 }, (_, i) => [i + 1, `c${i + 1}`, '1', null]);
    const { pages } = await pdfText(columns, data, { rowCap: 1000 });
    const all = pages.join('\n');
    assert.match(all, /shows the first 1,000 rows; the report has more/);
    assert.match(all, /c1000\b/);
    assert.ok(!/c1001\b/.test(all));
  });

  test('no rows: the header and a count of zero', async () => {
    const { pages } = await pdfText(columns, []);
    assert.equal(pages.length, 1);
    assert.match(pages[0]!, /id\s+customer\s+amount\s+at/);
    assert.match(pages[0]!, /0 rows\./);
  });
});
