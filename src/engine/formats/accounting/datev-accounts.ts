import type { Column, Value } from '../../sources/types.ts';
import type { Encoder, ExportWarnings } from '../text-formats.ts';
import { cp1252Lines, encodeCp1252, type Replacement, warnReplaced } from './cp1252.ts';
import { type DatevKind, type DatevSettings, headerLine, quoted } from './datev.ts';
import { DATEV_ACCOUNT_COLUMNS } from './datev-accounts-columns.ts';
import {
  AccountingDataError,
  centsAt,
  centsText,
  compileMapping,
  dateAt,
  type FieldDefinition,
  type FieldReader,
  plainText,
  toIsoDate,
} from './mapping.ts';
import { fiscalYearOf } from './period.ts';

// DATEV's EXTF data category 16, "Debitoren/Kreditoren" (format version 5):
// the master data of customers (debtors) and suppliers (creditors), one line
// per personal account, 254 columns. Same header as a booking batch, without
// period, booking type, fixing flag or currency. A mapping fills the usual
// fields by friendly names; any column can also be filled by its DATEV name.

const ACCOUNTS_KIND: DatevKind = { category: 16, name: 'Debitoren/Kreditoren', version: 5 };
const POSITIONS = new Map(DATEV_ACCOUNT_COLUMNS.map(([name], i) => [name, i]));

/** The fields most exports fill, by friendly key, each bound to its DATEV column. */
const COMMON: ReadonlyArray<FieldDefinition & { column: string }> = [
  {
    key: 'account',
    column: 'Konto',
    label: 'Konto',
    required: true,
    defaults: ['account', 'konto'],
    description: 'The personal account (account length + 1 digits, e.g. 10000 for a debtor)',
  },
  {
    key: 'companyName',
    column: 'Name (Adressatentyp Unternehmen)',
    label: 'Name (Adressatentyp Unternehmen)',
    required: false,
    defaults: ['company_name', 'name'],
    description: 'A company’s name',
  },
  {
    key: 'lastName',
    column: 'Name (Adressatentyp natürl. Person)',
    label: 'Name (Adressatentyp natürl. Person)',
    required: false,
    defaults: ['last_name'],
    description: 'A person’s last name',
  },
  {
    key: 'firstName',
    column: 'Vorname (Adressatentyp natürl. Person)',
    label: 'Vorname (Adressatentyp natürl. Person)',
    required: false,
    defaults: ['first_name'],
    description: 'A person’s first name',
  },
  {
    key: 'addresseeType',
    column: 'Adressatentyp',
    label: 'Adressatentyp',
    required: false,
    defaults: ['addressee_type'],
    description: '1 person, 2 company (default: from which name is given)',
  },
  {
    key: 'shortName',
    column: 'Kurzbezeichnung',
    label: 'Kurzbezeichnung',
    required: false,
    defaults: ['short_name'],
    description: 'Short name, up to 15 characters',
  },
  {
    key: 'vatId',
    column: 'EU-USt-IdNr.',
    label: 'EU-USt-IdNr.',
    required: false,
    defaults: ['vat_id'],
    description: 'VAT id; a leading country code (DE123…) fills EU-Land',
  },
  {
    key: 'street',
    column: 'Straße',
    label: 'Straße',
    required: false,
    defaults: ['street'],
    description: 'Street and number',
  },
  {
    key: 'postalCode',
    column: 'Postleitzahl',
    label: 'Postleitzahl',
    required: false,
    defaults: ['postal_code', 'zip'],
    description: 'Postal code',
  },
  { key: 'city', column: 'Ort', label: 'Ort', required: false, defaults: ['city'], description: 'City' },
  {
    key: 'country',
    column: 'Land',
    label: 'Land',
    required: false,
    defaults: ['country'],
    description: 'ISO 3166 country code',
  },
  {
    key: 'phone',
    column: 'Telefon',
    label: 'Telefon',
    required: false,
    defaults: ['phone', 'telephone'],
    description: 'Telephone',
  },
  {
    key: 'email',
    column: 'E-Mail',
    label: 'E-Mail',
    required: false,
    defaults: ['email'],
    description: 'E-mail address',
  },
  {
    key: 'iban',
    column: 'IBAN 1',
    label: 'IBAN 1',
    required: false,
    defaults: ['iban'],
    description: 'First bank account’s IBAN',
  },
  {
    key: 'customerNumber',
    column: 'Kundennummer',
    label: 'Kundennummer',
    required: false,
    defaults: ['customer_number'],
    description: 'Your number for the customer',
  },
  {
    key: 'creditLimit',
    column: 'Kreditlimit (Debitor)',
    label: 'Kreditlimit (Debitor)',
    required: false,
    defaults: ['credit_limit'],
    description: 'Credit limit of a debtor',
  },
];
const BY_COLUMN = new Set(COMMON.map((f) => f.column));

/** Every field a mapping may fill: the friendly ones, then each other DATEV column by its own name. */
export const DATEV_ACCOUNT_FIELDS: readonly FieldDefinition[] = [
  ...COMMON.map(({ column: _column, ...f }) => f),
  ...DATEV_ACCOUNT_COLUMNS.filter(([name]) => !BY_COLUMN.has(name)).map(([name]) => ({
    key: name,
    label: name,
    required: false,
    defaults: [],
    description: `DATEV column "${name}"`,
  })),
];
const COLUMN_OF = new Map<string, string>([
  ...COMMON.map((f) => [f.key, f.column] as [string, string]),
  ...DATEV_ACCOUNT_COLUMNS.map(([name]) => [name, name] as [string, string]),
]);

type Settings = Omit<DatevSettings, 'mapping'> & { mapping: DatevSettings['mapping'] };

interface RowContext {
  row: number;
  settings: Settings;
  timeZone: string;
  warnings: ExportWarnings | undefined;
}

/** One value in its column's kind, length-checked. */
function cell(column: string, value: Value, c: RowContext): string {
  const index = POSITIONS.get(column)!;
  const [, kind, length] = DATEV_ACCOUNT_COLUMNS[index]!;
  const fail = (message: string): never => {
    throw new AccountingDataError(message, { row: c.row, field: column });
  };
  if (value === null || value === '') return '';
  switch (kind) {
    case 'i': {
      const text = plainText(value).trim();
      if (!/^\d+$/.test(text)) fail(`"${text}" is not a whole number`);
      if (length !== null && text.length > length) fail(`${text} has more than ${length} digits`);
      return text;
    }
    case 'd': {
      const cents = centsAt(value, { row: c.row, field: column });
      return cents === null ? '' : centsText(cents);
    }
    case 'D': {
      const iso = dateAt(value, c.timeZone, { row: c.row, field: column });
      return iso ? `${iso.slice(8, 10)}${iso.slice(5, 7)}${iso.slice(0, 4)}` : '';
    }
    case 'b': {
      const text = plainText(value).trim().toLowerCase();
      if (['1', 'true', 't', 'yes', 'ja'].includes(text)) return '1';
      if (['0', 'false', 'f', 'no', 'nein'].includes(text)) return '0';
      return fail(`"${text}" is not yes or no`);
    }
    default: {
      let text = plainText(value)
        .replace(/[\r\n]+/g, ' ')
        .trim();
      if (length !== null && text.length > length) {
        if (c.settings.tooLong === 'fail') fail(`"${text}" is longer than ${length} characters`);
        c.warnings?.add(
          `datev_truncated_${column}`,
          `${column}: values longer than ${length} characters were cut`,
        );
        text = text.slice(0, length);
      }
      return quoted(text);
    }
  }
}

function accountLine(row: Value[], read: Map<string, FieldReader>, c: RowContext): string {
  const values = new Map<string, Value>();
  for (const [key, reader] of read) {
    const value = reader(row);
    if (value !== null && value !== '') values.set(COLUMN_OF.get(key)!, value);
  }
  const account = plainText(values.get('Konto') ?? null).trim();
  const digits = c.settings.accountLength + 1;
  if (!/^\d+$/.test(account) || account.length !== digits)
    throw new AccountingDataError(
      `"${account}" is not a personal account: with the account length ${c.settings.accountLength} it has ${digits} digits`,
      { row: c.row, field: 'Konto' },
    );
  // A VAT id with its country in front (DE123456789) fills EU-Land and the number.
  const vat = values.get('EU-USt-IdNr.');
  if (vat !== undefined && !values.has('EU-Land')) {
    const m = /^([A-Z]{2})\s*(.+)$/.exec(plainText(vat).trim().toUpperCase());
    if (m) {
      values.set('EU-Land', m[1]!);
      values.set('EU-USt-IdNr.', m[2]!);
    }
  }
  if (!values.has('Adressatentyp')) {
    if (values.has('Name (Adressatentyp Unternehmen)')) values.set('Adressatentyp', '2');
    else if (values.has('Name (Adressatentyp natürl. Person)')) values.set('Adressatentyp', '1');
  }
  return DATEV_ACCOUNT_COLUMNS.map(([name]) =>
    values.has(name) ? cell(name, values.get(name)!, c) : '',
  ).join(';');
}

/** The Debitoren/Kreditoren writer: the header, the 254 column names, one line per account. */
export function datevAccountsEncoder(
  settings: Settings,
  o: { timeZone: string; generatedAt: Date },
): Encoder {
  return async function* encode(
    columns: Column[],
    batches: AsyncIterable<Value[][]>,
    warnings?: ExportWarnings,
  ) {
    const read = compileMapping(DATEV_ACCOUNT_FIELDS, settings.mapping, columns);
    const today = toIsoDate(o.generatedAt, o.timeZone)!;
    const fiscal = fiscalYearOf(today, settings.fiscalYearStartMonth);
    const replaced: Replacement = { examples: [], count: 0 };
    const names = DATEV_ACCOUNT_COLUMNS.map(([name]) => name).join(';');
    yield encodeCp1252(
      `${headerLine(settings, ACCOUNTS_KIND, null, fiscal.from, o.generatedAt, o.timeZone)}\r\n${names}\r\n`,
      replaced,
    );
    const c: RowContext = { row: 0, settings, timeZone: o.timeZone, warnings };
    yield* cp1252Lines(batches, (row) => accountLine(row as Value[], read, c), c, replaced);
    warnReplaced(replaced, warnings);
  };
}
