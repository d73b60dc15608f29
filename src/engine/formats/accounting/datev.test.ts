import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { unzip } from '../../../../test/helpers/unzip.ts';
import type { Column, Value } from '../../sources/types.ts';
import { ExportWarnings } from '../text-formats.ts';
import { DATEV_COLUMNS, type DatevSettings, datevEncoder } from './datev.ts';
import type { AccountingPeriod } from './period.ts';

// The DATEV Buchungsstapel writer against a golden file built from the format's
// field positions, read back with an independent Windows-1252 decoder
// (TextDecoder) and CSV parser (csv-parse).

const columns: Column[] = [
  'document_number',
  'document_date',
  'description',
  'account',
  'contra_account',
  'amount',
  'tax_key',
  'cost_centre',
].map((name) => ({
  name,
  type: name === 'amount' ? 'decimal' : name === 'document_date' ? 'date' : 'string',
  dbType: 'text',
}));

const rows: Value[][] = [
  ['RE-2026-000001', '2026-11-03', 'Rechnung an Kunde 7', '1400', '8400', '1190.00', null, '100'],
  [
    'RE-2026-000002',
    '2026-11-15',
    'Eingangsrechnung Lieferant "Müller & Co."',
    '4600',
    '1600',
    '238.5',
    '9',
    '400',
  ],
  ['RE-2026-000003', '2026-11-30', 'Gutschrift (Storno) – Kunde ⭐', '1400', '8400', '-119.00', null, null],
];

const settings: DatevSettings = {
  consultantNumber: 29098,
  clientNumber: 55003,
  fiscalYearStartMonth: 1,
  accountLength: 4,
  chartOfAccounts: '03',
  currency: 'EUR',
  batchName: 'Ledger November',
  origin: 'FY',
  exportedBy: 'Ferry',
  locked: false,
  tooLong: 'fail',
  mapping: {},
};
const november: AccountingPeriod = { from: '2026-11-01', to: '2026-11-30' };

async function write(
  data: Value[][],
  s: Partial<DatevSettings> = {},
  period = november,
  cols = columns,
): Promise<{ bytes: Buffer; warnings: ExportWarnings }> {
  const warnings = new ExportWarnings();
  const encoder = datevEncoder(
    { ...settings, ...s },
    { timeZone: 'Europe/Berlin', generatedAt: new Date('2026-12-03T08:15:30.123Z'), period: () => period },
  );
  async function* batches() {
    yield data;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of encoder(cols, batches(), warnings)) chunks.push(Buffer.from(chunk as Buffer));
  return { bytes: Buffer.concat(chunks), warnings };
}

/** A booking line from the values at DATEV's 1-based field positions; every other field empty. */
function line(fields: Record<number, string>): string {
  return Array.from({ length: 125 }, (_, i) => fields[i + 1] ?? '').join(';');
}

const cp1252 = new TextDecoder('windows-1252');

describe('DATEV Buchungsstapel', () => {
  test('the file, byte for byte: header, column line and bookings in Windows-1252 with CRLF', async () => {
    const { bytes, warnings } = await write(rows);
    const expected = [
      '"EXTF";700;21;"Buchungsstapel";13;20261203091530123;;"FY";"Ferry";"";29098;55003;20260101;4;20261101;20261130;"Ledger November";"";1;0;0;"EUR";;"";;;"03";;;"";""',
      DATEV_COLUMNS.join(';'),
      line({
        1: '1190,00',
        2: '"S"',
        7: '1400',
        8: '8400',
        10: '0311',
        11: '"RE-2026-000001"',
        14: '"Rechnung an Kunde 7"',
        37: '"100"',
        114: '0',
      }),
      line({
        1: '238,50',
        2: '"S"',
        7: '4600',
        8: '1600',
        9: '"9"',
        10: '1511',
        11: '"RE-2026-000002"',
        14: '"Eingangsrechnung Lieferant ""Müller & Co."""',
        37: '"400"',
        114: '0',
      }),
      // A negative amount is written unsigned with H; the star is not in Windows-1252.
      line({
        1: '119,00',
        2: '"H"',
        7: '1400',
        8: '8400',
        10: '3011',
        11: '"RE-2026-000003"',
        14: '"Gutschrift (Storno) – Kunde ?"',
        114: '0',
      }),
      '',
    ].join('\r\n');
    assert.equal(cp1252.decode(bytes), expected);
    // The bytes are Windows-1252's: ü is 0xFC and the en dash 0x96, one byte each.
    assert.ok(bytes.includes(Buffer.from([0x4d, 0xfc, 0x6c])), 'Müller');
    assert.ok(bytes.includes(Buffer.from([0x29, 0x20, 0x96, 0x20])), 'the en dash');
    assert.deepEqual(warnings.list(), [
      {
        code: 'cp1252_replaced',
        message: 'Characters outside Windows-1252 were replaced (e.g. ⭐; row 3)',
        count: 1,
      },
    ]);
    // An independent CSV parser reads 125 fields on every booking line and the column names in order.
    const records = parse(cp1252.decode(bytes), { delimiter: ';', relax_column_count: true }) as string[][];
    assert.equal(records[0]!.length, 31, 'the header has 31 fields');
    assert.deepEqual(records[1], [...DATEV_COLUMNS]);
    assert.equal(records[1]!.length, 125);
    for (const r of records.slice(2)) assert.equal(r.length, 125);
    assert.equal(records[3]![13], 'Eingangsrechnung Lieferant "Müller & Co."');
  });

  test('debits equal credits: each document’s S and H amounts net to its signed amounts', async () => {
    // Property: for random signed amounts, Σ(S) − Σ(H) in the file equals Σ(amounts).
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 20; round++) {
      const data = Array.from({ length: 50 }, (_, i) => {
        const cents = Math.floor(random() * 2_000_000) - 1_000_000 || 1;
        const amount = `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;
        return [`D${i}`, '2026-11-10', 'x', '1200', '8400', amount, null, null];
      });
      const { bytes } = await write(data);
      const records = parse(cp1252.decode(bytes), {
        delimiter: ';',
        relax_column_count: true,
        from_line: 3,
      }) as string[][];
      const net = records.reduce((sum, r) => {
        const cents = BigInt(r[0]!.replace(',', ''));
        return r[1] === 'S' ? sum + cents : sum - cents;
      }, 0n);
      const given = data.reduce((sum, r) => sum + BigInt((r[5] as string).replace('.', '')), 0n);
      assert.equal(net, given, `round ${round}`);
    }
  });

  test('a mapping names columns, constants and a difference; a short G/L account is extended to the account length', async () => {
    const cols: Column[] = ['konto', 'gkonto', 'soll', 'haben', 'datum'].map((name) => ({
      name,
      type: 'string',
      dbType: 'text',
    }));
    const { bytes } = await write(
      [
        ['1200', '8400', '100.00', '0.00', '2026-11-05'],
        ['12000', '84000', '0', '25.10', '2026-11-06'],
      ],
      {
        accountLength: 5,
        mapping: {
          account: { column: 'konto' },
          contraAccount: { column: 'gkonto' },
          amount: { column: 'soll', minus: 'haben' },
          documentDate: { column: 'datum' },
          currency: { value: 'eur' },
          text: { value: 'Umbuchung' },
        },
      },
      november,
      cols,
    );
    const records = parse(cp1252.decode(bytes), {
      delimiter: ';',
      relax_column_count: true,
      from_line: 3,
    }) as string[][];
    assert.deepEqual(
      records.map((r) => [r[0], r[1], r[2], r[6], r[7], r[9], r[13]]),
      [
        ['100,00', 'S', 'EUR', '12000', '84000', '0511', 'Umbuchung'],
        ['25,10', 'H', 'EUR', '12000', '84000', '0611', 'Umbuchung'],
      ],
    );
  });

  test('bad input fails naming the row and the field, before a file is made', async () => {
    const failsWith = async (
      data: Value[][],
      pattern: RegExp,
      s: Partial<DatevSettings> = {},
      period = november,
    ) => assert.rejects(write(data, s, period), pattern);
    const row = (over: Record<number, Value>) => rows[0]!.map((v, i) => (i in over ? over[i]! : v));
    await failsWith(
      [rows[0]!, row({ 1: '2026-12-01' })],
      /row 2, field Belegdatum: 2026-12-01 is outside the period 2026-11-01 – 2026-11-30/,
    );
    await failsWith(
      [row({ 3: '140000' })],
      /row 1, field Konto: 140000 has 6 digits; with the account length 4 an account has at most 5/,
    );
    await failsWith([row({ 5: '12.345' })], /row 1, field Umsatz: 12.345 has more than two decimal places/);
    await failsWith([row({ 5: '0' })], /row 1, field Umsatz: is empty or zero/);
    await failsWith([rows[0]!], /row 1, field Skonto: "x" is not an amount/, {
      mapping: { discount: { value: 'x' } },
    });
    await failsWith([rows[0]!], /row 1, field Leistungsdatum: "soon" is not a date/, {
      mapping: { serviceDate: { value: 'soon' } },
    });
    await failsWith([row({ 0: 'RE 2026/1' })], /row 1, field Belegfeld 1: "RE 2026\/1" may hold only/);
    await failsWith(
      [row({ 2: 'x'.repeat(61) })],
      /row 1, field Buchungstext: "x+" is longer than 60 characters/,
    );
  });

  test('a missing required field is named before any row is read', async () => {
    const cols = columns.filter((c) => c.name !== 'amount');
    await assert.rejects(
      write([['RE-1', '2026-11-03', 'x', '1400', '8400', null, '100']], {}, november, cols),
      /field Umsatz: is required: map it to a column or a constant \(no column named "amount" or "umsatz"\)/,
    );
    await assert.rejects(
      write(rows, { mapping: { amount: { column: 'betrag' } } }),
      /field Umsatz: the mapping reads column "betrag", which the report does not return/,
    );
    await assert.rejects(
      write(rows, { mapping: { nope: { value: 1 } } }),
      /the mapping names "nope", which the format does not have/,
    );
  });

  test('text too long for its field is cut with a warning when the settings allow it', async () => {
    const long = rows[0]!.map((v, i) => (i === 2 ? `${'y'.repeat(70)}` : v));
    const { bytes, warnings } = await write([long], { tooLong: 'truncate' });
    const records = parse(cp1252.decode(bytes), {
      delimiter: ';',
      relax_column_count: true,
      from_line: 3,
    }) as string[][];
    assert.equal(records[0]![13], 'y'.repeat(60));
    assert.deepEqual(
      warnings.list().map((w) => [w.code, w.count]),
      [['datev_truncated_14', 1]],
    );
  });

  test('a period across the fiscal year’s end: one file per fiscal year, in a zip archive', async () => {
    const across = [
      rows[0]!.map((v, i) => (i === 1 ? '2026-12-30' : v)),
      rows[1]!.map((v, i) => (i === 1 ? '2027-01-02' : v)),
      rows[2]!.map((v, i) => (i === 1 ? '2027-01-31' : v)),
    ];
    const { bytes, warnings } = await write(across, {}, { from: '2026-12-01', to: '2027-01-31' });
    const entries = await unzip(bytes);
    assert.deepEqual(
      entries.map((e) => e.name),
      ['EXTF_Buchungsstapel_20261201-20261231.csv', 'EXTF_Buchungsstapel_20270101-20270131.csv'],
    );
    const [first, second] = entries.map(
      (e) => parse(cp1252.decode(e.bytes), { delimiter: ';', relax_column_count: true }) as string[][],
    );
    // Each file's header: that year's start and its part of the period.
    assert.deepEqual(first![0]!.slice(12, 16), ['20260101', '4', '20261201', '20261231']);
    assert.deepEqual(second![0]!.slice(12, 16), ['20270101', '4', '20270101', '20270131']);
    assert.deepEqual(
      first!.slice(2).map((r) => r[9]),
      ['3012'],
    );
    assert.deepEqual(
      second!.slice(2).map((r) => r[9]),
      ['0201', '3101'],
    );
    assert.deepEqual(
      warnings.list().map((w) => [w.code, w.count]),
      [
        ['datev_fiscal_years', 2],
        ['cp1252_replaced', 1],
      ],
    );
  });

  test('a fiscal year starting in July: dates in the year that began on 1 July', async () => {
    const { bytes } = await write(
      [rows[0]!.map((v, i) => (i === 1 ? '2027-06-30' : v))],
      { fiscalYearStartMonth: 7 },
      { from: '2027-06-01', to: '2027-06-30' },
    );
    const header = parse(cp1252.decode(bytes).split('\r\n')[0]!, { delimiter: ';' })[0] as string[];
    assert.equal(header[12], '20260701', 'WJ-Beginn');
    assert.deepEqual([header[14], header[15]], ['20270601', '20270630']);
  });
});
