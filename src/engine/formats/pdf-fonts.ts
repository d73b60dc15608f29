import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { lazyModule } from '../../lib/lazy-module.ts';

// The fonts a PDF draws with, all installed by npm: DejaVu Sans Condensed
// (Latin, Greek, Cyrillic and much more) and Noto Sans from Fontsource for
// Hebrew, Arabic, Japanese, Chinese and Korean, and Noto Emoji (monochrome).
// Fontsource splits each font into files by Unicode range and says which in its
// CSS (`unicode-range`); a file is parsed only when a character in its range
// is first met, so a Latin-only export never reads a CJK file.

/** The part of a fontkit glyph the PDF writer uses. */
export interface FontkitGlyph {
  id: number;
  advanceWidth: number;
  codePoints: number[];
}

export interface FontkitPosition {
  xAdvance: number;
  xOffset: number;
  yOffset: number;
}

/** The part of a fontkit font the PDF writer uses (fontkit ships no types). */
export interface FontkitFont {
  unitsPerEm: number;
  ascent: number;
  descent: number;
  hasGlyphForCodePoint(codePoint: number): boolean;
  glyphForCodePoint(codePoint: number): FontkitGlyph;
  layout(
    text: string,
    features?: string[],
    script?: string,
    language?: string,
    direction?: 'ltr' | 'rtl',
  ): { glyphs: FontkitGlyph[]; positions: FontkitPosition[] };
}

const require = createRequire(import.meta.url);
// Loaded with the first font a PDF needs: ~25 MB and 0.1 s that a process making no PDF never pays.
const loadFontkit = lazyModule<{ create(data: Buffer): FontkitFont }>('fontkit');

/** One font file: what it covers and, once needed, the parsed font. */
export class FontFile {
  private parsed: FontkitFont | undefined;
  private readonly widths = new Map<number, number>();
  private readonly has = new Map<number, boolean>();

  readonly path: string;
  /** Pairs of first and last code point the file may cover; empty: ask the font. */
  private readonly ranges: readonly number[];

  constructor(path: string, ranges: readonly number[]) {
    this.path = path;
    this.ranges = ranges;
  }

  get font(): FontkitFont {
    this.parsed ??= loadFontkit().create(readFileSync(this.path));
    return this.parsed;
  }

  mayCover(codePoint: number): boolean {
    const r = this.ranges;
    if (r.length === 0) return true;
    for (let i = 0; i < r.length; i += 2) if (codePoint >= r[i]! && codePoint <= r[i + 1]!) return true;
    return false;
  }

  covers(codePoint: number): boolean {
    let has = this.has.get(codePoint);
    if (has === undefined) {
      has = this.mayCover(codePoint) && this.font.hasGlyphForCodePoint(codePoint);
      this.has.set(codePoint, has);
    }
    return has;
  }

  /** Advance of a character in thousandths of the font size. */
  advance(codePoint: number): number {
    let w = this.widths.get(codePoint);
    if (w === undefined) {
      const font = this.font;
      w = (font.glyphForCodePoint(codePoint).advanceWidth * 1000) / font.unitsPerEm;
      this.widths.set(codePoint, w);
    }
    return w;
  }
}

/** The files of a Fontsource package for one weight, from its CSS, limited to some subsets. */
function fontsourceFiles(pkg: string, weight: number, subsets?: readonly string[]): FontFile[] {
  const css = require.resolve(`${pkg}/${weight}.css`);
  const files: FontFile[] = [];
  const faces = readFileSync(css, 'utf8').split('@font-face');
  for (const face of faces) {
    const url = /url\(\.\/(files\/[^)]+\.woff)\)/.exec(face);
    const range = /unicode-range:\s*([^;]+);/.exec(face);
    if (!url || !range) continue;
    if (subsets && !subsets.some((s) => url[1]!.includes(`-${s}-${weight}-normal.`))) continue;
    const ranges: number[] = [];
    for (const part of range[1]!.split(',')) {
      const [first, last] = part.trim().replace(/^U\+/i, '').split('-');
      const a = Number.parseInt(first!, 16);
      ranges.push(a, last === undefined ? a : Number.parseInt(last, 16));
    }
    files.push(new FontFile(join(dirname(css), url[1]!), ranges));
  }
  if (files.length === 0) throw new Error(`no font files found in ${css}`);
  return files;
}

/** Characters drawn in place of one that no font has. */
export const REPLACEMENT = 0xfffd;

/**
 * The fonts in the order they are asked for a character: regular text and bold
 * (headings) differ only in the first font. DejaVu comes first: it has Latin,
 * Greek, Cyrillic, Hebrew and Arabic (with its joining forms as glyphs of their
 * own, which keeps text extraction exact; Noto Sans Arabic draws some letters
 * as a dotless form plus a dot that maps to no character). Noto fills in the
 * rest of Hebrew and Arabic, then Japanese, Chinese, Korean and emoji.
 */
export class FontStack {
  private readonly latin: FontFile;
  private readonly latinBold: FontFile;
  /** Read from the Fontsource CSS when a character DejaVu lacks is first met. */
  private fallbacks: FontFile[] | undefined;
  private readonly choice = {
    regular: new Map<number, FontFile | null>(),
    bold: new Map<number, FontFile | null>(),
  };

  constructor() {
    const dejavu = (name: string) => new FontFile(require.resolve(`dejavu-fonts-ttf/ttf/${name}`), []);
    this.latin = dejavu('DejaVuSansCondensed.ttf');
    this.latinBold = dejavu('DejaVuSansCondensed-Bold.ttf');
  }

  private others(): FontFile[] {
    this.fallbacks ??= [
      ...fontsourceFiles('@fontsource/noto-sans-hebrew', 400, ['hebrew']),
      ...fontsourceFiles('@fontsource/noto-sans-arabic', 400, ['arabic']),
      ...fontsourceFiles('@fontsource/noto-sans-jp', 400),
      ...fontsourceFiles('@fontsource/noto-sans-sc', 400),
      ...fontsourceFiles('@fontsource/noto-sans-kr', 400),
      ...fontsourceFiles('@fontsource/noto-emoji', 400),
    ];
    return this.fallbacks;
  }

  /** The Latin font of a weight: the metrics of every line and the replacement character. */
  base(bold: boolean): FontFile {
    return bold ? this.latinBold : this.latin;
  }

  /** The first font that has a glyph for the character, or null. */
  fileFor(codePoint: number, bold: boolean): FontFile | null {
    const cache = bold ? this.choice.bold : this.choice.regular;
    let file = cache.get(codePoint);
    if (file === undefined) {
      const base = this.base(bold);
      file = base.covers(codePoint) ? base : (this.others().find((f) => f.covers(codePoint)) ?? null);
      cache.set(codePoint, file);
    }
    return file;
  }
}

let stack: FontStack | undefined;

/**
 * The process's font stack. Parsed font files are immutable and costly to read
 * (DejaVu alone takes ~150 ms), so every export in a process shares them; each
 * PDF still embeds its own subset of glyphs.
 */
export function fontStack(): FontStack {
  stack ??= new FontStack();
  return stack;
}
