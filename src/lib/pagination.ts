import { Invalid } from './errors.ts';

// Cursors are opaque to clients: base64url JSON of the sort key of the last item.

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(key: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Decodes a cursor and checks each key against its expected type. */
type CursorField = 'string' | 'number' | 'uuid';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function matches(value: unknown, type: CursorField): boolean {
  if (type === 'uuid') return typeof value === 'string' && uuidPattern.test(value);
  if (type === 'number') return typeof value === 'number' && Number.isSafeInteger(value);
  return typeof value === 'string';
}

export function decodeCursor<K extends Record<string, CursorField>>(
  cursor: string | undefined,
  shape: K,
): { [P in keyof K]: K[P] extends 'number' ? number : string } | null {
  if (cursor === undefined || cursor === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw Invalid.field('cursor', 'is not a cursor returned by this API');
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw Invalid.field('cursor', 'is not a cursor returned by this API');
  }
  const record = parsed as Record<string, unknown>;
  for (const [key, type] of Object.entries(shape)) {
    if (!matches(record[key], type)) throw Invalid.field('cursor', 'is not a cursor returned by this API');
  }
  return record as never;
}

/** Given limit+1 fetched rows, returns the page and the cursor for the next one. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  present: (row: R) => T,
  keyOf: (row: R) => Record<string, string | number>,
): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  const last = pageRows.at(-1);
  return {
    items: pageRows.map(present),
    nextCursor: hasMore && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
