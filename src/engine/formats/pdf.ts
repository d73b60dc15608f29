import { setImmediate as nextTick } from 'node:timers/promises';
import type { Column, ColumnType, Value } from '../sources/types.ts';
import { fontStack } from './pdf-fonts.ts';
import { type ColumnNeed, planTable, type TablePlan } from './pdf-layout.ts';
import { type PdfkitInternals, PdfText } from './pdf-text.ts';
import type { Encoder } from './text-formats.ts';
import { textOf } from './values.ts';

// PDF for people, not machines: a title, every parameter the report ran with,
// when it was generated (in the tenant's zone), and a table whose header
// repeats on every page, with page numbers. Every value is shown whole: column
// widths come from the first batch's values, text wraps, numbers and dates
// never wrap or shorten (a later, longer one is squeezed horizontally), and a
// table too wide for a portrait page goes landscape, then into bands of columns
// that repeat the first column. Pages are flushed as they fill (no page
// buffering), so memory stays flat; still, PDF is capped (default 10,000 rows)
// and the document says so when the cap is hit.

export interface PdfOptions {
  title: string;
  /** Every parameter the report ran with, defaults and resolved relative dates included. */
  parameters: Record<string, unknown>;
  generatedAt: Date;
  timeZone: string;
  /** Landscape even when the table fits a portrait page. */
  landscape: boolean;
  rowCap: number;
}

export const DEFAULT_PDF_ROW_CAP = 10_000;

export const PDF_REPLACED_WARNING =
  'characters that no embedded font can draw (or control characters) were shown as � in the PDF';

const MARGIN = 36;
const A4 = { short: 595.28, long: 841.89 };
const FONT_SIZE = 8;
const LINE = 10;
const PAD_X = 3;
const PAD_Y = 2.5;
/** Text columns wider than this wrap rather than widen the table. */
const MAX_TEXT_WIDTH = 260;
const MIN_TEXT_WIDTH = 56;
const NUMERIC = new Set<ColumnType>(['integer', 'bigint', 'decimal', 'float']);
/** Values that are read as one token: never broken at spaces, never shortened. */
const UNBROKEN = new Set<ColumnType>([
  ...NUMERIC,
  'boolean',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'uuid',
]);

function formatLocal(at: Date, timeZone: string): string {
  return `${new Intl.DateTimeFormat('en-CA', { timeZone, dateStyle: 'short', timeStyle: 'medium', hourCycle: 'h23' }).format(at)} (${timeZone})`;
}

function parameterText(value: unknown): string {
  if (value === null || value === undefined) return '(none)';
  if (Array.isArray(value)) return value.map(parameterText).join(', ');
  if (value instanceof Date) return textOf(value, 'timestamptz');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

const cellText = (v: Value, type: ColumnType) => (v === null || v === undefined ? '' : textOf(v, type));

/** A row (or the part of a tall row) placed on a page: each column's lines from..to. */
interface Placed {
  cells: string[][];
  from: number;
  to: number;
}

export function pdfEncoder(options: PdfOptions): Encoder {
  return async function* (columns, batches, warnings) {
    // Loaded on first use: pdfkit and its font engine are ~25 MB of memory that
    // no other format needs.
    const { default: PDFDocument } = await import('pdfkit');
    const doc = new PDFDocument({
      size: 'A4',
      margin: MARGIN,
      bufferPages: false,
      autoFirstPage: false,
      fontLayoutCache: false,
      info: { Title: options.title, Producer: 'Ferry' },
    });
    const raw = doc as unknown as PdfkitInternals;
    const text = new PdfText(raw, fontStack());

    const producing = (async () => {
      const input = batches[Symbol.asyncIterator]();
      const first = await input.next();
      const sample = first.done ? [] : first.value;
      const plan = planColumns(text, columns, sample, options.landscape);
      const table = new TableWriter(doc, text, columns, plan, options);
      table.titleBlock();
      let shown = 0;
      let capped = false;
      let batch: Value[][] | null = first.done ? null : first.value;
      while (batch) {
        if (doc.destroyed) return;
        for (const row of batch) {
          if (shown >= options.rowCap) {
            capped = true;
            break;
          }
          table.addRow(row);
          shown++;
        }
        if (capped) break;
        // Let the consumer take the finished pages before drawing more.
        while (doc.readableLength > 1 << 20 && !doc.destroyed) await nextTick();
        if (doc.destroyed) return;
        const next = await input.next();
        batch = next.done ? null : next.value;
      }
      if (capped) await input.return?.();
      const summary = capped
        ? `This PDF shows the first ${options.rowCap.toLocaleString('en')} rows; the report has more. Export it as CSV or XLSX for every row.`
        : `${shown.toLocaleString('en')} row${shown === 1 ? '' : 's'}.`;
      table.finish(summary);
      if (text.replaced > 0) warnings?.add('pdf_replaced_characters', PDF_REPLACED_WARNING, text.replaced);
      doc.end();
    })().catch((err: unknown) => doc.destroy(err as Error));

    try {
      for await (const chunk of doc as AsyncIterable<Buffer>) yield chunk;
    } finally {
      // Stopped early: the producer sees the destroyed document and ends.
      if (!doc.readableEnded) doc.destroy();
      await producing;
    }
  };
}

/** Column widths and page orientation from the header and the sampled rows' values. */
function planColumns(text: PdfText, columns: Column[], sample: Value[][], landscape: boolean): TablePlan {
  const needs: ColumnNeed[] = columns.map((c, i) => {
    const header = text.measure(c.name, FONT_SIZE, true);
    let values = 0;
    for (const row of sample) {
      const v = cellText(row[i]!, c.type);
      if (v.length === 0) continue;
      for (const line of UNBROKEN.has(c.type) ? [v] : v.split(/\r\n|[\r\n]/))
        values = Math.max(values, text.measure(line, FONT_SIZE));
    }
    // Room for one more digit than the widest sampled value: later rows are often a little longer.
    if (UNBROKEN.has(c.type) && values > 0) values += text.measure('0', FONT_SIZE);
    if (UNBROKEN.has(c.type))
      return {
        natural: Math.max(values, header) + 2 * PAD_X,
        minimum: Math.max(values, Math.min(header, 48)) + 2 * PAD_X,
      };
    const natural = Math.min(Math.max(values, header), MAX_TEXT_WIDTH) + 2 * PAD_X;
    return {
      natural,
      minimum: Math.min(natural, Math.max(Math.min(header, 48), MIN_TEXT_WIDTH) + 2 * PAD_X),
    };
  });
  return planTable(needs, { portrait: A4.short - 2 * MARGIN, landscape: A4.long - 2 * MARGIN }, landscape);
}

type Doc = PDFKit.PDFDocument;

/** Draws the table page by page: rows wait until their page is full, then each band of columns is drawn. */
class TableWriter {
  private page = 0;
  private pending: Placed[] = [];
  private y: number;
  private readonly headerLines: string[][];
  private readonly headerHeight: number;
  private readonly width: number;
  private readonly height: number;
  private readonly doc: Doc;
  private readonly text: PdfText;
  private readonly columns: Column[];
  private readonly plan: TablePlan;
  private readonly options: PdfOptions;

  constructor(doc: Doc, text: PdfText, columns: Column[], plan: TablePlan, options: PdfOptions) {
    this.doc = doc;
    this.text = text;
    this.columns = columns;
    this.plan = plan;
    this.options = options;
    this.width = plan.landscape ? A4.long : A4.short;
    this.height = plan.landscape ? A4.short : A4.long;
    this.headerLines = columns.map((c, i) => text.wrap(c.name, plan.widths[i]! - 2 * PAD_X, FONT_SIZE, true));
    this.headerHeight = Math.max(1, ...this.headerLines.map((l) => l.length)) * LINE + 2 * PAD_Y;
    this.y = MARGIN;
  }

  private get usable(): number {
    return this.width - 2 * MARGIN;
  }

  private get bottom(): number {
    return this.height - MARGIN;
  }

  private newPage(): void {
    this.doc.addPage({ size: 'A4', layout: this.plan.landscape ? 'landscape' : 'portrait', margin: MARGIN });
    this.text.startPage();
    this.page++;
  }

  /** Title, when it was generated, every parameter: at the top of the first page. */
  titleBlock(): void {
    this.newPage();
    const ops: string[] = [this.text.startText()];
    let y = MARGIN;
    for (const line of this.text.wrap(this.options.title, this.usable, 14, true)) {
      ops.push(this.text.line(line, MARGIN, y, this.usable, 14, { bold: true }));
      y += 18;
    }
    y += 2;
    const facts = [`Generated ${formatLocal(this.options.generatedAt, this.options.timeZone)}`];
    const params = Object.entries(this.options.parameters);
    if (params.length > 0)
      facts.push(`Parameters: ${params.map(([k, v]) => `${k} = ${parameterText(v)}`).join('; ')}`);
    if (this.plan.bands.length > 1)
      facts.push(
        `The table has ${this.columns.length} columns: each page of rows is shown in ${this.plan.bands.length} pages of columns, each starting with ${this.columns[0]!.name}.`,
      );
    for (const fact of facts)
      for (const line of this.text.wrap(fact, this.usable, FONT_SIZE)) {
        ops.push(this.text.line(line, MARGIN, y, this.usable, FONT_SIZE));
        y += LINE;
      }
    ops.push('ET');
    this.doc.addContent(ops.join(''));
    this.y = y + 8 + this.headerHeight;
  }

  addRow(row: Value[]): void {
    const cells = this.columns.map((c, i) => {
      const v = cellText(row[i]!, c.type);
      const room = this.plan.widths[i]! - 2 * PAD_X;
      // A number or date longer than any in the sample is narrowed to fit (see line()):
      // one token, read whole, never on two lines.
      return UNBROKEN.has(c.type) ? [v] : this.text.wrap(v, room, FONT_SIZE);
    });
    let lines = 1;
    for (const c of cells) if (c.length > lines) lines = c.length;
    let from = 0;
    while (from < lines) {
      const room = Math.floor((this.bottom - this.y - 2 * PAD_Y) / LINE);
      if (lines - from <= room) {
        this.pending.push({ cells, from, to: lines });
        this.y += (lines - from) * LINE + 2 * PAD_Y;
        return;
      }
      // A row that fits a fresh page starts one; a taller one continues over pages.
      const fresh = Math.floor((this.bottom - MARGIN - this.headerHeight - 2 * PAD_Y) / LINE);
      if (room < 1 || (this.pending.length > 0 && lines - from <= fresh)) {
        this.flushPage();
        continue;
      }
      this.pending.push({ cells, from, to: from + room });
      from += room;
      this.flushPage();
    }
  }

  /** Draws the waiting rows: one page per band of columns. */
  private flushPage(summary?: string): void {
    const top = this.y - this.pending.reduce((s, p) => s + (p.to - p.from) * LINE + 2 * PAD_Y, 0);
    for (const [b, band] of this.plan.bands.entries()) {
      if (b > 0 || this.pageDrawn) this.newPage();
      const xs: number[] = [];
      let x = MARGIN;
      for (const c of band) {
        xs.push(x);
        x += this.plan.widths[c]!;
      }
      const right = x;
      const ops: string[] = [];
      let y = b > 0 ? MARGIN : top - this.headerHeight;
      // Header.
      ops.push(this.text.startText());
      band.forEach((c, k) => {
        this.headerLines[c]!.forEach((line, n) => {
          ops.push(
            this.text.line(
              line,
              xs[k]! + PAD_X,
              y + PAD_Y + n * LINE,
              this.plan.widths[c]! - 2 * PAD_X,
              FONT_SIZE,
              {
                bold: true,
                align: NUMERIC.has(this.columns[c]!.type) ? 'right' : 'left',
              },
            ),
          );
        });
      });
      ops.push('ET\n');
      y += this.headerHeight;
      ops.push(`0.5 w ${MARGIN} ${num(y)} m ${num(right)} ${num(y)} l S\n`);
      // Rows.
      for (const p of this.pending) {
        ops.push(this.text.startText());
        band.forEach((c, k) => {
          const lines = p.cells[c]!;
          const numeric = NUMERIC.has(this.columns[c]!.type);
          const squeeze = UNBROKEN.has(this.columns[c]!.type);
          for (let n = p.from; n < p.to && n < lines.length; n++) {
            const line = lines[n]!;
            if (line.length === 0) continue;
            ops.push(
              this.text.line(
                line,
                xs[k]! + PAD_X,
                y + PAD_Y + (n - p.from) * LINE,
                this.plan.widths[c]! - 2 * PAD_X,
                FONT_SIZE,
                numeric ? { align: 'right', squeeze } : squeeze ? { align: 'left', squeeze } : {},
              ),
            );
          }
        });
        ops.push('ET\n');
        y += (p.to - p.from) * LINE + 2 * PAD_Y;
        ops.push(`0.85 G 0.3 w ${MARGIN} ${num(y)} m ${num(right)} ${num(y)} l S 0 G\n`);
      }
      if (summary !== undefined && b === this.plan.bands.length - 1) y = this.drawSummary(ops, y, summary);
      this.doc.addContent(ops.join(''));
      this.footer(band);
      this.pageDrawn = true;
    }
    this.pending = [];
    this.y = MARGIN + this.headerHeight;
  }

  private pageDrawn = false;

  private drawSummary(ops: string[], y: number, summary: string): number {
    const lines = this.text.wrap(summary, this.usable, FONT_SIZE);
    let top = y + 6;
    if (top + lines.length * LINE > this.bottom) {
      this.doc.addContent(ops.join(''));
      ops.length = 0;
      this.footer(this.plan.bands.at(-1)!);
      this.newPage();
      top = MARGIN;
    }
    ops.push(this.text.startText());
    for (const line of lines) {
      ops.push(this.text.line(line, MARGIN, top, this.usable, FONT_SIZE));
      top += LINE;
    }
    ops.push('ET\n');
    return top;
  }

  private footer(band: number[]): void {
    const y = this.height - MARGIN + 8;
    const note =
      this.plan.bands.length > 1
        ? `Columns 1, ${band[1]! + 1}${band.length > 2 ? `–${band.at(-1)! + 1}` : ''} of ${this.columns.length}`
        : '';
    const ops = [this.text.startText(), '0.4 g '];
    if (note) ops.push(this.text.line(note, MARGIN, y, this.usable / 2, 7));
    ops.push(
      this.text.line(`${this.options.title} — page ${this.page}`, MARGIN, y, this.usable, 7, {
        align: 'right',
      }),
    );
    ops.push('0 g ET\n');
    this.doc.addContent(ops.join(''));
  }

  /** The last rows, the summary line, the last footer. */
  finish(summary: string): void {
    this.flushPage(summary);
  }
}

const num = (n: number) => String(Math.round(n * 100) / 100);
