import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import { localParts } from '../../../lib/zoned-time.ts';
import type { Column, Value } from '../../sources/types.ts';
import type { Encoder, ExportWarnings } from '../text-formats.ts';
import { cp1252Lines, encodeCp1252, type Replacement, warnReplaced } from './cp1252.ts';
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
import { type AccountingPeriod, fiscalYearOf } from './period.ts';

// DATEV's EXTF import, data category 21 "Buchungsstapel", format version 13:
// a header line (31 fields), the column line (125 names) and one line per
// booking. Windows-1252, ";" between fields, CRLF, text in double quotes,
// amounts unsigned with a decimal comma and an S/H flag, document dates as
// TTMM inside the header's period and fiscal year. Facts from DATEV's
// developer portal ("DATEV-Format", Buchungsstapel), see docs/accounting.md.

export const DATEV_COLUMNS: readonly string[] = [
  'Umsatz (ohne Soll/Haben-Kz)',
  'Soll/Haben-Kennzeichen',
  'WKZ Umsatz',
  'Kurs',
  'Basis-Umsatz',
  'WKZ Basis-Umsatz',
  'Konto',
  'Gegenkonto (ohne BU-Schlüssel)',
  'BU-Schlüssel',
  'Belegdatum',
  'Belegfeld 1',
  'Belegfeld 2',
  'Skonto',
  'Buchungstext',
  'Postensperre',
  'Diverse Adressnummer',
  'Geschäftspartnerbank',
  'Sachverhalt',
  'Zinssperre',
  'Beleglink',
  ...Array.from({ length: 8 }, (_, i) => [`Beleginfo - Art ${i + 1}`, `Beleginfo - Inhalt ${i + 1}`]).flat(),
  'KOST1 - Kostenstelle',
  'KOST2 - Kostenstelle',
  'Kost-Menge',
  'EU-Land u. UStID (Bestimmung)',
  'EU-Steuersatz (Bestimmung)',
  'Abw. Versteuerungsart',
  'Sachverhalt L+L',
  'Funktionsergänzung L+L',
  'BU 49 Hauptfunktionstyp',
  'BU 49 Hauptfunktionsnummer',
  'BU 49 Funktionsergänzung',
  ...Array.from({ length: 20 }, (_, i) => [
    `Zusatzinformation - Art ${i + 1}`,
    `Zusatzinformation- Inhalt ${i + 1}`,
  ]).flat(),
  'Stück',
  'Gewicht',
  'Zahlweise',
  'Forderungsart',
  'Veranlagungsjahr',
  'Zugeordnete Fälligkeit',
  'Skontotyp',
  'Auftragsnummer',
  'Buchungstyp',
  'USt-Schlüssel (Anzahlungen)',
  'EU-Land (Anzahlungen)',
  'Sachverhalt L+L (Anzahlungen)',
  'EU-Steuersatz (Anzahlungen)',
  'Erlöskonto (Anzahlungen)',
  'Herkunft-Kz',
  'Buchungs GUID',
  'KOST-Datum',
  'SEPA-Mandatsreferenz',
  'Skontosperre',
  'Gesellschaftername',
  'Beteiligtennummer',
  'Identifikationsnummer',
  'Zeichnernummer',
  'Postensperre bis',
  'Bezeichnung SoBil-Sachverhalt',
  'Kennzeichen SoBil-Buchung',
  'Festschreibung',
  'Leistungsdatum',
  'Datum Zuord. Steuerperiode',
  'Fälligkeit',
  'Generalumkehr (GU)',
  'Steuersatz',
  'Land',
  'Abrechnungsreferenz',
  'BVV-Position',
  'EU-Land u. UStID (Ursprung)',
  'EU-Steuersatz (Ursprung)',
  'Abw. Skontokonto',
];

/** The 1-based positions of the text fields (written in double quotes). */
const TEXT_COLUMNS = new Set<number>([
  2,
  3,
  6,
  9,
  11,
  12,
  14,
  16,
  20,
  37,
  38,
  40,
  42,
  91,
  95,
  96,
  98,
  102,
  103,
  105,
  107,
  109,
  110,
  112,
  118,
  120,
  121,
  123,
  ...Array.from({ length: 16 }, (_, i) => 21 + i),
  ...Array.from({ length: 40 }, (_, i) => 48 + i),
]);
const HEADER_TEXT = new Set<number>([1, 4, 8, 9, 10, 17, 18, 22, 24, 27, 30, 31]);
const POSITIONS = new Map(DATEV_COLUMNS.map((name, i) => [name, i + 1]));
/** A column's 1-based position (looked up once per name, not searched per row). */
const column = (name: string) => POSITIONS.get(name)!;

/** The fields a mapping fills, with the column names they take by default. */
export const DATEV_FIELDS: readonly FieldDefinition[] = [
  {
    key: 'amount',
    label: 'Umsatz',
    required: true,
    defaults: ['amount', 'umsatz'],
    description: 'The amount: unsigned with debitCredit, or signed (negative = H) without it',
  },
  {
    key: 'debitCredit',
    label: 'Soll/Haben-Kennzeichen',
    required: false,
    defaults: ['debit_credit', 'soll_haben'],
    description: 'S (debit) or H (credit) for the account; left out: the amount’s sign decides',
  },
  {
    key: 'currency',
    label: 'WKZ Umsatz',
    required: false,
    defaults: ['currency'],
    description: 'ISO 4217 code; left out: the header’s currency',
  },
  {
    key: 'account',
    label: 'Konto',
    required: true,
    defaults: ['account', 'konto'],
    description: 'Account number',
  },
  {
    key: 'contraAccount',
    label: 'Gegenkonto',
    required: true,
    defaults: ['contra_account', 'gegenkonto'],
    description: 'Contra account number (without a tax key)',
  },
  {
    key: 'taxKey',
    label: 'BU-Schlüssel',
    required: false,
    defaults: ['tax_key', 'bu_key'],
    description: 'DATEV tax key (BU-Schlüssel), up to 4 characters',
  },
  {
    key: 'documentDate',
    label: 'Belegdatum',
    required: true,
    defaults: ['document_date', 'posted_on', 'belegdatum'],
    description: 'The document date: inside the period and its fiscal year',
  },
  {
    key: 'document1',
    label: 'Belegfeld 1',
    required: false,
    defaults: ['document_number', 'belegfeld1'],
    description: 'Document number: up to 36 of A–Z a–z 0–9 $ & % * + - /',
  },
  {
    key: 'document2',
    label: 'Belegfeld 2',
    required: false,
    defaults: ['document_number_2', 'belegfeld2'],
    description: 'Second document field, up to 12 characters',
  },
  {
    key: 'discount',
    label: 'Skonto',
    required: false,
    defaults: ['discount', 'skonto'],
    description: 'Cash discount amount',
  },
  {
    key: 'text',
    label: 'Buchungstext',
    required: false,
    defaults: ['description', 'booking_text', 'buchungstext'],
    description: 'Booking text, up to 60 characters',
  },
  {
    key: 'costCentre1',
    label: 'KOST1 - Kostenstelle',
    required: false,
    defaults: ['cost_centre', 'kost1'],
    description: 'Cost centre 1, up to 36 characters',
  },
  {
    key: 'costCentre2',
    label: 'KOST2 - Kostenstelle',
    required: false,
    defaults: ['cost_centre_2', 'kost2'],
    description: 'Cost centre 2, up to 36 characters',
  },
  {
    key: 'serviceDate',
    label: 'Leistungsdatum',
    required: false,
    defaults: ['service_date', 'leistungsdatum'],
    description: 'Date of supply (TTMMJJJJ in the file)',
  },
];

export interface DatevSettings {
  consultantNumber: number;
  clientNumber: number;
  /** The first month of the fiscal year (1 = January). */
  fiscalYearStartMonth: number;
  accountLength: number;
  chartOfAccounts?: string | undefined;
  currency: string;
  batchName: string;
  dictationCode?: string | undefined;
  origin: string;
  exportedBy: string;
  locked: boolean;
  /** Text longer than its field: fail the run (default) or cut it with a warning. */
  tooLong: 'fail' | 'truncate';
  mapping: Mapping;
}

/** Field lengths the format allows, by column position. */
const MAX_LENGTH: Record<number, number> = {
  [column('WKZ Umsatz')]: 3,
  [column('BU-Schlüssel')]: 4,
  [column('Belegfeld 1')]: 36,
  [column('Belegfeld 2')]: 12,
  [column('Buchungstext')]: 60,
  [column('KOST1 - Kostenstelle')]: 36,
  [column('KOST2 - Kostenstelle')]: 36,
};
const DOCUMENT_FIELD = /^[A-Za-z0-9$&%*+\-/]*$/;
const MAX_AMOUNT = 999_999_999_999n; // 9,999,999,999.99 in hundredths

export const quoted = (text: string) => `"${text.replaceAll('"', '""')}"`;

/** What a header says of its file's kind: Buchungsstapel (21, version 13) or Debitoren/Kreditoren (16, version 5). */
export interface DatevKind {
  category: number;
  name: string;
  version: number;
}
export const BOOKINGS_KIND: DatevKind = { category: 21, name: 'Buchungsstapel', version: 13 };

/**
 * Line 1: the 31 header fields. A booking batch states its period, booking
 * type, fixing flag and currency; master data (no period) leaves them empty.
 */
export function headerLine(
  s: Pick<
    DatevSettings,
    | 'origin'
    | 'exportedBy'
    | 'consultantNumber'
    | 'clientNumber'
    | 'accountLength'
    | 'batchName'
    | 'dictationCode'
    | 'locked'
    | 'currency'
    | 'chartOfAccounts'
  >,
  kind: DatevKind,
  period: AccountingPeriod | null,
  fiscalStart: string,
  now: Date,
  timeZone: string,
): string {
  // "Erzeugt am": YYYYMMDDHHMMSSFFF, local time.
  const p = localParts(now, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  const stamp = `${p.year}${two(p.month)}${two(p.day)}${two(p.hour)}${two(p.minute)}${two(p.second)}${String(now.getUTCMilliseconds()).padStart(3, '0')}`;
  const ymd = (iso: string) => iso.replaceAll('-', '');
  const bookings = period !== null;
  const fields: Array<string | number> = [
    'EXTF',
    700,
    kind.category,
    kind.name,
    kind.version,
    stamp,
    '',
    s.origin,
    s.exportedBy,
    '',
    s.consultantNumber,
    s.clientNumber,
    ymd(fiscalStart),
    s.accountLength,
    period ? ymd(period.from) : '',
    period ? ymd(period.to) : '',
    s.batchName,
    s.dictationCode ?? '',
    bookings ? 1 : '',
    bookings ? 0 : '',
    bookings ? (s.locked ? 1 : 0) : '',
    bookings ? s.currency : '',
    '',
    '',
    '',
    '',
    s.chartOfAccounts ?? '',
    '',
    '',
    '',
    '',
  ];
  // Text fields are quoted even when empty, as DATEV writes them.
  return fields.map((v, i) => (HEADER_TEXT.has(i + 1) ? quoted(String(v)) : String(v))).join(';');
}

interface RowContext {
  row: number;
  settings: DatevSettings;
  period: AccountingPeriod;
  fiscal: { from: string; to: string };
  timeZone: string;
  warnings: ExportWarnings | undefined;
}

/** Text for a length-limited field: cut with a warning, or fail, per the settings. */
function limited(text: string, position: number, label: string, c: RowContext): string {
  const max = MAX_LENGTH[position];
  if (max === undefined || text.length <= max) return text;
  if (c.settings.tooLong === 'fail')
    throw new AccountingDataError(`"${text}" is longer than ${max} characters`, { row: c.row, field: label });
  c.warnings?.add(
    `datev_truncated_${position}`,
    `${label}: values longer than ${max} characters were cut to ${max}`,
  );
  return text.slice(0, max);
}

function accountText(value: Value, label: string, c: RowContext): string {
  const text = plainText(value).trim();
  if (!/^\d+$/.test(text))
    throw new AccountingDataError(`"${text}" is not an account number (digits only)`, {
      row: c.row,
      field: label,
    });
  const max = c.settings.accountLength + 1;
  if (text.length > max)
    throw new AccountingDataError(
      `${text} has ${text.length} digits; with the account length ${c.settings.accountLength} an account has at most ${max} (personal accounts)`,
      { row: c.row, field: label },
    );
  // A shorter G/L account is extended with zeros to the account length, as DATEV does (8400 → 84000 at length 5).
  return text.length < c.settings.accountLength ? text.padEnd(c.settings.accountLength, '0') : text;
}

function dateInPeriod(value: Value, label: string, c: RowContext): string {
  const iso = dateAt(value, c.timeZone, { row: c.row, field: label });
  if (iso === null) throw new AccountingDataError('is empty', { row: c.row, field: label });
  if (iso < c.period.from || iso > c.period.to)
    throw new AccountingDataError(`${iso} is outside the period ${c.period.from} – ${c.period.to}`, {
      row: c.row,
      field: label,
    });
  return iso;
}

function bookingLine(row: Value[], read: Map<string, FieldReader>, c: RowContext): string {
  const out: string[] = new Array(DATEV_COLUMNS.length).fill('');
  const get = (key: string) => read.get(key)?.(row) ?? null;
  const set = (name: string, text: string) => {
    const position = column(name);
    const value = limited(text.replace(/[\r\n]+/g, ' '), position, name, c);
    out[position - 1] = TEXT_COLUMNS.has(position) ? quoted(value) : value;
  };

  const cents = centsAt(get('amount'), { row: c.row, field: 'Umsatz' });
  if (cents === null || cents === 0n)
    throw new AccountingDataError('is empty or zero; DATEV takes no booking without an amount', {
      row: c.row,
      field: 'Umsatz',
    });
  const flagValue = get('debitCredit');
  let flag: 'S' | 'H';
  if (flagValue === null || flagValue === '') flag = cents < 0n ? 'H' : 'S';
  else {
    const given = plainText(flagValue).trim().toUpperCase();
    if (given !== 'S' && given !== 'H')
      throw new AccountingDataError(`"${given}" is neither S (debit) nor H (credit)`, {
        row: c.row,
        field: 'Soll/Haben-Kennzeichen',
      });
    // A negative amount with a flag turns the flag: -100 S is 100 H.
    flag = cents < 0n ? (given === 'S' ? 'H' : 'S') : given;
  }
  const abs = cents < 0n ? -cents : cents;
  if (abs > MAX_AMOUNT)
    throw new AccountingDataError(`${centsText(cents)} is larger than 9999999999,99`, {
      row: c.row,
      field: 'Umsatz',
    });
  set('Umsatz (ohne Soll/Haben-Kz)', centsText(abs));
  set('Soll/Haben-Kennzeichen', flag);
  const currency = get('currency');
  if (currency !== null) set('WKZ Umsatz', plainText(currency).trim().toUpperCase());
  set('Konto', accountText(get('account'), 'Konto', c));
  set('Gegenkonto (ohne BU-Schlüssel)', accountText(get('contraAccount'), 'Gegenkonto', c));
  const taxKey = get('taxKey');
  if (taxKey !== null) set('BU-Schlüssel', plainText(taxKey).trim());
  const documentDate = dateInPeriod(get('documentDate'), 'Belegdatum', c);
  if (documentDate < c.fiscal.from || documentDate > c.fiscal.to)
    throw new AccountingDataError(
      `${documentDate} is outside the fiscal year ${c.fiscal.from} – ${c.fiscal.to}`,
      {
        row: c.row,
        field: 'Belegdatum',
      },
    );
  set('Belegdatum', `${documentDate.slice(8, 10)}${documentDate.slice(5, 7)}`);
  const document1 = get('document1');
  if (document1 !== null) {
    const text = plainText(document1).trim();
    if (!DOCUMENT_FIELD.test(text))
      throw new AccountingDataError(`"${text}" may hold only A–Z a–z 0–9 $ & % * + - /`, {
        row: c.row,
        field: 'Belegfeld 1',
      });
    set('Belegfeld 1', text);
  }
  const document2 = get('document2');
  if (document2 !== null) set('Belegfeld 2', plainText(document2).trim());
  const discount = get('discount');
  if (discount !== null) {
    const d = centsAt(discount, { row: c.row, field: 'Skonto' });
    if (d !== null && d !== 0n) set('Skonto', centsText(d < 0n ? -d : d));
  }
  const text = get('text');
  if (text !== null) set('Buchungstext', plainText(text).trim());
  const kost1 = get('costCentre1');
  if (kost1 !== null) set('KOST1 - Kostenstelle', plainText(kost1).trim());
  const kost2 = get('costCentre2');
  if (kost2 !== null) set('KOST2 - Kostenstelle', plainText(kost2).trim());
  const serviceDate = get('serviceDate');
  if (serviceDate !== null) {
    const iso = dateAt(serviceDate, c.timeZone, { row: c.row, field: 'Leistungsdatum' });
    if (iso) set('Leistungsdatum', `${iso.slice(8, 10)}${iso.slice(5, 7)}${iso.slice(0, 4)}`);
  }
  set('Festschreibung', c.settings.locked ? '1' : '0');
  return out.join(';');
}

/**
 * The Buchungsstapel writer: checks the mapping against the columns before the
 * first line, then streams the lines as Windows-1252 bytes. A row DATEV would
 * refuse fails the run naming the row and the field.
 */
export function datevEncoder(
  settings: DatevSettings,
  o: { timeZone: string; generatedAt: Date; period: () => AccountingPeriod },
): Encoder {
  return async function* encode(
    columns: Column[],
    batches: AsyncIterable<Value[][]>,
    warnings?: ExportWarnings,
  ) {
    const period = o.period();
    const years = fiscalYearsIn(period, settings.fiscalYearStartMonth);
    const read = compileMapping(DATEV_FIELDS, settings.mapping, columns);
    const replaced: Replacement = { examples: [], count: 0 };
    if (years.length > 1) {
      yield* perFiscalYear(settings, o, period, years, read, batches, replaced, warnings);
    } else {
      const fiscal = fiscalYearOf(period.from, settings.fiscalYearStartMonth);
      const head = `${headerLine(settings, BOOKINGS_KIND, period, fiscal.from, o.generatedAt, o.timeZone)}\r\n${DATEV_COLUMNS.join(';')}\r\n`;
      yield encodeCp1252(head, replaced);
      const c: RowContext = { row: 0, settings, period, fiscal, timeZone: o.timeZone, warnings };
      yield* cp1252Lines(batches, (row) => bookingLine(row as Value[], read, c), c, replaced);
    }
    warnReplaced(replaced, warnings);
  };
}

/** The parts of a period in each fiscal year it touches, in order. */
export function fiscalYearsIn(
  period: AccountingPeriod,
  startMonth: number,
): Array<{ part: AccountingPeriod; fiscal: AccountingPeriod }> {
  const out: Array<{ part: AccountingPeriod; fiscal: AccountingPeriod }> = [];
  let from = period.from;
  while (from <= period.to) {
    const fiscal = fiscalYearOf(from, startMonth);
    // biome-ignore lint/complexity/useMathMinMax: ISO date strings compare as text; Math.min would make numbers of them
    const to = fiscal.to < period.to ? fiscal.to : period.to;
    out.push({ part: { from, to }, fiscal });
    const next = new Date(`${fiscal.to}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    from = next.toISOString().slice(0, 10);
  }
  return out;
}

/**
 * A period across a fiscal year's end: DATEV takes one batch per fiscal year,
 * so each year's bookings go to a file of their own (its header with that
 * year's part of the period and its start), spooled to disk while the rows
 * stream, and the files come as one zip archive. Memory stays flat.
 */
async function* perFiscalYear(
  settings: DatevSettings,
  o: { timeZone: string; generatedAt: Date },
  period: AccountingPeriod,
  years: Array<{ part: AccountingPeriod; fiscal: AccountingPeriod }>,
  read: Map<string, FieldReader>,
  batches: AsyncIterable<Value[][]>,
  replaced: Replacement,
  warnings: ExportWarnings | undefined,
): AsyncGenerator<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-datev-'));
  const files = years.map((y) => ({
    ...y,
    name: `EXTF_Buchungsstapel_${y.part.from.replaceAll('-', '')}-${y.part.to.replaceAll('-', '')}.csv`,
    stream: null as WriteStream | null,
    rows: 0,
  }));
  const write = async (stream: WriteStream, bytes: Buffer) => {
    if (!stream.write(bytes)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  };
  try {
    const open = async (f: (typeof files)[number]) => {
      f.stream = createWriteStream(join(dir, f.name));
      const head = `${headerLine(settings, BOOKINGS_KIND, f.part, f.fiscal.from, o.generatedAt, o.timeZone)}\r\n${DATEV_COLUMNS.join(';')}\r\n`;
      await write(f.stream, encodeCp1252(head, replaced));
      return f.stream;
    };
    // Rows are checked against the whole period; each goes to its fiscal year's file.
    const c: RowContext = { row: 0, settings, period, fiscal: period, timeZone: o.timeZone, warnings };
    for await (const batch of batches) {
      for (const row of batch) {
        c.row++;
        const line = bookingLine(row, read, c);
        const date = toIsoDate(read.get('documentDate')!(row), o.timeZone)!;
        const f = files.find((y) => date >= y.part.from && date <= y.part.to)!;
        f.rows++;
        await write(f.stream ?? (await open(f)), encodeCp1252(`${line}\r\n`, replaced));
      }
    }
    // Every fiscal year the period touches gets its file, an empty batch where it had no bookings.
    for (const f of files) {
      const stream = f.stream ?? (await open(f));
      await new Promise<void>((resolve, reject) =>
        stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    }
    warnings?.add(
      'datev_fiscal_years',
      `The period spans ${files.length} fiscal years: one DATEV file each (${files.map((f) => `${f.name}: ${f.rows} bookings`).join(', ')}), in a zip archive`,
      files.length,
    );
    const zip = new yazl.ZipFile();
    for (const f of files)
      zip.addReadStream(createReadStream(join(dir, f.name)), f.name, { mtime: o.generatedAt });
    zip.end();
    for await (const chunk of zip.outputStream as unknown as AsyncIterable<Buffer>) yield chunk;
  } finally {
    for (const f of files) f.stream?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
