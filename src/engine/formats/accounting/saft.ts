import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Column, Value } from '../../sources/types.ts';
import { type Encoder, type ExportWarnings, escapeXml } from '../text-formats.ts';
import {
  AccountingDataError,
  centsAt,
  centsText,
  compileMapping,
  dateAt,
  type FieldDefinition,
  type FieldReader,
  type Mapping,
  plainText,
  toIsoDate,
} from './mapping.ts';
import type { AccountingPeriod } from './period.ts';

// SAF-T Financial (OECD Standard Audit File – Tax) as streaming XML, with the
// Norwegian v1.30 schema as the reference variant. The report gives journal
// lines (one row per line, a document's lines together); the master files
// (accounts with opening and closing balances, the tax table) and the totals
// come from the same rows. The totals stand before the entries in the file, so
// the entries are written to a temporary file first and copied in after them:
// memory stays flat however long the journal is. A national variant is a
// `SaftVariant` (namespace, version, country, the elements it requires), not a
// new writer.

export interface SaftVariant {
  key: string;
  namespace: string;
  auditFileVersion: string;
  country: string;
  /** The tax type and its description in the tax table and on lines. */
  taxType: { code: string; description: string };
  /** Accounts must carry a grouping (category and code) for this variant. */
  requiresGrouping: boolean;
}

export const saftVariants: Record<string, SaftVariant> = {
  NO: {
    key: 'NO',
    namespace: 'urn:StandardAuditFile-Taxation-Financial:NO',
    auditFileVersion: '1.30',
    country: 'NO',
    taxType: { code: 'MVA', description: 'Merverdiavgift' },
    requiresGrouping: true,
  },
};

export const SAFT_FIELDS: readonly FieldDefinition[] = [
  {
    key: 'transactionId',
    label: 'TransactionID',
    required: true,
    defaults: ['document_number', 'transaction_id'],
    description: 'The document (voucher) a line belongs to; a document’s lines come together',
  },
  {
    key: 'transactionDate',
    label: 'TransactionDate',
    required: true,
    defaults: ['posted_on', 'document_date', 'transaction_date'],
    description: 'The document’s date, inside the period',
  },
  {
    key: 'description',
    label: 'Description',
    required: true,
    defaults: ['description'],
    description: 'Text of the document and its lines',
  },
  {
    key: 'recordId',
    label: 'RecordID',
    required: false,
    defaults: ['line_no', 'record_id'],
    description: 'The line’s number within its document (default: counted)',
  },
  {
    key: 'accountId',
    label: 'AccountID',
    required: true,
    defaults: ['account', 'account_id'],
    description: 'The general ledger account',
  },
  {
    key: 'accountDescription',
    label: 'AccountDescription',
    required: false,
    defaults: ['account_name', 'account_description'],
    description: 'The account’s name (default: its number)',
  },
  {
    key: 'groupingCategory',
    label: 'GroupingCategory',
    required: false,
    defaults: ['grouping_category'],
    description: 'The account’s grouping category (default: the setting groupingCategory)',
  },
  {
    key: 'groupingCode',
    label: 'GroupingCode',
    required: false,
    defaults: ['grouping_code'],
    description: 'The account’s grouping code in its category',
  },
  {
    key: 'openingBalance',
    label: 'OpeningBalance',
    required: false,
    defaults: ['opening_balance', 'account_opening_balance'],
    description: 'The account’s balance before the period, signed (debit positive); default 0',
  },
  {
    key: 'debit',
    label: 'DebitAmount',
    required: false,
    defaults: ['debit'],
    description: 'Debit amount of the line',
  },
  {
    key: 'credit',
    label: 'CreditAmount',
    required: false,
    defaults: ['credit'],
    description: 'Credit amount of the line',
  },
  {
    key: 'amount',
    label: 'Amount',
    required: false,
    defaults: ['amount'],
    description: 'A signed amount instead of debit and credit (positive: debit)',
  },
  {
    key: 'taxCode',
    label: 'TaxCode',
    required: false,
    defaults: ['vat_code', 'tax_code'],
    description: 'The line’s tax code (adds TaxInformation and a tax table entry)',
  },
  {
    key: 'taxPercentage',
    label: 'TaxPercentage',
    required: false,
    defaults: ['vat_rate', 'tax_percentage'],
    description: 'The tax code’s rate in percent',
  },
  {
    key: 'standardTaxCode',
    label: 'StandardTaxCode',
    required: false,
    defaults: ['standard_tax_code'],
    description: 'The tax authority’s code for the tax code (Norway: the standard MVA code)',
  },
  {
    key: 'taxBase',
    label: 'TaxBase',
    required: false,
    defaults: ['tax_base'],
    description: 'The amount the tax is computed on',
  },
  {
    key: 'taxAmount',
    label: 'TaxAmount',
    required: false,
    defaults: ['tax_amount'],
    description: 'The tax amount of the line, signed like the line',
  },
  {
    key: 'customerId',
    label: 'CustomerID',
    required: false,
    defaults: ['customer_id'],
    description: 'The customer of an accounts-receivable line (listed in the master files)',
  },
  {
    key: 'customerName',
    label: 'Customer Name',
    required: false,
    defaults: ['customer_name'],
    description: 'The customer’s name (default: its ID)',
  },
  {
    key: 'supplierId',
    label: 'SupplierID',
    required: false,
    defaults: ['supplier_id'],
    description: 'The supplier of an accounts-payable line (listed in the master files)',
  },
  {
    key: 'supplierName',
    label: 'Supplier Name',
    required: false,
    defaults: ['supplier_name'],
    description: 'The supplier’s name (default: its ID)',
  },
];

export interface SaftSettings {
  variant: SaftVariant;
  company: {
    name: string;
    registrationNumber: string;
    streetName?: string | undefined;
    city: string;
    postalCode: string;
    country: string;
    contactFirstName: string;
    contactLastName: string;
    email?: string | undefined;
    telephone: string;
  };
  currency: string;
  groupingCategory?: string | undefined;
  journal: { id: string; description: string; type: string };
  mapping: Mapping;
}

interface AccountState {
  description: string;
  groupingCategory: string | null;
  groupingCode: string | null;
  opening: bigint;
  movement: bigint;
}

interface TaxCodeState {
  percentage: string | null;
  standard: string | null;
}

const x = (text: string) => escapeXml(text);
/** An element with text. */
const el = (name: string, text: string) => `<${name}>${x(text)}</${name}>`;
/** A monetary value: two decimals, a point, no sign for zero. */
const money = (cents: bigint) => centsText(cents, '.');
const abs = (v: bigint) => (v < 0n ? -v : v);

const amountOf = (read: (key: string) => Value, key: string, row: number, label: string) =>
  centsAt(read(key), { row, field: label });

export function saftEncoder(
  settings: SaftSettings,
  o: { timeZone: string; generatedAt: Date; period: () => AccountingPeriod },
): Encoder {
  return async function* encode(
    columns: Column[],
    batches: AsyncIterable<Value[][]>,
    warnings?: ExportWarnings,
  ) {
    const period = o.period();
    const readers = compileMapping(SAFT_FIELDS, settings.mapping, columns);
    const hasSigned = readers.has('amount');
    if (!hasSigned && !readers.has('debit') && !readers.has('credit'))
      throw new AccountingDataError('map debit and credit, or one signed amount', { field: 'DebitAmount' });
    const dir = await mkdtemp(join(tmpdir(), 'ferry-saft-'));
    try {
      const spool = createWriteStream(join(dir, 'entries.xml'));
      const totals = await writeEntries(settings, readers, batches, period, o.timeZone, spool, warnings);
      await new Promise<void>((resolve, reject) =>
        spool.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      yield head(settings, period, o.generatedAt, o.timeZone);
      yield masterFiles(settings, totals);
      yield `<GeneralLedgerEntries>${el('NumberOfEntries', String(totals.entries))}${el('TotalDebit', money(totals.debit))}${el('TotalCredit', money(totals.credit))}`;
      if (totals.entries > 0)
        yield `<Journal>${el('JournalID', settings.journal.id)}${el('Description', settings.journal.description)}${el('Type', settings.journal.type)}`;
      for await (const chunk of createReadStream(join(dir, 'entries.xml'))) yield chunk as Buffer;
      if (totals.entries > 0) yield '</Journal>';
      yield '</GeneralLedgerEntries></AuditFile>\n';
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}

interface Totals {
  entries: number;
  debit: bigint;
  credit: bigint;
  accounts: Map<string, AccountState>;
  taxCodes: Map<string, TaxCodeState>;
  customers: Map<string, string>;
  suppliers: Map<string, string>;
}

async function writeEntries(
  s: SaftSettings,
  readers: Map<string, FieldReader>,
  batches: AsyncIterable<Value[][]>,
  period: AccountingPeriod,
  timeZone: string,
  out: Writable,
  warnings: ExportWarnings | undefined,
): Promise<Totals> {
  const t: Totals = {
    entries: 0,
    debit: 0n,
    credit: 0n,
    accounts: new Map(),
    taxCodes: new Map(),
    customers: new Map(),
    suppliers: new Map(),
  };
  const done = new Set<string>();
  let current: {
    id: string;
    firstRow: number;
    date: string;
    description: string;
    lines: string[];
    balance: bigint;
  } | null = null;
  let rowNumber = 0;
  const write = async (text: string) => {
    if (!out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
  };
  const close = async () => {
    if (!current) return;
    if (current.balance !== 0n)
      throw new AccountingDataError(
        `document ${current.id} does not balance: its debits and credits differ by ${money(current.balance)}`,
        { row: current.firstRow, field: 'TransactionID' },
      );
    const [y, m] = [current.date.slice(0, 4), String(Number(current.date.slice(5, 7)))];
    await write(
      `<Transaction>${el('TransactionID', current.id)}${el('Period', m)}${el('PeriodYear', y)}${el('TransactionDate', current.date)}${el('Description', current.description)}${el('SystemEntryDate', current.date)}${el('GLPostingDate', current.date)}${current.lines.join('')}</Transaction>`,
    );
    t.entries++;
    done.add(current.id);
    current = null;
  };
  for await (const batch of batches) {
    for (const row of batch) {
      rowNumber++;
      const read = (key: string) => readers.get(key)?.(row) ?? null;
      const id = plainText(read('transactionId')).trim();
      if (id === '') throw new AccountingDataError('is empty', { row: rowNumber, field: 'TransactionID' });
      if (!current || current.id !== id) {
        await close();
        if (done.has(id))
          throw new AccountingDataError(
            `the lines of document ${id} are not together: sort the report by document`,
            { row: rowNumber, field: 'TransactionID' },
          );
        const date = dateAt(read('transactionDate'), timeZone, { row: rowNumber, field: 'TransactionDate' });
        if (date === null)
          throw new AccountingDataError('is empty', { row: rowNumber, field: 'TransactionDate' });
        if (date < period.from || date > period.to)
          throw new AccountingDataError(`${date} is outside the period ${period.from} – ${period.to}`, {
            row: rowNumber,
            field: 'TransactionDate',
          });
        current = {
          id,
          firstRow: rowNumber,
          date,
          description: plainText(read('description')).trim() || id,
          lines: [],
          balance: 0n,
        };
      }
      current.lines.push(lineXml(s, read, rowNumber, current.lines.length + 1, t, current));
    }
  }
  await close();
  if (warnings && t.entries === 0) warnings.add('saft_empty', 'The period has no journal entries', 1);
  return t;
}

function lineXml(
  s: SaftSettings,
  read: (key: string) => Value,
  row: number,
  counted: number,
  t: Totals,
  doc: { balance: bigint },
): string {
  const accountId = plainText(read('accountId')).trim();
  if (accountId === '') throw new AccountingDataError('is empty', { row, field: 'AccountID' });
  const signed =
    read('amount') !== null
      ? (amountOf(read, 'amount', row, 'Amount') ?? 0n)
      : (amountOf(read, 'debit', row, 'DebitAmount') ?? 0n) -
        (amountOf(read, 'credit', row, 'CreditAmount') ?? 0n);
  doc.balance += signed;
  if (signed >= 0n) t.debit += signed;
  else t.credit -= signed;

  let account = t.accounts.get(accountId);
  if (!account) {
    const category = plainText(read('groupingCategory')).trim() || s.groupingCategory || '';
    const code = plainText(read('groupingCode')).trim();
    if (s.variant.requiresGrouping && (category === '' || code === ''))
      throw new AccountingDataError(
        `account ${accountId} needs a grouping category and code in SAF-T ${s.variant.key} (map groupingCategory and groupingCode)`,
        { row, field: 'GroupingCode' },
      );
    account = {
      description: plainText(read('accountDescription')).trim() || accountId,
      groupingCategory: category || null,
      groupingCode: code || null,
      opening: amountOf(read, 'openingBalance', row, 'OpeningBalance') ?? 0n,
      movement: 0n,
    };
    t.accounts.set(accountId, account);
  }
  account.movement += signed;

  const recordId = plainText(read('recordId')).trim() || String(counted);
  const parts = [el('RecordID', recordId), el('AccountID', accountId)];
  const customer = plainText(read('customerId')).trim();
  const supplier = plainText(read('supplierId')).trim();
  if (customer && supplier)
    throw new AccountingDataError('a line has a customer or a supplier, not both', {
      row,
      field: 'CustomerID',
    });
  if (customer) {
    parts.push(el('CustomerID', customer));
    if (!t.customers.has(customer))
      t.customers.set(customer, plainText(read('customerName')).trim() || customer);
  }
  if (supplier) {
    parts.push(el('SupplierID', supplier));
    if (!t.suppliers.has(supplier))
      t.suppliers.set(supplier, plainText(read('supplierName')).trim() || supplier);
  }
  parts.push(el('Description', plainText(read('description')).trim() || recordId));
  parts.push(
    signed >= 0n
      ? `<DebitAmount>${el('Amount', money(signed))}</DebitAmount>`
      : `<CreditAmount>${el('Amount', money(-signed))}</CreditAmount>`,
  );
  const taxCode = plainText(read('taxCode')).trim();
  if (taxCode) {
    const percentage = read('taxPercentage');
    const known = t.taxCodes.get(taxCode);
    if (!known)
      t.taxCodes.set(taxCode, {
        percentage: percentage === null ? null : plainText(percentage),
        standard: plainText(read('standardTaxCode')).trim() || null,
      });
    const tax: string[] = [el('TaxType', s.variant.taxType.code), el('TaxCode', taxCode)];
    if (percentage !== null) tax.push(el('TaxPercentage', plainText(percentage)));
    const base = amountOf(read, 'taxBase', row, 'TaxBase');
    if (base !== null) tax.push(el('TaxBase', money(abs(base))));
    const taxAmount = amountOf(read, 'taxAmount', row, 'TaxAmount');
    const side = (taxAmount ?? signed) >= 0n ? 'DebitTaxAmount' : 'CreditTaxAmount';
    tax.push(`<${side}>${el('Amount', money(abs(taxAmount ?? 0n)))}</${side}>`);
    parts.push(`<TaxInformation>${tax.join('')}</TaxInformation>`);
  }
  return `<Line>${parts.join('')}</Line>`;
}

function head(s: SaftSettings, period: AccountingPeriod, now: Date, timeZone: string): string {
  const c = s.company;
  const created = toIsoDate(now, timeZone)!;
  const address = [
    c.streetName ? el('StreetName', c.streetName) : '',
    el('City', c.city),
    el('PostalCode', c.postalCode),
    el('Country', c.country),
  ].join('');
  const contact = [
    `<ContactPerson>${el('FirstName', c.contactFirstName)}${el('LastName', c.contactLastName)}</ContactPerson>`,
    el('Telephone', c.telephone),
    c.email ? el('Email', c.email) : '',
  ].join('');
  return [
    `<?xml version="1.0" encoding="UTF-8"?>\n<AuditFile xmlns="${s.variant.namespace}">`,
    '<Header>',
    el('AuditFileVersion', s.variant.auditFileVersion),
    el('AuditFileCountry', s.variant.country),
    el('AuditFileDateCreated', created),
    el('SoftwareCompanyName', 'Ferry'),
    el('SoftwareID', 'Ferry'),
    el('SoftwareVersion', '0.1.0'),
    `<Company>${el('RegistrationNumber', c.registrationNumber)}${el('Name', c.name)}<Address>${address}</Address><Contact>${contact}</Contact></Company>`,
    el('DefaultCurrencyCode', s.currency),
    `<SelectionCriteria>${el('SelectionStartDate', period.from)}${el('SelectionEndDate', period.to)}</SelectionCriteria>`,
    el('TaxAccountingBasis', 'A'),
    '</Header>',
  ].join('');
}

function masterFiles(s: SaftSettings, t: Totals): string {
  const { accounts, taxCodes } = t;
  const out: string[] = ['<MasterFiles>'];
  if (accounts.size > 0) {
    out.push('<GeneralLedgerAccounts>');
    for (const [id, a] of [...accounts].sort(([p], [q]) => p.localeCompare(q))) {
      const closing = a.opening + a.movement;
      out.push(
        `<Account>${el('AccountID', id)}${el('AccountDescription', a.description)}`,
        a.groupingCategory ? el('GroupingCategory', a.groupingCategory) : '',
        a.groupingCode ? el('GroupingCode', a.groupingCode) : '',
        el('AccountType', 'GL'),
        a.opening >= 0n
          ? el('OpeningDebitBalance', money(a.opening))
          : el('OpeningCreditBalance', money(-a.opening)),
        closing >= 0n
          ? el('ClosingDebitBalance', money(closing))
          : el('ClosingCreditBalance', money(-closing)),
        '</Account>',
      );
    }
    out.push('</GeneralLedgerAccounts>');
  }
  // Lines name customers and suppliers; the master files list each once (Name before the ID, as the schema orders them).
  const parties = (wrapper: string, element: string, idName: string, list: Map<string, string>) => {
    if (list.size === 0) return;
    out.push(`<${wrapper}>`);
    for (const [id, name] of [...list].sort(([p], [q]) => p.localeCompare(q)))
      out.push(`<${element}>${el('Name', name)}${el(idName, id)}</${element}>`);
    out.push(`</${wrapper}>`);
  };
  parties('Customers', 'Customer', 'CustomerID', t.customers);
  parties('Suppliers', 'Supplier', 'SupplierID', t.suppliers);
  if (taxCodes.size > 0) {
    out.push(
      `<TaxTable><TaxTableEntry>${el('TaxType', s.variant.taxType.code)}${el('Description', s.variant.taxType.description)}`,
    );
    for (const [code, tax] of [...taxCodes].sort(([p], [q]) => p.localeCompare(q)))
      out.push(
        `<TaxCodeDetails>${el('TaxCode', code)}`,
        tax.percentage !== null ? el('TaxPercentage', tax.percentage) : '',
        el('Country', s.variant.country),
        // Always given; "NA" where the code has no standard counterpart (SAF-T NO's rule).
        el('StandardTaxCode', tax.standard ?? 'NA'),
        el('BaseRate', '100'),
        '</TaxCodeDetails>',
      );
    out.push('</TaxTableEntry></TaxTable>');
  }
  out.push('</MasterFiles>');
  return out.join('');
}
