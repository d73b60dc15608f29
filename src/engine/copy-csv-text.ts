import type { CopyFieldRewrite } from './sources/types.ts';

// The COPY fast path's JavaScript half. PostgreSQL writes the CSV; this turns its
// records into Ferry's exact text (the row path's bytes) chunk by chunk: line
// endings, row counting and, where the server's text of a type differs from
// Ferry's, a rewrite of just those fields. Rewriting here instead of in SQL
// (to_char, CASE) keeps the server's side of COPY at its plain speed on the
// other core: measured 0.70 s per 1M rows plain against 1.30 s with the
// expressions, which is what bounded the fast path.

export interface CopyCsvText {
  delimiter: string;
  quote: string;
  nullText: string;
  header: boolean;
  lineEnding: '\r\n' | '\n';
  /** Per column: how Ferry's text differs from the server's, or null where it is the same. */
  rewrites: ReadonlyArray<CopyFieldRewrite | null>;
}

export interface CopyCsvFramer {
  /** Ferry's text for the complete records in this chunk (and any carried over), and how many there were. */
  push(chunk: Buffer): { out: Buffer; records: number };
  /** Whatever is left after the last chunk: a final record without a line feed. */
  end(): { out: Buffer; records: number };
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const APOSTROPHE = 0x27;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Finds the line feeds that end CSV records (those outside quoted fields) in a
 * stream of chunks. Jumps between quote and line-feed bytes with indexOf (native
 * memchr) instead of visiting every byte in JavaScript; a doubled quote inside
 * a field leaves and re-enters the quotes, which ends in the same state.
 */
export function csvRecordEnds(quoteChar: string): (chunk: Buffer) => number[] {
  const quote = quoteChar.charCodeAt(0);
  let inQuotes = false;
  return (chunk) => {
    const ends: number[] = [];
    let i = 0;
    let nextQuote = -2;
    let nextLf = -2;
    while (i < chunk.length) {
      if (nextQuote !== -1 && nextQuote < i) nextQuote = chunk.indexOf(quote, i);
      if (inQuotes) {
        if (nextQuote === -1) break;
        inQuotes = false;
        i = nextQuote + 1;
        continue;
      }
      if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextLf !== -1 && (nextQuote === -1 || nextLf < nextQuote)) {
        ends.push(nextLf);
        i = nextLf + 1;
      } else if (nextQuote !== -1) {
        inQuotes = true;
        i = nextQuote + 1;
      } else break;
    }
    return ends;
  };
}

// Characters that start a formula in a spreadsheet (values.ts); CR and LF only
// ever appear inside quotes.
const FORMULA_START = new Uint8Array(256);
const INSTANT_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
for (const c of '=+-@\t\r\n') FORMULA_START[c.charCodeAt(0)] = 1;

/**
 * Whether the field rewrites can produce Ferry's bytes with these options. They
 * rely on the rewritten values never needing quotes for their characters and on
 * the NULL text never being confused with a rewritten value; other options keep
 * the rewriting in SQL.
 */
export function rewritesApply(o: Pick<CopyCsvText, 'delimiter' | 'quote' | 'nullText'>): boolean {
  const specials = o.delimiter + o.quote;
  return !/[0-9A-Za-z.:+\-' ]/.test(specials) && !/^['=+\-@\t\r\n]/.test(o.nullText) && copyTakesNullText(o);
}

/**
 * Whether COPY accepts this NULL text: not with the delimiter, the quote or a line
 * break in it (the row path writes such a text; COPY refuses it).
 */
export function copyTakesNullText(o: Pick<CopyCsvText, 'delimiter' | 'quote' | 'nullText'>): boolean {
  return !/[\r\n]/.test(o.nullText) && !o.nullText.includes(o.delimiter) && !o.nullText.includes(o.quote);
}

const BOOLEAN = 1;
const TIMESTAMP = 2;
const INSTANT = 3;
const FORMULA = 4;
const KIND: Record<CopyFieldRewrite, number> = {
  boolean: BOOLEAN,
  timestamp: TIMESTAMP,
  instant: INSTANT,
  formula: FORMULA,
};
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

function copyBytes(src: Buffer, from: number, end: number, out: Buffer, to: number): number {
  if (end - from < 32) {
    for (let i = from; i < end; i++) out[to++] = src[i]!;
    return to;
  }
  return to + src.copy(out, to, from, end);
}

const isDigit = (b: number | undefined) => b !== undefined && b >= ZERO && b <= NINE;

/**
 * `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`, the server's UTC text of an instant in years
 * 1–9999, as `YYYY-MM-DDTHH:MM:SS.mmmZ`, or `.mmmuuuZ` when it has microseconds
 * (as the row path writes it); -1 for any other text.
 */
function writeInstant(buf: Buffer, from: number, end: number, out: Buffer, to: number): number {
  const len = end - from;
  if (
    len < 22 ||
    buf[from + 10] !== SPACE ||
    buf[end - 3] !== 0x2b ||
    buf[end - 2] !== ZERO ||
    buf[end - 1] !== ZERO
  )
    return -1;
  for (let k = 0; k < INSTANT_DIGITS.length; k++) if (!isDigit(buf[from + INSTANT_DIGITS[k]!])) return -1;
  if (buf[from + 4] !== 0x2d || buf[from + 7] !== 0x2d || buf[from + 13] !== 0x3a || buf[from + 16] !== 0x3a)
    return -1;
  const fraction = len - 22; // "" or ".f" … ".ffffff"
  if (fraction !== 0) {
    if (fraction < 2 || fraction > 7 || buf[from + 19] !== 0x2e) return -1;
    for (let i = from + 20; i < end - 3; i++) if (!isDigit(buf[i])) return -1;
  }
  const digits = fraction === 0 ? 0 : fraction - 1;
  for (let i = 0; i < 10; i++) out[to++] = buf[from + i]!;
  out[to++] = 0x54; // T
  for (let i = 11; i < 19; i++) out[to++] = buf[from + i]!;
  out[to++] = 0x2e;
  for (let d = 0; d < 3; d++) out[to++] = d < digits ? buf[from + 20 + d]! : ZERO;
  // Microseconds, when there are any: three more digits, as the row path's Instant writes them.
  let micros = false;
  for (let d = 3; d < digits; d++) if (buf[from + 20 + d] !== ZERO) micros = true;
  if (micros) for (let d = 3; d < 6; d++) out[to++] = d < digits ? buf[from + 20 + d]! : ZERO;
  out[to++] = 0x5a; // Z
  return to;
}

/** Bytes each rewrite can add to a field at most (quotes around a value equal to the NULL text included). */
const GROWTH: Record<CopyFieldRewrite, number> = { boolean: 6, timestamp: 2, instant: 4, formula: 1 };

export function copyCsvFramer(o: CopyCsvText): CopyCsvFramer {
  const recordEnds = csvRecordEnds(o.quote);
  const crlf = o.lineEnding === '\r\n';
  const active = o.rewrites.some((r) => r !== null);
  if (!active) return plainFramer(recordEnds, crlf);
  if (!rewritesApply(o)) throw new Error('COPY field rewrites do not apply to these CSV options');

  const quote = o.quote.charCodeAt(0);
  const delimiter = o.delimiter.charCodeAt(0);
  const nullBytes = Buffer.from(o.nullText);
  const rewrites = [...o.rewrites];
  let lastRewritten = rewrites.length - 1;
  while (rewrites[lastRewritten] === null) lastRewritten--;
  const growth = rewrites.reduce((n, r) => n + (r ? GROWTH[r] : 0), 0) + (crlf ? 1 : 0);
  let headerPending = o.header;
  let carry: Buffer | null = null;

  const kinds = Uint8Array.from(rewrites, (r) => (r ? KIND[r] : 0));
  const nullLength = nullBytes.length;
  const isNull = (buf: Buffer, from: number, end: number) => {
    if (end - from !== nullLength) return false;
    for (let i = 0; i < nullLength; i++) if (buf[from + i] !== nullBytes[i]) return false;
    return true;
  };

  /**
   * Ferry's text of the records that end at each of `ends` (line feeds) in `buf`.
   * One function with local cursors: this loop visits every byte of the export.
   */
  const rewriteRecords = (
    buf: Buffer,
    ends: number[],
    first: number,
    start: number,
    out: Buffer,
    to: number,
  ) => {
    for (let e = first; e < ends.length; e++) {
      const end = ends[e]!;
      let copied = start;
      if (headerPending) headerPending = false;
      else {
        let pos = start;
        for (let col = 0; col <= lastRewritten && pos <= end; col++) {
          let fieldEnd = pos;
          const quoted = buf[pos] === quote;
          if (quoted) {
            fieldEnd++;
            while (fieldEnd < end) {
              if (buf[fieldEnd] === quote) {
                if (buf[fieldEnd + 1] === quote) fieldEnd += 2;
                else break;
              } else fieldEnd++;
            }
            fieldEnd++;
          } else while (fieldEnd < end && buf[fieldEnd] !== delimiter) fieldEnd++;
          const kind = kinds[col]!;
          if (kind !== 0 && (quoted || !isNull(buf, pos, fieldEnd))) {
            // Only text holds quotes inside; other types are quoted only when equal to the NULL text.
            const from = quoted ? pos + 1 : pos;
            const until = quoted ? fieldEnd - 1 : fieldEnd;
            if (kind === FORMULA) {
              if (from < until && FORMULA_START[buf[from]!] === 1) {
                to = copyBytes(buf, copied, from, out, to);
                out[to++] = APOSTROPHE;
                copied = from;
              }
            } else {
              to = copyBytes(buf, copied, pos, out, to);
              const at = to;
              if (kind === BOOLEAN) {
                const text = buf[from] === 0x74 ? TRUE : FALSE;
                to = copyBytes(text, 0, text.length, out, to);
              } else if (kind === TIMESTAMP) {
                let i = from;
                while (i < until && buf[i] !== SPACE) out[to++] = buf[i++]!;
                if (i < until) {
                  out[to++] = 0x54; // T
                  i++;
                }
                to = copyBytes(buf, i, until, out, to);
              } else {
                to = writeInstant(buf, from, until, out, to);
                // infinity, BC, years past 9999: the server's text, as the row path keeps it
                if (to < 0) to = copyBytes(buf, pos, fieldEnd, out, at);
              }
              // A value equal to the NULL text is quoted (Ferry's rule, and COPY's).
              if (to >= 0 && isNull(out, at, to)) {
                out.copyWithin(at + 1, at, to);
                out[at] = quote;
                to += 1;
                out[to++] = quote;
              }
              copied = fieldEnd;
            }
          }
          pos = fieldEnd + 1;
        }
      }
      to = copyBytes(buf, copied, end, out, to);
      if (crlf) out[to++] = CR;
      out[to++] = LF;
      start = end + 1;
    }
    return to;
  };

  return {
    push(chunk) {
      const ends = recordEnds(chunk);
      if (ends.length === 0) {
        carry = carry ? Buffer.concat([carry, chunk]) : chunk;
        return { out: Buffer.alloc(0), records: 0 };
      }
      const last = ends[ends.length - 1]!;
      const out = Buffer.allocUnsafe((carry?.length ?? 0) + last + 1 + ends.length * growth);
      let to = 0;
      let start = 0;
      let first = 0;
      if (carry) {
        // Only the record that spans the two chunks is joined; the rest is read in place.
        const joined = Buffer.concat([carry, chunk.subarray(0, ends[0]! + 1)]);
        to = rewriteRecords(joined, [joined.length - 1], 0, 0, out, 0);
        start = ends[0]! + 1;
        first = 1;
      }
      to = rewriteRecords(chunk, ends, first, start, out, to);
      carry = last + 1 < chunk.length ? chunk.subarray(last + 1) : null;
      return { out: out.subarray(0, to), records: ends.length };
    },
    end() {
      if (!carry) return { out: Buffer.alloc(0), records: 0 };
      // COPY ends every record with a line feed; a final one without is written as it came.
      const padded = Buffer.concat([carry, Buffer.from([LF])]);
      carry = null;
      const out = Buffer.allocUnsafe(padded.length + growth);
      const to = rewriteRecords(padded, [padded.length - 1], 0, 0, out, 0);
      return { out: out.subarray(0, to - (crlf ? 2 : 1)), records: 1 };
    },
  };
}

/** No field differs: the server's bytes go on untouched but for CRLF line endings. */
function plainFramer(recordEnds: (chunk: Buffer) => number[], crlf: boolean): CopyCsvFramer {
  return {
    push(chunk) {
      const ends = recordEnds(chunk);
      if (!crlf || ends.length === 0) return { out: chunk, records: ends.length };
      // One allocation: the chunk with a CR before each record-ending LF.
      const out = Buffer.allocUnsafe(chunk.length + ends.length);
      let from = 0;
      let to = 0;
      for (const end of ends) {
        to += chunk.copy(out, to, from, end);
        out[to++] = CR;
        out[to++] = LF;
        from = end + 1;
      }
      chunk.copy(out, to, from);
      return { out, records: ends.length };
    },
    end: () => ({ out: Buffer.alloc(0), records: 0 }),
  };
}
