import { BMD_DEFAULT_FIELDS, BMD_FIELDS, bmdEncoder } from './accounting/bmd.ts';
import { DATEV_FIELDS, datevEncoder, fiscalYearsIn } from './accounting/datev.ts';
import { datevAccountsEncoder } from './accounting/datev-accounts.ts';
import type { FieldDefinition, Mapping } from './accounting/mapping.ts';
import { periodFrom } from './accounting/period.ts';
import { SAFT_FIELDS, saftEncoder, saftVariants } from './accounting/saft.ts';
import type { ExportFormat } from './names.ts';
import { checkFormatOptions } from './option-check.ts';
import type {
  BmdFormatOptions,
  CsvFormatOptions,
  DatevFormatOptions,
  JsonFormatOptions,
  PdfFormatOptions,
  SaftFormatOptions,
  TsvFormatOptions,
  XlsxFormatOptions,
  XmlFormatOptions,
} from './options.ts';
import { DEFAULT_PDF_ROW_CAP, pdfEncoder } from './pdf.ts';
import {
  type CsvOptions,
  csvEncoder,
  defaultCsvOptions,
  defaultJsonOptions,
  defaultTsvOptions,
  defaultXmlOptions,
  type Encoder,
  jsonEncoder,
  ndjsonEncoder,
  xmlEncoder,
} from './text-formats.ts';
import { defaultXlsxOptions, xlsxEncoder } from './xlsx.ts';

// The export formats Ferry writes and the options each accepts. Options are
// validated against the format's schema (options.ts) so a bad one fails the
// request, not the run.

export { type ExportFormat, exportFormats } from './names.ts';
export { checkFormatOptions, compressionOf, FormatOptionError } from './option-check.ts';
export { commonOptionSpecs, type FormatOptionSpec, formatOptionSpecs } from './option-specs.ts';
export { type Compression, compressions, FormatOptionsSchema, formatOptionSchemas } from './options.ts';

export interface FormatSpec {
  extension: string;
  contentType: string;
  encoder: Encoder;
  /** CSV/TSV: the options, for the PostgreSQL COPY fast path that must produce the same bytes. */
  csv?: CsvOptions;
  /** The file name template when the export names none (DATEV's files start with EXTF_). */
  fileName?: string;
}

export interface FormatContext {
  timeZone: string;
  /** For documents meant for people (PDF): what the export is and what it was run with. */
  title?: string;
  parameters?: Record<string, unknown>;
  generatedAt?: Date;
}

/** The writer for a format and its options; throws FormatOptionError naming the options at fault. */
export function resolveFormat(
  format: ExportFormat,
  options: Record<string, unknown>,
  context: FormatContext = { timeZone: 'UTC' },
): FormatSpec {
  checkFormatOptions(format, options);
  switch (format) {
    case 'csv':
    case 'tsv':
      return delimitedSpec(format, options);
    case 'json':
    case 'ndjson':
      return jsonSpec(format, options);
    case 'xlsx':
      return xlsxSpec(options, context);
    case 'pdf':
      return pdfSpec(options, context);
    case 'xml':
      return xmlSpec(options);
    case 'datev':
      return datevSpec(options as DatevFormatOptions, context);
    case 'bmd':
      return bmdSpec(options as BmdFormatOptions, context);
    case 'saft':
      return saftSpec(options as SaftFormatOptions, context);
  }
}

function saftSpec(options: SaftFormatOptions, context: FormatContext): FormatSpec {
  return {
    extension: accountingFacts.saft.extension,
    contentType: accountingFacts.saft.contentType,
    fileName: accountingFacts.saft.fileName,
    encoder: saftEncoder(
      {
        variant: saftVariants[options.variant ?? 'NO']!,
        company: {
          name: options.companyName,
          registrationNumber: options.registrationNumber,
          streetName: options.streetName,
          city: options.city,
          postalCode: options.postalCode,
          country: options.country ?? 'NO',
          contactFirstName: options.contactFirstName,
          contactLastName: options.contactLastName,
          email: options.email,
          telephone: options.telephone,
        },
        currency: options.currency ?? 'NOK',
        groupingCategory: options.groupingCategory,
        journal: { id: options.journalId ?? 'GL', description: 'General ledger', type: 'GL' },
        mapping: (options.mapping ?? {}) as Mapping,
      },
      {
        timeZone: context.timeZone,
        generatedAt: context.generatedAt ?? new Date(),
        period: periodOf(options, context),
      },
    ),
  };
}

const WINDOWS_1252_CSV = { extension: 'csv', contentType: 'text/csv; charset=windows-1252' } as const;

/** The accounting formats without options (their specs start from these); the others have no options they need. */
const accountingFacts = {
  datev: { ...WINDOWS_1252_CSV, fileName: 'EXTF_{report}_{date:yyyy-MM-dd}.{ext}', fields: DATEV_FIELDS },
  bmd: { ...WINDOWS_1252_CSV, fileName: 'BMD_{report}_{date:yyyy-MM-dd}.{ext}', fields: BMD_FIELDS },
  saft: {
    extension: 'xml',
    contentType: 'application/xml',
    fileName: 'SAF-T_{report}_{date:yyyy-MM-dd}.{ext}',
    fields: SAFT_FIELDS,
  },
} as const;

/** What a format is without options: its extension, content type and (accounting formats) the fields a mapping fills. */
export function formatFacts(format: ExportFormat): {
  extension: string;
  contentType: string;
  fileName?: string;
  fields?: readonly FieldDefinition[];
} {
  if (format === 'datev' || format === 'bmd' || format === 'saft') return accountingFacts[format];
  const spec = resolveFormat(format, {});
  return { extension: spec.extension, contentType: spec.contentType };
}

const periodOf = (options: { periodFrom?: string; periodTo?: string }, context: FormatContext) => () =>
  periodFrom(context.parameters, { from: options.periodFrom ?? 'from', to: options.periodTo ?? 'to' });

function datevSpec(options: DatevFormatOptions, context: FormatContext): FormatSpec {
  const settings = {
    consultantNumber: options.consultantNumber,
    clientNumber: options.clientNumber,
    fiscalYearStartMonth: options.fiscalYearStartMonth ?? 1,
    accountLength: options.accountLength ?? 4,
    chartOfAccounts: options.chartOfAccounts,
    currency: options.currency ?? 'EUR',
    batchName: (options.batchName ?? context.title ?? 'Buchungsstapel').slice(0, 30),
    dictationCode: options.dictationCode,
    origin: options.origin ?? 'FY',
    exportedBy: options.exportedBy ?? 'Ferry',
    locked: options.locked ?? false,
    tooLong: options.tooLong ?? 'fail',
    mapping: (options.mapping ?? {}) as Mapping,
  };
  const timing = { timeZone: context.timeZone, generatedAt: context.generatedAt ?? new Date() };
  const fileName = accountingFacts.datev.fileName;
  if (options.kind === 'accounts')
    return { ...WINDOWS_1252_CSV, fileName, encoder: datevAccountsEncoder(settings, timing) };
  const encoder = datevEncoder(settings, { ...timing, period: periodOf(options, context) });
  // A period across a fiscal year's end makes one file per year, in a zip archive.
  if (spansFiscalYears(options, context, settings.fiscalYearStartMonth))
    return { extension: 'zip', contentType: 'application/zip', fileName, encoder };
  return { ...WINDOWS_1252_CSV, fileName, encoder };
}

function spansFiscalYears(
  options: { periodFrom?: string; periodTo?: string },
  context: FormatContext,
  startMonth: number,
): boolean {
  try {
    return fiscalYearsIn(periodOf(options, context)(), startMonth).length > 1;
  } catch {
    // No period yet (options checked before a run): the writer says what is missing when it runs.
    return false;
  }
}

function bmdSpec(options: BmdFormatOptions, context: FormatContext): FormatSpec {
  const encoding = options.encoding ?? 'windows-1252';
  return {
    extension: accountingFacts.bmd.extension,
    contentType: `text/csv; charset=${encoding}`,
    fileName: accountingFacts.bmd.fileName,
    encoder: bmdEncoder(
      { fields: options.fields ?? BMD_DEFAULT_FIELDS, encoding, mapping: (options.mapping ?? {}) as Mapping },
      { timeZone: context.timeZone, period: periodOf(options, context) },
    ),
  };
}

function delimitedSpec(format: 'csv' | 'tsv', options: CsvFormatOptions | TsvFormatOptions): FormatSpec {
  const base = format === 'csv' ? defaultCsvOptions : defaultTsvOptions;
  const own: CsvFormatOptions = options;
  const lineEnding = options.lineEnding ?? (base.lineEnding === '\r\n' ? 'crlf' : 'lf');
  const csv: CsvOptions = {
    // TSV's delimiter is the tab; its schema has neither delimiter nor quote.
    delimiter: own.delimiter ?? base.delimiter,
    quote: own.quote ?? base.quote,
    header: options.header ?? base.header,
    bom: options.bom ?? base.bom,
    lineEnding: lineEnding === 'crlf' ? '\r\n' : '\n',
    nullText: options.nullText ?? base.nullText,
    formulaProtection: options.formulaProtection ?? base.formulaProtection,
  };
  const encoder = csvEncoder(csv);
  return format === 'csv'
    ? { extension: 'csv', contentType: 'text/csv; charset=utf-8', encoder, csv }
    : { extension: 'tsv', contentType: 'text/tab-separated-values; charset=utf-8', encoder, csv };
}

function jsonSpec(format: 'json' | 'ndjson', options: JsonFormatOptions): FormatSpec {
  // exactNumbers is the earlier name of decimals.
  const exactNumbers = options.decimals ?? options.exactNumbers ?? defaultJsonOptions.exactNumbers;
  return format === 'json'
    ? { extension: 'json', contentType: 'application/json', encoder: jsonEncoder({ exactNumbers }) }
    : { extension: 'ndjson', contentType: 'application/x-ndjson', encoder: ndjsonEncoder({ exactNumbers }) };
}

function xlsxSpec(options: XlsxFormatOptions, context: FormatContext): FormatSpec {
  return {
    extension: 'xlsx',
    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    encoder: xlsxEncoder({
      ...defaultXlsxOptions,
      sheetName: options.sheetName ?? defaultXlsxOptions.sheetName,
      exactDecimals: options.exactDecimals ?? defaultXlsxOptions.exactDecimals,
      timeZone: context.timeZone,
    }),
  };
}

function pdfSpec(options: PdfFormatOptions, context: FormatContext): FormatSpec {
  return {
    extension: 'pdf',
    contentType: 'application/pdf',
    encoder: pdfEncoder({
      title: options.title ?? context.title ?? 'Export',
      parameters: context.parameters ?? {},
      generatedAt: context.generatedAt ?? new Date(),
      timeZone: context.timeZone,
      landscape: options.landscape ?? false,
      rowCap: options.rowCap ?? DEFAULT_PDF_ROW_CAP,
    }),
  };
}

function xmlSpec(options: XmlFormatOptions): FormatSpec {
  // The schema's pattern admits only names xmlEncoder accepts, so it does not throw here.
  const encoder = xmlEncoder({
    rootElement: options.rootElement ?? defaultXmlOptions.rootElement,
    rowElement: options.rowElement ?? defaultXmlOptions.rowElement,
  });
  return { extension: 'xml', contentType: 'application/xml', encoder };
}
