import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Column, Value } from '../sources/types.ts';
import {
  csvEncoder,
  defaultCsvOptions,
  defaultJsonOptions,
  defaultTsvOptions,
  defaultXmlOptions,
  type Encoder,
  ExportWarnings,
  FLUSH_CHARS,
  jsonEncoder,
  ndjsonEncoder,
  XML_REPLACED_WARNING,
  xmlEncoder,
  xmlNames,
} from './text-formats.ts';

const columns: Column[] = [
  { name: 'id', type: 'integer', dbType: 'int4' },
  { name: 'name', type: 'string', dbType: 'text' },
  { name: 'amount', type: 'decimal', dbType: 'numeric' },
  { name: 'big', type: 'bigint', dbType: 'int8' },
  { name: 'flag', type: 'boolean', dbType: 'bool' },
  { name: 'day', type: 'date', dbType: 'date' },
  { name: 'at', type: 'timestamptz', dbType: 'timestamptz' },
  { name: 'payload', type: 'json', dbType: 'jsonb' },
  { name: 'raw', type: 'bytes', dbType: 'bytea' },
];
const rows: Value[][] = [
  [
    1,
    'O\'Brien, "Quoted"\r\nline 2 🚀 Zoë',
    '-1234.5678',
    9007199254740993n,
    true,
    '2026-03-29',
    new Date('2026-03-29T01:00:00Z'),
    { a: [1, 2], b: 'ü' },
    Buffer.from([0, 255, 16]),
  ],
  [
    2,
    '=HYPERLINK("http://evil.example")',
    '0.1',
    -5n,
    false,
    '1999-12-31',
    new Date('1999-12-31T23:59:59.999Z'),
    [],
    Buffer.alloc(0),
  ],
  [3, '', null, null, null, null, null, null, null],
  [4, '-2+3', '-0.0001', 0n, true, '2026-01-01', new Date(0), 'text', Buffer.from('ab')],
];

async function encode(encoder: Encoder, batchSize = 2): Promise<string> {
  async function* batches() {
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize);
  }
  let out = '';
  for await (const chunk of encoder(columns, batches())) out += chunk;
  return out;
}

describe('text formats read back by independent parsers', () => {
  test('CSV (RFC 4180): quoting, CRLF, NULL vs empty, formula injection neutralised in text columns only', async () => {
    const text = await encode(csvEncoder(defaultCsvOptions));
    const parsed = parseCsv(text, { bom: true, relax_quotes: false }) as string[][];
    assert.deepEqual(
      parsed[0],
      columns.map((c) => c.name),
    );
    assert.deepEqual(parsed[1], [
      '1',
      'O\'Brien, "Quoted"\r\nline 2 🚀 Zoë',
      '-1234.5678',
      '9007199254740993',
      'true',
      '2026-03-29',
      '2026-03-29T01:00:00.000Z',
      '{"a":[1,2],"b":"ü"}',
      '\\x00ff10',
    ]);
    assert.equal(parsed[2]![1], '\'=HYPERLINK("http://evil.example")');
    assert.equal(parsed[4]![1], "'-2+3", 'text starting with - is neutralised');
    assert.equal(parsed[4]![2], '-0.0001', 'numbers keep their sign');
    assert.equal(parsed[2]![3], '-5');
    // Empty text is "" and NULL is nothing at all, as PostgreSQL's COPY writes them.
    assert.ok(text.includes('\r\n3,"",,,,,,,\r\n'), JSON.stringify(text.split('\r\n')[3]));
    assert.ok(text.endsWith('\r\n'));
  });

  test('CSV options: semicolon, BOM for Excel, LF, no header, null text, protection off', async () => {
    const text = await encode(
      csvEncoder({
        ...defaultCsvOptions,
        delimiter: ';',
        bom: true,
        lineEnding: '\n',
        header: false,
        nullText: 'NULL',
        formulaProtection: false,
      }),
    );
    assert.ok(text.startsWith('\uFEFF1;'));
    const parsed = parseCsv(text, { bom: true, delimiter: ';' }) as string[][];
    assert.equal(parsed.length, 4);
    assert.equal(parsed[1]![1], '=HYPERLINK("http://evil.example")');
    assert.equal(parsed[2]![2], 'NULL');
    assert.ok(!text.includes('\r\n3;'));
  });

  test('TSV', async () => {
    const parsed = parseCsv(await encode(csvEncoder(defaultTsvOptions)), { delimiter: '\t' }) as string[][];
    assert.equal(parsed[1]![2], '-1234.5678');
    assert.equal(parsed.length, 5);
  });

  test('JSON and NDJSON: exact numbers as digits (or strings), NULL as null, nested JSON kept', async () => {
    const json = JSON.parse(await encode(jsonEncoder(defaultJsonOptions)));
    assert.equal(json.length, 4);
    assert.deepEqual(json[0], {
      id: 1,
      name: 'O\'Brien, "Quoted"\r\nline 2 🚀 Zoë',
      amount: -1234.5678,
      big: 9007199254740992,
      flag: true,
      day: '2026-03-29',
      at: '2026-03-29T01:00:00.000Z',
      payload: { a: [1, 2], b: 'ü' },
      raw: '\\x00ff10',
    });
    const raw = await encode(jsonEncoder(defaultJsonOptions));
    assert.ok(raw.includes('"big":9007199254740993'), 'the file carries the exact digits');
    assert.deepEqual(json[2], {
      id: 3,
      name: '',
      amount: null,
      big: null,
      flag: null,
      day: null,
      at: null,
      payload: null,
      raw: null,
    });
    const asStrings = JSON.parse(await encode(jsonEncoder({ exactNumbers: 'string' })));
    assert.equal(asStrings[0].big, '9007199254740993');
    assert.equal(asStrings[0].amount, '-1234.5678');
    const lines = (await encode(ndjsonEncoder(defaultJsonOptions)))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    assert.deepEqual(lines[1].payload, []);
    assert.equal((await encodeEmpty(jsonEncoder(defaultJsonOptions))).trim(), '[]');
  });

  test('XML: well-formed, escaped, valid element names, NULL as xsi:nil', async () => {
    const text = await encode(xmlEncoder({ rootElement: 'export', rowElement: 'line' }));
    assert.equal(XMLValidator.validate(text), true);
    const doc = new XMLParser({
      ignoreAttributes: false,
      parseTagValue: false,
      trimValues: false,
      htmlEntities: true,
    }).parse(text);
    const lines = doc.export.line;
    assert.equal(lines.length, 4);
    assert.equal(lines[0].name, 'O\'Brien, "Quoted"\r\nline 2 🚀 Zoë');
    assert.equal(lines[0].amount, '-1234.5678');
    assert.equal(lines[2].amount['@_xsi:nil'], 'true');
    assert.deepEqual(xmlNames(['Order #', '1st', 'xmlThing', 'a', 'a']), [
      'Order__',
      '_1st',
      '_xmlThing',
      'a',
      'a_2',
    ]);
    assert.throws(
      () => xmlEncoder({ ...defaultXmlOptions, rowElement: '1 bad' }),
      /not a valid XML element name/,
    );
    const control = await encodeRows(xmlEncoder(defaultXmlOptions), [[1, 'bell\u0007 & <tag>']]);
    assert.equal(XMLValidator.validate(control), true);
    assert.ok(control.includes('bell\uFFFD &amp; &lt;tag&gt;'));
  });

  test('XML: carriage returns survive (&#13;); characters XML 1.0 cannot carry are replaced and counted, never dropped', async () => {
    const values = [
      'line1\nline2\r\nline3\rend',
      'tab\there',
      'nul\u0000 vt\u000b ff\u000c esc\u001b',
      'lone \ud800 high, ok \ud83d\ude80',
      'not a char \uffff',
    ];
    const warnings = new ExportWarnings();
    async function* one() {
      yield values.map((v, i) => [i + 1, v]);
    }
    let text = '';
    for await (const chunk of xmlEncoder(defaultXmlOptions)(columns.slice(0, 2), one(), warnings))
      text += chunk;
    assert.equal(XMLValidator.validate(text), true);
    const doc = new XMLParser({ parseTagValue: false, trimValues: false, htmlEntities: true }).parse(text);
    const names = doc.rows.row.map((r: { name: string }) => r.name);
    assert.deepEqual(names, [
      'line1\nline2\r\nline3\rend',
      'tab\there',
      'nul\uFFFD vt\uFFFD ff\uFFFD esc\uFFFD',
      'lone \uFFFD high, ok 🚀',
      'not a char \uFFFD',
    ]);
    assert.deepEqual(warnings.list(), [
      { code: 'xml_replaced_characters', message: XML_REPLACED_WARNING, count: 6 },
    ]);
  });
});

async function encodeEmpty(encoder: Encoder): Promise<string> {
  return encodeRows(encoder, []);
}

async function encodeRows(encoder: Encoder, data: Value[][]): Promise<string> {
  async function* one() {
    if (data.length) yield data;
  }
  let out = '';
  for await (const chunk of encoder(columns.slice(0, data[0]?.length ?? columns.length), one())) out += chunk;
  return out;
}

describe('text encoders hand on small pieces', () => {
  test('a 5,000-row batch comes out in pieces of about FLUSH_CHARS, which join to the whole', async () => {
    const cols: Column[] = [
      { name: 'id', type: 'integer', dbType: 'int4' },
      { name: 'note', type: 'string', dbType: 'text' },
    ];
    const batch: Value[][] = Array.from({ length: 5000 }, (_, i) => [i, `note number ${i} with some text`]);
    async function* one(): AsyncGenerator<Value[][]> {
      yield batch;
    }
    for (const encoder of [
      csvEncoder(defaultCsvOptions),
      jsonEncoder(defaultJsonOptions),
      ndjsonEncoder(defaultJsonOptions),
      xmlEncoder(defaultXmlOptions),
    ]) {
      const pieces: string[] = [];
      for await (const piece of encoder(cols, one())) pieces.push(String(piece));
      const whole = pieces.join('');
      assert.ok(whole.length > 4 * FLUSH_CHARS, 'the batch is several pieces long');
      assert.ok(pieces.length > 4, `${pieces.length} pieces`);
      for (const p of pieces) assert.ok(p.length < FLUSH_CHARS + 200, `a piece of ${p.length} characters`);
      assert.ok(whole.includes('note number 4999 with some text'));
    }
  });
});
