import { type Static, type TEnum, type TSchema, Type } from 'typebox';
import { BMD_DEFAULT_FIELDS, BMD_FIELDS } from './accounting/bmd.ts';
import { MappingSchema } from './accounting/mapping.ts';
import { DEFAULT_PDF_ROW_CAP } from './pdf.ts';
import type { ExportFormat } from './registry.ts';
import {
  defaultCsvOptions,
  defaultJsonOptions,
  defaultTsvOptions,
  defaultXmlOptions,
} from './text-formats.ts';
import { defaultXlsxOptions } from './xlsx.ts';

// The options each export format takes, as one TypeBox schema per format. The
// API documents these schemas (OpenAPI) and checkFormatOptions validates with
// them, so the documentation, GET /api/v1/formats and the check cannot disagree.
// `default` here documents what a left-out option means; nothing may fill it
// in, or saved options would change (decimals would override exactNumbers). So
// use FormatOptionsSchema in request bodies only: ajv ignores defaults inside
// its anyOf but fills them in for a format's schema used alone, and
// fast-json-stringify fills them into responses (and refuses unknown keys).

/** One of a few strings: JSON Schema `enum`, which OpenAPI shows as a list to pick from. */
const oneOf = <const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description: string; deprecated?: true },
) => Type.Enum(values, { type: 'string', ...options }) as TEnum<[...T]>;

/**
 * Text of at most `maxLength` characters as Ferry has always counted them, in
 * UTF-16 code units (String.length). JSON Schema's maxLength counts code points
 * (an emoji once, not twice), so alone it would admit longer text than before.
 */
function text(options: {
  maxLength: number;
  minLength?: number;
  pattern?: string;
  default?: string;
  description: string;
}) {
  return Type.Refine(Type.String(options), (v) => v.length <= options.maxLength);
}

const XML_NAME = {
  // Mirrors checkXmlName (text-formats.ts), which the encoder still applies.
  pattern: '^(?![Xx][Mm][Ll])[\\p{L}_][\\p{L}\\p{N}_.-]*$',
  rule: 'an XML element name: a letter or _, then letters, digits, _ . or -, not starting with "xml"',
};

/** What an option must be, in words, where its schema says it only as a pattern. */
export const patternRules: Record<string, string> = {
  delimiter: 'one character (not a quote or line break)',
  quote: 'one character (not a line break)',
  sheetName: '1 to 31 characters without [ ] : * ? / \\',
  rootElement: XML_NAME.rule,
  rowElement: XML_NAME.rule,
};

export const compressions = ['none', 'gzip', 'zip'] as const;
export type Compression = (typeof compressions)[number];

export const CompressionSchema = oneOf(compressions, {
  default: 'none',
  description: 'Compress the file: gzip adds .gz, zip puts the file in a .zip archive',
});

/** Options every format takes. */
export const commonOptions = {
  compression: Type.Optional(CompressionSchema),
  fileName: Type.Optional(
    text({
      maxLength: 200,
      description: "The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone",
    }),
  ),
};

const textOptions = (defaults: typeof defaultCsvOptions) => ({
  header: Type.Optional(
    Type.Boolean({ default: defaults.header, description: 'Write the column names as the first line' }),
  ),
  bom: Type.Optional(
    Type.Boolean({
      default: defaults.bom,
      description: 'Start with a UTF-8 byte order mark (helps Excel on Windows read accents)',
    }),
  ),
  lineEnding: Type.Optional(
    oneOf(['crlf', 'lf'], {
      default: defaults.lineEnding === '\r\n' ? 'crlf' : 'lf',
      description: 'Line breaks: crlf (Windows, RFC 4180) or lf (Unix)',
    }),
  ),
  nullText: Type.Optional(
    text({
      maxLength: 20,
      default: defaults.nullText,
      description: 'What an empty (NULL) value is written as',
    }),
  ),
  formulaProtection: Type.Optional(
    Type.Boolean({
      default: defaults.formulaProtection,
      description:
        'Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula',
    }),
  ),
});

const csvOwn = {
  delimiter: Type.Optional(
    text({
      minLength: 1,
      maxLength: 1,
      pattern: '^[^"\\r\\n]$',
      default: defaultCsvOptions.delimiter,
      description: 'The character between values, e.g. , or ; (German Excel)',
    }),
  ),
  quote: Type.Optional(
    text({
      minLength: 1,
      maxLength: 1,
      pattern: '^[^\\r\\n]$',
      default: defaultCsvOptions.quote,
      description: 'The character around values that contain the delimiter, a quote or a line break',
    }),
  ),
  ...textOptions(defaultCsvOptions),
};

/** A rule between options, which no single option's schema can say; `option` is the one blamed. */
interface CrossRule {
  option: string;
  rule: string;
  check(options: Record<string, unknown>): boolean;
}

export const crossRules: Partial<Record<ExportFormat, CrossRule[]>> = {
  csv: [
    {
      option: 'quote',
      rule: 'one character, not the delimiter',
      check: (o) =>
        o['quote'] === undefined || o['quote'] !== (o['delimiter'] ?? defaultCsvOptions.delimiter),
    },
  ],
};

function formatSchema<P extends Record<string, TSchema>>(format: ExportFormat, title: string, own: P) {
  const schema = Type.Object(
    { ...own, ...commonOptions },
    { title, description: `The options of format ${format}`, additionalProperties: false },
  );
  return (crossRules[format] ?? []).reduce(
    (refined, rule) => Type.Refine(refined, (v: unknown) => rule.check(v as Record<string, unknown>)),
    schema,
  );
}

const decimals = Type.Optional(
  oneOf(['number', 'string'], {
    default: defaultJsonOptions.exactNumbers,
    description:
      'Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly',
  }),
);
const jsonOwn = {
  decimals,
  exactNumbers: Type.Optional(
    oneOf(['number', 'string'], {
      deprecated: true,
      description: 'The earlier name of decimals, still accepted; decimals wins when both are given',
    }),
  ),
};

const xmlName = (fallback: string, description: string) =>
  Type.Optional(Type.String({ minLength: 1, pattern: XML_NAME.pattern, default: fallback, description }));

export const CsvOptionsSchema = formatSchema('csv', 'CsvOptions', csvOwn);
export const TsvOptionsSchema = formatSchema('tsv', 'TsvOptions', textOptions(defaultTsvOptions));
export const XlsxOptionsSchema = formatSchema('xlsx', 'XlsxOptions', {
  sheetName: Type.Optional(
    text({
      minLength: 1,
      maxLength: 31,
      pattern: '^(?!\\s*$)[^\\[\\]:*?/\\\\]+$',
      default: defaultXlsxOptions.sheetName,
      description: 'The worksheet name: 1 to 31 characters without [ ] : * ? / \\',
    }),
  ),
  exactDecimals: Type.Optional(
    Type.Boolean({
      default: defaultXlsxOptions.exactDecimals,
      description:
        'Write every decimal and big integer as text with all its digits. Off: numbers, except values a cell cannot hold exactly (more than 15 significant digits), which are text',
    }),
  ),
});
export const JsonOptionsSchema = formatSchema('json', 'JsonOptions', jsonOwn);
export const NdjsonOptionsSchema = formatSchema('ndjson', 'NdjsonOptions', jsonOwn);
export const XmlOptionsSchema = formatSchema('xml', 'XmlOptions', {
  rootElement: xmlName(defaultXmlOptions.rootElement, 'The name of the element around all rows'),
  rowElement: xmlName(defaultXmlOptions.rowElement, 'The name of the element of each row'),
});
export const PdfOptionsSchema = formatSchema('pdf', 'PdfOptions', {
  title: Type.Optional(
    text({ maxLength: 200, description: "The heading on the first page (default: the report's name)" }),
  ),
  landscape: Type.Optional(
    Type.Boolean({ default: false, description: 'Landscape pages, for reports with many columns' }),
  ),
  rowCap: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: DEFAULT_PDF_ROW_CAP,
      description: 'At most this many rows; a note says when rows were left out',
    }),
  ),
});

const periodParameter = (fallback: string, which: string) =>
  Type.Optional(
    text({
      minLength: 1,
      maxLength: 60,
      default: fallback,
      description: `The report's date parameter holding the period's ${which} day (a schedule sets it with relative dates such as start_of_last_month)`,
    }),
  );
const accountingOwn = {
  periodFrom: periodParameter('from', 'first'),
  periodTo: periodParameter('to', 'last'),
  mapping: Type.Optional(MappingSchema),
};

export const DatevOptionsSchema = formatSchema('datev', 'DatevOptions', {
  kind: Type.Optional(
    oneOf(['bookings', 'accounts'], {
      default: 'bookings',
      description:
        'bookings: Buchungsstapel (category 21, format 13) for the period; accounts: Debitoren/Kreditoren master data (category 16, format 5), one line per personal account, its mapping by friendly keys or DATEV column names',
    }),
  ),
  consultantNumber: Type.Integer({
    minimum: 1001,
    maximum: 9_999_999,
    description: 'Beraternummer: the tax advisor’s consultant number (1001–9999999)',
  }),
  clientNumber: Type.Integer({ minimum: 1, maximum: 99_999, description: 'Mandantennummer (1–99999)' }),
  fiscalYearStartMonth: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 12, default: 1, description: 'The month the fiscal year starts in' }),
  ),
  accountLength: Type.Optional(
    Type.Integer({
      minimum: 4,
      maximum: 8,
      default: 4,
      description: 'Sachkontenlänge: digits of a G/L account (personal accounts have one more)',
    }),
  ),
  chartOfAccounts: Type.Optional(
    text({
      maxLength: 2,
      pattern: '^\\d{2}$',
      description: 'Sachkontenrahmen, e.g. 03 (SKR03) or 04 (SKR04)',
    }),
  ),
  currency: Type.Optional(
    text({
      maxLength: 3,
      pattern: '^[A-Z]{3}$',
      default: 'EUR',
      description: 'The batch’s currency (ISO 4217)',
    }),
  ),
  batchName: Type.Optional(
    text({
      maxLength: 30,
      description: 'Bezeichnung of the batch, up to 30 characters (default: the report’s name)',
    }),
  ),
  dictationCode: Type.Optional(
    text({ maxLength: 2, pattern: '^[A-Za-z0-9]{0,2}$', description: 'Diktatkürzel: up to two letters' }),
  ),
  origin: Type.Optional(
    text({
      maxLength: 2,
      pattern: '^[A-Za-z0-9]{2}$',
      default: 'FY',
      description: 'Herkunft: two characters naming the source',
    }),
  ),
  exportedBy: Type.Optional(
    text({ maxLength: 25, default: 'Ferry', description: 'Exportiert von: who made the file' }),
  ),
  locked: Type.Optional(
    Type.Boolean({
      default: false,
      description: 'Festschreibung: the advisor may not change the bookings after import',
    }),
  ),
  tooLong: Type.Optional(
    oneOf(['fail', 'truncate'], {
      default: 'fail',
      description: 'Text longer than its DATEV field: fail the run naming the row, or cut it with a warning',
    }),
  ),
  ...accountingOwn,
});
export const BmdOptionsSchema = formatSchema('bmd', 'BmdOptions', {
  fields: Type.Optional(
    Type.Array(oneOf(BMD_FIELDS.map((f) => f.key) as [string, ...string[]], { description: 'A BMD field' }), {
      minItems: 1,
      maxItems: BMD_FIELDS.length,
      uniqueItems: true,
      default: [...BMD_DEFAULT_FIELDS],
      description: "The columns of the file, in order, as the installation's import profile expects them",
    }),
  ),
  encoding: Type.Optional(
    oneOf(['windows-1252', 'utf-8'], { default: 'windows-1252', description: 'The file’s character set' }),
  ),
  ...accountingOwn,
});

const companyText = (maxLength: number, description: string) =>
  text({ minLength: 1, maxLength, description });
export const SaftOptionsSchema = formatSchema('saft', 'SaftOptions', {
  variant: Type.Optional(
    oneOf(['NO'], {
      default: 'NO',
      description:
        'The national schema: NO, the Norwegian SAF-T Financial 1.30 (other variants are a new mapping)',
    }),
  ),
  companyName: companyText(70, 'Company: the name of the company the ledger is of'),
  registrationNumber: companyText(
    35,
    'Company: its registration number (Norway: the 9-digit organisation number)',
  ),
  streetName: Type.Optional(companyText(70, 'Company address: street')),
  city: companyText(35, 'Company address: city'),
  postalCode: companyText(9, 'Company address: postal code'),
  country: Type.Optional(
    text({
      maxLength: 2,
      pattern: '^[A-Z]{2}$',
      default: 'NO',
      description: 'Company address: ISO 3166 country code',
    }),
  ),
  contactFirstName: companyText(35, 'Contact person: first name'),
  contactLastName: companyText(70, 'Contact person: last name'),
  email: Type.Optional(companyText(70, 'Contact: e-mail address')),
  telephone: companyText(18, 'Contact: telephone number (SAF-T NO requires one)'),
  currency: Type.Optional(
    text({
      maxLength: 3,
      pattern: '^[A-Z]{3}$',
      default: 'NOK',
      description: 'DefaultCurrencyCode (ISO 4217)',
    }),
  ),
  groupingCategory: Type.Optional(
    companyText(
      256,
      'The accounts’ grouping category when the report has no grouping_category column (e.g. RF-1167)',
    ),
  ),
  journalId: Type.Optional(
    text({ maxLength: 18, default: 'GL', description: 'The journal the entries are in (JournalID)' }),
  ),
  ...accountingOwn,
});

export type CsvFormatOptions = Static<typeof CsvOptionsSchema>;
export type SaftFormatOptions = Static<typeof SaftOptionsSchema>;
export type DatevFormatOptions = Static<typeof DatevOptionsSchema>;
export type BmdFormatOptions = Static<typeof BmdOptionsSchema>;
export type TsvFormatOptions = Static<typeof TsvOptionsSchema>;
export type XlsxFormatOptions = Static<typeof XlsxOptionsSchema>;
export type JsonFormatOptions = Static<typeof JsonOptionsSchema>;
export type XmlFormatOptions = Static<typeof XmlOptionsSchema>;
export type PdfFormatOptions = Static<typeof PdfOptionsSchema>;

/** Each format's options schema, in the order formats are listed. */
export const formatOptionSchemas = {
  csv: CsvOptionsSchema,
  tsv: TsvOptionsSchema,
  xlsx: XlsxOptionsSchema,
  json: JsonOptionsSchema,
  ndjson: NdjsonOptionsSchema,
  xml: XmlOptionsSchema,
  pdf: PdfOptionsSchema,
  datev: DatevOptionsSchema,
  bmd: BmdOptionsSchema,
  saft: SaftOptionsSchema,
} satisfies Record<ExportFormat, TSchema>;

/** formatOptions in a request body: the options of its format (checkFormatOptions tells which, by `format`). */
export const FormatOptionsSchema = Type.Union(Object.values(formatOptionSchemas), {
  description:
    'The options of the chosen format (each format has its schema) plus compression and fileName, which every format takes. An option the format does not take is refused with a 400 naming it.',
});
