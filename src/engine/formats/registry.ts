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
// validated here so a bad one fails the request, not the run.

export const exportFormats = ['csv', 'tsv', 'xlsx', 'json', 'ndjson', 'xml', 'pdf'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface FormatSpec {
  extension: string;
  contentType: string;
  encoder: Encoder;
  /** CSV/TSV: the options, for the PostgreSQL COPY fast path that must produce the same bytes. */
  csv?: CsvOptions;
}

export class FormatOptionError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path} ${message}`);
    this.path = path;
  }
}

type Options = Record<string, unknown>;

function pick<T>(options: Options, key: string, check: (v: unknown) => v is T, rule: string, fallback: T): T {
  const v = options[key];
  if (v === undefined) return fallback;
  if (!check(v)) throw new FormatOptionError(`formatOptions.${key}`, rule);
  return v;
}
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isString = (v: unknown): v is string => typeof v === 'string';

/** One option of a format, as forms and GET /api/v1/formats describe it. */
export interface FormatOptionSpec {
  name: string;
  type: 'string' | 'boolean' | 'integer' | 'enum';
  /** enum: the values allowed. */
  values?: readonly string[];
  /** The value used when the option is left out (absent: depends on the export, e.g. the report's name). */
  default?: string | number | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  description: string;
}

const header: FormatOptionSpec = {
  name: 'header',
  type: 'boolean',
  default: defaultCsvOptions.header,
  description: 'Write the column names as the first line',
};
const bom: FormatOptionSpec = {
  name: 'bom',
  type: 'boolean',
  default: defaultCsvOptions.bom,
  description: 'Start with a UTF-8 byte order mark (helps Excel on Windows read accents)',
};
const lineEnding: FormatOptionSpec = {
  name: 'lineEnding',
  type: 'enum',
  values: ['crlf', 'lf'],
  default: defaultCsvOptions.lineEnding === '\r\n' ? 'crlf' : 'lf',
  description: 'Line breaks: crlf (Windows, RFC 4180) or lf (Unix)',
};
const nullText: FormatOptionSpec = {
  name: 'nullText',
  type: 'string',
  default: defaultCsvOptions.nullText,
  maxLength: 20,
  description: 'What an empty (NULL) value is written as',
};
const formulaProtection: FormatOptionSpec = {
  name: 'formulaProtection',
  type: 'boolean',
  default: defaultCsvOptions.formulaProtection,
  description:
    'Put an apostrophe before text starting with = + - @ so spreadsheets do not run it as a formula',
};
const decimals: FormatOptionSpec = {
  name: 'decimals',
  type: 'enum',
  values: ['number', 'string'],
  default: defaultJsonOptions.exactNumbers,
  description:
    'Exact decimals and big integers as JSON numbers with every digit (most JSON parsers round past 15-17 digits), or as strings that every reader keeps exactly',
};
/** The earlier name of `decimals`, still accepted in saved schedules and API calls. */
const LEGACY_OPTIONS: Partial<Record<ExportFormat, string[]>> = {
  json: ['exactNumbers'],
  ndjson: ['exactNumbers'],
};

/** Each format's own options (every format also takes the common ones: commonOptionSpecs). */
export const formatOptionSpecs: Record<ExportFormat, FormatOptionSpec[]> = {
  csv: [
    {
      name: 'delimiter',
      type: 'string',
      default: defaultCsvOptions.delimiter,
      minLength: 1,
      maxLength: 1,
      description: 'The character between values, e.g. , or ; (German Excel)',
    },
    {
      name: 'quote',
      type: 'string',
      default: defaultCsvOptions.quote,
      minLength: 1,
      maxLength: 1,
      description: 'The character around values that contain the delimiter, a quote or a line break',
    },
    header,
    bom,
    lineEnding,
    nullText,
    formulaProtection,
  ],
  tsv: [header, bom, lineEnding, nullText, formulaProtection],
  json: [decimals],
  ndjson: [decimals],
  xml: [
    {
      name: 'rootElement',
      type: 'string',
      default: defaultXmlOptions.rootElement,
      minLength: 1,
      description: 'The name of the element around all rows',
    },
    {
      name: 'rowElement',
      type: 'string',
      default: defaultXmlOptions.rowElement,
      minLength: 1,
      description: 'The name of the element of each row',
    },
  ],
  xlsx: [
    {
      name: 'sheetName',
      type: 'string',
      default: defaultXlsxOptions.sheetName,
      minLength: 1,
      maxLength: 31,
      description: 'The worksheet name: 1 to 31 characters without [ ] : * ? / \\',
    },
    {
      name: 'exactDecimals',
      type: 'boolean',
      default: defaultXlsxOptions.exactDecimals,
      description:
        'Write every decimal and big integer as text with all its digits. Off: numbers, except values a cell cannot hold exactly (more than 15 significant digits), which are text',
    },
  ],
  pdf: [
    {
      name: 'title',
      type: 'string',
      maxLength: 200,
      description: "The heading on the first page (default: the report's name)",
    },
    {
      name: 'landscape',
      type: 'boolean',
      default: false,
      description: 'Landscape pages, for reports with many columns',
    },
    {
      name: 'rowCap',
      type: 'integer',
      default: DEFAULT_PDF_ROW_CAP,
      minimum: 1,
      maximum: 100_000,
      description: 'At most this many rows; a note says when rows were left out',
    },
  ],
};

export const compressions = ['none', 'gzip', 'zip'] as const;

/** Options every format takes. */
export const commonOptionSpecs: FormatOptionSpec[] = [
  {
    name: 'compression',
    type: 'enum',
    values: compressions,
    default: 'none',
    description: 'Compress the file: gzip adds .gz, zip puts the file in a .zip archive',
  },
  {
    name: 'fileName',
    type: 'string',
    maxLength: 200,
    description: "The file name template: {report}, {run}, {ext}, {date:yyyy-MM-dd_HHmm} in the run's zone",
  },
];

const common = new Set(commonOptionSpecs.map((o) => o.name));
const allowed = Object.fromEntries(
  exportFormats.map((f) => [
    f,
    new Set([...formatOptionSpecs[f].map((o) => o.name), ...(LEGACY_OPTIONS[f] ?? [])]),
  ]),
) as Record<ExportFormat, Set<string>>;

export interface FormatContext {
  timeZone: string;
  /** For documents meant for people (PDF): what the export is and what it was run with. */
  title?: string;
  parameters?: Record<string, unknown>;
  generatedAt?: Date;
}

export function resolveFormat(
  format: ExportFormat,
  options: Options,
  context: FormatContext = { timeZone: 'UTC' },
): FormatSpec {
  for (const key of Object.keys(options)) {
    if (!allowed[format].has(key) && !common.has(key))
      throw new FormatOptionError(`formatOptions.${key}`, `is not an option of ${format}`);
  }
  switch (format) {
    case 'csv':
    case 'tsv': {
      const base = format === 'csv' ? defaultCsvOptions : defaultTsvOptions;
      const delimiter =
        format === 'csv'
          ? pick(
              options,
              'delimiter',
              (v): v is string => isString(v) && v.length === 1 && !/["\r\n]/.test(v),
              'must be one character (not a quote or line break)',
              base.delimiter,
            )
          : '\t';
      const quote = pick(
        options,
        'quote',
        (v): v is string => isString(v) && v.length === 1 && v !== delimiter && !/[\r\n]/.test(v),
        'must be one character, not the delimiter',
        base.quote,
      );
      const lineEnding = pick(
        options,
        'lineEnding',
        (v): v is 'crlf' | 'lf' => v === 'crlf' || v === 'lf',
        'must be "crlf" or "lf"',
        base.lineEnding === '\r\n' ? 'crlf' : 'lf',
      );
      const csv: CsvOptions = {
        delimiter,
        quote,
        header: pick(options, 'header', isBool, 'must be true or false', base.header),
        bom: pick(options, 'bom', isBool, 'must be true or false', base.bom),
        lineEnding: lineEnding === 'crlf' ? '\r\n' : '\n',
        nullText: pick(
          options,
          'nullText',
          (v): v is string => isString(v) && v.length <= 20,
          'must be text of at most 20 characters',
          base.nullText,
        ),
        formulaProtection: pick(
          options,
          'formulaProtection',
          isBool,
          'must be true or false',
          base.formulaProtection,
        ),
      };
      const encoder = csvEncoder(csv);
      return format === 'csv'
        ? { extension: 'csv', contentType: 'text/csv; charset=utf-8', encoder, csv }
        : { extension: 'tsv', contentType: 'text/tab-separated-values; charset=utf-8', encoder, csv };
    }
    case 'json':
    case 'ndjson': {
      const isChoice = (v: unknown): v is 'number' | 'string' => v === 'number' || v === 'string';
      const legacy = pick(
        options,
        'exactNumbers',
        isChoice,
        'must be "number" or "string"',
        defaultJsonOptions.exactNumbers,
      );
      const exactNumbers = pick(options, 'decimals', isChoice, 'must be "number" or "string"', legacy);
      return format === 'json'
        ? { extension: 'json', contentType: 'application/json', encoder: jsonEncoder({ exactNumbers }) }
        : {
            extension: 'ndjson',
            contentType: 'application/x-ndjson',
            encoder: ndjsonEncoder({ exactNumbers }),
          };
    }
    case 'xlsx': {
      const sheetName = pick(
        options,
        'sheetName',
        (v): v is string => isString(v) && v.trim().length > 0 && v.length <= 31 && !/[[\]:*?/\\]/.test(v),
        'must be 1 to 31 characters without [ ] : * ? / \\',
        defaultXlsxOptions.sheetName,
      );
      return {
        extension: 'xlsx',
        contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        encoder: xlsxEncoder({
          ...defaultXlsxOptions,
          sheetName,
          exactDecimals: pick(
            options,
            'exactDecimals',
            isBool,
            'must be true or false',
            defaultXlsxOptions.exactDecimals,
          ),
          timeZone: context.timeZone,
        }),
      };
    }
    case 'pdf': {
      const rowCap = pick(
        options,
        'rowCap',
        (v): v is number => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 100_000,
        'must be a whole number from 1 to 100000',
        DEFAULT_PDF_ROW_CAP,
      );
      return {
        extension: 'pdf',
        contentType: 'application/pdf',
        encoder: pdfEncoder({
          title: pick(
            options,
            'title',
            (v): v is string => isString(v) && v.length <= 200,
            'must be text of at most 200 characters',
            context.title ?? 'Export',
          ),
          parameters: context.parameters ?? {},
          generatedAt: context.generatedAt ?? new Date(),
          timeZone: context.timeZone,
          landscape: pick(options, 'landscape', isBool, 'must be true or false', false),
          rowCap,
        }),
      };
    }
    case 'xml': {
      const rootElement = pick(
        options,
        'rootElement',
        isString,
        'must be text',
        defaultXmlOptions.rootElement,
      );
      const rowElement = pick(options, 'rowElement', isString, 'must be text', defaultXmlOptions.rowElement);
      try {
        return {
          extension: 'xml',
          contentType: 'application/xml',
          encoder: xmlEncoder({ rootElement, rowElement }),
        };
      } catch (err) {
        throw new FormatOptionError('formatOptions', (err as Error).message);
      }
    }
  }
}

export type Compression = 'none' | 'gzip' | 'zip';

export function compressionOf(options: Options): Compression {
  const v = options['compression'];
  if (v === undefined || v === 'none') return 'none';
  if (v === 'gzip' || v === 'zip') return v;
  throw new FormatOptionError('formatOptions.compression', 'must be "none", "gzip" or "zip"');
}
