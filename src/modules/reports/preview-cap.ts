// What a preview keeps: something a person looks at, not the result. At most
// PREVIEW_BYTES of values (rows × value sizes) and at most PREVIEW_VALUE_BYTES
// per value; a longer value keeps its first bytes and is listed in `cutValues`
// (row and column of the cell, and the value's full size), so a client can say
// which cells show only part of their value.

export const PREVIEW_BYTES = 4_000_000;
export const PREVIEW_VALUE_BYTES = 64_000;
/**
 * The most a preview takes from the source's connection: drivers hand a row on
 * only when whole, so this bounds the memory of one huge value before it is cut.
 */
export const PREVIEW_READ_BYTES = 64_000_000;

export interface CutValue {
  row: number;
  column: number;
  /** The value's full size in bytes (text as UTF-8, JSON as its text). */
  bytes: number;
}

const hasLength = (v: unknown): boolean =>
  typeof v === 'string' ||
  Buffer.isBuffer(v) ||
  (v !== null && typeof v === 'object' && !(v instanceof Date));

/** A value's size: text as UTF-8, bytes by length, JSON as its text; numbers, dates and the like 8. */
export function valueBytes(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Buffer.isBuffer(v)) return v.length;
  if (hasLength(v)) return Buffer.byteLength(JSON.stringify(v));
  return 8;
}

/** The first `max` bytes of a value: text cut on a character boundary, JSON cut as its text. */
export function cutValue(v: unknown, max: number): string | Buffer {
  if (Buffer.isBuffer(v)) return v.subarray(0, max);
  const bytes = Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  let end = Math.min(max, bytes.length);
  // Not inside a UTF-8 sequence: continuation bytes are 10xxxxxx.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

export interface PreviewCap {
  readonly rows: unknown[][];
  readonly cutValues: CutValue[];
  /** Keeps a row (its long values cut); false when the budget is spent and the row is not kept. */
  add(row: readonly unknown[]): boolean;
}

export function createPreviewCap(maxBytes = PREVIEW_BYTES, maxValueBytes = PREVIEW_VALUE_BYTES): PreviewCap {
  let left = maxBytes;
  const rows: unknown[][] = [];
  const cutValues: CutValue[] = [];
  return {
    rows,
    cutValues,
    add(row) {
      const sizes = row.map(valueBytes);
      const needed = sizes.reduce((n, size) => n + Math.min(size, maxValueBytes), 0);
      // The first row is always shown, cut to fit if need be.
      if (rows.length > 0 && needed > left) return false;
      const index = rows.length;
      rows.push(
        row.map((value, column) => {
          const size = sizes[column]!;
          const allowed = Math.max(0, Math.min(maxValueBytes, left));
          if (size <= allowed || !hasLength(value)) {
            left -= size;
            return value;
          }
          left -= allowed;
          cutValues.push({ row: index, column, bytes: size });
          return cutValue(value, allowed);
        }),
      );
      return true;
    },
  };
}
