import type { Column, Value } from '../../sources/types.ts';
import type { Encoder, ExportWarnings } from '../text-formats.ts';
import { encodeCp1252, type Replacement, warnReplaced } from './cp1252.ts';
import {
  AccountingDataError,
  centsAt,
  centsText,
  compileMapping,
  dateAt,
  type FieldDefinition,
  type Mapping,
  plainText,
} from './mapping.ts';
import type { AccountingPeriod } from './period.ts';

// BMD NTCS's booking import (Austria): ";"-separated text with a header line of
// lower-case field names, dates TT.MM.JJJJ, a decimal comma and buchcode 1
// (debit) or 2 (credit). BMD publishes no open specification; the field list
// is the tenant's to choose (each installation's import profile names its own),
// from the fields below.

export const BMD_FIELDS: readonly FieldDefinition[] = [
  {
    key: 'satzart',
    label: 'satzart',
    required: false,
    defaults: ['satzart'],
    description: 'Record type (0: booking line, the default)',
  },
  {
    key: 'konto',
    label: 'konto',
    required: true,
    defaults: ['account', 'konto'],
    description: 'Account number',
  },
  {
    key: 'gkonto',
    label: 'gkonto',
    required: true,
    defaults: ['contra_account', 'gkonto'],
    description: 'Contra account number',
  },
  {
    key: 'belegnr',
    label: 'belegnr',
    required: false,
    defaults: ['document_number', 'belegnr'],
    description: 'Document number',
  },
  {
    key: 'belegdatum',
    label: 'belegdatum',
    required: true,
    defaults: ['document_date', 'posted_on', 'belegdatum'],
    description: 'Document date, inside the period',
  },
  {
    key: 'buchsymbol',
    label: 'buchsymbol',
    required: false,
    defaults: ['journal_code', 'buchsymbol'],
    description: 'Booking symbol, e.g. AR, ER, BK',
  },
  {
    key: 'buchcode',
    label: 'buchcode',
    required: false,
    defaults: ['debit_credit', 'buchcode'],
    description: '1 debit, 2 credit (S/H accepted); left out: the amount’s sign decides',
  },
  {
    key: 'prozent',
    label: 'prozent',
    required: false,
    defaults: ['vat_rate', 'prozent'],
    description: 'Tax rate in percent',
  },
  {
    key: 'steuercode',
    label: 'steuercode',
    required: false,
    defaults: ['tax_code', 'steuercode'],
    description: 'BMD tax code',
  },
  {
    key: 'betrag',
    label: 'betrag',
    required: true,
    defaults: ['amount', 'betrag'],
    description: 'Gross amount: unsigned with buchcode, or signed without it',
  },
  {
    key: 'steuer',
    label: 'steuer',
    required: false,
    defaults: ['vat_amount', 'steuer'],
    description: 'Tax amount',
  },
  {
    key: 'text',
    label: 'text',
    required: false,
    defaults: ['description', 'text'],
    description: 'Booking text',
  },
  {
    key: 'kost',
    label: 'kost',
    required: false,
    defaults: ['cost_centre', 'kost'],
    description: 'Cost centre',
  },
];
export const BMD_DEFAULT_FIELDS = [
  'satzart',
  'konto',
  'gkonto',
  'belegnr',
  'belegdatum',
  'buchsymbol',
  'buchcode',
  'prozent',
  'steuercode',
  'betrag',
  'steuer',
  'text',
] as const;

export interface BmdSettings {
  fields: readonly string[];
  encoding: 'windows-1252' | 'utf-8';
  mapping: Mapping;
}

/** Minimal quoting: only text with ; " or a line break is quoted. */
const cell = (text: string) => (/[;"\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

export function bmdEncoder(
  settings: BmdSettings,
  o: { timeZone: string; period: () => AccountingPeriod },
): Encoder {
  const unknown = settings.fields.filter((f) => !BMD_FIELDS.some((d) => d.key === f));
  if (unknown.length > 0)
    throw new AccountingDataError(
      `BMD has no field ${unknown.map((f) => `"${f}"`).join(', ')} (its fields: ${BMD_FIELDS.map((f) => f.key).join(', ')})`,
    );
  // Only the fields written must be filled.
  const fields = BMD_FIELDS.filter((f) => settings.fields.includes(f.key));
  return async function* encode(
    columns: Column[],
    batches: AsyncIterable<Value[][]>,
    warnings?: ExportWarnings,
  ) {
    const period = o.period();
    const read = compileMapping(
      fields,
      Object.fromEntries(Object.entries(settings.mapping).filter(([k]) => settings.fields.includes(k))),
      columns,
    );
    const replaced: Replacement = { examples: [], count: 0 };
    const encode = (text: string) =>
      settings.encoding === 'utf-8' ? Buffer.from(text, 'utf8') : encodeCp1252(text, replaced);
    yield encode(`${settings.fields.join(';')}\r\n`);
    let rowNumber = 0;
    for await (const batch of batches) {
      let text = '';
      for (const row of batch) {
        rowNumber++;
        text += `${line(row, read, settings.fields, rowNumber, period, o.timeZone)}\r\n`;
      }
      yield encode(text);
    }
    warnReplaced(replaced, warnings);
  };
}

function line(
  row: Value[],
  read: Map<string, (row: Value[]) => Value>,
  order: readonly string[],
  n: number,
  period: AccountingPeriod,
  timeZone: string,
): string {
  const get = (key: string) => read.get(key)?.(row) ?? null;
  const fail = (field: string, message: string): never => {
    throw new AccountingDataError(message, { row: n, field });
  };
  const amount = (field: string) => centsAt(get(field), { row: n, field });
  const betrag = amount('betrag');
  if (betrag === null) fail('betrag', 'is empty');
  const given = get('buchcode');
  let code: '1' | '2';
  if (given === null || given === '') code = betrag! < 0n ? '2' : '1';
  else {
    const g = plainText(given).trim().toUpperCase();
    const asCode = g === 'S' ? '1' : g === 'H' ? '2' : g;
    if (asCode !== '1' && asCode !== '2') fail('buchcode', `"${g}" is neither 1 (debit) nor 2 (credit)`);
    code = betrag! < 0n ? (asCode === '1' ? '2' : '1') : (asCode as '1' | '2');
  }
  const values: Record<string, string> = {};
  for (const field of order) {
    switch (field) {
      case 'satzart':
        values[field] = plainText(get('satzart') ?? '0');
        break;
      case 'belegdatum': {
        const iso = dateAt(get('belegdatum'), timeZone, { row: n, field: 'belegdatum' });
        if (iso === null) fail('belegdatum', 'is empty');
        if (iso! < period.from || iso! > period.to)
          fail('belegdatum', `${iso} is outside the period ${period.from} – ${period.to}`);
        values[field] = `${iso!.slice(8, 10)}.${iso!.slice(5, 7)}.${iso!.slice(0, 4)}`;
        break;
      }
      case 'buchcode':
        values[field] = code;
        break;
      case 'betrag':
        values[field] = centsText(betrag! < 0n ? -betrag! : betrag!);
        break;
      case 'steuer': {
        const tax = amount('steuer');
        values[field] = tax === null ? '' : centsText(tax < 0n ? -tax : tax);
        break;
      }
      case 'prozent': {
        const rate = get('prozent');
        values[field] = rate === null ? '' : plainText(rate).replace('.', ',');
        break;
      }
      case 'konto':
      case 'gkonto': {
        const account = plainText(get(field)).trim();
        if (!/^\d+$/.test(account)) fail(field, `"${account}" is not an account number (digits only)`);
        values[field] = account;
        break;
      }
      default:
        values[field] = plainText(get(field))
          .replace(/[\r\n]+/g, ' ')
          .trim();
    }
  }
  return order.map((f) => cell(values[f] ?? '')).join(';');
}
