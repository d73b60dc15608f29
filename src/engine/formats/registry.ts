import { checkFormatOptions } from './option-check.ts';
import type {
  CsvFormatOptions,
  JsonFormatOptions,
  PdfFormatOptions,
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

export { checkFormatOptions, compressionOf, FormatOptionError } from './option-check.ts';
export { commonOptionSpecs, type FormatOptionSpec, formatOptionSpecs } from './option-specs.ts';
export { type Compression, compressions, FormatOptionsSchema, formatOptionSchemas } from './options.ts';

export const exportFormats = ['csv', 'tsv', 'xlsx', 'json', 'ndjson', 'xml', 'pdf'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface FormatSpec {
  extension: string;
  contentType: string;
  encoder: Encoder;
  /** CSV/TSV: the options, for the PostgreSQL COPY fast path that must produce the same bytes. */
  csv?: CsvOptions;
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
  }
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
