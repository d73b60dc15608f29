import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { Column, Value } from '../../sources/types.ts';
import { ExportWarnings } from '../text-formats.ts';
import type { DatevSettings } from './datev.ts';
import { datevAccountsEncoder } from './datev-accounts.ts';
import { DATEV_ACCOUNT_COLUMNS } from './datev-accounts-columns.ts';

// DATEV Debitoren/Kreditoren (category 16): the header without a period, the
// 254 column names, and accounts whose values land in their DATEV columns,
// read back with an independent Windows-1252 decoder and CSV parser.

const settings: DatevSettings = {
  consultantNumber: 29098,
  clientNumber: 55003,
  fiscalYearStartMonth: 1,
  accountLength: 4,
  chartOfAccounts: '03',
  currency: 'EUR',
  batchName: 'Kunden',
  origin: 'FY',
  exportedBy: 'Ferry',
  locked: false,
  tooLong: 'fail',
  mapping: {},
};
const columns: Column[] = [
  'account',
  'company_name',
  'email',
  'city',
  'country',
  'credit_limit',
  'vat_id',
  'Postfach',
].map((name) => ({ name, type: 'string', dbType: 'text' }));

async function write(rows: Value[][], s: Partial<DatevSettings> = {}) {
  const encoder = datevAccountsEncoder(
    { ...settings, ...s },
    { timeZone: 'Europe/Berlin', generatedAt: new Date('2026-12-03T08:15:30.123Z') },
  );
  async function* batches() {
    yield rows;
  }
  const chunks: Buffer[] = [];
  for await (const c of encoder(columns, batches(), new ExportWarnings()))
    chunks.push(Buffer.from(c as Buffer));
  return new TextDecoder('windows-1252').decode(Buffer.concat(chunks));
}

const at = (name: string) => DATEV_ACCOUNT_COLUMNS.findIndex(([n]) => n === name);

test('Debitoren/Kreditoren: header of category 16 without period, 254 columns, values in their columns', async () => {
  const text = await write(
    [['10001', 'Müller & Söhne GmbH', 'info@mueller.example', 'Köln', 'DE', '5000', 'DE123456789', 'PF 12']],
    { mapping: { Postfach: { column: 'Postfach' } } },
  );
  const lines = text.split('\r\n');
  assert.equal(
    lines[0],
    '"EXTF";700;16;"Debitoren/Kreditoren";5;20261203091530123;;"FY";"Ferry";"";29098;55003;20260101;4;;;"Kunden";"";;;;"";;"";;;"03";;;"";""',
  );
  const [header, names, account] = parse(text, { delimiter: ';', relax_column_count: true }) as string[][];
  assert.equal(header!.length, 31);
  assert.equal(names!.length, 254);
  assert.equal(names![0], 'Konto');
  assert.equal(names![253], 'Letzte Frist');
  assert.equal(account!.length, 254);
  assert.equal(account![at('Konto')], '10001');
  assert.equal(account![at('Name (Adressatentyp Unternehmen)')], 'Müller & Söhne GmbH');
  assert.equal(account![at('Adressatentyp')], '2', 'a company, from the name given');
  assert.equal(account![at('EU-Land')], 'DE');
  assert.equal(account![at('EU-USt-IdNr.')], '123456789');
  assert.equal(account![at('Ort')], 'Köln');
  assert.equal(account![at('E-Mail')], 'info@mueller.example');
  assert.equal(account![at('Kreditlimit (Debitor)')], '5000', 'a whole number in DATEV');
  assert.equal(account![at('Postfach')], 'PF 12', 'any column by its DATEV name');
  // Text is quoted, numbers are not.
  assert.match(lines[2]!, /^10001;"Müller & Söhne GmbH";/);
});

test('Debitoren/Kreditoren: a G/L account or an over-long account is refused naming the row', async () => {
  await assert.rejects(
    write([
      ['10001', 'A', null, null, null, null, null, null],
      ['8400', 'B', null, null, null, null, null, null],
    ]),
    /row 2, field Konto: "8400" is not a personal account: with the account length 4 it has 5 digits/,
  );
  await assert.rejects(
    write([['10001', 'x'.repeat(51), null, null, null, null, null, null]]),
    /row 1, field Name \(Adressatentyp Unternehmen\): "x+" is longer than 50 characters/,
  );
});
