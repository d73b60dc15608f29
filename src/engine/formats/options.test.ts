import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { Value } from 'typebox/value';
import {
  checkFormatOptions,
  compressionOf,
  type ExportFormat,
  exportFormats,
  FormatOptionError,
  FormatOptionsSchema,
  formatOptionSchemas,
  formatOptionSpecs,
} from './registry.ts';
import { checkXmlName } from './text-formats.ts';

// The options schema of each format: what it takes, and the 400 a wrong option gets.

/** Every option each format takes, set to a value other than its default. */
const fullSets: Record<ExportFormat, Record<string, unknown>> = {
  csv: {
    delimiter: ';',
    quote: "'",
    header: false,
    bom: true,
    lineEnding: 'lf',
    nullText: 'NULL',
    formulaProtection: false,
    compression: 'gzip',
    fileName: '{report}.{ext}',
  },
  tsv: {
    header: false,
    bom: true,
    lineEnding: 'lf',
    nullText: '\\N',
    formulaProtection: false,
    compression: 'zip',
  },
  xlsx: { sheetName: 'Umsätze 2026', exactDecimals: true, fileName: '{report}_{date:yyyy-MM}.{ext}' },
  json: { decimals: 'string', compression: 'gzip' },
  ndjson: { decimals: 'string' },
  xml: { rootElement: 'Zeilen', rowElement: 'Zeile', compression: 'none' },
  pdf: { title: 'Q1', landscape: true, rowCap: 500 },
  datev: {
    consultantNumber: 29098,
    clientNumber: 55003,
    fiscalYearStartMonth: 7,
    accountLength: 5,
    chartOfAccounts: '04',
    currency: 'CHF',
    batchName: 'Journal November',
    dictationCode: 'WD',
    origin: 'RE',
    exportedBy: 'Finance',
    locked: true,
    tooLong: 'truncate',
    periodFrom: 'start',
    periodTo: 'end',
    mapping: {
      amount: { column: 'debit', minus: 'credit' },
      currency: { value: 'EUR' },
      account: { column: 'konto' },
    },
    fileName: 'EXTF_{report}.{ext}',
  },
  bmd: {
    fields: ['konto', 'gkonto', 'belegdatum', 'betrag'],
    encoding: 'utf-8',
    periodFrom: 'start',
    periodTo: 'end',
    mapping: { betrag: { column: 'amount' } },
  },
  saft: {
    variant: 'NO',
    companyName: 'Fjord Handel AS',
    registrationNumber: '999999999',
    streetName: 'Storgata 1',
    city: 'Oslo',
    postalCode: '0155',
    country: 'NO',
    contactFirstName: 'Kari',
    contactLastName: 'Nordmann',
    email: 'regnskap@example.no',
    telephone: '+47 22 00 00 00',
    currency: 'NOK',
    groupingCategory: 'RF-1167',
    journalId: 'HB',
    periodFrom: 'start',
    periodTo: 'end',
    mapping: { transactionId: { column: 'voucher' } },
  },
};

/** The errors checkFormatOptions reports, as [path, message] pairs. */
function errorsOf(format: ExportFormat, options: unknown): [string, string][] {
  try {
    checkFormatOptions(format, options);
  } catch (err) {
    assert.ok(err instanceof FormatOptionError);
    assert.equal(err.path, err.errors[0]!.path);
    assert.equal(err.message, `${err.path} ${err.errors[0]!.message}`);
    return err.errors.map((e) => [e.path, e.message]);
  }
  return [];
}

test('every option of every format is accepted, and so is the earlier name exactNumbers', () => {
  for (const format of exportFormats) {
    assert.deepEqual(errorsOf(format, fullSets[format]), [], format);
    // DATEV's file names the advisor and the client: it has no defaults for them.
    if (format !== 'datev' && format !== 'saft') assert.deepEqual(errorsOf(format, {}), [], format);
    assert.ok(Value.Check(formatOptionSchemas[format], fullSets[format]), format);
  }
  assert.deepEqual(errorsOf('datev', {}), [
    ['formatOptions.consultantNumber', 'is required for datev'],
    ['formatOptions.clientNumber', 'is required for datev'],
  ]);
  assert.deepEqual(errorsOf('datev', { consultantNumber: 29098, clientNumber: 55003 }), []);
  assert.deepEqual(errorsOf('json', { exactNumbers: 'string' }), []);
  assert.deepEqual(errorsOf('ndjson', { exactNumbers: 'number', decimals: 'string' }), []);
});

test("an option the format does not take is named, with the format: another format's or a misspelt one", () => {
  assert.deepEqual(errorsOf('xml', { delimiter: ';' }), [
    ['formatOptions.delimiter', 'is not an option of xml'],
  ]);
  assert.deepEqual(errorsOf('tsv', { quote: "'" }), [['formatOptions.quote', 'is not an option of tsv']]);
  assert.deepEqual(errorsOf('csv', { delimeter: ';' }), [
    ['formatOptions.delimeter', 'is not an option of csv'],
  ]);
  // Names an object inherits are not options either.
  assert.deepEqual(errorsOf('csv', JSON.parse('{"__proto__": 1, "toString": 2}')), [
    ['formatOptions.__proto__', 'is not an option of csv'],
    ['formatOptions.toString', 'is not an option of csv'],
  ]);
});

test('a value of the wrong type or outside the range says what the option must be', () => {
  assert.deepEqual(errorsOf('csv', { header: 'yes' }), [['formatOptions.header', 'must be true or false']]);
  assert.deepEqual(errorsOf('pdf', { rowCap: 1.5 }), [
    ['formatOptions.rowCap', 'must be a whole number from 1 to 100000'],
  ]);
  assert.deepEqual(errorsOf('pdf', { rowCap: 100_001 }), [
    ['formatOptions.rowCap', 'must be a whole number from 1 to 100000'],
  ]);
  assert.deepEqual(errorsOf('csv', { delimiter: ';;' }), [
    ['formatOptions.delimiter', 'must be one character (not a quote or line break)'],
  ]);
  assert.deepEqual(errorsOf('csv', { fileName: 5 }), [
    ['formatOptions.fileName', 'must be text of at most 200 characters'],
  ]);
  assert.deepEqual(errorsOf('xlsx', { sheetName: 'a/b' }), [
    ['formatOptions.sheetName', 'must be 1 to 31 characters without [ ] : * ? / \\'],
  ]);
  assert.deepEqual(errorsOf('csv', 'not options'), [['formatOptions', 'must be an object']]);
  // An unknown key inside an option is that option's fault, not an unknown option of the format.
  const datev = { consultantNumber: 29098, clientNumber: 55003 };
  assert.deepEqual(errorsOf('datev', { ...datev, mapping: { betrag: { column: 'amount', sign: 1 } } }), [
    [
      'formatOptions.mapping',
      'must be an object: field → {"column": name}, {"value": constant} or {"column": name, "minus": name}',
    ],
  ]);
});

test('an enum lists the values allowed, as the API says for every other enum', () => {
  assert.deepEqual(errorsOf('csv', { lineEnding: 'cr' }), [
    ['formatOptions.lineEnding', 'must be one of crlf, lf'],
  ]);
  assert.deepEqual(errorsOf('json', { decimals: 'float' }), [
    ['formatOptions.decimals', 'must be one of number, string'],
  ]);
  assert.deepEqual(errorsOf('pdf', { compression: 'rar' }), [
    ['formatOptions.compression', 'must be one of none, gzip, zip'],
  ]);
  assert.throws(() => compressionOf({ compression: 'rar' }), {
    path: 'formatOptions.compression',
    message: 'formatOptions.compression must be one of none, gzip, zip',
  });
  assert.throws(() => compressionOf({ compression: null }), { path: 'formatOptions.compression' });
  assert.equal(compressionOf({}), 'none');
  assert.equal(compressionOf({ compression: 'zip' }), 'zip');
});

test('every option at fault is named at once, unknown names first', () => {
  assert.deepEqual(errorsOf('csv', { header: 'x', lineEnding: 'cr', sheetName: 'S', nope: 1 }), [
    ['formatOptions.sheetName', 'is not an option of csv'],
    ['formatOptions.nope', 'is not an option of csv'],
    ['formatOptions.header', 'must be true or false'],
    ['formatOptions.lineEnding', 'must be one of crlf, lf'],
  ]);
});

test('CSV: the quote cannot be the delimiter, given or default', () => {
  assert.deepEqual(errorsOf('csv', { delimiter: ';', quote: ';' }), [
    ['formatOptions.quote', 'must be one character, not the delimiter'],
  ]);
  assert.deepEqual(errorsOf('csv', { quote: ',' }), [
    ['formatOptions.quote', 'must be one character, not the delimiter'],
  ]);
  assert.deepEqual(errorsOf('csv', { delimiter: ';', quote: ',' }), []);
  assert.equal(Value.Check(formatOptionSchemas.csv, { quote: ',' }), false);
});

test('lengths count UTF-16 code units as before: an emoji counts twice, though JSON Schema counts it once', () => {
  assert.deepEqual(errorsOf('xlsx', { sheetName: '📈'.repeat(15) }), []);
  assert.deepEqual(errorsOf('xlsx', { sheetName: '📈'.repeat(16) }), [
    ['formatOptions.sheetName', 'must be 1 to 31 characters without [ ] : * ? / \\'],
  ]);
  assert.deepEqual(errorsOf('csv', { delimiter: '😀' }), [
    ['formatOptions.delimiter', 'must be one character (not a quote or line break)'],
  ]);
  assert.deepEqual(errorsOf('csv', { nullText: '∅'.repeat(20) }), []);
  assert.deepEqual(errorsOf('csv', { nullText: '😀'.repeat(11) }), [
    ['formatOptions.nullText', 'must be text of at most 20 characters'],
  ]);
});

test("XML element names: the schema's pattern takes exactly the names the XML writer takes", () => {
  const names = [
    'rows',
    'Zeile',
    'ä_ö',
    '_1',
    'a.b-c',
    '1bad',
    'xmlRows',
    'XmlRows',
    'a b',
    '',
    'Ⅻ',
    '😀',
    'row:1',
  ];
  for (const name of names) {
    let writerTakes = true;
    try {
      checkXmlName(name, 'rowElement');
    } catch {
      writerTakes = false;
    }
    assert.equal(errorsOf('xml', { rowElement: name }).length === 0, writerTakes, name);
  }
  assert.deepEqual(errorsOf('xml', { rootElement: '1bad' }), [
    [
      'formatOptions.rootElement',
      'must be an XML element name: a letter or _, then letters, digits, _ . or -, not starting with "xml"',
    ],
  ]);
});

test('each schema is titled and describes every option; the union for request bodies holds all of them', () => {
  for (const format of exportFormats) {
    const schema: { title?: string; additionalProperties?: boolean; properties: object } =
      formatOptionSchemas[format];
    assert.equal(schema.title, `${format[0]!.toUpperCase()}${format.slice(1)}Options`);
    assert.equal(schema.additionalProperties, false, format);
    for (const [name, option] of Object.entries(schema.properties))
      assert.ok(((option as { description?: string }).description ?? '').length > 10, `${format}.${name}`);
  }
  assert.deepEqual(
    (FormatOptionsSchema.anyOf as { title?: string }[]).map((s) => s.title),
    [
      'CsvOptions',
      'TsvOptions',
      'XlsxOptions',
      'JsonOptions',
      'NdjsonOptions',
      'XmlOptions',
      'PdfOptions',
      'DatevOptions',
      'BmdOptions',
      'SaftOptions',
    ],
  );
  // The earlier name stays out of what forms offer.
  assert.deepEqual(
    formatOptionSpecs.json.map((o) => o.name),
    ['decimals'],
  );
});

test('in a request body (ajv as the server sets it up) the union accepts each format and fills in no defaults', () => {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false, strict: false });
  const validate = ajv.compile(FormatOptionsSchema);
  for (const format of exportFormats) {
    const sent = structuredClone(fullSets[format]);
    assert.equal(validate(sent), true, format);
    assert.deepEqual(sent, fullSets[format], format);
  }
  // A default filled in here would be stored, and decimals would override the earlier name.
  const legacy = { exactNumbers: 'string' };
  assert.equal(validate(legacy), true);
  assert.deepEqual(legacy, { exactNumbers: 'string' });
  assert.equal(validate({ lineEnding: 'cr' }), false);
});
