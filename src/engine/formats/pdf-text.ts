import { type FontFile, type FontStack, REPLACEMENT } from './pdf-fonts.ts';

// Text for the PDF writer: which font draws each character, how wide a line
// is, where it wraps, and the content-stream operators that draw it.
//
// pdfkit's text() lays out every call from scratch (options, line wrapping,
// a fontkit layout, widthOfString for alignment): it was 90% of the time of a
// table, ~1,000 cells/s. Here a character's glyph and advance are looked up
// once per document and cached, a line is drawn with one Tj per font run, and
// only runs that need OpenType shaping (right-to-left scripts, combining marks,
// joiners) go through fontkit's layout. Glyphs are still registered in pdfkit's
// embedded font, so pdfkit subsets, embeds and maps them to Unicode as usual.

/** pdfkit's embedded font (internal to pdfkit: its subset, widths and ToUnicode map). */
interface PdfkitFont {
  id: string;
  scale: number;
  subset: { includeGlyph(glyphId: number): number };
  widths: number[];
  unicode: number[][];
  ref(): unknown;
}

/** The parts of a pdfkit document the writer reaches past the public API for. */
export interface PdfkitInternals {
  font(src: unknown, family: string): unknown;
  _font: PdfkitFont;
  page: { fonts: Record<string, unknown> };
}

interface Run {
  file: FontFile;
  text: string;
  rtl: boolean;
  /** Needs OpenType shaping: a right-to-left script, a combining mark, a joiner or selector. */
  shaped: boolean;
}

/** A shaped run, ready to place: glyph groups at offsets (thousandths of the font size). */
interface ShapedRun {
  width: number;
  pieces: { hex: string; x: number; y: number }[];
}

const ASCII_TEXT = /^[\x20-\x7e]*$/;
const SHAPED_CACHE_SIZE = 4_096;

function isRtl(cp: number): boolean {
  return (
    (cp >= 0x0590 && cp <= 0x08ff && !(cp >= 0x0660 && cp <= 0x0669) && !(cp >= 0x06f0 && cp <= 0x06f9)) ||
    (cp >= 0xfb1d && cp <= 0xfdff) ||
    (cp >= 0xfe70 && cp <= 0xfefe) ||
    (cp >= 0x10800 && cp <= 0x10fff) ||
    (cp >= 0x1e800 && cp <= 0x1efff)
  );
}

/** Spaces and punctuation: they take the direction and font of the run they are in. */
function isNeutral(cp: number): boolean {
  return (
    (cp < 0x80 &&
      !((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a))) ||
    (cp >= 0xa0 && cp <= 0xbf) ||
    (cp >= 0x2000 && cp <= 0x206f) ||
    (cp >= 0x3000 && cp <= 0x303f)
  );
}

/** Invisible by definition (joiners, selectors, direction marks): kept where a font has them, else left out. */
function isIgnorable(cp: number): boolean {
  return (
    cp === 0xad ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x206f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    cp === 0xfeff ||
    (cp >= 0xe0000 && cp <= 0xe0fff)
  );
}

/** Characters no font draws: control characters and lone surrogates. */
function isUndrawable(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0xd800 && cp <= 0xdfff);
}

/** Characters whose glyph depends on their neighbours. */
function needsShaping(cp: number): boolean {
  return (
    (cp >= 0x0300 && cp <= 0x036f) ||
    (cp >= 0x0483 && cp <= 0x0489) ||
    (cp >= 0x0900 && cp <= 0x109f) ||
    (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0x1780 && cp <= 0x17ff) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xd7b0 && cp <= 0xd7ff) ||
    (cp >= 0xfe20 && cp <= 0xfe2f) ||
    (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
    isIgnorable(cp)
  );
}

const num = (n: number) => String(Math.round(n * 100) / 100);
const hex4 = (n: number) => (n < 0x1000 ? `000${n.toString(16)}`.slice(-4) : n.toString(16));

/** A document's text engine. Not shared between documents: glyphs are registered in this document's fonts. */
export class PdfText {
  /** Characters drawn as U+FFFD because no font has them (or they are control characters). */
  replaced = 0;
  private readonly fonts = new Map<FontFile, PdfkitFont>();
  private readonly hex = new Map<FontFile, Map<number, string>>();
  private readonly shapedRuns = new Map<string, ShapedRun>();
  private readonly asciiAdvance: [Float64Array, Float64Array];
  private readonly asciiHex: [string[], string[]] = [[], []];
  private pageFonts = new Set<string>();
  private current = '';
  private ascentPerPoint = 0;
  private readonly doc: PdfkitInternals;
  private readonly stack: FontStack;

  constructor(doc: PdfkitInternals, stack: FontStack) {
    this.doc = doc;
    this.stack = stack;
    const table = (bold: boolean) => {
      const t = new Float64Array(128);
      for (let cp = 0x20; cp < 0x7f; cp++) t[cp] = stack.base(bold).advance(cp);
      return t;
    };
    this.asciiAdvance = [table(false), table(true)];
  }

  /** The font's ascent, in points, for a size: where the baseline sits below a line's top. */
  ascent(size: number): number {
    if (this.ascentPerPoint === 0) {
      const font = this.stack.base(false).font;
      this.ascentPerPoint = font.ascent / font.unitsPerEm;
    }
    return this.ascentPerPoint * size;
  }

  /** Call at each new page: font resources are per page. */
  startPage(): void {
    this.pageFonts = new Set();
  }

  /** Call at each BT: the font selection is per text object. */
  startText(): string {
    this.current = '';
    return 'BT';
  }

  /** Width of a single line of text, in points. */
  measure(text: string, size: number, bold = false): number {
    let w = 0;
    if (ASCII_TEXT.test(text)) {
      const t = this.asciiAdvance[bold ? 1 : 0];
      for (let i = 0; i < text.length; i++) w += t[text.charCodeAt(i)]!;
    } else for (const ch of text) w += this.advance(ch.codePointAt(0)!, bold);
    return (w * size) / 1000;
  }

  private advance(cp: number, bold: boolean): number {
    if (cp < 0x7f && cp >= 0x20) return this.asciiAdvance[bold ? 1 : 0][cp]!;
    if (cp === 0x09) return this.asciiAdvance[bold ? 1 : 0][0x20]!;
    if (isIgnorable(cp)) return 0;
    const file = isUndrawable(cp) ? null : this.stack.fileFor(cp, bold);
    return file ? file.advance(cp) : this.stack.base(bold).advance(REPLACEMENT);
  }

  /**
   * Lines of at most `width` points: breaks at line breaks in the text, then at
   * the last space that fits, else between characters (CJK has no spaces).
   */
  wrap(text: string, width: number, size: number, bold = false): string[] {
    const lines: string[] = [];
    const limit = (width * 1000) / size;
    for (const paragraph of text.split(/\r\n|[\r\n\u2028\u2029]/)) {
      if (paragraph.length === 0 || this.measure(paragraph, size, bold) <= width) {
        lines.push(paragraph);
        continue;
      }
      let start = 0;
      let lineWidth = 0;
      let space = -1;
      let widthAfterSpace = 0;
      for (let i = 0; i < paragraph.length; ) {
        const cp = paragraph.codePointAt(i)!;
        const units = cp > 0xffff ? 2 : 1;
        const w = this.advance(cp, bold);
        if (cp === 0x20) {
          space = i;
          widthAfterSpace = 0;
          lineWidth += w;
          i += units;
          continue;
        }
        if (lineWidth + w > limit && i > start) {
          if (space > start) {
            lines.push(paragraph.slice(start, space));
            start = space + 1;
            lineWidth = widthAfterSpace;
          } else {
            lines.push(paragraph.slice(start, i));
            start = i;
            lineWidth = 0;
          }
          space = -1;
          widthAfterSpace = 0;
        }
        lineWidth += w;
        widthAfterSpace += w;
        i += units;
      }
      if (start < paragraph.length) lines.push(paragraph.slice(start));
    }
    return lines;
  }

  /**
   * Operators (inside BT … ET) drawing one line with its top at `top`, in a box
   * from `x` `width` points wide: left or right aligned, text in a right-to-left
   * script right aligned; a line wider than the box is squeezed horizontally
   * when `squeeze` allows, never cut.
   */
  line(
    text: string,
    x: number,
    top: number,
    width: number,
    size: number,
    options: { bold?: boolean; align?: 'left' | 'right'; squeeze?: boolean } = {},
  ): string {
    if (text.length === 0) return '';
    const bold = options.bold === true;
    const baseline = top + this.ascent(size);
    if (ASCII_TEXT.test(text)) {
      const t = this.asciiAdvance[bold ? 1 : 0];
      let w = 0;
      let hex = '';
      const codes = this.asciiCodes(bold);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        w += t[c]!;
        hex += codes[c];
      }
      const textWidth = (w * size) / 1000;
      const scale = options.squeeze && textWidth > width ? width / textWidth : 1;
      const start = options.align === 'right' ? x + width - textWidth * scale : x;
      return `${this.select(this.stack.base(bold), size)}${scale < 1 ? `${num(scale * 100)} Tz ` : ''}1 0 0 -1 ${num(start)} ${num(baseline)} Tm <${hex}> Tj${scale < 1 ? ' 100 Tz' : ''}\n`;
    }
    const runs = this.runs(text, bold);
    const placed: { run: Run; width: number; shaped: ShapedRun | null; hex: string }[] = [];
    let total = 0;
    let rtlParagraph: boolean | null = null;
    for (const run of runs) {
      if (rtlParagraph === null && (run.rtl || !/^[\s\p{P}\p{S}]*$/u.test(run.text))) rtlParagraph = run.rtl;
      if (run.shaped) {
        const shaped = this.shape(run, bold);
        placed.push({ run, width: (shaped.width * size) / 1000, shaped, hex: '' });
        total += (shaped.width * size) / 1000;
      } else {
        let w = 0;
        let hex = '';
        for (const ch of run.text) {
          const cp = ch.codePointAt(0)!;
          w += run.file.advance(cp);
          hex += this.glyphHex(run.file, cp);
        }
        placed.push({ run, width: (w * size) / 1000, shaped: null, hex });
        total += (w * size) / 1000;
      }
    }
    if (rtlParagraph) placed.reverse();
    const scale = options.squeeze && total > width ? width / total : 1;
    const align = options.align ?? (rtlParagraph ? 'right' : 'left');
    let pen = align === 'right' ? x + width - total * scale : x;
    let ops = scale < 1 ? `${num(scale * 100)} Tz ` : '';
    for (const p of placed) {
      ops += this.select(p.run.file, size);
      if (p.shaped) {
        for (const piece of p.shaped.pieces)
          ops += `1 0 0 -1 ${num(pen + (piece.x * size * scale) / 1000)} ${num(baseline - (piece.y * size) / 1000)} Tm <${piece.hex}> Tj\n`;
      } else ops += `1 0 0 -1 ${num(pen)} ${num(baseline)} Tm <${p.hex}> Tj\n`;
      pen += p.width * scale;
    }
    return scale < 1 ? `${ops}100 Tz\n` : ops;
  }

  /** Splits a line into runs of one font and one direction; counts and replaces what no font has. */
  private runs(text: string, bold: boolean): Run[] {
    const runs: Run[] = [];
    let run: Run | undefined;
    for (let ch of text) {
      let cp = ch.codePointAt(0)!;
      if (cp === 0x09) {
        cp = 0x20;
        ch = ' ';
      }
      if (isIgnorable(cp)) {
        if (run?.file.covers(cp)) {
          run.text += ch;
          run.shaped = true;
        }
        continue;
      }
      const rtl = isRtl(cp);
      const neutral = !rtl && isNeutral(cp);
      let file: FontFile | null = null;
      if (run && (neutral || rtl === run.rtl) && !isUndrawable(cp) && run.file.covers(cp)) file = run.file;
      else if (!isUndrawable(cp)) file = this.stack.fileFor(cp, bold);
      if (file === null) {
        this.replaced++;
        cp = REPLACEMENT;
        ch = '\uFFFD';
        file = this.stack.base(bold);
      }
      const last: Run | undefined = run;
      const direction = neutral && last !== undefined && last.file === file ? last.rtl : rtl;
      if (run && run.file === file && run.rtl === direction) {
        run.text += ch;
        run.shaped ||= needsShaping(cp);
      } else {
        run = { file, text: ch, rtl: direction, shaped: direction || needsShaping(cp) };
        runs.push(run);
      }
    }
    return runs;
  }

  /** OpenType layout of a run by fontkit (joining, marks, right-to-left order), cached by text. */
  private shape(run: Run, bold: boolean): ShapedRun {
    const key = `${bold ? 'b' : 'r'}${run.rtl ? 'r' : 'l'}${run.file.path}\u0000${run.text}`;
    const known = this.shapedRuns.get(key);
    if (known) return known;
    const font = run.file.font;
    const pdf = this.pdfFont(run.file);
    const laid = font.layout(run.text, [], undefined, undefined, run.rtl ? 'rtl' : 'ltr');
    const scale = 1000 / font.unitsPerEm;
    const pieces: ShapedRun['pieces'] = [];
    let pen = 0;
    let piece: ShapedRun['pieces'][number] | null = null;
    let expected = Number.NaN;
    for (let i = 0; i < laid.glyphs.length; i++) {
      const glyph = laid.glyphs[i]!;
      const pos = laid.positions[i]!;
      const gid = pdf.subset.includeGlyph(glyph.id);
      pdf.widths[gid] ??= glyph.advanceWidth * pdf.scale;
      // A glyph the font adds (a dot of a decomposed letter) stands for no character:
      // a zero-width space keeps extracted words whole.
      pdf.unicode[gid] ??= glyph.codePoints.length > 0 ? glyph.codePoints : [0x200b];
      const x = pen + pos.xOffset * scale;
      const y = pos.yOffset * scale;
      // A glyph continues the group only where the previous glyph's own advance put it.
      if (piece && y === 0 && piece.y === 0 && Math.abs(x - expected) < 0.01) piece.hex += hex4(gid);
      else {
        piece = { hex: hex4(gid), x, y };
        pieces.push(piece);
      }
      expected = x + glyph.advanceWidth * scale;
      pen += pos.xAdvance * scale;
    }
    const shaped = { width: pen, pieces };
    if (this.shapedRuns.size >= SHAPED_CACHE_SIZE) this.shapedRuns.clear();
    this.shapedRuns.set(key, shaped);
    return shaped;
  }

  private asciiCodes(bold: boolean): string[] {
    const codes = this.asciiHex[bold ? 1 : 0];
    if (codes.length === 0) {
      const file = this.stack.base(bold);
      for (let cp = 0; cp < 0x7f; cp++) codes.push(cp < 0x20 ? '' : this.glyphHex(file, cp));
    }
    return codes;
  }

  private glyphHex(file: FontFile, cp: number): string {
    let byCp = this.hex.get(file);
    if (!byCp) {
      byCp = new Map();
      this.hex.set(file, byCp);
    }
    let hex = byCp.get(cp);
    if (hex === undefined) {
      const pdf = this.pdfFont(file);
      const glyph = file.font.glyphForCodePoint(cp);
      const gid = pdf.subset.includeGlyph(glyph.id);
      pdf.widths[gid] ??= glyph.advanceWidth * pdf.scale;
      pdf.unicode[gid] ??= [cp];
      hex = hex4(gid);
      byCp.set(cp, hex);
    }
    return hex;
  }

  /** The font as this document embeds it (pdfkit registers it the first time). */
  private pdfFont(file: FontFile): PdfkitFont {
    let pdf = this.fonts.get(file);
    if (!pdf) {
      this.doc.font(file.font, `ferry-${this.fonts.size}`);
      pdf = this.doc._font;
      this.fonts.set(file, pdf);
    }
    return pdf;
  }

  /** Tf for a font and size when it is not the current one; adds the font to the page's resources. */
  private select(file: FontFile, size: number): string {
    const pdf = this.pdfFont(file);
    const key = `${pdf.id} ${size}`;
    if (!this.pageFonts.has(pdf.id)) {
      this.doc.page.fonts[pdf.id] = pdf.ref();
      this.pageFonts.add(pdf.id);
    }
    if (key === this.current) return '';
    this.current = key;
    return `/${pdf.id} ${num(size)} Tf `;
  }
}
