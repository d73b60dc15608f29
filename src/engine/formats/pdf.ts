import { createRequire } from 'node:module';
import { setImmediate as nextTick } from 'node:timers/promises';
import type { Column, Value } from '../sources/types.ts';
import type { Encoder } from './text-formats.ts';
import { textOf } from './values.ts';

// PDF for people, not machines: a title, the parameters, when it was generated
// (in the tenant's zone), and a table whose header repeats on every page, with
// page numbers. Pages are flushed as they fill (no page buffering) and the font
// layout cache is off, so memory stays flat; still, PDF is capped (default
// 10,000 rows) and the document says so when the cap is hit.

export interface PdfOptions {
  title: string;
  parameters: Record<string, unknown>;
  generatedAt: Date;
  timeZone: string;
  landscape: boolean;
  rowCap: number;
}

export const DEFAULT_PDF_ROW_CAP = 10_000;
const require = createRequire(import.meta.url);
// DejaVu covers Latin, Greek and Cyrillic; the PDF standard fonts cover only Latin-1.
const FONT = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSansCondensed.ttf');
const FONT_BOLD = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSansCondensed-Bold.ttf');
const MARGIN = 36;
const FONT_SIZE = 8;
const ROW_HEIGHT = 13;

function formatLocal(at: Date, timeZone: string): string {
  return `${new Intl.DateTimeFormat('en-CA', { timeZone, dateStyle: 'short', timeStyle: 'medium', hourCycle: 'h23' }).format(at)} (${timeZone})`;
}

function columnWidths(columns: Column[], sample: Value[][], total: number): number[] {
  const weights = columns.map((c, i) => {
    let w = Math.max(c.name.length, 4);
    for (const row of sample.slice(0, 100)) {
      const v = row[i];
      if (v !== null && v !== undefined) w = Math.max(w, Math.min(textOf(v, c.type).length, 40));
    }
    return w;
  });
  const sum = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => (w / sum) * total);
}

export function pdfEncoder(options: PdfOptions): Encoder {
  return async function* (columns, batches) {
    // Loaded on first use: pdfkit and its font engine are ~25 MB of memory that
    // no other format needs.
    const { default: PDFDocument } = await import('pdfkit');
    const doc = new PDFDocument({
      size: 'A4',
      layout: options.landscape ? 'landscape' : 'portrait',
      margin: MARGIN,
      bufferPages: false,
      autoFirstPage: true,
      fontLayoutCache: false,
      info: { Title: options.title, Producer: 'Ferry' },
    });
    doc.registerFont('body', FONT);
    doc.registerFont('bold', FONT_BOLD);
    const usable = doc.page.width - 2 * MARGIN;
    const bottom = () => doc.page.height - MARGIN;
    let page = 1;
    let widths: number[] = [];
    let y = MARGIN;

    const footer = () => {
      // The footer sits in the bottom margin; without lowering it pdfkit would start a new page.
      const margin = doc.page.margins.bottom;
      doc.page.margins.bottom = 0;
      doc.font('body').fontSize(7).fillColor('#666666');
      doc.text(`${options.title} — page ${page}`, MARGIN, doc.page.height - MARGIN + 8, {
        width: usable,
        align: 'right',
        lineBreak: false,
      });
      doc.fillColor('#000000');
      doc.page.margins.bottom = margin;
    };
    const header = () => {
      doc.font('bold').fontSize(FONT_SIZE);
      let x = MARGIN;
      columns.forEach((c, i) => {
        doc.text(c.name, x + 2, y + 2, {
          width: widths[i]! - 4,
          height: ROW_HEIGHT,
          lineBreak: false,
          ellipsis: true,
        });
        x += widths[i]!;
      });
      y += ROW_HEIGHT;
      doc
        .moveTo(MARGIN, y)
        .lineTo(MARGIN + usable, y)
        .lineWidth(0.5)
        .stroke();
      doc.font('body').fontSize(FONT_SIZE);
    };
    const newPage = () => {
      footer();
      doc.addPage();
      page++;
      y = MARGIN;
      header();
    };

    // Title block.
    doc.font('bold').fontSize(14).text(options.title, MARGIN, y, { width: usable });
    doc.font('body').fontSize(8).moveDown(0.3);
    doc.text(`Generated ${formatLocal(options.generatedAt, options.timeZone)}`, { width: usable });
    const params = Object.entries(options.parameters);
    if (params.length > 0)
      doc.text(
        `Parameters: ${params.map(([k, v]) => `${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')}`,
        { width: usable },
      );
    y = doc.y + 8;

    const producing = (async () => {
      let shown = 0;
      let capped = false;
      for await (const batch of batches) {
        if (doc.destroyed) return;
        if (widths.length === 0) {
          widths = columnWidths(columns, batch, usable);
          header();
        }
        for (const row of batch) {
          if (shown >= options.rowCap) {
            capped = true;
            break;
          }
          if (y + ROW_HEIGHT > bottom()) newPage();
          let x = MARGIN;
          for (let i = 0; i < row.length; i++) {
            const v = row[i]!;
            const text = v === null ? '' : textOf(v, columns[i]!.type);
            const numeric =
              columns[i]!.type === 'integer' ||
              columns[i]!.type === 'float' ||
              columns[i]!.type === 'decimal' ||
              columns[i]!.type === 'bigint';
            doc.text(text.replace(/\s+/g, ' '), x + 2, y + 2, {
              width: widths[i]! - 4,
              height: ROW_HEIGHT,
              lineBreak: false,
              ellipsis: true,
              align: numeric ? 'right' : 'left',
            });
            x += widths[i]!;
          }
          y += ROW_HEIGHT;
          shown++;
        }
        if (capped) break;
        // Let the consumer take the finished pages before drawing more.
        while (doc.readableLength > 1 << 20 && !doc.destroyed) await nextTick();
        if (doc.destroyed) return;
      }
      if (widths.length === 0) {
        widths = columnWidths(columns, [], usable);
        header();
      }
      y += 6;
      if (y + 2 * ROW_HEIGHT > bottom()) newPage();
      doc.font('body').fontSize(8);
      const summary = capped
        ? `This PDF shows the first ${options.rowCap.toLocaleString('en')} rows; the report has more. Export it as CSV or XLSX for every row.`
        : `${shown.toLocaleString('en')} row${shown === 1 ? '' : 's'}.`;
      doc.text(summary, MARGIN, y, { width: usable });
      footer();
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
