import type { Column, ColumnType, Value } from '../sources/types.ts';

// The one set of rules every text format follows, so a value looks the same in
// CSV, JSON and XML: exact decimals and big integers as their digits, instants as
// ISO-8601 UTC, local dates and times as written, bytes as \x hex.

export function textOf(value: Value, type: ColumnType): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  return type === 'json' || typeof value === 'object' ? JSON.stringify(value, jsonReplacer) : String(value);
}

export function jsonReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Column types whose text is free-form: only these need formula-injection protection. */
export function isTextual(type: ColumnType): boolean {
  return type === 'string' || type === 'unknown' || type === 'json' || type === 'uuid';
}

// OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets.
const FORMULA_START = /^[=+\-@\t\r\n]/;

export function neutraliseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export interface Batchable {
  columns: Column[];
  batches: AsyncIterable<Value[][]>;
}
