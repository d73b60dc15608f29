import { type SaftSettings, saftEncoder, saftVariants } from '../../src/engine/formats/accounting/saft.ts';
import { ExportWarnings } from '../../src/engine/formats/text-formats.ts';
import type { Column, Value } from '../../src/engine/sources/types.ts';

// Journal lines of two documents (an invoice and its credit note) for the SAF-T
// writer's tests, and the writer run over them.

export const names = [
  'document_number',
  'posted_on',
  'description',
  'line_no',
  'account',
  'account_name',
  'grouping_category',
  'grouping_code',
  'opening_balance',
  'debit',
  'credit',
  'vat_code',
  'vat_rate',
  'standard_tax_code',
  'customer_id',
];
export const columns: Column[] = names.map((name) => ({ name, type: 'string', dbType: 'text' }));
export const line = (
  doc: string,
  date: string,
  n: number,
  account: string,
  debit: string,
  credit: string,
  extra: Partial<Record<string, Value>> = {},
) =>
  names.map(
    (c) =>
      ({
        document_number: doc,
        posted_on: date,
        description: `Beleg ${doc} & <Co>`,
        line_no: String(n),
        account,
        account_name: `Konto ${account}`,
        grouping_category: 'RF-1167',
        grouping_code: account === '8400' ? '3000' : '1500',
        opening_balance: account === '1400' ? '100.00' : '0',
        debit,
        credit,
        vat_code: null,
        vat_rate: null,
        standard_tax_code: null,
        customer_id: null,
        ...extra,
      })[c] ?? null,
  );
export const rows: Value[][] = [
  line('RE-1', '2026-10-02', 1, '1400', '119.00', '0', { customer_id: 'K7' }),
  line('RE-1', '2026-10-02', 2, '8400', '0', '100.00', {
    vat_code: '3',
    vat_rate: '19.00',
    standard_tax_code: '3',
  }),
  line('RE-1', '2026-10-02', 3, '1776', '0', '19.00'),
  line('GS-2', '2026-10-20', 1, '1400', '-59.50', '0', { customer_id: 'K7' }),
  line('GS-2', '2026-10-20', 2, '8400', '0', '-50.00', {
    vat_code: '3',
    vat_rate: '19.00',
    standard_tax_code: '3',
  }),
  line('GS-2', '2026-10-20', 3, '1776', '0', '-9.50'),
];

export const settings: SaftSettings = {
  variant: saftVariants['NO']!,
  company: {
    name: 'Fjord Handel AS',
    registrationNumber: '999999999',
    city: 'Oslo',
    postalCode: '0155',
    country: 'NO',
    contactFirstName: 'Kari',
    contactLastName: 'Nordmann',
    telephone: '+47 22 00 00 00',
  },
  currency: 'NOK',
  journal: { id: 'GL', description: 'General ledger', type: 'GL' },
  mapping: {},
};

export async function writeSaft(data: Value[][], s: Partial<SaftSettings> = {}): Promise<string> {
  const encoder = saftEncoder(
    { ...settings, ...s },
    {
      timeZone: 'Europe/Oslo',
      generatedAt: new Date('2026-11-03T07:00:00Z'),
      period: () => ({ from: '2026-10-01', to: '2026-10-31' }),
    },
  );
  async function* batches() {
    yield data.slice(0, 2);
    yield data.slice(2);
  }
  const chunks: Buffer[] = [];
  for await (const c of encoder(columns, batches(), new ExportWarnings()))
    chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}
