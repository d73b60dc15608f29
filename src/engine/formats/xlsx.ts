import { type LocalDateTime, localPartsIn } from '../../lib/zoned-time.ts';
import type { Column, ColumnType, Value } from '../sources/types.ts';
import { type Encoder, type ExportWarnings, escapeXml, FLUSH_CHARS } from './text-formats.ts';
import { textOf } from './values.ts';
import { ZipStream } from './zip-stream.ts';

// A streaming XLSX (SpreadsheetML) writer. Rows go into the sheet XML as they
// arrive, with inline strings (no shared-string table that grows with the data),
// through ZipStream, which deflates on the thread pool in parallel blocks and
// switches to ZIP64 past 4 GB. Real cell types: numbers, booleans, dates and times as serial
// numbers with a number format, text as text (never a formula). A bold, frozen
// header with an autofilter; widths from the first rows; past 1,048,576 rows the
// export continues on a new sheet.

export interface XlsxOptions {
  sheetName: string;
  /** Wall-clock zone for instants (Excel has no time zones). */
  timeZone: string;
  /** Data rows per sheet; Excel's limit is 1,048,576 rows including the header. */
  maxRowsPerSheet: number;
  /**
   * Every decimal and big integer as text with all its digits, so each such column
   * has one type. Off: numbers, and text only for values a cell cannot hold exactly.
   */
  exactDecimals: boolean;
}

export const defaultXlsxOptions: XlsxOptions = {
  sheetName: 'Export',
  timeZone: 'UTC',
  maxRowsPerSheet: 1_048_575,
  exactDecimals: false,
};

const MAX_CELL_TEXT = 32_767;
const EXCEL_EPOCH = Date.UTC(1899, 11, 30);
const FIRST_SAFE_SERIAL_DAY = Date.UTC(1900, 2, 1); // before this, Excel's 1900 leap-year bug shifts serials
// Date-times and times with a fraction of a second get a number format that shows
// milliseconds (a cell holds about that much); whole seconds keep the short one.
const STYLE = { header: 1, date: 2, datetime: 3, time: 4, datetimeMs: 5, timeMs: 6 } as const;

export function sheetNameOf(name: string): string {
  const clean = name
    .replace(/[[\]:*?/\\]/g, ' ')
    .trim()
    .slice(0, 31);
  return clean || 'Export';
}

function serial(year: number, month: number, day: number, seconds: number): number | null {
  const ms = Date.UTC(year, month - 1, day);
  if (Number.isNaN(ms) || ms < FIRST_SAFE_SERIAL_DAY || year > 9999) return null;
  return (ms - EXCEL_EPOCH) / 86_400_000 + seconds / 86_400;
}

function parseLocal(text: string): { y: number; mo: number; d: number; secs: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?$/.exec(text);
  if (!m) return null;
  const secs = Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0) + Number(m[7] ?? 0);
  return { y: Number(m[1]), mo: Number(m[2]), d: Number(m[3]), secs };
}

// OOXML strings (ECMA-376 Part 1, 22.9.2.19 ST_Xstring) carry any UTF-16 code unit
// as _xHHHH_: control characters and the carriage return (which XML would turn
// into a line feed) are written so, and a literal "_xHHHH_" in the data has its
// underscore escaped (_x005F_) so a reader does not decode it.
const OOXML_ESCAPED =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is escaped
  /_(?=x[0-9A-Fa-f]{4}_)|[\u0000-\u0008\u000B-\u001F\uFFFE\uFFFF]/g;
const hex4 = (c: string) => c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');

export function ooxmlText(text: string): string {
  OOXML_ESCAPED.lastIndex = 0;
  return OOXML_ESCAPED.test(text) ? text.replace(OOXML_ESCAPED, (c) => `_x${hex4(c)}_`) : text;
}

// Every cell carries its reference (r="B7"): optional in the standard, required by some readers.
// Lone surrogates are the only characters left that XML cannot carry: replaced and counted in `warnings`.
const inline = (ref: string, text: string, style = '', warnings?: ExportWarnings) =>
  `<c r="${ref}" t="inlineStr"${style}><is><t xml:space="preserve">${escapeXml(ooxmlText(text.length > MAX_CELL_TEXT ? text.slice(0, MAX_CELL_TEXT) : text), warnings)}</t></is></c>`;
const num = (ref: string, n: number, style = '') => `<c r="${ref}"${style}><v>${n}</v></c>`;

// Excel keeps 15 significant digits: exact decimals beyond that stay text, not a
// rounded number. A plain loop: this runs for every decimal cell.
function exactNumber(text: string): boolean {
  let i = text.charCodeAt(0) === 45 ? 1 : 0; // "-"
  if (i >= text.length) return false;
  let digits = 0;
  let leading = true;
  let dot = -1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      // One ".", with digits on both sides.
      if (dot !== -1 || i === 0 || text.charCodeAt(i - 1) === 45 || i === text.length - 1) return false;
      dot = i;
      continue;
    }
    if (c < 48 || c > 57) return false;
    if (leading && c === 48) continue;
    leading = false;
    digits++;
  }
  return digits <= 15;
}

/**
 * What follows the reference in a date cell, by the date's text: a column of dates
 * repeats few values, and parsing each again was a tenth of an export's time.
 * Bounded; emptied when full.
 */
type DateCells = Map<string, string | null>;
const MAX_DATE_CELLS = 4096;

function dateCell(ref: string, value: string, dates: DateCells): string | null {
  let tail = dates.get(value);
  if (tail === undefined) {
    const p = parseLocal(value);
    const s = p ? serial(p.y, p.mo, p.d, 0) : null;
    tail = s === null ? null : `" s="${STYLE.date}"><v>${s}</v></c>`;
    if (dates.size >= MAX_DATE_CELLS) dates.clear();
    dates.set(value, tail);
  }
  return tail === null ? null : `<c r="${ref}${tail}`;
}

function cell(
  ref: string,
  value: Value,
  type: ColumnType,
  partsOf: (d: Date) => LocalDateTime,
  dates: DateCells,
  warnings?: ExportWarnings,
): string {
  if (value === null) return '';
  switch (type) {
    case 'integer':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value)
        ? num(ref, value)
        : inline(ref, textOf(value, type), '', warnings);
    case 'bigint':
    case 'decimal': {
      const text = String(value);
      return exactNumber(text) ? num(ref, Number(text)) : inline(ref, text, '', warnings);
    }
    case 'boolean':
      return `<c r="${ref}" t="b"><v>${value ? 1 : 0}</v></c>`;
    case 'date':
      return (
        (typeof value === 'string' ? dateCell(ref, value, dates) : null) ??
        inline(ref, textOf(value, type), '', warnings)
      );
    case 'timestamp': {
      const p = typeof value === 'string' ? parseLocal(value) : null;
      const s = p ? serial(p.y, p.mo, p.d, p.secs) : null;
      const style = p && p.secs % 1 !== 0 ? STYLE.datetimeMs : STYLE.datetime;
      return s === null ? inline(ref, textOf(value, type), '', warnings) : num(ref, s, ` s="${style}"`);
    }
    case 'timestamptz': {
      if (!(value instanceof Date)) return inline(ref, textOf(value, type), '', warnings);
      const p = partsOf(value);
      const milli = ((value.getTime() % 1000) + 1000) % 1000;
      const s = serial(p.year, p.month, p.day, p.hour * 3600 + p.minute * 60 + p.second + milli / 1000);
      return s === null
        ? inline(ref, textOf(value, type), '', warnings)
        : num(ref, s, ` s="${milli === 0 ? STYLE.datetime : STYLE.datetimeMs}"`);
    }
    case 'time': {
      const m = typeof value === 'string' ? /^(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value) : null;
      return m
        ? num(
            ref,
            (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) / 86_400,
            ` s="${Number(m[3]) % 1 === 0 ? STYLE.time : STYLE.timeMs}"`,
          )
        : inline(ref, textOf(value, type), '', warnings);
    }
    default:
      return inline(ref, textOf(value, type), '', warnings);
  }
}

function columnLetter(index: number): string {
  let n = index + 1;
  let s = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

function widths(columns: Column[], sample: Value[][]): number[] {
  return columns.map((c, i) => {
    let w = c.name.length + 2;
    if (c.type === 'date') w = Math.max(w, 12);
    if (c.type === 'timestamp' || c.type === 'timestamptz') w = Math.max(w, 20);
    for (const row of sample.slice(0, 200)) {
      const v = row[i];
      if (
        v !== null &&
        v !== undefined &&
        c.type !== 'date' &&
        c.type !== 'timestamp' &&
        c.type !== 'timestamptz'
      )
        w = Math.max(w, Math.min(textOf(v, c.type).length + 2, 60));
    }
    return Math.min(Math.max(w, 8), 60);
  });
}

const CONTENT_TYPES = (sheets: number) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>${Array.from({ length: sheets }, (_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`).join('')}</Types>`;
const ROOT_RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`;
const STYLES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="5"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/><numFmt numFmtId="166" formatCode="hh:mm:ss"/><numFmt numFmtId="167" formatCode="yyyy-mm-dd hh:mm:ss.000"/><numFmt numFmtId="168" formatCode="hh:mm:ss.000"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="168" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>`;

function workbook(names: string[], lastRows: number[], lastColumn: string): string {
  const sheets = names
    .map((n, i) => `<sheet name="${escapeXml(n)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`)
    .join('');
  const filters = names
    .map(
      (n, i) =>
        `<definedName name="_xlnm._FilterDatabase" localSheetId="${i}" hidden="1">'${escapeXml(n.replaceAll("'", "''"))}'!$A$1:$${lastColumn}$${Math.max(1, lastRows[i]!)}</definedName>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>${sheets}</sheets><definedNames>${filters}</definedNames></workbook>`;
}

function workbookRels(count: number): string {
  const sheets = Array.from(
    { length: count },
    (_, i) =>
      `<Relationship Id="rId${i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`,
  ).join('');
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${sheets}<Relationship Id="rId${count + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`;
}

const colsXml = (w: number[]) =>
  `<cols>${w.map((width, i) => `<col min="${i + 1}" max="${i + 1}" width="${width}" customWidth="1"/>`).join('')}</cols>`;

export function xlsxEncoder(options: XlsxOptions): Encoder {
  return async function* (columns, batches, warnings) {
    const zip = new ZipStream();
    const baseName = sheetNameOf(options.sheetName);
    const lastColumn = columnLetter(Math.max(0, columns.length - 1));
    // exactDecimals: decimal and big integer columns are text throughout (one type per column).
    const types = columns.map((c) =>
      options.exactDecimals && (c.type === 'decimal' || c.type === 'bigint') ? 'string' : c.type,
    );
    const letters = columns.map((_, i) => columnLetter(i));
    const partsOf = localPartsIn(options.timeZone);
    const dates: DateCells = new Map();
    const names: string[] = [];
    const lastRows: number[] = [];
    let cols = '';

    const rows = batches[Symbol.asyncIterator]();
    // Rows of a batch that did not fit on the sheet before (past 1,048,576 rows).
    let carried: Value[][] | null = null;
    let ended = false;
    const nextRows = async (): Promise<Value[][] | null> => {
      if (carried) {
        const batch = carried;
        carried = null;
        return batch;
      }
      const next = await rows.next();
      return next.done ? null : next.value;
    };

    // One sheet's XML: the rows until the sheet is full or the rows end.
    async function* sheetXml(): AsyncGenerator<string> {
      let batch = await nextRows();
      cols ||= colsXml(widths(columns, batch ?? []));
      yield `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>${cols}<sheetData><row r="1">${columns.map((c, i) => inline(`${letters[i]}1`, c.name, ` s="${STYLE.header}"`, warnings)).join('')}</row>`;
      let rowInSheet = 1;
      let out = '';
      while (batch) {
        let i = 0;
        for (; i < batch.length; i++) {
          if (rowInSheet > options.maxRowsPerSheet) break;
          rowInSheet++;
          const row = batch[i]!;
          const r = String(rowInSheet);
          out += `<row r="${r}">`;
          for (let c = 0; c < row.length; c++)
            out += cell(letters[c]! + r, row[c]!, types[c]!, partsOf, dates, warnings);
          out += '</row>';
          if (out.length >= FLUSH_CHARS) {
            yield out;
            out = '';
          }
        }
        if (i < batch.length) {
          carried = batch.slice(i);
          break;
        }
        batch = await nextRows();
      }
      if (!batch) ended = true;
      lastRows.push(rowInSheet);
      yield `${out}</sheetData><autoFilter ref="A1:${lastColumn}${rowInSheet}"/></worksheet>`;
    }

    try {
      do {
        names.push(
          names.length === 0 ? baseName : sheetNameOf(`${baseName.slice(0, 25)} (${names.length + 1})`),
        );
        yield* zip.entry(`xl/worksheets/sheet${names.length}.xml`, sheetXml());
      } while (!ended);
      yield* zip.entry('xl/workbook.xml', [workbook(names, lastRows, lastColumn)]);
      yield* zip.entry('xl/_rels/workbook.xml.rels', [workbookRels(names.length)]);
      yield* zip.entry('xl/styles.xml', [STYLES]);
      yield* zip.entry('_rels/.rels', [ROOT_RELS]);
      yield* zip.entry('[Content_Types].xml', [CONTENT_TYPES(names.length)]);
      yield zip.finish();
    } finally {
      // Stopped early (an error downstream, a limit, a cancel): the rows' source is let go too.
      if (!ended) await rows.return?.();
    }
  };
}
