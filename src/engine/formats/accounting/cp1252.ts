// Windows-1252, the code page DATEV and BMD read: Latin-1's letters plus the
// typographic characters Windows put in 0x80–0x9F (€, „ “ ”, – —, Š, Ž …).
// Text it cannot carry is made to fit (accents dropped: ő → o) or becomes "?",
// and every replaced character is counted, never changed silently.

/** 0x80–0x9F: the code points Windows-1252 puts there (undefined: unused). */
const HIGH: Array<number | undefined> = [
  0x20ac,
  undefined,
  0x201a,
  0x0192,
  0x201e,
  0x2026,
  0x2020,
  0x2021,
  0x02c6,
  0x2030,
  0x0160,
  0x2039,
  0x0152,
  undefined,
  0x017d,
  undefined,
  undefined,
  0x2018,
  0x2019,
  0x201c,
  0x201d,
  0x2022,
  0x2013,
  0x2014,
  0x02dc,
  0x2122,
  0x0161,
  0x203a,
  0x0153,
  undefined,
  0x017e,
  0x0178,
];
const FROM_UNICODE = new Map<number, number>();
HIGH.forEach((cp, i) => {
  if (cp !== undefined) FROM_UNICODE.set(cp, 0x80 + i);
});

/** The byte for a code point, or undefined when Windows-1252 has none. */
function byteOf(cp: number): number | undefined {
  if (cp < 0x80 || (cp >= 0xa0 && cp <= 0xff)) return cp;
  return FROM_UNICODE.get(cp);
}

export interface Replacement {
  /** The first characters that did not fit, as found (for the warning). */
  examples: string[];
  count: number;
  /** The first rows (1-based) that had one, when the writer knows its rows. */
  rows?: number[];
}

/** Characters whose Windows-1252 byte is not their Latin-1 one (or that it lacks): 0x80–0x9F and above 0xFF. */
const NOT_LATIN1 = /[\u0080-\u009f\u0100-\uffff]/;

/**
 * Text as Windows-1252 bytes. A character outside it is first decomposed
 * (NFKD, accents dropped); what still does not fit becomes "?". `replaced`
 * counts each character that was changed.
 */
export function encodeCp1252(text: string, replaced?: Replacement): Buffer {
  // Most text is ASCII or Latin-1 letters, where the two agree: the engine's own encoder.
  if (!NOT_LATIN1.test(text)) return Buffer.from(text, 'latin1');
  return encodeSlowly(text, replaced);
}

function encodeSlowly(text: string, replaced?: Replacement): Buffer {
  // One byte per UTF-16 unit is always enough for what fits as it is; a
  // decomposition may need more, and then the buffer grows.
  let out = Buffer.allocUnsafe(text.length);
  let n = 0;
  let at = 0;
  for (const ch of text) {
    at += ch.length;
    const cp = ch.codePointAt(0)!;
    const direct = byteOf(cp);
    if (direct !== undefined) {
      out[n++] = direct;
      continue;
    }
    const near = [...ch.normalize('NFKD')].filter((c) => !/\p{M}/u.test(c));
    const bytes = near.map((c) => byteOf(c.codePointAt(0)!));
    const written = near.length > 0 && bytes.every((b) => b !== undefined) ? (bytes as number[]) : [0x3f];
    const needed = n + written.length + (text.length - at);
    if (needed > out.length) {
      const grown = Buffer.allocUnsafe(needed * 2);
      out.copy(grown, 0, 0, n);
      out = grown;
    }
    for (const b of written) out[n++] = b;
    if (replaced) {
      replaced.count++;
      if (replaced.examples.length < 5 && !replaced.examples.includes(ch)) replaced.examples.push(ch);
    }
  }
  return out.subarray(0, n);
}

/** Whether every character of the text is in Windows-1252 as it is. */
export function fitsCp1252(text: string): boolean {
  for (const ch of text) if (byteOf(ch.codePointAt(0)!) === undefined) return false;
  return true;
}

/** Each batch's rows as CRLF-ended lines in Windows-1252, one buffer per batch; `at.row` counts rows (1-based). */
export async function* cp1252Lines(
  batches: AsyncIterable<unknown[][]>,
  line: (row: unknown[]) => string,
  at: { row: number },
  replaced: Replacement,
): AsyncGenerator<Buffer> {
  for await (const batch of batches) {
    let text = '';
    for (const row of batch) {
      at.row++;
      const written = line(row);
      // Which rows lose a character: named in the warning (a cheap test first; most text is Latin-1).
      if (NOT_LATIN1.test(written) && !fitsCp1252(written)) {
        replaced.rows ??= [];
        if (replaced.rows.length < 5) replaced.rows.push(at.row);
      }
      text += `${written}\r\n`;
    }
    yield encodeCp1252(text, replaced);
  }
}

/** The run's warning for what Windows-1252 could not carry, when anything was replaced. */
export function warnReplaced(
  replaced: Replacement,
  warnings: { add(code: string, message: string, count: number): void } | undefined,
): void {
  if (replaced.count > 0)
    warnings?.add(
      'cp1252_replaced',
      `Characters outside Windows-1252 were replaced (e.g. ${replaced.examples.join(' ')}${replaced.rows?.length ? `; ${replaced.rows.length === 1 ? 'row' : 'rows'} ${replaced.rows.join(', ')}${replaced.count > replaced.rows.length ? ' …' : ''}` : ''})`,
      replaced.count,
    );
}
