import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Column, Value } from '../../sources/types.ts';
import { ExportWarnings } from '../text-formats.ts';
import { BMD_DEFAULT_FIELDS, type BmdSettings, bmdEncoder } from './bmd.ts';
import { encodeCp1252 } from './cp1252.ts';

// The BMD NTCS booking import: golden bytes for a small fixture, decoded with
// an independent Windows-1252 decoder.

const columns: Column[] = [
  'document_number',
  'document_date',
  'description',
  'account',
  'contra_account',
  'amount',
  'vat_amount',
  'vat_rate',
  'journal_code',
].map((name) => ({ name, type: 'string', dbType: 'text' }));

async function write(data: Value[][], s: Partial<BmdSettings> = {}) {
  const encoder = bmdEncoder(
    { fields: BMD_DEFAULT_FIELDS, encoding: 'windows-1252', mapping: {}, ...s },
    { timeZone: 'Europe/Vienna', period: () => ({ from: '2026-11-01', to: '2026-11-30' }) },
  );
  async function* batches() {
    yield data;
  }
  const chunks: Buffer[] = [];
  for await (const c of encoder(columns, batches(), new ExportWarnings()))
    chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

test('BMD: header of field names, TT.MM.JJJJ, decimal comma, buchcode from the sign, Windows-1252', async () => {
  const bytes = await write([
    ['AR-1', '2026-11-03', 'Rechnung; Kunde Größe', '1400', '8400', '1190.00', '190.00', '19.00', 'AR'],
    ['AR-2', '2026-11-30', 'Gutschrift', '1400', '8400', '-119.00', '-19.00', '19', 'AR'],
  ]);
  assert.equal(
    new TextDecoder('windows-1252').decode(bytes),
    [
      'satzart;konto;gkonto;belegnr;belegdatum;buchsymbol;buchcode;prozent;steuercode;betrag;steuer;text',
      '0;1400;8400;AR-1;03.11.2026;AR;1;19,00;;1190,00;190,00;"Rechnung; Kunde Größe"',
      '0;1400;8400;AR-2;30.11.2026;AR;2;19;;119,00;19,00;Gutschrift',
      '',
    ].join('\r\n'),
  );
  assert.ok(bytes.includes(encodeCp1252('Größe')), 'ö and ß as single Windows-1252 bytes');
});

test('BMD: a chosen field list, UTF-8, and a date outside the period named by row', async () => {
  const bytes = await write([['AR-1', '2026-11-03', 'x', '1400', '8400', '10', null, null, null]], {
    fields: ['belegdatum', 'konto', 'gkonto', 'betrag', 'buchcode'],
    encoding: 'utf-8',
  });
  assert.equal(
    bytes.toString('utf8'),
    'belegdatum;konto;gkonto;betrag;buchcode\r\n03.11.2026;1400;8400;10,00;1\r\n',
  );
  await assert.rejects(
    write([
      ['AR-1', '2026-11-03', 'x', '1400', '8400', '10', null, null, null],
      ['AR-2', '2026-10-31', 'x', '1400', '8400', '10', null, null, null],
    ]),
    /row 2, field belegdatum: 2026-10-31 is outside the period 2026-11-01 – 2026-11-30/,
  );
  assert.throws(
    () =>
      bmdEncoder(
        { fields: ['konto', 'nope'], encoding: 'utf-8', mapping: {} },
        {
          timeZone: 'UTC',
          period: () => ({ from: '2026-11-01', to: '2026-11-30' }),
        },
      ),
    /BMD has no field "nope"/,
  );
});
