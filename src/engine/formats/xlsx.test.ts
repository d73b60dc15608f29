import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ExcelJS from 'exceljs';
import XLSX from 'xlsx';
import type { Column, Value } from '../sources/types.ts';
import { ExportWarnings } from './text-formats.ts';
import { defaultXlsxOptions, xlsxEncoder } from './xlsx.ts';

const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'name', type: 'string', dbType: 'text' },
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'big', type: 'bigint', dbType: 'int8' },
  { name: 'flag', type: 'boolean', dbType: 'bool' },
  { name: 'day', type: 'date', dbType: 'date' },
  { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
  { name: 'local', type: 'timestamp', dbType: 'timestamp' },
];
const rows: Value[][] = [
  [
    1,
    '=HYPERLINK("x")',
    '-1234.5678',
    42n,
    true,
    '2026-03-29',
    new Date('2026-03-29T01:00:00Z'),
    '2026-03-29T02:30:00',
  ],
  [
    2,
    'O\'Brien & <Co> "ü" 🚀\nline',
    '12345678901234567890.12',
    9007199254740993n,
    false,
    '1899-12-31',
    null,
    null,
  ],
  [3, null, null, null, null, null, null, null],
];

/** A row of simple values, numbered. */
const plainRow = (n: number): Value[] => [n, `row ${n}`, '1.5', 1n, true, '2026-01-01', null, null];

async function build(data: Value[][], options = defaultXlsxOptions, batchSize = 2): Promise<Buffer> {
  async function* batches() {
    for (let i = 0; i < data.length; i += batchSize) yield data.slice(i, i + batchSize);
  }
  const chunks: Buffer[] = [];
  for await (const c of xlsxEncoder(options)(columns, batches()))
    chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

describe('XLSX writer read back by exceljs', () => {
  test('real cell types, exact big numbers as text, text never a formula, bold frozen header with autofilter', async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await build(rows, { ...defaultXlsxOptions, timeZone: 'Europe/Berlin' })) as never);
    const ws = wb.worksheets[0]!;
    assert.equal(ws.name, 'Export');
    assert.deepEqual(
      (ws.getRow(1).values as unknown[]).slice(1),
      columns.map((c) => c.name),
    );
    assert.equal(ws.getRow(1).getCell(1).font?.bold, true);
    assert.equal(ws.views[0]?.state, 'frozen');
    assert.equal(ws.views[0]?.ySplit, 1);
    assert.ok(ws.autoFilter, 'autofilter');
    const r2 = ws.getRow(2);
    assert.equal(r2.getCell(1).value, 1);
    assert.equal(r2.getCell(2).value, '=HYPERLINK("x")');
    assert.equal(r2.getCell(2).type, ExcelJS.ValueType.String, 'a text cell, not a formula');
    assert.equal(r2.getCell(3).value, -1234.5678);
    assert.equal(r2.getCell(4).value, 42);
    assert.equal(r2.getCell(5).value, true);
    assert.equal((r2.getCell(6).value as Date).toISOString(), '2026-03-29T00:00:00.000Z');
    // 01:00 UTC is 03:00 in Berlin that night (summer time began at 02:00).
    assert.equal((r2.getCell(7).value as Date).toISOString(), '2026-03-29T03:00:00.000Z');
    assert.equal((r2.getCell(8).value as Date).toISOString(), '2026-03-29T02:30:00.000Z');
    const r3 = ws.getRow(3);
    assert.equal(r3.getCell(2).value, 'O\'Brien & <Co> "ü" 🚀\nline');
    assert.equal(r3.getCell(3).value, '12345678901234567890.12', 'beyond 15 digits stays exact, as text');
    assert.equal(r3.getCell(4).value, '9007199254740993');
    assert.equal(r3.getCell(6).value, '1899-12-31', 'before Excel’s calendar: text');
    const r4 = ws.getRow(4);
    assert.equal(r4.getCell(1).value, 3);
    assert.equal(r4.getCell(2).value, null);
    assert.ok((ws.getColumn(2).width ?? 0) > 8);
  });

  test('past the rows-per-sheet limit the export continues on a new sheet, header repeated', async () => {
    const many: Value[][] = Array.from({ length: 25 }, (_, i) => plainRow(i + 1));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(
      (await build(many, { ...defaultXlsxOptions, sheetName: 'Sales', maxRowsPerSheet: 10 }, 4)) as never,
    );
    assert.deepEqual(
      wb.worksheets.map((w) => w.name),
      ['Sales', 'Sales (2)', 'Sales (3)'],
    );
    assert.deepEqual(
      wb.worksheets.map((w) => w.rowCount),
      [11, 11, 6],
    );
    assert.equal(wb.worksheets[1]!.getRow(1).getCell(2).value, 'name');
    assert.equal(wb.worksheets[1]!.getRow(2).getCell(1).value, 11);
    assert.equal(wb.worksheets[2]!.getRow(6).getCell(2).value, 'row 25');
  });

  test('an empty result is a valid workbook with just the header', async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await build([])) as never);
    assert.equal(wb.worksheets[0]!.rowCount, 1);
  });
});

describe('XLSX writer under backpressure', () => {
  test('a slow reader over many batches leaves no listeners behind (no MaxListeners warning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      async function* many(): AsyncGenerator<Value[][]> {
        for (let b = 0; b < 60; b++) yield Array.from({ length: 500 }, (_, i) => plainRow(b * 500 + i));
      }
      let bytes = 0;
      for await (const chunk of xlsxEncoder(defaultXlsxOptions)(columns, many())) {
        bytes += chunk.length;
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(bytes > 100_000);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('carriage returns, control characters and literal _xHHHH_ text survive (read back by SheetJS, which decodes ST_Xstring)', async () => {
    const values = [
      'line1\nline2\r\nline3',
      'literal _x0041_ and _x000D_ stay literal',
      'controls \u0001\u0008\u000b\u001f end',
      'lone \udc00 low',
      'plain_x_text _x12_ _xZZZZ_',
    ];
    const warnings = new ExportWarnings();
    async function* one() {
      yield values.map((v, i) => [i + 1, v, null, null, null, null, null, null] as Value[]);
    }
    const chunks: Buffer[] = [];
    for await (const c of xlsxEncoder(defaultXlsxOptions)(columns, one(), warnings))
      chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
    const book = XLSX.read(Buffer.concat(chunks));
    const sheet = book.Sheets[book.SheetNames[0]!]!;
    const read = values.map((_, i) => sheet[`B${i + 2}`]?.v);
    assert.deepEqual(read, [
      'line1\nline2\r\nline3',
      'literal _x0041_ and _x000D_ stay literal',
      'controls \u0001\u0008\u000b\u001f end',
      'lone \uFFFD low',
      'plain_x_text _x12_ _xZZZZ_',
    ]);
    assert.deepEqual(
      warnings.list().map((w) => [w.code, w.count]),
      [['xml_replaced_characters', 1]],
    );
  });

  test('instants, local date-times and times with milliseconds get a format that shows them (before 1970 too)', async () => {
    const local: Column[] = [
      { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
      { name: 'local', type: 'timestamp', dbType: 'timestamp' },
      { name: 't', type: 'time', dbType: 'time' },
    ];
    const data: Value[][] = [
      [new Date('2026-03-29T01:00:00.123Z'), '2026-03-29T02:30:00.5', '13:45:10.25'],
      [new Date('1969-12-31T23:59:58.750Z'), '1960-01-01T00:00:00', '08:00:00'],
    ];
    async function* one() {
      yield data;
    }
    const chunks: Buffer[] = [];
    for await (const c of xlsxEncoder(defaultXlsxOptions)(local, one()))
      chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
    const book = XLSX.read(Buffer.concat(chunks), { cellNF: true });
    const sheet = book.Sheets[book.SheetNames[0]!]!;
    const shown = ['A2', 'B2', 'C2', 'A3', 'B3', 'C3'].map((ref) => sheet[ref]?.w);
    assert.deepEqual(shown, [
      '2026-03-29 01:00:00.123',
      '2026-03-29 02:30:00.500',
      '13:45:10.250',
      '1969-12-31 23:59:58.750',
      '1960-01-01 00:00:00',
      '08:00:00',
    ]);
  });
});
