import type { Column, ColumnType, Value } from '../sources/types.ts';
import { instantText, isTextual, jsonReplacer, neutraliseFormula, textOf } from './values.ts';

// Streaming encoders for the text formats. Each turns batches of rows into
// strings of about FLUSH_CHARS, so memory holds one batch at a time and the
// caller's pipeline() applies backpressure.

export interface CsvOptions {
  delimiter: string;
  quote: string;
  header: boolean;
  bom: boolean;
  lineEnding: '\r\n' | '\n';
  nullText: string;
  formulaProtection: boolean;
}

export const defaultCsvOptions: CsvOptions = {
  delimiter: ',',
  quote: '"',
  header: true,
  bom: false,
  lineEnding: '\r\n',
  nullText: '',
  formulaProtection: true,
};
export const defaultTsvOptions: CsvOptions = { ...defaultCsvOptions, delimiter: '\t' };

/**
 * Encoders hand on their text in pieces of about this many characters rather than
 * one string per batch. V8 allocates a string above 128 KB (one batch of CSV,
 * JSON or XML is 170–350 KB) straight into the old generation, where it waits for
 * a full collection; smaller pieces die young. Measured at 10M rows: JSON's peak
 * RSS 160 -> 124 MB, and CSV 1M rows 340k -> 435k rows/s.
 */
export const FLUSH_CHARS = 32_768;

/** A batch's text, row by row, handed on in pieces of about FLUSH_CHARS characters. */
function* inPieces(batch: Value[][], rowText: (row: Value[]) => string): Generator<string> {
  let out = '';
  for (const row of batch) {
    out += rowText(row);
    if (out.length >= FLUSH_CHARS) {
      yield out;
      out = '';
    }
  }
  if (out) yield out;
}

/** Turns batches of rows into chunks of the file: text for text formats, bytes for binary ones. */
export type Encoder = (
  columns: Column[],
  batches: AsyncIterable<Value[][]>,
  /** Where a writer counts what it had to change in a value (a character its format cannot carry). */
  warnings?: ExportWarnings,
) => AsyncGenerator<string | Buffer>;

export interface ExportWarning {
  code: string;
  message: string;
  count: number;
}

/** What an export had to change, counted per kind: never dropped silently, shown with the run. */
export class ExportWarnings {
  private readonly byCode = new Map<string, ExportWarning>();

  add(code: string, message: string, count = 1): void {
    const known = this.byCode.get(code);
    if (known) known.count += count;
    else this.byCode.set(code, { code, message, count });
  }

  list(): ExportWarning[] {
    return [...this.byCode.values()];
  }
}

export const XML_REPLACED_WARNING =
  'characters that XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF) were replaced by U+FFFD';

export function csvEncoder(options: CsvOptions): Encoder {
  const { delimiter, quote, lineEnding, nullText } = options;
  const doubled = quote + quote;
  // Quoted when the text holds the delimiter, the quote or a line break, or equals the
  // NULL text (so no value is read back as NULL): PostgreSQL COPY's rules, which lets the
  // COPY fast path and this writer produce the same bytes.
  const needsQuotes = new RegExp(`[${escapeRegExp(delimiter + quote)}\\r\\n]`);
  const field = (text: string) =>
    needsQuotes.test(text) || text === nullText ? quote + text.replaceAll(quote, doubled) + quote : text;
  // Numbers, booleans, dates and times are made of digits, signs, "-:.T" and letters of
  // true/false/Infinity/NaN: they never need quoting unless the delimiter or quote is one of those.
  const plainIsSafe = !/[0-9A-Za-z.:+\- ]/.test(delimiter + quote);
  const plain = plainIsSafe ? (text: string) => (text === nullText ? field(text) : text) : field;
  // One formatter per column, chosen once: the per-value path does no type dispatch.
  const formatterFor = (type: ColumnType, textual: boolean): ((v: Value) => string) => {
    const protect = options.formulaProtection && textual;
    switch (type) {
      case 'integer':
      case 'float':
      case 'bigint':
      case 'decimal':
      case 'boolean':
      case 'date':
      case 'time':
      case 'timestamp':
        return (v) => plain(typeof v === 'string' ? v : textOf(v, type));
      case 'timestamptz':
        return (v) => plain(v instanceof Date ? instantText(v) : textOf(v, type));
      default:
        return (v) => {
          const text = textOf(v, type);
          return field(protect ? neutraliseFormula(text) : text);
        };
    }
  };
  // With a single column, a line holding just \. would read as COPY's end-of-data
  // marker, so it is quoted, as COPY quotes it.
  const endMarkerSafe =
    <T>(format: (v: T) => string) =>
    (v: T): string => {
      const text = format(v);
      return text === '\\.' ? quote + text + quote : text;
    };
  return async function* (columns, batches) {
    const lone = columns.length === 1;
    const name = lone ? endMarkerSafe(field) : field;
    let head = options.bom ? '\uFEFF' : '';
    if (options.header) head += columns.map((c) => name(c.name)).join(delimiter) + lineEnding;
    if (head) yield head;
    const formatters = columns.map((c) => {
      const format = formatterFor(c.type, isTextual(c.type));
      return lone ? endMarkerSafe(format) : format;
    });
    const width = formatters.length;
    const rowText = (row: Value[]) => {
      let out = '';
      for (let i = 0; i < width; i++) {
        const v = row[i]!;
        if (i > 0) out += delimiter;
        out += v === null ? nullText : formatters[i]!(v);
      }
      return out + lineEnding;
    };
    for await (const batch of batches) yield* inPieces(batch, rowText);
  };
}

export interface JsonOptions {
  /** Exact numbers (bigint, decimal) as JSON numbers (their exact digits) or as strings. */
  exactNumbers: 'number' | 'string';
}

export const defaultJsonOptions: JsonOptions = { exactNumbers: 'number' };

function jsonValue(value: Value, type: ColumnType, options: JsonOptions): string {
  if (value === null) return 'null';
  switch (type) {
    case 'bigint':
    case 'decimal': {
      const digits = String(value);
      // NaN/Infinity in a numeric column are not JSON numbers.
      return options.exactNumbers === 'number' && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(digits)
        ? digits
        : JSON.stringify(digits);
    }
    case 'integer':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value)
        ? String(value)
        : JSON.stringify(textOf(value, type));
    case 'boolean':
      return value ? 'true' : 'false';
    case 'json':
      return JSON.stringify(value, jsonReplacer);
    default:
      return JSON.stringify(textOf(value, type));
  }
}

function objectEncoder(columns: Column[], options: JsonOptions): (row: Value[]) => string {
  const keys = columns.map((c) => `${JSON.stringify(c.name)}:`);
  return (row) => {
    let out = '{';
    for (let i = 0; i < row.length; i++)
      out += (i > 0 ? ',' : '') + keys[i] + jsonValue(row[i]!, columns[i]!.type, options);
    return `${out}}`;
  };
}

/** JSON: one array of objects, streamed. */
export function jsonEncoder(options: JsonOptions): Encoder {
  return async function* (columns, batches) {
    const encode = objectEncoder(columns, options);
    let first = true;
    yield '[';
    const rowText = (row: Value[]) => {
      const text = `${first ? '\n' : ',\n'}${encode(row)}`;
      first = false;
      return text;
    };
    for await (const batch of batches) yield* inPieces(batch, rowText);
    yield first ? ']\n' : '\n]\n';
  };
}

/** NDJSON: one object per line. */
export function ndjsonEncoder(options: JsonOptions): Encoder {
  return async function* (columns, batches) {
    const encode = objectEncoder(columns, options);
    for await (const batch of batches) yield* inPieces(batch, (row) => `${encode(row)}\n`);
  };
}

export interface XmlOptions {
  rootElement: string;
  rowElement: string;
}

export const defaultXmlOptions: XmlOptions = { rootElement: 'rows', rowElement: 'row' };

// Characters XML 1.0 forbids: the C0 controls but tab, LF and CR; lone surrogates; U+FFFE/FFFF.
const XML_FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the forbidden control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const XML_SPECIAL = /[&<>"\r]/g;
const XML_ENTITY: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\r': '&#13;',
};

/**
 * Text for XML content or an attribute. A carriage return is written `&#13;`
 * (a parser turns a literal one into a line feed); a character XML 1.0 cannot
 * carry becomes U+FFFD, counted in `warnings`.
 */
export function escapeXml(text: string, warnings?: ExportWarnings): string {
  XML_FORBIDDEN.lastIndex = 0;
  const clean = XML_FORBIDDEN.test(text)
    ? text.replace(XML_FORBIDDEN, () => {
        warnings?.add('xml_replaced_characters', XML_REPLACED_WARNING);
        return '\uFFFD';
      })
    : text;
  return clean.replace(XML_SPECIAL, (c) => XML_ENTITY[c]!);
}

/** A valid, unique XML element name for each column ("Order #" → "Order__", "1st" → "_1st"). */
export function xmlNames(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    let n = name.normalize('NFC').replace(/[^\p{L}\p{N}_.-]/gu, '_');
    if (!/^[\p{L}_]/u.test(n) || /^xml/i.test(n)) n = `_${n}`;
    let unique = n;
    for (let i = 2; used.has(unique); i++) unique = `${n}_${i}`;
    used.add(unique);
    return unique;
  });
}

export function checkXmlName(name: string, option: string): string {
  if (!/^[\p{L}_][\p{L}\p{N}_.-]*$/u.test(name) || /^xml/i.test(name)) {
    throw new Error(`${option} "${name}" is not a valid XML element name`);
  }
  return name;
}

/** XML: <root><row><column>value</column>…</row>…</root>; NULL is an element with xsi:nil="true". */
export function xmlEncoder(options: XmlOptions): Encoder {
  const root = checkXmlName(options.rootElement, 'rootElement');
  const rowName = checkXmlName(options.rowElement, 'rowElement');
  return async function* (columns, batches, warnings) {
    const names = xmlNames(columns.map((c) => c.name));
    yield `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n`;
    const rowText = (row: Value[]) => {
      let out = `  <${rowName}>`;
      for (let i = 0; i < row.length; i++) {
        const v = row[i]!;
        const tag = names[i]!;
        out +=
          v === null
            ? `<${tag} xsi:nil="true"/>`
            : `<${tag}>${escapeXml(textOf(v, columns[i]!.type), warnings)}</${tag}>`;
      }
      return `${out}</${rowName}>\n`;
    };
    for await (const batch of batches) yield* inPieces(batch, rowText);
    yield `</${root}>\n`;
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}
